"""The fused CPU backend against the reference: outputs, final states and every gradient in float64,
over odd shapes, masks on either side, directions, activations, dropout masks; both of its loop
implementations (the compiled kernel and the PyTorch loops); gradcheck; fallbacks; the build."""

import itertools
import os
import subprocess
import sys

import pytest
import torch

import lstmkit.nn
from lstmkit import ops
from lstmkit.ops import cpu
from lstmkit.ops._cpu import build
from lstmkit.ops._cpu.workspace import Workspace
from tests.ops.helpers import cpu_implementation, skip_without_compiled_kernel
from tests.tolerances import assert_close

F64 = torch.float64
GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}
IMPLS = ["compiled", "python"]


@pytest.fixture(params=IMPLS)
def impl(request):
    with cpu_implementation(request.param):
        yield request.param


def make(kind, B, T, I, H, dtype=F64, bias=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    G = GATES[kind]

    def r(*shape, scale=0.5):
        return (torch.randn(*shape, generator=g, dtype=dtype) * scale).requires_grad_(True)

    w = {"weight_ih": r(G * H, I), "weight_hh": r(G * H, H),
         "bias_ih": r(G * H, scale=0.2) if bias else None, "bias_hh": r(G * H, scale=0.2) if bias else None}
    x = r(B, T, I, scale=1.0)
    h0 = r(B, H)
    c0 = r(B, H) if kind == "lstm" else None
    return x, w, h0, c0


def call(kind, backend, x, w, h0, c0, **kw):
    args = (x, w["weight_ih"], w["weight_hh"], w["bias_ih"], w["bias_hh"])
    if kind == "lstm":
        kw["c0"] = c0
    return getattr(ops, kind)(*args, h0=h0, backend=backend, **kw)


def outputs_and_grads(kind, backend, x, w, h0, c0, seed=1, **kw):
    """The outputs and the gradients of every input of a loss that weighs each output differently."""
    outs = call(kind, backend, x, w, h0, c0, **kw)
    g = torch.Generator().manual_seed(seed)
    loss = sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outs)
    leaves = [t for t in (x, *w.values(), h0, c0) if t is not None and t.requires_grad]
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    return [o.detach() for o in outs], list(grads)


def assert_same_as_reference(kind, x, w, h0, c0, **kw):
    got_out, got_grads = outputs_and_grads(kind, "cpu", x, w, h0, c0, **kw)
    ref_out, ref_grads = outputs_and_grads(kind, "reference", x, w, h0, c0, **kw)
    names = ["output", "h_n", "c_n"]
    for name, a, b in zip(names, got_out, ref_out):
        assert_close(a, b, msg=f"{kind} {name}")
    leaves = ["x", *[k for k, v in w.items() if v is not None], "h0", "c0"]
    for name, a, b in zip(leaves, got_grads, ref_grads):
        assert b is not None and a is not None, f"{kind}: gradient of {name} missing"
        assert_close(a, b, msg=f"{kind} d{name}")


def padding_mask(B, T, side, seed=0):
    """Lengths from 0 to T, padding on the left (Keras' pad_sequences), the right, or holes anywhere."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(0, T + 1, (B,), generator=g)
    lengths[0], lengths[-1] = T, 0
    pos = torch.arange(T)
    if side == "right":
        return pos[None, :] < lengths[:, None]
    if side == "left":
        return pos[None, :] >= (T - lengths)[:, None]
    return torch.rand(B, T, generator=g) > 0.4


CASES = list(itertools.product(["lstm", "gru", "simple_rnn"], [False, True], [None, "left", "right", "holes"]))


@pytest.mark.parametrize("kind,reverse,side", CASES, ids=[f"{k}-{'rev' if r else 'fwd'}-{s}" for k, r, s in CASES])
def test_matches_reference_in_float64(impl, kind, reverse, side):
    B, T, I, H = 5, 7, 3, 37
    x, w, h0, c0 = make(kind, B, T, I, H)
    mask = None if side is None else padding_mask(B, T, side)
    assert_same_as_reference(kind, x, w, h0, c0, mask=mask, reverse=reverse)


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("dropout", [False, True])
def test_gru_variants_with_dropout_masks(impl, reset_after, dropout):
    B, T, I, H = 4, 6, 5, 9
    x, w, h0, c0 = make("gru", B, T, I, H)
    kw = {"reset_after": reset_after, "mask": padding_mask(B, T, "left")}
    if dropout:
        g = torch.Generator().manual_seed(3)
        kw["input_dropout_mask"] = (torch.rand(B, I, generator=g) > 0.3).to(F64) / 0.7
        kw["recurrent_dropout_mask"] = (torch.rand(B, H, generator=g) > 0.3).to(F64) / 0.7
    assert_same_as_reference("gru", x, w, h0, c0, **kw)


@pytest.mark.parametrize("kind", ["lstm", "simple_rnn"])
def test_dropout_masks_and_zero_output(impl, kind):
    B, T, I, H = 3, 5, 4, 6
    x, w, h0, c0 = make(kind, B, T, I, H)
    g = torch.Generator().manual_seed(5)
    kw = {"input_dropout_mask": (torch.rand(B, I, generator=g) > 0.5).to(F64) * 2,
          "recurrent_dropout_mask": (torch.rand(B, H, generator=g) > 0.5).to(F64) * 2,
          "mask": padding_mask(B, T, "right"), "zero_output_for_mask": True, "reverse": True}
    assert_same_as_reference(kind, x, w, h0, c0, **kw)


ACTS = [("lstm", "relu", "hard_sigmoid"), ("lstm", "linear", "tanh"), ("gru", "relu", "hard_sigmoid"),
        ("gru", "sigmoid", "linear"), ("simple_rnn", "relu", None), ("simple_rnn", "linear", None),
        ("simple_rnn", "sigmoid", None)]


@pytest.mark.parametrize("kind,act,rec_act", ACTS, ids=[f"{k}-{a}-{r}" for k, a, r in ACTS])
def test_every_named_activation(impl, kind, act, rec_act):
    x, w, h0, c0 = make(kind, 3, 6, 4, 5)
    kw = {"activation": act, "mask": padding_mask(3, 6, "left")}
    if rec_act is not None:
        kw["recurrent_activation"] = rec_act
    assert_same_as_reference(kind, x, w, h0, c0, **kw)


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_edge_shapes_and_no_bias(impl, kind):
    for B, T, I, H in [(1, 1, 1, 1), (3, 1, 2, 4), (2, 9, 1, 2)]:
        x, w, h0, c0 = make(kind, B, T, I, H, bias=False)
        assert_same_as_reference(kind, x, w, h0, c0)


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_float32_close_to_float64_reference(impl, kind):
    B, T, I, H = 8, 40, 6, 16
    x, w, h0, c0 = make(kind, B, T, I, H)
    f32 = {k: v.detach().float() for k, v in w.items()}
    got = call(kind, "cpu", x.detach().float(), f32, h0.detach().float(),
               None if c0 is None else c0.detach().float(), mask=padding_mask(B, T, "left"))
    ref = call(kind, "reference", x, w, h0, c0, mask=padding_mask(B, T, "left"))
    for a, b in zip(got, ref):
        assert a.dtype == torch.float32
        assert_close(a, b.detach())


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_gradcheck(impl, kind):
    x, w, h0, c0 = make(kind, 3, 4, 2, 3)
    mask = torch.tensor([[1, 1, 1, 1], [0, 0, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    names = [k for k, v in w.items() if v is not None]

    def f(x, h0, *rest):
        ws = dict(zip(names, rest[: len(names)]))
        c = rest[len(names)] if kind == "lstm" else None
        return call(kind, "cpu", x, ws, h0, c, mask=mask)

    inputs = (x, h0, *[w[k] for k in names], *([c0] if kind == "lstm" else []))
    assert torch.autograd.gradcheck(f, inputs)


def test_strided_input_and_partial_requires_grad(impl):
    x, w, h0, c0 = make("lstm", 4, 6, 5, 7)
    xt = x.detach().transpose(0, 1).contiguous().transpose(0, 1).requires_grad_(True)  # (B, T, I), T-major strides
    assert not xt.is_contiguous()
    frozen = {k: v.detach() for k, v in w.items()}
    frozen["weight_hh"] = w["weight_hh"]  # only the recurrent weights and x need a gradient
    assert_same_as_reference("lstm", xt, frozen, h0.detach(), c0.detach())


def test_backward_twice_with_retain_graph_gives_the_same_gradients(impl):
    x, w, h0, c0 = make("gru", 3, 5, 2, 4)
    out, _ = call("gru", "cpu", x, w, h0, c0)
    loss = (out ** 2).sum()
    first = torch.autograd.grad(loss, [x, w["weight_hh"]], retain_graph=True)
    second = torch.autograd.grad(loss, [x, w["weight_hh"]])
    for a, b in zip(first, second):
        assert torch.equal(a, b)


def test_compiled_and_python_loops_agree():
    skip_without_compiled_kernel()
    x, w, h0, c0 = make("lstm", 6, 11, 3, 10)
    results = []
    for name in IMPLS:
        with cpu.implementation(name):
            results.append(outputs_and_grads("lstm", "cpu", x, w, h0, c0, mask=padding_mask(6, 11, "left")))
    for a, b in zip(results[0][0] + results[0][1], results[1][0] + results[1][1]):
        assert_close(a, b)


def test_auto_picks_cpu_and_the_reference_for_what_cpu_refuses():
    x = torch.randn(2, 3, 4)
    assert ops.select_backend("auto", x).name == "cpu"
    assert ops.select_backend("auto", x.half()).name == "reference"  # float16 on CPU: only the reference
    with pytest.raises(ValueError, match="backend 'cpu' cannot run this lstm call: it runs float32 and float64 only"):
        ops.select_backend("cpu", x.half())
    # an LSTM projection and a callable activation: refused by name, run on the reference by "auto"
    x64, w, h0, c0 = make("lstm", 2, 4, 3, 5)
    w_hr = torch.randn(2, 5, dtype=F64)
    args = (x64, w["weight_ih"], w["weight_hh"][:, :2], w["bias_ih"], w["bias_hh"])
    with pytest.raises(ValueError, match="backend 'cpu' cannot run this lstm call: the LSTM projection"):
        ops.lstm(*args, weight_hr=w_hr, h0=h0[:, :2], c0=c0, backend="cpu")
    got = ops.lstm(*args, weight_hr=w_hr, h0=h0[:, :2], c0=c0, backend="auto")
    ref = ops.lstm(*args, weight_hr=w_hr, h0=h0[:, :2], c0=c0, backend="reference")
    for a, b in zip(got, ref):
        assert torch.equal(a, b)
    softsign = torch.nn.functional.softsign
    w_small = make("simple_rnn", 2, 4, 3, 5)[1]
    with pytest.raises(ValueError, match="backend 'cpu' cannot run this simple_rnn call: activation softsign"):
        call("simple_rnn", "cpu", x64, w_small, h0, None, activation=softsign)
    got = call("simple_rnn", "auto", x64, w_small, h0, None, activation=softsign)
    ref = call("simple_rnn", "reference", x64, w_small, h0, None, activation=softsign)
    assert torch.equal(got[0], ref[0])


def test_nn_modules_on_the_cpu_backend_match_torch():
    torch.manual_seed(0)
    ours = lstmkit.nn.LSTM(3, 6, num_layers=2, bidirectional=True, batch_first=True, backend="cpu", dtype=F64)
    theirs = torch.nn.LSTM(3, 6, num_layers=2, bidirectional=True, batch_first=True, dtype=F64)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(4, 7, 3, dtype=F64, requires_grad=True)
    (y1, (h1, c1)), (y2, (h2, c2)) = ours(x), theirs(x)
    for a, b in [(y1, y2), (h1, h2), (c1, c2)]:
        assert_close(a, b)
    g1 = torch.autograd.grad(y1.square().sum(), [x, *ours.parameters()])
    g2 = torch.autograd.grad(y2.square().sum(), [x, *theirs.parameters()])
    for a, b in zip(g1, g2):
        assert_close(a, b)


def test_unknown_implementation_is_refused():
    with pytest.raises(ValueError, match="'auto', 'compiled' or 'python'"), cpu.implementation("fast"):
        pass


def test_compiled_requested_without_a_kernel_raises(monkeypatch):
    monkeypatch.setattr(build, "load", lambda: None)
    monkeypatch.setattr(build, "info", lambda: build.BuildInfo(reason="no compiler (test)"))
    x, w, h0, c0 = make("simple_rnn", 2, 3, 2, 2)
    with cpu.implementation("compiled"), pytest.raises(RuntimeError, match="no compiler"):
        call("simple_rnn", "cpu", x, w, h0, c0)
    with cpu.implementation("auto"):  # auto falls back to the PyTorch loops
        got = call("simple_rnn", "cpu", x, w, h0, c0)
    assert_close(got[0], call("simple_rnn", "reference", x, w, h0, c0)[0])


def test_build_without_a_compiler_says_why(tmp_path):
    kernel, info = build.build(cxx=str(tmp_path / "no-such-compiler"), directory=tmp_path)
    assert kernel is None and not info.loaded and info.reason
    assert not list(tmp_path.glob("*.so"))  # nothing half-written left behind


def test_build_with_a_failing_compiler_leaves_no_file(tmp_path):
    fake = tmp_path / "cxx"
    fake.write_text("#!/bin/sh\necho 'error: this compiler always fails' >&2\nexit 1\n")
    fake.chmod(0o755)
    kernel, info = build.build(cxx=str(fake), directory=tmp_path / "cache")
    assert kernel is None and "always fails" in info.reason
    assert not list((tmp_path / "cache").glob("*"))


def test_workspace_reuses_only_free_blocks():
    ws = Workspace()
    if not ws.enabled:
        pytest.skip("this torch has no storage use count")
    a = ws.take((4, 5), torch.float32)
    b = ws.take((4, 5), torch.float32)
    assert a.data_ptr() != b.data_ptr()  # `a` is still held
    ptr = a.data_ptr()
    del a
    c = ws.take((2, 10), torch.float32)
    assert c.data_ptr() == ptr and c.shape == (2, 10)
    assert ws.take((4, 5), torch.float64).dtype == torch.float64


def test_compiled_kernel_flushes_subnormals():
    """Gradients decaying into the subnormal range are flushed to zero (as TensorFlow does), which
    keeps the backward from running 100x slower on x86; the PyTorch loops keep them."""
    skip_without_compiled_kernel()
    torch.manual_seed(0)
    x = torch.randn(4, 6, 3, requires_grad=True)
    w = {k: v.detach().float().requires_grad_(True) for k, v in make("lstm", 4, 6, 3, 5)[1].items()}
    h0, c0 = torch.zeros(4, 5), torch.zeros(4, 5)

    def subnormals(t):
        return int(((t != 0) & (t.abs() < torch.finfo(torch.float32).tiny)).sum())

    grads = {}
    for name in IMPLS:
        with cpu.implementation(name):
            out = call("lstm", "cpu", x, w, h0, c0)[0]
            grads[name] = torch.autograd.grad((out * 1e-38).sum(), [x, w["weight_ih"], w["weight_hh"]])
    assert sum(subnormals(g) for g in grads["python"]) > 0  # the case does produce subnormals
    assert sum(subnormals(g) for g in grads["compiled"]) == 0


def test_the_argument_struct_is_built_from_the_librarys_own_layout():
    kernel = build.load()
    if kernel is None:
        pytest.skip(f"no compiled kernel here: {build.info().reason}")
    lib = kernel._lib
    layout, size = lib.lk_args_layout().decode(), lib.lk_args_size()
    struct = build.args_struct(layout, size)
    assert [name for name, _ in struct._fields_] == [item.split(" ")[0] for item in layout.split(";") if item]
    fields = layout.split(";")
    moved = ";".join([fields[0], fields[1].rsplit(" ", 1)[0] + " 5", *fields[2:]])  # dtype at byte 5
    with pytest.raises(RuntimeError, match=r"LkArgs\.dtype sits at byte 5 in the library but at 4 in ctypes"):
        build.args_struct(moved, size)
    with pytest.raises(RuntimeError, match=f"LkArgs has {size + 8} bytes in the library but {size} in ctypes"):
        build.args_struct(layout, size + 8)
    without_dX = ";".join(f for f in fields if not f.startswith("dX "))
    with pytest.raises(RuntimeError, match=r"lacks the fields \['dX'\]"):
        build.args_struct(without_dX, size)


def test_the_abi_number_is_read_from_the_kernel_source():
    assert build._abi_version(b"// x\n#define LK_ABI_VERSION 42\n") == 42
    with pytest.raises(RuntimeError, match="defines no LK_ABI_VERSION"):
        build._abi_version(b"int main() {}\n")
    kernel = build.load()
    if kernel is not None:
        assert kernel._lib.lk_abi_version() == build._abi_version(build.SOURCE.read_bytes())


@pytest.fixture
def built(tmp_path):
    """A kernel library built into a fresh cache folder, with its record, by another process (dlopen
    hands back a library already loaded under the same path, so this one must not load it first)."""
    if build._compiler() is None:
        pytest.skip("no C++ compiler here")
    code = ("import sys; from pathlib import Path; from lstmkit.ops._cpu import build; "
            "k, info = build.build(directory=Path(sys.argv[1])); sys.exit(0 if k is not None else info.reason)")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=600)
    (library,) = tmp_path.glob("*.so")
    assert build._record_path(library).exists()
    return tmp_path, library


def _replace_with(path, data):
    """Put a new file with `data` at `path` (this process has the old one mapped: writing into it in
    place would pull the pages from under the loaded library)."""
    tmp = path.with_name(path.name + ".test")
    tmp.write_bytes(data)
    tmp.replace(path)


def test_a_truncated_cached_library_is_rebuilt_not_loaded(built):
    directory, library = built
    data = library.read_bytes()
    _replace_with(library, data[: len(data) // 2])  # a full disk or a killed copy
    kernel, info = build.build(directory=directory)
    assert kernel is not None and info.compiled_now
    assert "bytes with sha256" in info.rebuilt_because and "its record says" in info.rebuilt_because
    assert build._check_record(library) is None  # whole again, and matching its record


def test_an_empty_library_without_record_is_rebuilt(built):
    directory, library = built
    _replace_with(library, b"")
    build._record_path(library).unlink()
    kernel, info = build.build(directory=directory)
    assert kernel is not None and "has no valid record" in info.rebuilt_because


def test_a_library_that_still_fails_after_one_rebuild_turns_the_fast_path_off_naming_the_file(built, monkeypatch):
    directory, library = built

    def broken_compile(cxx, out, source_path):  # writes a library with a valid record that is not a shared object
        tmp = out.with_name(out.name + ".new")
        tmp.write_bytes(b"not an ELF file")
        build._write_record(out, tmp)
        tmp.replace(out)
        return [], 0.0

    _replace_with(library, b"garbage")
    monkeypatch.setattr(build, "_compile", broken_compile)
    kernel, info = build.build(directory=directory)
    assert kernel is None and not info.loaded
    assert str(library) in info.reason and "rebuilt once because" in info.reason


def test_stale_temporaries_of_killed_builds_are_removed(tmp_path):
    old, fresh = tmp_path / "rnn_kernels-x.abc.tmp.so", tmp_path / "rnn_kernels-x.def.tmp.so"
    old.write_bytes(b"half")
    fresh.write_bytes(b"half")
    os.utime(old, (0, 0))  # written long ago
    build._remove_stale_temporaries(tmp_path)
    assert not old.exists() and fresh.exists()  # a build may still be writing the fresh one
