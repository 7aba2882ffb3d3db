"""Numerical core of the linear factor models: input checks, streamed moments, the low-rank
Gaussian log-likelihood and the ML / EM / ARD updates (NumPy only, O(d^2) memory).

The model is x = W h + b + e with h ~ N(0, I_q) and e ~ N(0, diag(psi)): the marginal is
N(b, C) with C = W W^T + diag(psi). PPCA has psi = s^2 (one value), factor analysis one psi per
feature. Every function takes W as an array of shape (n_features, n_components).
"""

import warnings

import numpy as np
import scipy.linalg

from workbench.errors import InputError

__all__ = [
    "Moments",
    "canonical_loadings",
    "check_data",
    "check_n_components",
    "fa_em",
    "gaussian_loglik",
    "moments",
    "posterior_mean_map",
    "ppca_ard_em",
    "ppca_closed_form",
    "ppca_em",
    "spectrum",
    "varimax",
]

LOG_2PI = np.log(2 * np.pi)


class Moments:
    """Sample mean and ML covariance (divided by n) accumulated chunk by chunk.

    ``update(chunk)`` adds rows; memory stays O(d^2) whatever the number of rows. Rows are
    shifted by the first chunk's mean before the outer products are summed, which keeps the
    one-pass formula accurate for data far from the origin.
    """

    def __init__(self, n_features):
        self.n_features, self.n_samples = int(n_features), 0
        self._shift = self._sum = self._outer = None

    def update(self, chunk):
        chunk = np.asarray(chunk, dtype=np.float64)
        if self._shift is None:
            self._shift = chunk.mean(axis=0)
            self._sum = np.zeros(self.n_features)
            self._outer = np.zeros((self.n_features, self.n_features))
        centred = chunk - self._shift
        self._sum += centred.sum(axis=0)
        self._outer += centred.T @ centred
        self.n_samples += len(chunk)
        return self

    @property
    def mean(self):
        return self._shift + self._sum / self.n_samples

    @property
    def covariance(self):
        m = self._sum / self.n_samples
        return self._outer / self.n_samples - np.outer(m, m)


def moments(X, chunk_size=8192):
    """:class:`Moments` of the rows of ``X`` (an array or a memory map), ``chunk_size`` rows at
    a time; never forms an n x n matrix."""
    acc = Moments(X.shape[1])
    for start in range(0, X.shape[0], chunk_size):
        acc.update(X[start : start + chunk_size])
    if not (np.all(np.isfinite(acc._sum)) and np.all(np.isfinite(acc._outer))):
        raise InputError("X", "finite entries", "NaN/inf (found while accumulating the covariance)")
    return acc


def check_data(X, name="X", min_samples=2, n_features=None):
    """``X`` as a 2-D float array: finite, at least ``min_samples`` rows and, when given,
    ``n_features`` columns; errors name the argument, the expectation and what came."""
    if isinstance(X, np.memmap):
        arr = X
    else:
        try:
            arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise InputError(name, "a numeric array", type(X).__name__) from err
    if arr.ndim != 2:
        hint = (
            " (one sample: X.reshape(1, -1); one feature: X.reshape(-1, 1))"
            if arr.ndim == 1
            else ""
        )
        raise InputError(name, "a 2-D array (n_samples, n_features)", f"shape {arr.shape}{hint}")
    if arr.shape[0] < min_samples:
        raise InputError(name, f"at least {min_samples} samples", arr.shape[0])
    if n_features is not None and arr.shape[1] != n_features:
        raise InputError(name, f"{n_features} features (as in fit)", arr.shape[1])
    if not isinstance(arr, np.memmap):
        bad = ~np.isfinite(arr)
        if bad.any():
            first = np.argwhere(bad)[0].tolist()
            raise InputError(name, "finite entries", f"{int(bad.sum())} NaN/inf (first at {first})")
    return arr


def check_n_components(n_components, n_features):
    """``n_components`` as an int in [1, n_features - 1]."""
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)):
        raise InputError("n_components", "an int", repr(n_components))
    if not 1 <= n_components < n_features:
        raise InputError(
            "n_components", f"1 <= n_components < n_features = {n_features}", n_components
        )
    return int(n_components)


def gaussian_loglik(Xc, W, psi):
    """Log-density of each centred row of ``Xc`` under N(0, W W^T + diag(psi)).

    Woodbury form: O(n d q) time, never a d x d inverse. ``psi`` is a scalar or a (d,) vector.
    """
    d, q = W.shape
    psi = np.broadcast_to(np.asarray(psi, dtype=np.float64), (d,))
    Wp = W / psi[:, None]  # Psi^-1 W, (d, q)
    chol = np.linalg.cholesky(np.eye(q) + W.T @ Wp)  # I + W^T Psi^-1 W = L L^T
    logdet = np.sum(np.log(psi)) + 2 * np.sum(np.log(np.diag(chol)))
    proj = np.linalg.solve(chol, (Xc @ Wp).T)  # (q, n)
    maha = np.einsum("nd,nd->n", Xc, Xc / psi) - np.einsum("qn,qn->n", proj, proj)
    return -0.5 * (d * LOG_2PI + logdet + maha)


def mean_loglik_from_moments(S, W, psi):
    """Mean per-sample log-likelihood of data with ML covariance ``S`` (about its mean)."""
    d, q = W.shape
    psi = np.broadcast_to(np.asarray(psi, dtype=np.float64), (d,))
    Wp = W / psi[:, None]
    M = np.eye(q) + W.T @ Wp
    chol = np.linalg.cholesky(M)
    logdet = np.sum(np.log(psi)) + 2 * np.sum(np.log(np.diag(chol)))
    # tr(C^-1 S) = tr(Psi^-1 S) - tr(M^-1 W^T Psi^-1 S Psi^-1 W)
    inner = Wp.T @ S @ Wp
    trace = np.sum(np.diag(S) / psi) - np.trace(np.linalg.solve(M, inner))
    return -0.5 * (d * LOG_2PI + logdet + trace)


def posterior_mean_map(W, psi):
    """Matrix B of shape (q, d) with E[h | x] = B (x - b): (I + W^T Psi^-1 W)^-1 W^T Psi^-1."""
    d, q = W.shape
    psi = np.broadcast_to(np.asarray(psi, dtype=np.float64), (d,))
    Wp = W / psi[:, None]
    return np.linalg.solve(np.eye(q) + W.T @ Wp, Wp.T)


def spectrum(S):
    """Eigenvalues (decreasing, clipped at 0) and eigenvectors (columns) of the covariance."""
    eigvals, eigvecs = scipy.linalg.eigh(S, driver="evr")
    return eigvals[::-1].clip(min=0), eigvecs[:, ::-1]


def check_rank(eigvals, q):
    """The mean of the d - q smallest covariance eigenvalues, refused (an InputError naming X)
    when it is zero: the covariance then has rank <= q, the q factors can reproduce it exactly
    with zero noise, and the likelihood of PPCA and of factor analysis is unbounded. Both
    models apply this one rule."""
    s2 = float(eigvals[q:].mean())
    if s2 <= 1e-12 * max(eigvals[0], 1e-300):
        rank = int(np.sum(eigvals > eigvals[0] * 1e-12))
        raise InputError(
            "X",
            detail=f"the sample covariance has rank {rank} <= n_components = {q}, so the noise "
            "variance is zero and the likelihood is unbounded; choose n_components < rank",
        )
    return s2


def ppca_closed_form(eigvals, eigvecs, q):
    """Tipping & Bishop's ML solution from the :func:`spectrum` of the covariance: (W, s2).

    s2 is the mean of the d - q smallest eigenvalues, W = U_q (L_q - s2 I)^(1/2) (columns in
    decreasing order, each with its largest-magnitude entry positive).
    """
    s2 = check_rank(eigvals, q)
    U = eigvecs[:, :q] * np.sign(eigvecs[np.abs(eigvecs[:, :q]).argmax(axis=0), range(q)])
    W = U * np.sqrt(np.maximum(eigvals[:q] - s2, 0.0))
    return W, s2


def _warn_not_converged(name, max_iter):
    from sklearn.exceptions import ConvergenceWarning

    warnings.warn(
        f"{name}: EM stopped after max_iter={max_iter} iterations before reaching tol; "
        "increase max_iter or tol",
        ConvergenceWarning,
        stacklevel=3,
    )


def _initial_w(S, q, rng):
    scale = np.sqrt(np.trace(S) / S.shape[0])
    return rng.normal(scale=scale / np.sqrt(q), size=(S.shape[0], q))


def ppca_em(S, q, *, tol, max_iter, rng, name="PPCA"):
    """EM for PPCA on the covariance ``S`` (Tipping & Bishop 1999, eqs. 29-30).

    Stops when the mean per-sample log-likelihood rises by less than ``tol``. Returns
    (W, s2, log-likelihood history).
    """
    d = S.shape[0]
    W, s2 = _initial_w(S, q, rng), np.trace(S) / d
    history = [mean_loglik_from_moments(S, W, s2)]
    for _ in range(max_iter):
        M = W.T @ W + s2 * np.eye(q)
        SW = S @ W
        Minv_WtSW = np.linalg.solve(M, W.T @ SW)
        W_new = np.linalg.solve((s2 * np.eye(q) + Minv_WtSW).T, SW.T).T
        s2 = np.trace(S - SW @ np.linalg.solve(M, W_new.T)) / d
        W = W_new
        history.append(mean_loglik_from_moments(S, W, s2))
        if abs(history[-1] - history[-2]) < tol:
            break
    else:
        _warn_not_converged(name, max_iter)
    return W, float(s2), np.array(history)


def ppca_ard_em(S, n_samples, W, s2, *, tol, max_iter, rng, prune=1e-4):
    """Bayesian PCA (Bishop 1999): EM for W with an ARD prior W[:, j] ~ N(0, I / alpha_j),
    alpha_j re-estimated as d / |w_j|^2. Columns the data do not support shrink to zero.

    Starts from ``W`` (d, q) and ``s2`` (the ML solution, say), perturbed at random to break
    ties. Returns (W, s2, alpha, history of the penalised mean log-likelihood). A column whose
    squared norm falls below ``prune`` times the largest is set to zero (alpha = inf).
    """
    d, q = W.shape
    W = W + _initial_w(S, q, rng) * 1e-3
    alpha = d / np.sum(W**2, axis=0)
    active = np.ones(q, dtype=bool)
    history = []
    for _ in range(max_iter):
        k = int(active.sum())
        Wa = W[:, active]
        M = Wa.T @ Wa + s2 * np.eye(k)
        Minv = np.linalg.inv(M)
        SW = S @ Wa
        Ezz = s2 * Minv + Minv @ Wa.T @ SW @ Minv  # mean of E[h h^T]
        W_new = np.linalg.solve((Ezz + s2 * np.diag(alpha[active]) / n_samples).T, (SW @ Minv).T).T
        s2 = (np.trace(S) - 2 * np.trace(W_new.T @ SW @ Minv) + np.trace(Ezz @ W_new.T @ W_new)) / d
        W = np.zeros_like(W)
        W[:, active] = W_new
        norms = np.sum(W**2, axis=0)
        active = norms > prune * norms.max()
        W[:, ~active] = 0.0
        alpha = np.where(active, d / np.maximum(norms, 1e-300), np.inf)
        penalty = 0.5 * np.sum(alpha[active] * norms[active]) / n_samples
        history.append(mean_loglik_from_moments(S, W[:, active], s2) - penalty)
        if len(history) > 1 and abs(history[-1] - history[-2]) < tol:
            break
    else:
        _warn_not_converged("PPCA(method='ard')", max_iter)
    return W, float(s2), alpha, np.array(history)


def fa_em(S, q, *, tol, max_iter, rng, min_noise=1e-8):
    """EM for factor analysis (Rubin & Thayer 1982) on the covariance ``S``.

    Returns (W, psi, log-likelihood history). ``psi`` is floored at ``min_noise`` times each
    feature's variance.
    """
    var = np.diag(S).copy()
    W, psi = _initial_w(S, q, rng), var.copy()
    history = [mean_loglik_from_moments(S, W, psi)]
    for _ in range(max_iter):
        B = posterior_mean_map(W, psi)  # (q, d)
        G = np.eye(q) - B @ W  # posterior covariance of h
        SBt = S @ B.T
        Ehh = G + B @ SBt
        W = np.linalg.solve(Ehh.T, SBt.T).T
        psi = np.maximum(var - np.einsum("dq,dq->d", W, SBt), min_noise * var)
        history.append(mean_loglik_from_moments(S, W, psi))
        if abs(history[-1] - history[-2]) < tol:
            break
    else:
        _warn_not_converged("FactorAnalysis", max_iter)
    return W, psi, np.array(history)


def canonical_loadings(W):
    """The representative of {W R : R orthogonal} that is lower-triangular with a positive
    diagonal (from the QR decomposition of W^T); unique when the top q x q block of W is
    non-singular. Use it to compare loadings across fits or with the truth."""
    Q, R = np.linalg.qr(np.asarray(W, dtype=np.float64).T)
    signs = np.where(np.diag(R) < 0, -1.0, 1.0)
    return (R * signs[:, None]).T


def varimax(W, *, tol=1e-8, max_iter=500):
    """Varimax rotation of loadings ``W`` (d, q): returns (W R, R) with R orthogonal.

    Kaiser's criterion (variance of the squared loadings per column), maximised by the SVD
    iteration; W R R^T W^T = W W^T, so the likelihood does not change.
    """
    d, q = W.shape
    R = np.eye(q)
    objective = 0.0
    for _ in range(max_iter):
        L = W @ R
        U, s, Vt = np.linalg.svd(W.T @ (L**3 - L @ np.diag(np.sum(L**2, axis=0)) / d))
        R = U @ Vt
        if s.sum() - objective < tol * max(s.sum(), 1.0):
            break
        objective = s.sum()
    return W @ R, R
