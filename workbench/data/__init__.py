"""Data loading shared by every capability: user files (.npy, .csv, .txt) checked at the door,
named data sets with fixed splits (:func:`load_dataset`) and generated patterns."""

import warnings
from pathlib import Path

import numpy as np

from workbench.data.files import read_numpy, real_array
from workbench.errors import InputError

__all__ = [
    "DATASETS",
    "Dataset",
    "bars_stripes",
    "fashion_mnist_available",
    "linear_factor_data",
    "load_array",
    "load_dataset",
    "read_numpy",
    "real_array",
]

SUFFIXES = (".npy", ".csv", ".txt", ".tsv")


def load_array(path):
    """Read a numeric array from ``.npy``, ``.csv``, ``.tsv`` or ``.txt`` (one header row allowed).

    Raises an :class:`~workbench.errors.InputError` for ``path`` naming the file when it is
    missing, unreadable, empty, truncated or damaged, has an unknown suffix, holds no numbers,
    complex numbers or NaN/inf entries (see :mod:`workbench.data.files`).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("path", detail=f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError("path", f"a file ending in {', '.join(SUFFIXES)}", repr(path.name))
    if suffix == ".npy":
        arr = read_numpy(path, "path")
    else:
        delimiter = {".csv": ",", ".tsv": "\t"}.get(suffix)
        try:
            arr = _read_text(path, delimiter)
        except (OSError, ValueError, UnicodeDecodeError) as err:
            reason = "permission denied" if isinstance(err, PermissionError) else err
            raise InputError("path", detail=f"cannot read {path} as a numeric table: {reason}"
                             ) from None  # fmt: skip
    if arr.size == 0:
        raise InputError("path", detail=f"{path} holds no numbers")
    return real_array("path", arr, str(path))


def _read_text(path, delimiter):
    with warnings.catch_warnings():  # an empty file: refused below, without NumPy's warning
        warnings.simplefilter("ignore", UserWarning)
        try:
            return np.loadtxt(path, delimiter=delimiter, ndmin=1)
        except ValueError:
            return np.loadtxt(path, delimiter=delimiter, ndmin=1, skiprows=1)


from workbench.data.datasets import (  # noqa: E402
    DATASETS,
    Dataset,
    fashion_mnist_available,
    load_dataset,
)
from workbench.data.patterns import bars_stripes  # noqa: E402
from workbench.data.synthetic import linear_factor_data  # noqa: E402
