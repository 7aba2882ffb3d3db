"""PPCA and factor analysis (closed form, EM, ARD): checked against direct numerical
maximisation, scipy's multivariate normal, scikit-learn, and a known generating model."""

import warnings

import numpy as np
import pytest
import scipy.optimize
from scipy.stats import multivariate_normal
from sklearn.decomposition import PCA
from sklearn.decomposition import FactorAnalysis as SkFactorAnalysis
from sklearn.exceptions import NotFittedError

from workbench.data import linear_factor_data
from workbench.errors import InputError
from workbench.linear import PPCA, FactorAnalysis, canonical_loadings, moments, varimax
from workbench.linear import gaussian as g


@pytest.fixture(scope="module")
def small():
    return linear_factor_data(400, 5, 2, seed=3)


@pytest.fixture(scope="module")
def medium():
    return linear_factor_data(2000, 8, 3, noise="diagonal", seed=6)


@pytest.fixture(scope="module")
def big():
    return linear_factor_data(20000, 10, 3, seed=4)


def _direct_ml(X, q, noise):
    """Maximise the Gaussian log-likelihood over (b, W, log psi) with scipy, from scratch."""
    n, d = X.shape
    k = 1 if noise == "isotropic" else d

    def unpack(theta):
        b, W = theta[:d], theta[d : d + d * q].reshape(d, q)
        return b, W, np.exp(theta[d + d * q :])

    def loss(theta):
        b, W, psi = unpack(theta)
        cov = W @ W.T + np.diag(np.broadcast_to(psi, (d,)))
        return -multivariate_normal(b, cov).logpdf(X).mean()

    rng = np.random.default_rng(0)
    theta0 = np.concatenate([np.zeros(d), rng.normal(size=d * q), np.zeros(k)])
    res = scipy.optimize.minimize(loss, theta0, method="BFGS", options={"gtol": 1e-9})
    b, W, psi = unpack(res.x)
    return -res.fun, b, W @ W.T, psi


def test_closed_form_em_and_direct_maximisation_agree(small):
    closed = PPCA(2).fit(small.X)
    em = PPCA(2, method="em", tol=1e-12, random_state=0).fit(small.X)
    best, b, WWt, psi = _direct_ml(small.X, 2, "isotropic")
    W_closed = closed.components_.T
    assert closed.log_likelihood_ == pytest.approx(best, abs=1e-7)
    assert em.log_likelihood_ == pytest.approx(best, abs=1e-7)
    np.testing.assert_allclose(W_closed @ W_closed.T, WWt, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(em.components_.T @ em.components_, WWt, rtol=1e-4, atol=1e-5)
    assert closed.noise_variance_ == pytest.approx(float(psi[0]), rel=1e-4)
    assert em.noise_variance_ == pytest.approx(closed.noise_variance_, rel=1e-5)
    np.testing.assert_allclose(closed.mean_, b, atol=1e-4)
    # EM's log-likelihood never decreases
    assert np.all(np.diff(em.loglike_) > -1e-12)


def test_fa_em_matches_direct_maximisation(small):
    fa = FactorAnalysis(2, tol=1e-12, random_state=0).fit(small.X)
    best, _, WWt, psi = _direct_ml(small.X, 2, "diagonal")
    assert fa.log_likelihood_ == pytest.approx(best, abs=1e-6)
    np.testing.assert_allclose(fa.noise_variance_, psi, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(fa.get_covariance() - np.diag(fa.noise_variance_), WWt, atol=1e-3)


def test_score_samples_is_the_multivariate_normal_logpdf(small):
    for model in (PPCA(2).fit(small.X), FactorAnalysis(2, random_state=0).fit(small.X)):
        reference = multivariate_normal(model.mean_, model.get_covariance()).logpdf(small.X)
        np.testing.assert_allclose(model.score_samples(small.X), reference, rtol=1e-10)
        assert model.score(small.X) == pytest.approx(model.log_likelihood_, rel=1e-10)
        np.testing.assert_allclose(
            model.get_precision() @ model.get_covariance(), np.eye(5), atol=1e-10
        )


def test_agrees_with_sklearn_pca_up_to_its_n_minus_1_convention(big):
    X, n = big.X, len(big.X)
    ours = PPCA(3).fit(X)
    theirs = PCA(3, svd_solver="full").fit(X)
    # scikit-learn's variances divide by n - 1, the ML ones by n
    np.testing.assert_allclose(ours.get_covariance() * n / (n - 1), theirs.get_covariance(),
                               atol=1e-10)  # fmt: skip
    assert ours.noise_variance_ * n / (n - 1) == pytest.approx(theirs.noise_variance_, rel=1e-10)
    W = theirs.components_.T * np.sqrt(theirs.explained_variance_ - theirs.noise_variance_)
    same_model = g.gaussian_loglik(X - theirs.mean_, W, theirs.noise_variance_)
    np.testing.assert_allclose(same_model, theirs.score_samples(X), rtol=1e-10)
    # and the ML fit scores the training data at least as well, by O(1/n)
    assert 0 <= ours.score(X) - theirs.score(X) < 1e-3


def test_fa_agrees_with_sklearn_factor_analysis(medium):
    X = medium.X
    ours = FactorAnalysis(3, tol=1e-12, random_state=0).fit(X)
    theirs = SkFactorAnalysis(3, tol=1e-7, max_iter=10000, svd_method="lapack").fit(X)
    assert ours.score(X) == pytest.approx(theirs.score(X), abs=1e-5)
    assert ours.score(X) >= theirs.score(X) - 1e-9  # ours ran to the tighter tolerance
    cov = ours.get_covariance()
    np.testing.assert_allclose(cov, theirs.get_covariance(), atol=1e-4 * np.abs(cov).max())


def test_recovers_the_generating_model(big):
    ppca = PPCA(3).fit(big.X)
    truth = big.W @ big.W.T
    fitted = ppca.components_.T @ ppca.components_
    assert np.linalg.norm(fitted - truth) / np.linalg.norm(truth) < 0.03
    assert ppca.noise_variance_ == pytest.approx(big.noise_variance[0], rel=0.03)
    np.testing.assert_allclose(ppca.mean_, big.b, atol=0.05)
    data = linear_factor_data(20000, 10, 3, noise="diagonal", seed=5)
    fa = FactorAnalysis(3, random_state=0).fit(data.X)
    np.testing.assert_allclose(fa.noise_variance_, data.noise_variance, rtol=0.1)
    # loadings themselves only up to rotation: compare canonical forms
    np.testing.assert_allclose(
        canonical_loadings(fa.components_.T), canonical_loadings(data.W), atol=0.1
    )


def test_ard_finds_the_effective_dimension(big):
    ard = PPCA(9, method="ard", random_state=0).fit(big.X)
    assert ard.effective_dimension_ == 3
    assert np.all(np.isinf(ard.ard_precision_[3:])) and np.all(ard.components_[3:] == 0)
    closed = PPCA(3).fit(big.X)
    assert ard.noise_variance_ == pytest.approx(closed.noise_variance_, rel=0.01)


def test_streamed_covariance_equals_one_shot(tmp_path, big):
    X = big.X[:1003]
    stats = moments(X, chunk_size=37)
    np.testing.assert_allclose(stats.covariance, np.cov(X, rowvar=False, bias=True), atol=1e-12)
    np.testing.assert_allclose(stats.mean, X.mean(axis=0), atol=1e-12)
    path = tmp_path / "x.npy"
    np.save(path, X + 1e4)  # far from the origin: the shifted sums keep their accuracy
    mapped = np.load(path, mmap_mode="r")
    chunked = PPCA(3, chunk_size=100).fit(mapped)
    whole = PPCA(3, chunk_size=len(X)).fit(X + 1e4)
    np.testing.assert_allclose(chunked.get_covariance(), whole.get_covariance(), atol=1e-8)
    assert chunked.log_likelihood_ == pytest.approx(whole.log_likelihood_, rel=1e-10)


def test_transform_is_the_conditional_mean_and_sample_matches_covariance(small):
    model = PPCA(2).fit(small.X)
    W, C = model.components_.T, model.get_covariance()
    expected = (small.X - model.mean_) @ np.linalg.solve(C, W)  # E[h|x] = W^T C^-1 (x - b)
    np.testing.assert_allclose(model.transform(small.X), expected, atol=1e-10)
    np.testing.assert_allclose(model.inverse_transform(expected), expected @ W.T + model.mean_)
    draws = model.sample(200000, random_state=1)
    np.testing.assert_allclose(np.cov(draws, rowvar=False), C, atol=0.05 * np.abs(C).max())
    np.testing.assert_array_equal(draws[:5], model.sample(200000, random_state=1)[:5])


def test_varimax_matches_sklearn_and_keeps_the_likelihood(medium, big):
    plain = SkFactorAnalysis(3, svd_method="lapack").fit(medium.X)
    rotated = SkFactorAnalysis(3, rotation="varimax", svd_method="lapack").fit(medium.X)
    ours, R = varimax(plain.components_.T)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-10)
    # same columns up to order and sign
    theirs = rotated.components_.T
    match = np.abs(ours.T @ theirs) / np.outer(np.linalg.norm(ours, axis=0),
                                                np.linalg.norm(theirs, axis=0))  # fmt: skip
    assert np.all(match.max(axis=1) > 1 - 1e-6)
    fa = FactorAnalysis(3, random_state=0).fit(big.X)
    fa_rot = FactorAnalysis(3, rotation="varimax", random_state=0).fit(big.X)
    assert fa_rot.score(big.X) == pytest.approx(fa.score(big.X), rel=1e-12)


def test_canonical_loadings_remove_rotation_and_sign():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(6, 3))
    R, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    L = canonical_loadings(W @ R)
    np.testing.assert_allclose(L, canonical_loadings(W), atol=1e-12)
    np.testing.assert_allclose(L @ L.T, W @ W.T, atol=1e-12)
    assert np.all(np.triu(L[:3], 1) == 0) and np.all(np.diag(L) > 0)


def test_same_seed_same_em_result(small):
    a = PPCA(2, method="em", random_state=7).fit(small.X)
    b = PPCA(2, method="em", random_state=7).fit(small.X)
    np.testing.assert_array_equal(a.components_, b.components_)


def test_em_warns_when_it_runs_out_of_iterations(small):
    from sklearn.exceptions import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        PPCA(2, method="em", max_iter=3, random_state=0).fit(small.X)


X_OK = linear_factor_data(50, 4, 1, seed=0).X


@pytest.mark.parametrize(
    ("estimator", "X", "match"),
    [
        (PPCA(4), X_OK, "n_components: expected 1 <= n_components < n_features = 4, got 4"),
        (PPCA(7), X_OK, "n_components: expected 1 <= n_components < n_features"),
        (PPCA(0), X_OK, "n_components: .* got 0"),
        (PPCA(1.5), X_OK, "n_components: expected an int"),
        (FactorAnalysis(4), X_OK, "n_components"),
        (PPCA(1), np.where(np.arange(4) == 2, np.nan, X_OK), "X: Input X contains NaN"),
        (PPCA(1), np.where(np.arange(4) == 1, np.inf, X_OK), "X: Input X contains infinity"),
        (PPCA(1), X_OK[:, 0], "X: Expected 2D array, got 1D array instead"),
        (PPCA(1), X_OK[:1], "X: Found array with 1 sample.* a minimum of 2 is required"),
        (PPCA(1), X_OK[:, :1], "X: Found array with 1 feature.* a minimum of 2 is required"),
        (PPCA(1), [["a", "b"]], "X: could not convert string to float"),
        (FactorAnalysis(1), np.c_[X_OK, np.ones(50)], "X: 1 constant column"),
        (PPCA(2), np.c_[X_OK[:, :1], X_OK[:, :1], X_OK[:, :1]], "rank 1 <= n_components = 2"),
        (PPCA(1, method="svd"), X_OK, "method: expected one of closed, em, ard"),
        (FactorAnalysis(1, rotation="quartimax"), X_OK, "rotation: expected None or 'varimax'"),
        (PPCA(1, tol=0), X_OK, "tol: expected a positive float"),
        (PPCA(1, max_iter=0), X_OK, "max_iter: expected a positive int"),
    ],
)
def test_bad_input_names_the_argument(estimator, X, match):
    with pytest.raises(InputError, match=match):
        estimator.fit(X)


def test_fitted_model_checks_its_inputs():
    model = PPCA(1)
    with pytest.raises(NotFittedError, match="PPCA: not fitted yet"):
        model.transform(X_OK)
    model.fit(X_OK)
    with pytest.raises(InputError, match="X: X has 3 features, but PPCA is expecting 4"):
        model.score(X_OK[:, :3])
    with pytest.raises(InputError, match="H: expected 1 columns"):
        model.inverse_transform(np.zeros((2, 2)))
    with pytest.raises(InputError, match="n_samples: expected a positive int"):
        model.sample(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one = model.score_samples(X_OK[:1])
    reference = multivariate_normal(model.mean_, model.get_covariance()).logpdf(X_OK[:1])
    np.testing.assert_allclose(one, [reference], rtol=1e-10)


def test_fit_memory_is_independent_of_n(tmp_path):
    import tracemalloc

    X = np.random.default_rng(0).standard_normal((20000, 100))
    path = tmp_path / "big.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")  # 16 MB on disk, never loaded whole
    tracemalloc.start()
    model = PPCA(5, chunk_size=2000).fit(mapped)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 0.2 * X.nbytes, peak  # chunks of 2000 rows and d x d matrices only
    assert model.log_likelihood_ == pytest.approx(model.score(X), rel=1e-10)
    X[123, 4] = np.nan
    np.save(path, X)
    with pytest.raises(InputError, match="X: Input X contains NaN"):
        PPCA(5).fit(np.load(path, mmap_mode="r"))


@pytest.mark.slow
@pytest.mark.requires_fashion_mnist
def test_closed_form_on_all_of_fashion_mnist():
    import tracemalloc

    from workbench.data import load_dataset

    X = load_dataset("fashion-mnist").X  # 70,000 x 784
    tracemalloc.start()
    model = PPCA(50).fit(X)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 0.25 * X.nbytes, peak
    eig = np.linalg.eigvalsh(np.cov(X[::7], rowvar=False, bias=True))[::-1]
    assert model.noise_variance_ == pytest.approx(model.eigenvalues_[50:].mean(), rel=1e-12)
    assert model.noise_variance_ == pytest.approx(eig[50:].mean(), rel=0.05)
    assert model.log_likelihood_ == pytest.approx(model.score(X), rel=1e-8)
