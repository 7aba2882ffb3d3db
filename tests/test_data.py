"""Shared data loaders: shapes, fixed splits, published counts, patterns, and clear errors."""

import gzip

import numpy as np
import pytest

from workbench.data import bars_stripes, fashion_mnist_available, load_dataset
from workbench.data.datasets import FASHION_MNIST_ENV
from workbench.errors import InputError


@pytest.mark.parametrize(("name", "n_all", "n_test", "n_features"), [
    ("digits", 1797, 360, 64), ("mnist5k", 5000, 1000, 784),
])  # fmt: skip
def test_split_is_fixed_disjoint_and_complete(name, n_all, n_test, n_features):
    full, train, test = (load_dataset(name, split=s) for s in ("all", "train", "test"))
    assert full.X.shape == (n_all, n_features) and test.X.shape == (n_test, n_features)
    assert len(train.X) + len(test.X) == n_all
    assert 0.0 <= full.X.min() and full.X.max() == 1.0
    assert np.array_equal(np.bincount(full.y), np.bincount(np.concatenate([train.y, test.y])))
    rows = {row.tobytes() for row in train.X}
    assert not any(row.tobytes() in rows for row in test.X)  # images are distinct here
    again = load_dataset(name, split="test")
    assert np.array_equal(again.X, test.X) and np.array_equal(again.y, test.y)
    assert len(np.unique(test.y)) == 10  # the class-sorted file is shuffled before the split


@pytest.mark.requires_fashion_mnist
def test_fashion_mnist_matches_the_published_split():
    train, test = (
        load_dataset("fashion-mnist", split="train"),
        load_dataset("fashion-mnist", split="test"),
    )
    assert train.X.shape == (60000, 784) and test.X.shape == (10000, 784)
    assert np.all(np.bincount(train.y) == 6000) and np.all(np.bincount(test.y) == 1000)
    assert train.image_shape == (28, 28) and train.classes[9] == "Ankle boot"


def test_binarize_and_dtype():
    from sklearn.datasets import load_digits

    data = load_dataset("digits", binarize=True, dtype=np.float32)
    raw = load_digits().data  # pixels 0..16, in the file's order; ours are shuffled once
    order = np.random.default_rng(0).permutation(len(raw))
    assert data.X.dtype == np.float32
    np.testing.assert_array_equal(data.X, (raw[order] / 16 > 0.5).astype(np.float32))


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_bars_stripes_are_all_distinct_bars_and_stripes(n):
    patterns = bars_stripes(n)
    assert patterns.shape == (2 ** (n + 1) - 2, n * n)
    assert len(np.unique(patterns, axis=0)) == len(patterns)
    grids = patterns.reshape(-1, n, n)
    rows_constant = np.all(grids == grids[:, :, :1], axis=(1, 2))
    cols_constant = np.all(grids == grids[:, :1, :], axis=(1, 2))
    assert np.all(rows_constant | cols_constant)
    assert np.array_equal(load_dataset(f"bars-stripes-{n}").X, patterns)


def test_user_file(tmp_path):
    path = tmp_path / "table.csv"
    table = np.arange(12.0).reshape(4, 3) / 7
    np.savetxt(path, table, delimiter=",", header="a,b,c", comments="")  # one header row
    data = load_dataset(path)
    np.testing.assert_allclose(data.X, table, rtol=1e-15)
    assert data.y is None and data.image_shape is None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"name": "mnist"}, "name: unknown data set 'mnist'; expected one of digits, mnist5k"),
    ({"name": "digits", "split": "valid"}, "split: expected one of all, train, test"),
    ({"name": "bars-stripes-3", "split": "train"}, "has no train/test split"),
    ({"name": "bars-stripes-0"}, "name: expected bars-stripes-N with N >= 1"),
])  # fmt: skip
def test_bad_names_and_splits(kwargs, message):
    with pytest.raises(InputError, match=message):
        load_dataset(**kwargs)


def test_missing_and_corrupt_fashion_files(tmp_path):
    with pytest.raises(InputError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist", data_dir=tmp_path)
    for kind in ("images-idx3", "labels-idx1"):
        with gzip.open(tmp_path / f"t10k-{kind}-ubyte.gz", "wb") as handle:
            handle.write(b"not an idx file")
    with pytest.raises(InputError, match="not an IDX file"):
        load_dataset("fashion-mnist", split="test", data_dir=tmp_path)


def test_fashion_mnist_available_needs_all_four_files(tmp_path, monkeypatch):
    monkeypatch.setenv(FASHION_MNIST_ENV, str(tmp_path))
    names = [f"{part}-{kind}-ubyte.gz" for part in ("train", "t10k")
             for kind in ("images-idx3", "labels-idx1")]  # fmt: skip
    for name in names:
        assert not fashion_mnist_available()  # the env var is the default folder
        (tmp_path / name).write_bytes(b"")
    assert fashion_mnist_available()
    assert not fashion_mnist_available(data_dir=tmp_path / "elsewhere")
