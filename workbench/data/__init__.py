"""Data loading shared by every capability: user files (.npy, .csv, .txt) checked at the door,
named data sets with fixed splits (:func:`load_dataset`) and generated patterns."""

from pathlib import Path

import numpy as np

from workbench.errors import InputError

__all__ = [
    "DATASETS",
    "Dataset",
    "bars_stripes",
    "fashion_mnist_available",
    "linear_factor_data",
    "load_array",
    "load_dataset",
]

SUFFIXES = (".npy", ".csv", ".txt", ".tsv")


def load_array(path):
    """Read a numeric array from ``.npy``, ``.csv``, ``.tsv`` or ``.txt`` (one header row allowed).

    Raises an :class:`~workbench.errors.InputError` for ``path`` naming the file when it is
    missing or unreadable, has an unknown suffix, holds no numbers or has NaN/inf entries.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("path", detail=f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError("path", f"a file ending in {', '.join(SUFFIXES)}", repr(path.name))
    try:
        if suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
        else:
            delimiter = {".csv": ",", ".tsv": "\t"}.get(suffix)
            arr = _read_text(path, delimiter)
        arr = np.asarray(arr, dtype=float)
    except (OSError, ValueError, TypeError) as err:
        raise InputError("path", detail=f"cannot read {path} as a numeric table: {err}") from None
    if arr.size == 0:
        raise InputError("path", detail=f"{path} holds no numbers")
    bad = ~np.isfinite(arr)
    if bad.any():
        where = np.argwhere(bad)[0].tolist()
        raise InputError(
            "path", detail=f"{path} has {bad.sum()} NaN/inf entries (first at {where})"
        )
    return arr


def _read_text(path, delimiter):
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
