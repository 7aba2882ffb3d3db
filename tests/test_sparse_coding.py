"""sparse_code against independent answers: scikit-learn's Lasso and SparseCoder, the KKT
conditions, the closed form alpha_max and soft thresholding for an orthonormal dictionary."""

import warnings

import numpy as np
import pytest
from sklearn.decomposition import SparseCoder
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso

from workbench.errors import InputError
from workbench.nn.runtime import torch_threads
from workbench.sparse import METHODS, alpha_max, lasso_objective, sparse_code


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):  # small problems: one thread, immune to a busy machine
        yield


def problem(n_atoms=30, n_features=20, n_samples=6, seed=0):
    rng = np.random.default_rng(seed)
    D = rng.normal(size=(n_atoms, n_features))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    return rng.normal(size=(n_samples, n_features)), D


def lasso_codes(X, D, alpha):
    """scikit-learn's Lasso, one signal at a time, with the transposed dictionary as design and
    alpha scaled by the number of features (the relation the docstring states)."""
    lasso = Lasso(alpha=alpha / D.shape[1], fit_intercept=False, tol=1e-14, max_iter=100_000)
    return np.array([lasso.fit(D.T, x).coef_.copy() for x in X])


@pytest.mark.parametrize("method", METHODS)
def test_agrees_with_sklearn_lasso(method):
    X, D = problem()
    alpha = 0.3
    result = sparse_code(X, D, alpha, method=method, max_iter=20_000, tol=1e-9)
    assert result.converged.all()
    ours = lasso_objective(X, D, result.codes, alpha)
    theirs = lasso_objective(X, D, lasso_codes(X, D, alpha), alpha)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.objective, ours, rtol=1e-10)
    np.testing.assert_allclose(result.codes, lasso_codes(X, D, alpha), atol=1e-5)


def test_sparse_coder_takes_our_alpha_as_is():
    X, D = problem(n_samples=4)
    coder = SparseCoder(D, transform_algorithm="lasso_cd", transform_alpha=0.4,
                        transform_max_iter=100_000)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = coder.transform(X)
    ours = sparse_code(X, D, 0.4, max_iter=20_000, tol=1e-12).codes
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_kkt_conditions():
    X, D = problem(n_samples=10, seed=1)
    alpha = 0.25
    H = sparse_code(X, D, alpha, max_iter=20_000, tol=1e-13).codes
    correlation = (X - H @ D) @ D.T  # D r: minus the gradient of the smooth part
    active = H != 0
    assert active.any() and (~active).any()
    # nonzero codes: D r = alpha sign(h); zero codes: |D r| <= alpha
    np.testing.assert_allclose(correlation[active], alpha * np.sign(H[active]), atol=1e-5)
    assert np.abs(correlation[~active]).max() <= alpha + 1e-6


@pytest.mark.parametrize("method", METHODS)
def test_zero_codes_from_alpha_max(method):
    X, D = problem(n_samples=8, seed=2)
    top = alpha_max(X, D)
    np.testing.assert_allclose(top, np.abs(X @ D.T).max(axis=1))
    above = sparse_code(X, D, float(top.max()) * 1.0001, method=method)
    assert np.all(above.codes == 0.0) and np.all(above.n_iter == 0)
    below = sparse_code(X, D, float(top.min()) * 0.9, method=method, max_iter=5000)
    assert np.all(np.abs(below.codes).sum(axis=1) > 0)  # every row now uses an atom


@pytest.mark.parametrize("method", METHODS)
def test_orthonormal_dictionary_soft_thresholds(method):
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    X, alpha = rng.normal(size=(5, 16)), 0.5
    z = X @ Q.T
    soft = np.sign(z) * np.maximum(np.abs(z) - alpha, 0.0)
    result = sparse_code(X, Q, alpha, method=method, tol=1e-12)
    np.testing.assert_allclose(result.codes, soft, atol=1e-10)
    assert (result.codes == 0).any()


def test_fista_is_far_ahead_of_ista_at_equal_iterations():
    # a badly conditioned dictionary (correlated atoms); iterations to a given gap, the
    # O(1/k^2) against O(1/k) curves, are measured in benchmarks/sparse.py
    rng = np.random.default_rng(4)
    D = 0.6 * rng.normal(size=(1, 20)) + rng.normal(size=(20, 20))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = rng.normal(size=(4, 20))
    best = lasso_objective(X, D, lasso_codes(X, D, 0.1), 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        excess = {m: sparse_code(X, D, 0.1, method=m, max_iter=200, tol=0.0).objective - best
                  for m in ("fista", "ista")}  # fmt: skip
    assert np.all(excess["ista"] > 1e-3)
    assert np.all(excess["fista"] * 100 < excess["ista"])


def test_adaptive_restart_needs_fewer_iterations_for_the_same_codes():
    """Atoms that are noisy copies of non-negative signals (the dictionary of raw image rows,
    badly conditioned): restarting FISTA's momentum reaches a tight gap in far fewer
    iterations than the plain momentum sequence, at the same solution (sklearn's Lasso)."""
    rng = np.random.default_rng(2)
    signals = rng.random((80, 30))
    D = signals[:48] + 0.05 * rng.normal(size=(48, 30))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = signals[48:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the plain sequence stalls
        runs = {r: sparse_code(X, D, 0.05, max_iter=5000, tol=1e-8, check_every=1, restart=r)
                for r in (True, False)}  # fmt: skip
    assert runs[True].converged.all()  # measured: 1,009 iterations against 13,196 at 1e-9
    assert runs[True].n_iter.mean() < 0.3 * runs[False].n_iter.mean(), (
        runs[True].n_iter.mean(), runs[False].n_iter.mean())  # fmt: skip
    best = lasso_objective(X, D, lasso_codes(X, D, 0.05), 0.05)
    np.testing.assert_allclose(runs[True].objective, best, rtol=1e-6)


def test_gap_bounds_the_suboptimality():
    X, D = problem(n_samples=10, seed=5)
    best = lasso_objective(X, D, lasso_codes(X, D, 0.2), 0.2)
    with pytest.warns(ConvergenceWarning, match="max_iter=30"):
        early = sparse_code(X, D, 0.2, method="ista", max_iter=30, tol=1e-13)
    assert not early.converged.any()
    excess = early.objective - best
    assert np.all(excess > 0) and np.all(excess <= early.gap + 1e-12)


def test_warm_start_float32_and_one_signal():
    X, D = problem(n_samples=3, seed=6)
    solved = sparse_code(X, D, 0.3, max_iter=20_000, tol=1e-10)
    again = sparse_code(X, D, 0.3, init=solved.codes, tol=1e-8)
    assert np.all(again.n_iter == 0)
    single = sparse_code(X[0], D, 0.3, max_iter=20_000, tol=1e-10)
    np.testing.assert_allclose(single.codes[0], solved.codes[0], atol=1e-8)
    low = sparse_code(X.astype(np.float32), D.astype(np.float32), 0.3, tol=1e-4)
    assert low.codes.dtype == np.float32
    np.testing.assert_allclose(low.codes, solved.codes, atol=2e-3)


def test_bad_input_names_the_argument():
    X, D = problem()
    with pytest.raises(InputError, match="method"):
        sparse_code(X, D, 0.1, method="lars")
    with pytest.raises(InputError, match="dictionary"):
        sparse_code(X, D[:, :5], 0.1)
    with pytest.raises(InputError, match="alpha"):
        sparse_code(X, D, -1.0)
    with pytest.raises(InputError, match="max_iter"):
        sparse_code(X, D, 0.1, max_iter=0)
    with pytest.raises(InputError, match="X"):
        sparse_code(np.full((2, 20), np.nan), D, 0.1)
