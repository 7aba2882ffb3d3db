"""DictionaryLearning: recovery of a planted dictionary, scikit-learn's MiniBatchDictionaryLearning
as the reference objective, checkpoints and resume through the runtime's loop, dead atoms."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import MiniBatchDictionaryLearning

from workbench.errors import InputError
from workbench.nn.runtime import torch_threads
from workbench.sparse import DictionaryLearning, sparse_code


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def planted():
    """2,000 signals, each 2 atoms of a random unit-norm 8 x 16 dictionary (weights of either
    sign, 1 to 2 in size), plus noise of sd 0.05."""
    rng = np.random.default_rng(1)
    D = rng.normal(size=(8, 16))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    H = np.zeros((2000, 8))
    for row in H:
        row[rng.choice(8, 2, replace=False)] = rng.choice([-1, 1], 2) * (1 + rng.random(2))
    return H @ D + 0.05 * rng.normal(size=(2000, 16)), D


SETTINGS = dict(alpha=0.2, batch_size=100, n_epochs=8, random_state=0)


@pytest.fixture(scope="module")
def learned(planted):
    with torch_threads(1):
        return DictionaryLearning(8, **SETTINGS).fit(planted[0])


def test_recovers_a_planted_dictionary(planted, learned):
    X, D = planted
    atoms = learned.components_
    np.testing.assert_allclose(np.linalg.norm(atoms, axis=1), 1.0, atol=1e-5)
    matched = np.sort(np.abs(D @ atoms.T).max(axis=1))  # per true atom, the best |cosine|
    assert matched[2] > 0.98  # (dictionary learning is not convex: 6 of 8 found here)
    objectives = [h["objective"] for h in learned.history_]
    assert objectives[-1] < objectives[0]
    assert len(learned.history_) == learned.n_iter_ == 8
    codes = learned.transform(X[:100])
    assert codes.shape == (100, 8) and 0 < (codes != 0).mean() < 0.5


@pytest.mark.slow  # scikit-learn's 160 mini-batch steps take ~17 s
def test_objective_matches_minibatch_dictionary_learning(planted, learned):
    X, _ = planted
    sk = MiniBatchDictionaryLearning(8, alpha=0.2, batch_size=100, max_iter=8, random_state=0)
    sk.fit(X)
    rows = X[:500]
    theirs = sparse_code(rows, sk.components_, 0.2, max_iter=2000, tol=1e-6).objective.mean()
    mine = sparse_code(rows, learned.components_, 0.2, max_iter=2000, tol=1e-6).objective.mean()
    assert mine <= 1.02 * theirs
    assert learned.objective(rows) == pytest.approx(mine, rel=1e-3)


def fit(X, **params):
    return DictionaryLearning(8, **{**SETTINGS, **params}).fit(X)


def test_resume_continues_exactly(planted, tmp_path):
    X = planted[0][:400]
    straight = fit(X, n_epochs=4)
    path = tmp_path / "dl.pt"
    fit(X, n_epochs=2, checkpoint=path)
    resumed = DictionaryLearning(8, **{**SETTINGS, "n_epochs": 4, "checkpoint": path})
    resumed.fit(X, resume=True)
    np.testing.assert_array_equal(resumed.components_, straight.components_)
    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3, 4]
    loaded = DictionaryLearning.load(path)
    np.testing.assert_array_equal(loaded.components_, straight.components_)
    with pytest.raises(InputError, match="checkpoint"):
        fit_again = DictionaryLearning(8, **{**SETTINGS, "alpha": 0.3, "checkpoint": path})
        fit_again.fit(X, resume=True)


def test_dead_atoms_are_redrawn_from_the_data(planted):
    X, _ = planted
    # far more atoms than the data need and a large alpha: many go unused and are re-drawn
    dl = DictionaryLearning(40, alpha=1.5, batch_size=50, n_epochs=2, random_state=1).fit(X)
    assert sum(h["dead_atoms"] for h in dl.history_) > 0
    assert np.isfinite(dl.components_).all()
    np.testing.assert_allclose(np.linalg.norm(dl.components_, axis=1), 1.0, atol=1e-5)


def test_estimator_contract(planted):
    X = planted[0][:200]
    dl = DictionaryLearning(8, alpha=0.1, batch_size=40, n_epochs=1, random_state=3)
    assert clone(dl).get_params() == dl.get_params()
    a, b = clone(dl).fit(X), clone(dl).fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)  # same seed, same result
    with pytest.raises(InputError, match="X"):
        a.transform(X[:, :5])
    with pytest.raises(InputError, match="batch_size"):
        DictionaryLearning(8, batch_size=0).fit(X)
    with pytest.raises(InputError, match="n_atoms"):
        DictionaryLearning(0).fit(X)
