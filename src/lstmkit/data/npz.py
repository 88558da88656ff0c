"""Read a `.npz` whose arrays may hold Python objects (IMDB's ragged lists) without running code.

`np.load(allow_pickle=True)` would unpickle anything the file names. Here the pickle stream of an
object array may only name `numpy.ndarray`, `numpy.dtype` and numpy's `_reconstruct`; lists and
ints need no name at all. Anything else is refused.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from typing import Any

import numpy as np

try:  # NumPy 2 moved numpy.core to numpy._core; pickles written by NumPy 1 name the old module
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy < 1.26
    from numpy.core.multiarray import _reconstruct

_ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from an .npz (only numpy arrays of "
                                         "lists and numbers are read)") from None


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of the `.npz` at `path`, by name; object arrays through the restricted unpickler."""
    arrays = {}
    with zipfile.ZipFile(path) as z:
        for member in z.namelist():
            if not member.endswith(".npy"):
                continue
            with z.open(member) as f:
                version = np.lib.format.read_magic(f)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read_header is None:
                    raise ValueError(f"{path}: {member} has .npy format version {version}, which is not read here")
                shape, fortran, dtype = read_header(f)
                if dtype.hasobject:
                    array = _Unpickler(f).load()
                    if not isinstance(array, np.ndarray) or array.shape != shape:
                        raise ValueError(f"{path}: {member} does not hold the {shape} array its header announces")
                else:
                    count = int(np.prod(shape))
                    data = f.read(count * dtype.itemsize)
                    if len(data) != count * dtype.itemsize:
                        raise ValueError(f"{path}: {member} is truncated")
                    array = np.frombuffer(bytearray(data), dtype=dtype, count=count)  # writable, like np.load
                    array = array.reshape(shape[::-1]).T if fortran else array.reshape(shape)
            arrays[member.removesuffix(".npy")] = array
    return arrays
