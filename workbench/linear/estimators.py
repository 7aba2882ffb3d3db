"""Probabilistic PCA and factor analysis as scikit-learn style estimators.

``PPCA(n_components, method=...)`` fits x = W h + b + e, e ~ N(0, s^2 I) by the closed form
(default), EM, Bayesian PCA with an ARD prior, or a PyMC model (``map``, ``nuts``, ``advi``);
``FactorAnalysis`` lets every feature have its own noise variance.

>>> from workbench.linear import PPCA
>>> model = PPCA(2).fit(X)                 # X: (n_samples, n_features)
>>> model.score(X), model.noise_variance_  # mean log-likelihood, s^2
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError

from workbench.errors import InputError
from workbench.linear import gaussian as g
from workbench.validation import check_data

__all__ = ["METHODS", "FactorAnalysis", "PPCA"]

METHODS = ("closed", "em", "ard", "map", "nuts", "advi")
FA_METHODS = ("em", "map", "nuts", "advi")
NARROW_DATA_CHECKS = (  # check_estimator checks that fit data of 2 features
    "check_estimators_overwrite_params",
    "check_estimators_fit_returns_self",
    "check_readonly_memmap_input",
    "check_fit_idempotent",
    "check_fit_check_is_fitted",
    "check_n_features_in",
)


def _check_fitted(model):
    if not hasattr(model, "components_"):
        raise NotFittedError(f"{type(model).__name__}: not fitted yet; call fit(X) first")


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(name, "a positive int", repr(value))


class _LinearGaussian(TransformerMixin, BaseEstimator):
    """Methods shared by PPCA and factor analysis (both are N(b, W W^T + diag(psi)))."""

    def _expected_failed_checks(self):
        """{check_estimator check: why this instance fails it}."""
        failures = {}
        if self.n_components >= 2:
            reason = (f"n_components={self.n_components} needs more features than the check's "
                      "2-feature data (q < n_features)")  # fmt: skip
            failures.update(dict.fromkeys(NARROW_DATA_CHECKS, reason))
        if self.method not in ("em", "ard"):
            failures["check_transformer_n_iter"] = (
                f"method={self.method!r} does not iterate (n_iter_ is set by 'em' and 'ard')"
            )
        return failures

    def _noise_vector(self):
        return np.broadcast_to(np.asarray(self._psi(), dtype=np.float64), (self.n_features_in_,))

    def get_covariance(self):
        """Model covariance W W^T + diag(psi), shape (n_features, n_features)."""
        _check_fitted(self)
        W = self.components_.T
        return W @ W.T + np.diag(self._noise_vector())

    def get_precision(self):
        """Inverse of :meth:`get_covariance`, by the Woodbury identity."""
        _check_fitted(self)
        W, psi = self.components_.T, self._noise_vector()
        Wp = W / psi[:, None]
        inner = np.linalg.solve(np.eye(W.shape[1]) + W.T @ Wp, Wp.T)
        return np.diag(1.0 / psi) - Wp @ inner

    def _validated(self, X):
        _check_fitted(self)
        return check_data(self, X, reset=False, dtype=np.float64)

    def score_samples(self, X):
        """Log-likelihood of each row under the fitted model, shape (n_samples,)."""
        X = self._validated(X)
        return g.gaussian_loglik(X - self.mean_, self.components_.T, self._noise_vector())

    def score(self, X, y=None):
        """Mean per-sample log-likelihood of ``X``."""
        return float(np.mean(self.score_samples(X)))

    def transform(self, X):
        """Posterior mean of the latents E[h | x], shape (n_samples, n_components)."""
        X = self._validated(X)
        B = g.posterior_mean_map(self.components_.T, self._noise_vector())
        return (X - self.mean_) @ B.T

    def inverse_transform(self, H):
        """Mean of x given latents: H W^T + b, shape (n_samples, n_features)."""
        _check_fitted(self)
        H = np.atleast_2d(np.asarray(H, dtype=np.float64))
        if H.shape[1] != self.components_.shape[0]:
            raise InputError("H", f"{self.components_.shape[0]} columns (n_components)", H.shape[1])
        return H @ self.components_ + self.mean_

    def sample(self, n_samples=1, random_state=None):
        """Draw ``n_samples`` rows from the fitted model, shape (n_samples, n_features)."""
        _check_fitted(self)
        _check_positive_int("n_samples", n_samples)
        rng = np.random.default_rng(random_state)
        q, d = self.components_.shape
        H = rng.standard_normal((n_samples, q))
        noise = rng.standard_normal((n_samples, d)) * np.sqrt(self._noise_vector())
        return H @ self.components_ + self.mean_ + noise

    def _check_common(self, X):
        methods = self._methods
        if self.method not in methods:
            raise InputError("method", f"one of {', '.join(methods)}", repr(self.method))
        for name in ("max_iter", "chunk_size", "draws", "tune", "chains"):
            _check_positive_int(name, getattr(self, name))
        if not float(self.tol) > 0:
            raise InputError("tol", "a positive float", repr(self.tol))
        # a memmap larger than memory stays one (float32 too); anything else becomes float64
        dtype = [np.float64, np.float32] if isinstance(X, np.memmap) else np.float64
        X = check_data(self, X, reset=True, dtype=dtype, min_samples=2, min_features=2)
        n, d = X.shape
        self.n_components_ = g.check_n_components(self.n_components, d)
        self.n_samples_ = n
        return X

    def _fit_bayes(self, X, noise):
        from workbench.linear.bayesian import fit_bayesian

        fit = fit_bayesian(
            X,
            self.n_components_,
            method=self.method,
            noise=noise,
            draws=self.draws,
            tune=self.tune,
            chains=self.chains,
            seed=self.random_state,
        )
        self.posterior_ = fit.tree
        self.rhat_max_ = fit.rhat_max
        self.converged_ = fit.converged
        self.mean_ = fit.mean
        return fit


class PPCA(_LinearGaussian):
    """Probabilistic PCA: x = W h + b + e, h ~ N(0, I_q), e ~ N(0, s^2 I_d).

    Parameters
    ----------
    n_components : int
        Latent dimension q, 1 <= q < n_features. With ``method="ard"`` the largest q tried.
    method : {"closed", "em", "ard", "map", "nuts", "advi"}, default="closed"
        ``closed``: Tipping & Bishop's ML solution from the eigen-decomposition of the sample
        covariance. ``em``: EM iterations until the mean log-likelihood rises by less than
        ``tol``. ``ard``: Bayesian PCA, EM with an ARD prior on the columns of W; columns the
        data do not support are pruned (``effective_dimension_``). ``map`` / ``nuts`` / ``advi``:
        the PyMC marginal model of :func:`workbench.linear.bayesian.ppca_model` (lower-triangular
        W with a positive diagonal), its posterior mode, NUTS posterior mean or ADVI mean.
    tol : float, default=1e-8
        EM / ARD stopping tolerance on the change of the mean per-sample log-likelihood.
    max_iter : int, default=10000
    chunk_size : int, default=8192
        Rows per chunk when accumulating the covariance: memory O(d^2 + chunk_size * d), so
        ``X`` may be a ``numpy.memmap`` larger than memory.
    draws, tune, chains : int, default=500, 500, 4
        NUTS settings (``method="nuts"``); ``draws`` is also the number of ADVI draws.
    random_state : int, optional
        Seed for EM initialisation and the PyMC methods.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        W^T (rows are the loading vectors).
    mean_ : ndarray of shape (n_features,)
    noise_variance_ : float
    explained_variance_ : ndarray of shape (n_components,)
        Top eigenvalues of the model covariance W W^T + s^2 I.
    eigenvalues_ : ndarray of shape (n_features,)
        Eigenvalues of the ML sample covariance (divided by n), decreasing.
    log_likelihood_ : float
        Mean per-sample log-likelihood of the fitted data.
    n_iter_, loglike_ : EM iterations and the log-likelihood history (EM / ARD).
    ard_precision_, effective_dimension_ : ARD only.
    posterior_ : xarray.DataTree (``nuts`` / ``advi``); rhat_max_ and converged_ (``nuts``).
    """

    _methods = METHODS

    def __init__(
        self,
        n_components=2,
        *,
        method="closed",
        tol=1e-8,
        max_iter=10000,
        chunk_size=8192,
        draws=500,
        tune=500,
        chains=4,
        random_state=None,
    ):
        self.n_components, self.method, self.tol, self.max_iter = (
            n_components,
            method,
            tol,
            max_iter,
        )
        self.chunk_size, self.draws, self.tune, self.chains = chunk_size, draws, tune, chains
        self.random_state = random_state

    def _psi(self):
        return self.noise_variance_

    def fit(self, X, y=None):
        """Fit to ``X`` of shape (n_samples, n_features); returns self."""
        X = self._check_common(X)
        q = self.n_components_
        stats = g.moments(X, self.chunk_size)
        S = stats.covariance
        eigvals, eigvecs = g.spectrum(S)
        self.eigenvalues_ = eigvals
        rng = np.random.default_rng(self.random_state)
        self.mean_ = stats.mean
        W, s2 = g.ppca_closed_form(eigvals, eigvecs, q)  # also checks the rank
        if self.method == "em":
            W, s2, self.loglike_ = g.ppca_em(S, q, tol=self.tol, max_iter=self.max_iter, rng=rng)
            self.n_iter_ = len(self.loglike_) - 1
        elif self.method == "ard":
            W, s2, alpha, self.loglike_ = g.ppca_ard_em(
                S, stats.n_samples, W, s2, tol=self.tol, max_iter=self.max_iter, rng=rng
            )
            order = np.argsort(-np.sum(W**2, axis=0), kind="stable")
            W, alpha = W[:, order], alpha[order]
            self.ard_precision_ = alpha
            self.effective_dimension_ = int(np.sum(np.isfinite(alpha)))
            self.n_iter_ = len(self.loglike_)
        elif self.method != "closed":
            fit = self._fit_bayes(X, "isotropic")
            W, s2 = fit.W, fit.noise
            S = S + np.outer(stats.mean - fit.mean, stats.mean - fit.mean)
        self.components_ = W.T
        self.noise_variance_ = float(s2)
        model_eigs = np.linalg.eigvalsh(W.T @ W)[::-1]
        self.explained_variance_ = model_eigs + self.noise_variance_
        self.log_likelihood_ = float(g.mean_loglik_from_moments(S, W, s2))
        return self


class FactorAnalysis(_LinearGaussian):
    """Factor analysis: x = W h + b + e, h ~ N(0, I_q), e ~ N(0, diag(psi)).

    Parameters
    ----------
    n_components : int
        Number of factors q, 1 <= q < n_features.
    method : {"em", "map", "nuts", "advi"}, default="em"
        ``em``: maximum likelihood by EM (stops when the mean log-likelihood rises by less than
        ``tol``); the others: the PyMC model with diagonal noise (see PPCA).
    rotation : {None, "varimax"}, default=None
        Rotate the loadings after fitting (the likelihood does not change).
    tol : float, default=1e-6
        EM stops when the mean per-sample log-likelihood rises by less than ``tol`` (FA's EM
        crawls on image data with near-constant pixels, hence a looser default than PPCA's).
    max_iter, chunk_size, draws, tune, chains, random_state : as in :class:`PPCA`.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
    mean_ : ndarray of shape (n_features,)
    noise_variance_ : ndarray of shape (n_features,)
    log_likelihood_ : float
        Mean per-sample log-likelihood of the fitted data.
    rotation_ : ndarray of shape (n_components, n_components) (varimax only)
    n_iter_, loglike_ : EM only.
    """

    _methods = FA_METHODS

    def __init__(
        self,
        n_components=2,
        *,
        method="em",
        rotation=None,
        tol=1e-6,
        max_iter=10000,
        chunk_size=8192,
        draws=500,
        tune=500,
        chains=4,
        random_state=None,
    ):
        self.n_components, self.method, self.rotation = n_components, method, rotation
        self.tol, self.max_iter, self.chunk_size = tol, max_iter, chunk_size
        self.draws, self.tune, self.chains = draws, tune, chains
        self.random_state = random_state

    def _psi(self):
        return self.noise_variance_

    def fit(self, X, y=None):
        """Fit to ``X`` of shape (n_samples, n_features); returns self."""
        if self.rotation not in (None, "varimax"):
            raise InputError("rotation", "None or 'varimax'", repr(self.rotation))
        X = self._check_common(X)
        stats = g.moments(X, self.chunk_size)
        S = stats.covariance
        var = np.diag(S)
        constant = np.flatnonzero(var <= 1e-12 * max(var.max(), 1e-300))
        if constant.size:
            raise InputError(
                "X",
                detail=f"{constant.size} constant column(s) (first: {constant[:5].tolist()}); "
                "factor analysis gives them zero noise variance and an unbounded likelihood. "
                "Drop them first, e.g. X[:, X.std(axis=0) > 0]",
            )
        g.check_rank(g.spectrum(S)[0], self.n_components_)  # the rule PPCA applies
        self.mean_ = stats.mean
        if self.method == "em":
            rng = np.random.default_rng(self.random_state)
            W, psi, self.loglike_ = g.fa_em(
                S, self.n_components_, tol=self.tol, max_iter=self.max_iter, rng=rng
            )
            self.n_iter_ = len(self.loglike_) - 1
        else:
            fit = self._fit_bayes(X, "diagonal")
            W, psi = fit.W, fit.noise
            S = S + np.outer(stats.mean - fit.mean, stats.mean - fit.mean)
        if self.rotation == "varimax":
            W, self.rotation_ = g.varimax(W)
        self.components_ = W.T
        self.noise_variance_ = np.asarray(psi, dtype=np.float64)
        self.log_likelihood_ = float(g.mean_loglik_from_moments(S, W, psi))
        return self
