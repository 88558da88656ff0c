"""The Triton kernels against the float64 reference: outputs, final states and every gradient.

On the CPU the kernels run under Triton's interpreter (TRITON_INTERPRET=1, set by the `interp`
fixture for the duration of each test only) on tiny shapes; every buffer a kernel writes starts as
NaN, so an element it fails to write shows. Tests marked `gpu` run the compiled kernels over larger
shapes and every dtype. A compile test builds every kernel for Hopper (sm_90) without a GPU.
"""

import os
import subprocess
import sys

import pytest
import torch

pytest.importorskip("triton")

import lstmkit.ops.triton as triton_backend
from lstmkit import ops
from lstmkit.ops.triton import _host
from tests.tolerances import TOL, assert_close

F64 = torch.float64
GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}


def _nan_empty(shape, dtype, device):
    return torch.full(shape, float("nan"), dtype=dtype, device=device)


@pytest.fixture
def interp(monkeypatch):
    """Run the kernels under the interpreter, with NaN-poisoned buffers."""
    if torch.cuda.is_available():
        pytest.skip("with CUDA present the gpu tests check the compiled kernels (one mode per process)")
    if triton_backend._loaded_interpreted is False:
        pytest.skip("the kernels were compiled earlier in this process")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.setattr(_host, "empty", _nan_empty)


@pytest.fixture
def split_h(monkeypatch):
    """Force the split-H kernels (hidden units over several programs, R streamed in chunks of 16)."""
    monkeypatch.setattr(_host, "ON_CHIP_BYTES", 0)
    monkeypatch.setattr(_host, "MAX_BLOCK_K", 16)


def make_case(kind, B, T, I, H, *, bias=True, mask=None, dropout=False, seed=0):
    """float64 inputs, weights, initial states, masks and random upstream gradients."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, scale=1.0):
        return torch.randn(*shape, generator=g, dtype=F64) * scale

    G = GATES[kind]
    tensors = {
        "x": rnd(B, T, I),
        "weight_ih": rnd(G * H, I, scale=0.5),
        "weight_hh": rnd(G * H, H, scale=min(0.5, 1.5 / H**0.5)),  # pre-activations of order 1 at any H
        "bias_ih": rnd(G * H, scale=0.3) if bias else None,
        "bias_hh": rnd(G * H, scale=0.3) if bias else None,
        "h0": rnd(B, H),
    }
    if kind == "lstm":
        tensors["c0"] = rnd(B, H)
    kw = {"mask": mask}
    if dropout:
        kw["input_dropout_mask"] = (torch.rand(B, I, generator=g) > 0.3).to(F64) / 0.7
        kw["recurrent_dropout_mask"] = (torch.rand(B, H, generator=g) > 0.3).to(F64) / 0.7
    n_out = 3 if kind == "lstm" else 2
    upstream = [rnd(B, T, H)] + [rnd(B, H) for _ in range(n_out - 1)]
    return tensors, kw, upstream


def run(kind, backend, dtype, tensors, kw, upstream, **options):
    """Outputs and the gradients of sum(output * upstream) w.r.t. every tensor input, in `dtype`."""
    leaves = {k: None if v is None else v.detach().to(dtype).requires_grad_() for k, v in tensors.items()}
    kw = {k: v.to(dtype) if isinstance(v, torch.Tensor) and v.is_floating_point() else v for k, v in kw.items()}
    pos = [leaves[k] for k in ("x", "weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    states = {k: leaves[k] for k in ("h0", "c0") if k in leaves}
    extra = {"weight_hr": None} if kind == "lstm" else {}
    outs = getattr(ops, kind)(*pos, **states, **extra, **kw, **options, backend=backend)
    loss = sum((o.to(F64) * u).sum() for o, u in zip(outs, upstream))
    loss.backward()
    grads = {k: v.grad for k, v in leaves.items() if v is not None}
    return [o.detach() for o in outs], grads


def check(kind, tensors, kw, upstream, dtype=torch.float32, tol_dtype=None, **options):
    """The Triton backend in `dtype` against the reference in float64 on the same (rounded) inputs."""
    rounded = {k: None if v is None else v.to(dtype).to(F64) for k, v in tensors.items()}
    kw_r = {k: v.to(dtype).to(F64) if isinstance(v, torch.Tensor) and v.is_floating_point() else v
            for k, v in kw.items()}
    ref_out, ref_grads = run(kind, "reference", F64, rounded, kw_r, upstream, **options)
    out, grads = run(kind, "triton", dtype, tensors, kw, upstream, **options)
    tol = tol_dtype or dtype
    names = ["output", "h_n", "c_n"]
    for name, o, r in zip(names, out, ref_out):
        assert o.dtype == dtype, f"{name} dtype"
        assert_close(o, r, dtype=tol, msg=f"{kind} {name}")
    assert set(grads) == set(ref_grads)
    for name, gr in grads.items():
        assert gr is not None and gr.dtype == dtype, f"{kind} grad {name}"
        assert_close(gr, ref_grads[name], dtype=tol, msg=f"{kind} grad {name}")


def padded_mask(B, T):
    """Row 0 right-padded, row 1 left-padded, row 2 empty (length 0), further rows full."""
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[0, (T + 1) // 2 :] = False
    mask[1, : T // 2] = False
    mask[2] = False
    return mask


# kind, options: gru with both reset_after forms
KINDS = [
    ("lstm", {}),
    ("gru", {"reset_after": True}),
    ("gru", {"reset_after": False}),
    ("simple_rnn", {}),
]
KIND_IDS = ["lstm", "gru", "gru-reset_before", "simple_rnn"]


@pytest.mark.parametrize("kind,options", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("B,T,H", [(3, 1, 5), (3, 5, 7)], ids=["B3-T1-H5-fp32", "B3-T5-H7-fp32"])
def test_forward_and_gradients(interp, kind, options, B, T, H):
    tensors, kw, upstream = make_case(kind, B, T, 4, H)
    check(kind, tensors, kw, upstream, **options)


@pytest.mark.parametrize("kind,options", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("zero_output", [False, True], ids=["carry", "zero"])
def test_masks_either_side_and_length_zero(interp, kind, options, reverse, zero_output):
    B, T, H = 3, 5, 6
    tensors, kw, upstream = make_case(kind, B, T, 3, H, mask=padded_mask(B, T))
    check(kind, tensors, kw, upstream, reverse=reverse, zero_output_for_mask=zero_output, **options)


@pytest.mark.parametrize("kind,options", KINDS, ids=KIND_IDS)
def test_dropout_masks_and_no_bias(interp, kind, options):
    tensors, kw, upstream = make_case(kind, 3, 4, 5, 8, bias=False, dropout=True, mask=padded_mask(3, 4))
    check(kind, tensors, kw, upstream, reverse=True, **options)


ACTIVATION_CASES = [
    ("lstm", {"activation": "relu", "recurrent_activation": "hard_sigmoid"}),
    ("lstm", {"activation": "linear", "recurrent_activation": "tanh"}),
    ("gru", {"activation": "relu", "recurrent_activation": "hard_sigmoid"}),
    ("gru", {"activation": "sigmoid", "recurrent_activation": "linear", "reset_after": False}),
    ("simple_rnn", {"activation": "relu"}),
    ("simple_rnn", {"activation": "hard_sigmoid"}),
    ("simple_rnn", {"activation": "linear"}),
]


@pytest.mark.parametrize("kind,options", ACTIVATION_CASES,
                         ids=[f"{k}-{'-'.join(str(v) for v in o.values())}" for k, o in ACTIVATION_CASES])
def test_activations_by_name(interp, kind, options):
    # small weights keep linear/relu recurrences bounded over the 4 steps
    tensors, kw, upstream = make_case(kind, 3, 4, 3, 6, mask=padded_mask(3, 4))
    check(kind, tensors, kw, upstream, **options)


@pytest.mark.parametrize("kind,options", [k for k in KINDS if k[1].get("reset_after", True)],
                         ids=["lstm", "gru", "simple_rnn"])
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_split_hidden_over_programs(interp, split_h, kind, options, reverse):
    """H=20 over two programs of 16 units, R streamed in chunks of 16: the large-H kernels."""
    tensors, kw, upstream = make_case(kind, 3, 3, 4, 20, dropout=True, mask=padded_mask(3, 3))
    check(kind, tensors, kw, upstream, reverse=reverse, zero_output_for_mask=reverse, **options)


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_inference_without_grad(interp, kind):
    """Under no_grad the kernels skip saving for the backward; outputs unchanged."""
    tensors, kw, _ = make_case(kind, 3, 4, 3, 7, mask=padded_mask(3, 4))
    x64 = {k: v for k, v in tensors.items()}
    pos = [x64[k] for k in ("x", "weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    states = {k: x64[k] for k in ("h0", "c0") if k in x64}
    extra = {"weight_hr": None} if kind == "lstm" else {}
    ref = getattr(ops, kind)(*pos, **states, **extra, **kw, backend="reference")
    f32 = [t.float() for t in pos]
    with torch.no_grad():
        got = getattr(ops, kind)(*f32, **{k: v.float() for k, v in states.items()}, **extra, **kw, backend="triton")
    for g, r in zip(got, ref):
        assert_close(g, r)


def test_fp16_under_the_interpreter(interp):
    """fp16 operands with fp32 cell state and accumulation (bf16 runs on the GPU only: the
    interpreter's bf16 dot is wrong)."""
    tensors, kw, upstream = make_case("lstm", 3, 4, 5, 8, mask=padded_mask(3, 4), dropout=True)
    check("lstm", tensors, kw, upstream, dtype=torch.float16)


def test_autocast_runs_in_the_autocast_dtype(interp):
    tensors, _, _ = make_case("gru", 3, 3, 4, 6)
    pos = [tensors[k].float() for k in ("x", "weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    h0 = tensors["h0"].float()
    with torch.autocast("cpu", dtype=torch.float16):
        out, hn = ops.gru(*pos, h0=h0, backend="triton")
    assert out.dtype == hn.dtype == torch.float16
    ref_out, ref_hn = ops.gru(*[t.half().double() for t in pos], h0=h0.half().double(), backend="reference")
    assert_close(out, ref_out)
    assert_close(hn, ref_hn)


def test_callable_activation_and_projection_are_refused_by_name_and_run_on_the_reference_by_auto(interp):
    tensors, _, _ = make_case("lstm", 3, 3, 4, 5)
    pos = [tensors[k].float() for k in ("x", "weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    h0, c0 = tensors["h0"].float(), tensors["c0"].float()

    def softsign(v):
        return v / (1 + v.abs())

    with pytest.raises(ValueError, match="backend 'triton' cannot run this lstm call: activation softsign is a callable"):
        ops.lstm(*pos, h0=h0, c0=c0, activation=softsign, backend="triton")
    got = ops.lstm(*pos, h0=h0, c0=c0, activation=softsign, backend="auto")
    want = ops.lstm(*pos, h0=h0, c0=c0, activation=softsign, backend="reference")
    for g, w in zip(got, want):
        assert torch.equal(g, w)
    w_hr = torch.randn(3, 5)
    pos[2] = torch.randn(20, 3)
    with pytest.raises(ValueError, match=r"backend 'triton' cannot run this lstm call: the LSTM projection"):
        ops.lstm(*pos, weight_hr=w_hr, h0=torch.randn(3, 3), c0=c0, backend="triton")


def test_interpreter_selectable_by_name_but_never_by_auto(monkeypatch):
    x = torch.randn(2, 3, 4)
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert ops.select_backend("auto", x).name == "cpu"  # never "triton" on a CPU tensor
    if triton_backend._loaded_interpreted is None:
        with pytest.raises(ValueError, match="backend 'triton' cannot run this lstm call: on the CPU it runs only under"):
            ops.select_backend("triton", x)
    if triton_backend._loaded_interpreted is not False and not torch.cuda.is_available():
        monkeypatch.setenv("TRITON_INTERPRET", "1")
        assert ops.select_backend("triton", x).name == "triton"
        assert ops.select_backend("auto", x).name == "cpu"  # the interpreter is never chosen by "auto"
    with pytest.raises(ValueError, match=r"it runs float32, bfloat16 and float16 only, and the input is torch\.float64"):
        ops.select_backend("triton", x.double())


def test_kernels_compile_for_hopper():
    """Every kernel in its one-tile and split-H (with grid barrier) forms, compiled for sm_90 in a
    fresh process: LLVM has aborted the process on some activation combinations before."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.run([sys.executable, "-m", "lstmkit.ops.triton.compile_check", "--quick"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count(" ok ") >= 12, proc.stdout


# --- GPU: the compiled kernels over larger shapes and every dtype ---------------------------------

# B, T, I, H, reverse, zero_output_for_mask: one tile (H <= 64 at fp32 LSTM) and split H with the grid
# barrier (H = 96, 130, 300), one and several row groups (B = 40: three groups of 16 rows)
GPU_SHAPES = [
    (1, 7, 3, 5, True, False), (3, 17, 5, 37, False, True), (16, 33, 32, 32, True, False),
    (5, 9, 64, 96, True, True), (4, 6, 16, 300, False, False), (40, 5, 8, 130, True, False),
]


@pytest.fixture
def compiled(monkeypatch):
    """The compiled kernels, with NaN-poisoned buffers."""
    if triton_backend._loaded_interpreted:
        pytest.skip("the kernels were loaded for the interpreter in this process")
    monkeypatch.setattr(_host, "empty", _nan_empty)


def cuda_case(kind, B, T, I, H, **kw):
    tensors, kw, upstream = make_case(kind, B, T, I, H, **kw)
    tensors = {k: None if v is None else v.cuda() for k, v in tensors.items()}
    kw = {k: v.cuda() if isinstance(v, torch.Tensor) else v for k, v in kw.items()}
    return tensors, kw, [u.cuda() for u in upstream]


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=["fp32", "bf16", "fp16"])
@pytest.mark.parametrize("B,T,I,H,reverse,zero_output", GPU_SHAPES,
                         ids=[f"B{s[0]}-T{s[1]}-I{s[2]}-H{s[3]}{'-rev' if s[4] else ''}" for s in GPU_SHAPES])
@pytest.mark.parametrize("kind,options", KINDS, ids=KIND_IDS)
def test_gpu_against_reference(compiled, kind, options, B, T, I, H, reverse, zero_output, dtype):
    if not options.get("reset_after", True) and not _host.fits_on_chip(H, 3, dtype):
        pytest.skip("the Triton backend refuses reset_after=False at this size (its weights do not fit on chip)")
    mask = torch.rand(B, T, generator=torch.Generator().manual_seed(1)) > 0.2
    mask[0, : T // 2] = False  # a left-padded row
    tensors, kw, upstream = cuda_case(kind, B, T, I, H, mask=mask, dropout=True)
    check(kind, tensors, kw, upstream, dtype=dtype, reverse=reverse, zero_output_for_mask=zero_output, **options)


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_gpu_split_h_without_the_barrier(compiled, monkeypatch, kind):
    """A grid larger than the multiprocessors falls back to one launch per step."""
    monkeypatch.setattr(_host, "_multiprocessors", lambda device: 2)
    assert not _host.make_plan(20, 200, GATES[kind], torch.float32, torch.device("cuda")).barrier
    tensors, kw, upstream = cuda_case(kind, 20, 6, 8, 200, mask=padded_mask(20, 6), dropout=True)
    check(kind, tensors, kw, upstream, reverse=True)


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_gpu_auto_picks_triton_and_tf32_stays_close(compiled, kind):
    x = torch.randn(4, 8, 16, device="cuda")
    assert ops.select_backend("auto", x).name == "triton"
    assert ops.select_backend("auto", x.double()).name != "triton"
    tensors, kw, upstream = make_case(kind, 4, 8, 16, 32)
    tensors = {k: None if v is None else v.cuda() for k, v in tensors.items()}
    upstream = [u.cuda() for u in upstream]
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        ref, _ = run(kind, "reference", F64, tensors, kw, upstream)
        got, _ = run(kind, "triton", torch.float32, tensors, kw, upstream)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = False
    for g, r in zip(got, ref):
        # TF32 keeps 10 mantissa bits: about 1e-3 relative per product (METHOD.md: near 3e-4 overall)
        torch.testing.assert_close(g.double(), r, **TOL[torch.bfloat16])
