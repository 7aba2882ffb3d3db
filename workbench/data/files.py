"""NumPy files read once, checked at the door: the one reader behind every command that takes a
``.npy`` or ``.npz`` file (data tables, saved draws, energy-model weights).

:func:`read_numpy` turns every way such a file can be unusable (missing, unreadable, empty,
truncated, not a NumPy file, pickled objects) into one :class:`~workbench.errors.InputError`
naming the caller's argument; :func:`real_array` refuses what is not real numbers (complex
values are refused, not cut to their real part) and, unless told otherwise, NaN and infinities.
"""

import zipfile
import zlib
from pathlib import Path

import numpy as np

from workbench.errors import InputError

__all__ = ["read_numpy", "real_array"]


def _reason(err):
    """Why a NumPy file could not be read, in words."""
    if isinstance(err, PermissionError):
        return "permission denied"
    if isinstance(err, IsADirectoryError):
        return "it is a folder"
    if isinstance(err, EOFError):
        return "the file is empty or cut short"
    if isinstance(err, zipfile.BadZipFile | zlib.error):
        return f"not a readable .npz archive, damaged or truncated ({err})"
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text[:200]


def read_numpy(path, argument="path"):
    """The array in a ``.npy`` file, or ``{name: array}`` of a ``.npz`` archive, read without
    running pickles. Any failure is an :class:`InputError` naming ``argument``."""
    path = Path(path)
    if not path.exists():
        raise InputError(argument, detail=f"no such file: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                return {name: loaded[name] for name in loaded.files}
        return loaded
    except (OSError, EOFError, ValueError, TypeError, KeyError, zlib.error,
            zipfile.BadZipFile) as err:  # fmt: skip
        raise InputError(argument, detail=f"cannot read {path}: {_reason(err)}") from None


def real_array(argument, value, source, *, finite=True):
    """``value`` as a float64 array: refused (an :class:`InputError` naming ``argument`` and
    ``source``, the file or entry it came from) when it holds complex numbers, text or objects,
    or, with ``finite``, NaN or infinite entries."""
    arr = np.asarray(value)
    if arr.dtype.kind == "c":
        raise InputError(
            argument,
            detail=f"{source} holds complex numbers; expected real ones (the imaginary parts "
            "would be lost)",
        )
    if arr.dtype.kind not in "biuf":
        raise InputError(argument, detail=f"{source} holds {arr.dtype} values; expected numbers")
    arr = arr.astype(np.float64, copy=False)
    if finite:
        bad = ~np.isfinite(arr)
        if bad.any():
            where = np.argwhere(bad)[0].tolist()
            raise InputError(
                argument, detail=f"{source} has {int(bad.sum())} NaN/inf entries (first at {where})"
            )
    return arr
