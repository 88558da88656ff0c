"""Compile `rnn_kernels.cpp` on first use, cache the library, and call it through ctypes.

Why not `torch.utils.cpp_extension`: a minimal ATen extension took 15.6 s to compile on the
project's 2-core machine, this header-free file about 1-4 s (benchmarks/results, docs/benchmarks.md).
The kernel needs from torch only the BLAS it links (`sgemm_`, `dgemm_`), whose addresses are handed
in at load time; without them it uses a plain loop.

The library is cached under `$LSTMKIT_CACHE_DIR` (default `$XDG_CACHE_HOME/lstmkit` or
`~/.cache/lstmkit`), named by a hash of the source, the compiler, its flags and the CPU, so it is
built once per machine; concurrent builds write to temporary names and the last `os.replace` wins.
Beside each library `<name>.so.sha256` records its size and hash, written before the library is moved
into place and checked before it is loaded; a cached library that fails the check or will not load
is rebuilt once. Any failure (no compiler, a compile error, a library that will not load after that)
gives a warning naming the file once and `load()` returns None, so the caller runs the pure-PyTorch
loops.
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import os
import platform
import re
import shutil
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import torch

from lstmkit.ops._cpu.loops import ACT_CODES, Run

SOURCE = Path(__file__).with_name("rnn_kernels.cpp")
_BASE_FLAGS = ["-O3", "-std=c++17", "-shared", "-fPIC", "-fno-math-errno", "-fno-trapping-math"]
# Tried in order: -march=native vectorises the activations for this CPU (the cache key includes
# the CPU); OpenMP splits the batch over threads. Compilers without one of them get the next set.
_FLAG_SETS = [["-march=native", "-fopenmp"], ["-fopenmp"], []]


L = TypeVar("L")

_CTYPES = {"i32": ctypes.c_int32, "i64": ctypes.c_int64, "ptr": ctypes.c_void_p}


def _abi_version(source: bytes, path: Path = SOURCE) -> int:
    """The `LK_ABI_VERSION` that a kernel source defines: the one place the number is written."""
    found = re.search(rb"^#define LK_ABI_VERSION (\d+)$", source, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"{path} defines no LK_ABI_VERSION")
    return int(found.group(1))


def args_struct(layout: str, size: int) -> type[ctypes.Structure]:
    """The ctypes mirror of `struct LkArgs`, built from the library's own description of it
    (`lk_args_layout()`: "name kind offset;" per field) and checked against its offsets and size."""
    fields = []
    for item in filter(None, layout.split(";")):
        name, kind, _ = item.split(" ")
        if kind not in _CTYPES:
            raise RuntimeError(f"the kernel library describes field {name!r} with unknown kind {kind!r}")
        fields.append((name, _CTYPES[kind]))
    missing = set(_SET_BY_PYTHON) - {name for name, _ in fields}
    if missing:
        raise RuntimeError(f"the kernel library's LkArgs lacks the fields {sorted(missing)}")
    struct = type("LkArgs", (ctypes.Structure,), {"_fields_": fields})
    for item in filter(None, layout.split(";")):
        name, _, offset = item.split(" ")
        if getattr(struct, name).offset != int(offset):
            raise RuntimeError(f"LkArgs.{name} sits at byte {offset} in the library but at "
                               f"{getattr(struct, name).offset} in ctypes")
    if ctypes.sizeof(struct) != size:
        raise RuntimeError(f"LkArgs has {size} bytes in the library but {ctypes.sizeof(struct)} in ctypes")
    return struct


# Every field `Kernel._args` sets.
_SCALARS = ("kind", "dtype", "T", "B", "I", "H", "reverse", "act", "rec_act", "zero_output", "reset_after",
            "training", "nthreads", "sx_b", "sx_t", "sx_i", "sdy_b", "sdy_t", "sdy_h",
            "variant", "szh_b", "szh_t", "szc_b", "szc_t")
_POINTERS = ("x", "in_mask", "W", "bias", "b_hn", "h0", "c0", "rec_mask", "mask", "Y", "hN", "cN", "XH", "G", "Hprev",
             "C", "TC", "HN", "dY", "dhN", "dcN", "dG", "dGh", "dX", "dh0", "dc0", "db", "dbh",
             # the variants' path (issue 19)
             "peep", "ln_hh_w", "ln_hh_b", "ln_c_w", "ln_c_b", "zh", "zc", "CT", "UN", "US", "LC", "CS", "dpeep",
             "dln_hh", "dln_c")
# Pointers the kernel reads with strides of their own (the rest must be contiguous): x, dY, and the
# zoneout masks, which are a rate broadcast over (B, T) in eval (strides 0, 0, 1).
_STRIDED = ("x", "dY", "zh", "zc")
_SET_BY_PYTHON = _SCALARS + _POINTERS


_KINDS = {"lstm": 0, "gru": 1, "simple_rnn": 2}
_DTYPES = {torch.float32: 0, torch.float64: 1}


@dataclass
class BuildInfo:
    """What happened when the kernel was built or loaded (`lstmkit.ops.cpu.kernel_info()`)."""

    loaded: bool = False
    path: str | None = None
    compiled_now: bool = False
    compile_seconds: float | None = None
    flags: list[str] = field(default_factory=list)
    blas: bool = False
    reason: str | None = None  # why it is not loaded
    rebuilt_because: str | None = None  # what was wrong with the cached library that was rebuilt


class Kernel:
    """The loaded library: `forward(run)` and `backward(run)` fill the buffers of a `Run`."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        lib.lk_args_layout.restype = ctypes.c_char_p
        lib.lk_args_size.restype = ctypes.c_int64
        self._struct = args_struct(lib.lk_args_layout().decode(), lib.lk_args_size())
        for fn in (lib.lk_forward, lib.lk_backward):
            fn.argtypes = [ctypes.POINTER(self._struct)]
            fn.restype = ctypes.c_int
        i, p = ctypes.c_int, ctypes.c_void_p
        lib.lk_gemm_tn.argtypes = [i, i, i, ctypes.c_int64, p, i, p, i, p, i, i]
        lib.lk_gemm_tn.restype = ctypes.c_int

    def _args(self, run: Run) -> ctypes.Structure:
        B, T, I = run.x.shape
        a = self._struct(
            kind=_KINDS[run.kind], dtype=_DTYPES[run.x.dtype], T=T, B=B, I=I, H=run.h0.shape[1],
            reverse=int(run.reverse), act=ACT_CODES[run.act], rec_act=ACT_CODES[run.rec_act],
            zero_output=int(run.zero_output), reset_after=int(run.reset_after), training=int(run.training),
            nthreads=run.nthreads, variant=int(run.variant),
        )
        a.sx_b, a.sx_t, a.sx_i = run.x.stride()
        if run.dY is not None:
            a.sdy_b, a.sdy_t, a.sdy_h = run.dY.stride()
        for z, (sb, st) in (("zh", ("szh_b", "szh_t")), ("zc", ("szc_b", "szc_t"))):
            zt = getattr(run, z)
            if zt is not None:
                if zt.shape[2] > 1 and zt.stride(2) != 1:
                    raise ValueError(f"internal error: the CPU kernel needs unit stride along the units of {z}")
                setattr(a, sb, zt.stride(0))
                setattr(a, st, zt.stride(1))
        for name in _POINTERS:
            t = getattr(run, name)
            if t is None:
                continue
            if name not in _STRIDED and not t.is_contiguous():
                raise ValueError(f"internal error: the CPU kernel needs {name} contiguous")
            setattr(a, name, t.data_ptr())
        return a

    def gemm_tn(self, a: torch.Tensor, b: torch.Tensor, nthreads: int) -> torch.Tensor:
        """a^T b for a (R, M) and b (R, N) with unit column stride (row strides free), subnormals flushed."""
        R, M = a.shape
        N = b.shape[1]
        if a.stride(1) != 1 or b.stride(1) != 1 or b.shape[0] != R or a.dtype != b.dtype:
            raise ValueError("internal error: gemm_tn needs (R, M) and (R, N) row-major operands of one dtype")
        out = a.new_empty(M, N)
        if R == 0:
            return out.zero_()
        _check_status(self._lib.lk_gemm_tn(
            _DTYPES[a.dtype], M, N, R, ctypes.c_void_p(a.data_ptr()), a.stride(0), ctypes.c_void_p(b.data_ptr()),
            b.stride(0), ctypes.c_void_p(out.data_ptr()), N, nthreads), "the weight gradients' matmul")
        return out

    def forward(self, run: Run) -> None:
        _check_status(self._lib.lk_forward(ctypes.byref(self._args(run))), "the forward time loop")

    def backward(self, run: Run) -> None:
        _check_status(self._lib.lk_backward(ctypes.byref(self._args(run))), "the backward time loop")


# The kernel's Status codes (rnn_kernels.cpp): a C++ exception never crosses into Python.
_NO_MEMORY, _FAILED = 1, 2


def _check_status(status: int, what: str) -> None:
    if status == _NO_MEMORY:
        raise MemoryError(f"lstmkit's CPU kernel ran out of memory in {what} (its per-thread scratch could not be "
                          "allocated); free memory, use a smaller batch, or backend='reference'")
    if status != 0:
        raise RuntimeError(f"lstmkit's CPU kernel failed in {what} (status {status})")


def cache_dir() -> Path:
    root = os.environ.get("LSTMKIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "lstmkit")
    return Path(root) / "cpu_kernels"


def _cpu_identity() -> str:
    """What -march=native depends on: the CPU model and its feature flags."""
    ident = platform.machine() + platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            ident += "".join(sorted({ln for ln in f if ln.startswith(("model name", "flags", "Features"))}))
    except OSError:
        pass
    return ident


def _compiler() -> str | None:
    cxx = os.environ.get("CXX", "c++")
    return shutil.which(cxx)


def _compiler_version(cxx: str) -> str:
    try:
        return subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def _blas_addresses() -> tuple[int | None, int | None]:
    """Addresses of the Fortran BLAS `sgemm_`/`dgemm_` that torch links (MKL or OpenBLAS), if exported."""
    libdir = os.path.join(os.path.dirname(torch.__file__), "lib")
    for path in sorted(glob.glob(os.path.join(libdir, "libtorch_cpu.*"))):
        try:
            lib = ctypes.CDLL(path)
            return (ctypes.cast(lib.sgemm_, ctypes.c_void_p).value, ctypes.cast(lib.dgemm_, ctypes.c_void_p).value)
        except (OSError, AttributeError):
            continue
    return None, None


def _record_path(out: Path) -> Path:
    return out.with_name(out.name + ".sha256")


def _digest(path: Path) -> tuple[int, str]:
    data = path.read_bytes()
    return len(data), hashlib.sha256(data).hexdigest()


def _write_record(out: Path, built: Path) -> None:
    """Write `<library>.sha256`: the size and sha256 the library at `out` must have (atomically)."""
    size, digest = _digest(built)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent)
    with os.fdopen(fd, "w") as f:
        f.write(f"{size} {digest}\n")
    os.replace(tmp, _record_path(out))


def _check_record(out: Path) -> str | None:
    """Why the cached library at `out` cannot be trusted (None if its size and hash match its record).
    Checked before loading: mapping a truncated library kills the process with SIGBUS."""
    record = _record_path(out)
    try:
        size, digest = record.read_text().split()
    except (OSError, ValueError):
        return f"{out} has no valid record of its size and hash ({record})"
    actual = _digest(out)
    if actual != (int(size), digest):
        return (f"{out} is {actual[0]} bytes with sha256 {actual[1][:12]}..., "
                f"its record says {size} bytes, {digest[:12]}...")
    return None


def _remove_stale_temporaries(directory: Path, older_than_s: float = 3600.0) -> None:
    """Temporary files of builds killed before they finished (a running build's are younger)."""
    now = time.time()
    for path in directory.glob("*.tmp*"):
        try:
            if now - path.stat().st_mtime > older_than_s:
                path.unlink()
        except OSError:
            continue  # another process removed or is replacing it


def _load_checked(out: Path, source: bytes, path: Path, wrap: Callable[[ctypes.CDLL], L]) -> L:
    """Load the library at `out` after checking it against its record and wrap it; raises RuntimeError
    or OSError (or whatever `wrap` raises on a library that does not describe itself as expected)."""
    reason = _check_record(out)
    if reason is not None:
        raise RuntimeError(reason)
    lib = ctypes.CDLL(str(out))
    expected = _abi_version(source, path)
    if lib.lk_abi_version() != expected:
        raise RuntimeError(f"library {out} has ABI {lib.lk_abi_version()}, expected {expected}")
    return wrap(lib)


def _compile(cxx: str, out: Path, source_path: Path = SOURCE) -> tuple[list[str], float]:
    """Compile to a temporary file beside `out`, then move it into place. Returns (flags, seconds)."""
    errors = []
    for extra in _FLAG_SETS:
        flags = [*_BASE_FLAGS, *extra]
        fd, tmp = tempfile.mkstemp(prefix=out.stem + ".", suffix=".tmp.so", dir=out.parent)
        os.close(fd)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([cxx, *flags, str(source_path), "-o", tmp], capture_output=True, text=True,
                                  timeout=300)
            if proc.returncode == 0:
                # the record first, then the library: a kill between the two leaves a record without its
                # library, or a library its record does not match, and either is rebuilt
                _write_record(out, Path(tmp))
                os.replace(tmp, out)
                return flags, time.perf_counter() - t0
            errors.append(f"{' '.join(extra) or 'no extra flags'}: {proc.stderr.strip()[-400:]}")
        except (OSError, subprocess.SubprocessError) as e:
            errors.append(f"{' '.join(extra) or 'no extra flags'}: {e}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    raise RuntimeError("the compiler failed: " + " | ".join(errors))


def build_library(source_path: Path, wrap: Callable[[ctypes.CDLL], L], cxx: str | None = None,
                  directory: Path | None = None) -> tuple[L | None, BuildInfo]:
    """Build (or find in the cache) the library of one kernel source, load it and wrap it. Never raises:
    on failure returns (None, info) with `info.reason` saying why. The source must define
    `LK_ABI_VERSION` and export `lk_abi_version()`; if it exports `lk_set_blas`, it is handed torch's
    BLAS. `rnn_kernels.cpp` is one such source; the other CPU kernels (scans, the sLSTM) use the same
    cache, record and rebuild rules."""
    info = BuildInfo()
    cxx = cxx or _compiler()
    if cxx is None:
        info.reason = f"no C++ compiler found (looked for {os.environ.get('CXX', 'c++')!r}; set CXX to use another)"
        return None, info
    try:
        source = source_path.read_bytes()
    except OSError as e:
        info.reason = f"kernel source missing: {e}"
        return None, info
    key = hashlib.sha256(b"\0".join([
        source, cxx.encode(), _compiler_version(cxx).encode(), repr((_BASE_FLAGS, _FLAG_SETS)).encode(),
        _cpu_identity().encode()])).hexdigest()[:16]
    directory = directory or cache_dir()
    out = directory / f"{source_path.stem}-{key}.so"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(directory)
        if not out.exists():
            info.flags, info.compile_seconds = _compile(cxx, out, source_path)
            info.compiled_now = True
        try:
            wrapped = _load_checked(out, source, source_path, wrap)
        except (OSError, RuntimeError, AttributeError) as e:
            if info.compiled_now:
                raise
            # a cached library that is damaged (a full disk, a killed copy) or will not load: build it once more
            info.rebuilt_because = str(e)
            for path in (out, _record_path(out)):
                path.unlink(missing_ok=True)
            info.flags, info.compile_seconds = _compile(cxx, out, source_path)
            info.compiled_now = True
            wrapped = _load_checked(out, source, source_path, wrap)
    except (OSError, RuntimeError, AttributeError) as e:
        info.reason = f"{e} (library {out})" if str(out) not in str(e) else str(e)
        if info.rebuilt_because:
            info.reason += f"; it was rebuilt once because {info.rebuilt_because}"
        return None, info
    lib = ctypes.CDLL(str(out))
    info.blas = False
    if hasattr(lib, "lk_set_blas"):
        sgemm, dgemm = _blas_addresses()
        lib.lk_set_blas(ctypes.c_void_p(sgemm), ctypes.c_void_p(dgemm))
        info.blas = sgemm is not None
    info.loaded, info.path = True, str(out)
    return wrapped, info


def build(cxx: str | None = None, directory: Path | None = None) -> tuple[Kernel | None, BuildInfo]:
    """Build (or find in the cache) and load the recurrence kernel library (`rnn_kernels.cpp`)."""
    return build_library(SOURCE, Kernel, cxx, directory)


_LOCK = threading.Lock()
_STATE: dict[Path, tuple[Any, BuildInfo]] = {}


def load_library(source_path: Path, wrap: Callable[[ctypes.CDLL], L]) -> L | None:
    """The process-wide wrapped library of `source_path`, built on the first call; None (after one
    warning naming the source) if it cannot be."""
    with _LOCK:
        if source_path not in _STATE:
            wrapped, info = build_library(source_path, wrap)
            _STATE[source_path] = (wrapped, info)
            if wrapped is None:
                warnings.warn(
                    f"lstmkit: the compiled CPU kernel {source_path.name} is unavailable ({info.reason}); "
                    "using the slower pure-PyTorch loops", RuntimeWarning, stacklevel=3)
        return cast("L | None", _STATE[source_path][0])


def library_info(source_path: Path) -> BuildInfo:
    """What happened when `source_path`'s library was built or loaded (by `load_library`)."""
    with _LOCK:
        known = source_path in _STATE
    if not known:
        raise RuntimeError(f"internal error: {source_path.name} has not been loaded; call load_library first")
    return _STATE[source_path][1]


def load() -> Kernel | None:
    """The process-wide recurrence kernel, built on the first call; None (after one warning) if it cannot be."""
    return load_library(SOURCE, Kernel)


def info() -> BuildInfo:
    load()
    return _STATE[SOURCE][1]
