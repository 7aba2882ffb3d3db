"""PyMC model builders: data and hyper-parameters in, a ``pm.Model`` out.

Builders never sample. Observations enter through ``pm.Data`` containers so that compiled
functions can be reused with new data (the risk study does this).
"""

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from workbench.errors import InputError

__all__ = [
    "beta_binomial",
    "blur_matrix",
    "deconvolution",
    "dct_dictionary",
    "eight_schools",
    "exponential",
    "funnel",
    "laplace_denoise",
    "linear_regression",
    "normal",
    "poisson_gamma",
    "sparse_coding",
]


def _vector(name, values, *, positive=False, integer=False, min_size=1):
    """Validate a 1-D data vector and return it as a float or int array."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise InputError(name, "a 1-D vector of observations", f"shape {arr.shape}")
    if arr.size < min_size:
        raise InputError(name, f"at least {min_size} observations", arr.size)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise InputError(name, "finite numbers", f"NaN/inf at positions {np.flatnonzero(bad)[:5]}")
    if positive and (arr <= 0).any():
        raise InputError(name, "positive values", f"minimum {arr.min():g}")
    if integer:
        if (arr < 0).any() or (arr != np.round(arr)).any():
            raise InputError(name, "non-negative integer counts", f"{arr[:5]}...")
        return arr.astype(np.int64)
    return arr


def _positive(name, value):
    if not np.isfinite(value) or value <= 0:
        raise InputError(name, "a positive number", repr(value))
    return float(value)


def beta_binomial(heads=3, trials=10, a=2.0, b=2.0, parametrisation="p"):
    """Coin with bias ``p ~ Beta(a, b)`` and ``heads ~ Binomial(trials, p)``.

    ``parametrisation="logit"`` puts the same prior on ``z = logit(p)`` (the Beta pushed
    through the logit, Jacobian included) and keeps ``p`` as a deterministic: the posterior of
    ``p`` is unchanged, but the mode of ``z`` maps back to a different ``p`` than the mode of
    ``p`` (the MAP is not invariant under a change of variables; the ML is).
    """
    if int(trials) != trials or trials < 1:
        raise InputError("trials", "a positive integer", repr(trials))
    if int(heads) != heads or not 0 <= heads <= trials:
        raise InputError("heads", f"an integer in [0, trials={trials}]", repr(heads))
    a, b = _positive("a", a), _positive("b", b)
    if parametrisation not in ("p", "logit"):
        raise InputError("parametrisation", "'p' or 'logit'", repr(parametrisation))
    with pm.Model() as model:
        heads_data = pm.Data("heads_data", np.int64(heads))
        if parametrisation == "p":
            p = pm.Beta("p", alpha=a, beta=b)
        else:

            def logit_beta_logp(z, a, b):
                log_beta = pt.gammaln(a) + pt.gammaln(b) - pt.gammaln(a + b)
                return -a * pt.softplus(-z) - b * pt.softplus(z) - log_beta

            def logit_beta_random(a, b, rng=None, size=None):
                draws = rng.beta(a, b, size=size)
                return np.log(draws) - np.log1p(-draws)

            z = pm.CustomDist("z", a, b, logp=logit_beta_logp, random=logit_beta_random)
            p = pm.Deterministic("p", pt.sigmoid(z))
        pm.Binomial("heads", n=int(trials), p=p, observed=heads_data)
    return model


def normal(y, mu0=0.0, mu_sd=10.0, sigma_sd=5.0):
    """Normal data with unknown mean and sd: ``mu ~ N(mu0, mu_sd)``, ``sigma ~ HalfNormal``."""
    y = _vector("y", y)
    mu_sd, sigma_sd = _positive("mu_sd", mu_sd), _positive("sigma_sd", sigma_sd)
    with pm.Model(coords={"obs": np.arange(y.size)}) as model:
        y_data = pm.Data("y_data", y, dims="obs")
        mu = pm.Normal("mu", mu=float(mu0), sigma=mu_sd)
        sigma = pm.HalfNormal("sigma", sigma=sigma_sd)
        pm.Normal("y", mu=mu, sigma=sigma, observed=y_data, dims="obs")
    return model


def poisson_gamma(y, alpha=2.0, beta=1.0):
    """Counts ``y ~ Poisson(lam)`` with a conjugate ``lam ~ Gamma(alpha, beta)`` (rate beta)."""
    y = _vector("y", y, integer=True)
    alpha, beta = _positive("alpha", alpha), _positive("beta", beta)
    with pm.Model(coords={"obs": np.arange(y.size)}) as model:
        y_data = pm.Data("y_data", y, dims="obs")
        lam = pm.Gamma("lam", alpha=alpha, beta=beta)
        pm.Poisson("y", mu=lam, observed=y_data, dims="obs")
    return model


def exponential(y, alpha=2.0, beta=1.0):
    """Waiting times ``y ~ Exponential(lam)`` with ``lam ~ Gamma(alpha, beta)`` (rate beta)."""
    y = _vector("y", y, positive=True)
    alpha, beta = _positive("alpha", alpha), _positive("beta", beta)
    with pm.Model(coords={"obs": np.arange(y.size)}) as model:
        y_data = pm.Data("y_data", y, dims="obs")
        lam = pm.Gamma("lam", alpha=alpha, beta=beta)
        pm.Exponential("y", lam=lam, observed=y_data, dims="obs")
    return model


def laplace_denoise(y, b=0.5, sigma=0.5):
    """Denoising ``y_i = x_i + N(0, sigma^2)`` with a sparsity prior ``x_i ~ Laplace(0, b)``.

    The MAP is soft thresholding, ``sign(y) max(|y| - sigma^2 / b, 0)``: exactly zero for small
    ``|y|``. The posterior mean shrinks too but is never exactly zero.
    """
    y = _vector("y", y)
    b, sigma = _positive("b", b), _positive("sigma", sigma)
    with pm.Model(coords={"index": np.arange(y.size)}) as model:
        y_data = pm.Data("y_data", y, dims="index")
        x = pm.Laplace("x", mu=0.0, b=b, dims="index")
        pm.Normal("y", mu=x, sigma=sigma, observed=y_data, dims="index")
    return model


def dct_dictionary(n_atoms, n_features):
    """Overcomplete cosine dictionary, (n_atoms, n_features), unit-norm rows: atom ``k`` is
    ``cos(pi k (2 t + 1) / (2 n_atoms))`` at ``t = 0 .. n_features - 1`` (atom 0 is flat)."""
    t = np.arange(n_features)
    atoms = np.cos(np.pi * np.arange(n_atoms)[:, None] * (2 * t + 1) / (2 * n_atoms))
    return atoms / np.linalg.norm(atoms, axis=1, keepdims=True)


def sparse_coding(y, n_atoms=12, b=0.5, sigma=0.2):
    """One signal ``y = h D + N(0, sigma^2)`` on the fixed dictionary ``D =
    dct_dictionary(n_atoms, y.size)``, with a sparsity prior on the code ``h_k ~ Laplace(0, b)``.

    The MAP minimises ``0.5 ||y - h D||^2 + alpha ||h||_1`` with ``alpha = sigma^2 / b``: it is
    the lasso code of :func:`workbench.sparse.sparse_code`, with exact zeros. The posterior mean
    is not sparse. With more atoms than samples the likelihood alone has a flat direction, so
    the ML is not unique and the flat-prior mean does not exist.
    """
    y = _vector("y", y, min_size=2)
    if isinstance(n_atoms, bool) or int(n_atoms) != n_atoms or n_atoms < 1:
        raise InputError("n_atoms", "a positive integer", repr(n_atoms))
    b, sigma = _positive("b", b), _positive("sigma", sigma)
    D = dct_dictionary(int(n_atoms), y.size)
    with pm.Model(coords={"atom": np.arange(int(n_atoms)), "index": np.arange(y.size)}) as model:
        y_data = pm.Data("y_data", y, dims="index")
        h = pm.Laplace("h", mu=0.0, b=b, dims="atom")
        pm.Normal("y", mu=pt.dot(h, D), sigma=sigma, observed=y_data, dims="index")
    return model


def blur_matrix(n, width):
    """Row-normalised Gaussian blur of ``n`` samples with standard deviation ``width``, (n, n)."""
    grid = np.arange(n)
    kernel = np.exp(-0.5 * ((grid[:, None] - grid[None, :]) / width) ** 2)
    return kernel / kernel.sum(axis=1, keepdims=True)


def deconvolution(y, prior="gaussian", scale=1.0, noise=0.05, width=2.0):
    """Linear inverse problem ``y = A x + N(0, noise^2)`` with a Gaussian blur ``A``.

    ``prior``: ``"gaussian"`` (``x_i ~ N(0, scale)``; then MAP = CM = the Tikhonov solution),
    ``"laplace"`` (``x_i ~ Laplace(0, scale)``) or ``"tv"`` (total variation: increments
    ``x_{i+1} - x_i ~ Laplace(0, scale)``, a flat-ish start ``x_0 ~ N(0, 10)``). The blur
    is nearly singular, so the likelihood alone does not pin ``x`` down.
    """
    y = _vector("y", y, min_size=2)
    scale, noise, width = (
        _positive("scale", scale),
        _positive("noise", noise),
        _positive("width", width),
    )
    if prior not in ("gaussian", "laplace", "tv"):
        raise InputError("prior", "'gaussian', 'laplace' or 'tv'", repr(prior))
    n = y.size
    blur = blur_matrix(n, width)
    coords = {"index": np.arange(n), "step": np.arange(n - 1)}
    with pm.Model(coords=coords) as model:
        y_data = pm.Data("y_data", y, dims="index")
        if prior == "gaussian":
            x = pm.Normal("x", 0.0, scale, dims="index")
        elif prior == "laplace":
            x = pm.Laplace("x", 0.0, scale, dims="index")
        else:
            x_start = pm.Normal("x_start", 0.0, 10.0)
            steps = pm.Laplace("steps", 0.0, scale, dims="step")
            x = pm.Deterministic(
                "x", pt.concatenate([x_start[None], x_start + pt.cumsum(steps)]), dims="index"
            )
        pm.Normal("y", mu=pt.dot(blur, x), sigma=noise, observed=y_data, dims="index")
    return model


def linear_regression(data, prior="weak", scale=10.0):
    """``y = intercept + X @ beta + N(0, sigma^2)``; ``data`` is (n, k + 1), ``y`` last.

    ``prior="flat"`` uses improper flat priors (then MAP = ML = least squares and the posterior
    mean of ``beta`` is the least-squares fit); ``"weak"`` uses ``N(0, scale)`` and
    ``HalfNormal(scale)``.
    """
    arr = np.asarray(data, dtype=float)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise InputError(
            "data",
            "a 2-D table (n_samples, n_features + 1) with y in the last column",
            f"shape {arr.shape}",
        )
    if not np.isfinite(arr).all():
        raise InputError("data", "finite numbers", "NaN/inf")
    features, y = arr[:, :-1], arr[:, -1]
    n, k = features.shape
    if n <= k + 1:
        raise InputError("data", f"more rows than coefficients ({k + 1})", f"{n} rows")
    if prior not in ("flat", "weak"):
        raise InputError("prior", "'flat' or 'weak'", repr(prior))
    scale = _positive("scale", scale)
    coords = {"obs": np.arange(n), "feature": [f"x{j + 1}" for j in range(k)]}
    with pm.Model(coords=coords) as model:
        x_data = pm.Data("x_data", features, dims=("obs", "feature"))
        y_data = pm.Data("y_data", y, dims="obs")
        if prior == "flat":
            intercept = pm.Flat("intercept")
            beta = pm.Flat("beta", dims="feature")
            sigma = pm.HalfFlat("sigma")
        else:
            intercept = pm.Normal("intercept", 0.0, scale)
            beta = pm.Normal("beta", 0.0, scale, dims="feature")
            sigma = pm.HalfNormal("sigma", scale)
        mean = intercept + pt.dot(x_data, beta)
        pm.Normal("y", mu=mean, sigma=sigma, observed=y_data, dims="obs")
    return model


def eight_schools(data, parametrisation="centred", mu_sd=5.0, tau_scale=5.0):
    """Hierarchical normal model: ``y_j ~ N(theta_j, sigma_j)`` with known ``sigma_j``,
    ``theta_j ~ N(mu, tau)``, ``mu ~ N(0, mu_sd)``, ``tau ~ HalfCauchy(tau_scale)``.

    ``data`` is (J, 2): estimates ``y_j`` then their standard errors ``sigma_j``.
    ``"centred"`` samples ``theta`` directly: its density grows without bound as ``tau -> 0``
    with every ``theta_j = mu`` (no MAP exists) and NUTS meets a funnel. ``"non-centred"``
    samples ``theta_raw ~ N(0, 1)`` and sets ``theta = mu + tau theta_raw`` (a deterministic):
    the same posterior for ``theta``, no funnel, and a bounded density.
    """
    arr = np.asarray(data, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 2:
        raise InputError("data", "a table (J >= 2, 2): estimate y_j, standard error sigma_j",
                         f"shape {arr.shape}")  # fmt: skip
    if not np.isfinite(arr).all() or (arr[:, 1] <= 0).any():
        raise InputError("data", "finite estimates and positive standard errors", "NaN/inf or <= 0")
    if parametrisation not in ("centred", "non-centred"):
        raise InputError("parametrisation", "'centred' or 'non-centred'", repr(parametrisation))
    mu_sd, tau_scale = _positive("mu_sd", mu_sd), _positive("tau_scale", tau_scale)
    with pm.Model(coords={"school": np.arange(arr.shape[0])}) as model:
        y_data = pm.Data("y_data", arr[:, 0], dims="school")
        mu = pm.Normal("mu", 0.0, mu_sd)
        tau = pm.HalfCauchy("tau", tau_scale)
        if parametrisation == "centred":
            theta = pm.Normal("theta", mu, tau, dims="school")
        else:
            theta_raw = pm.Normal("theta_raw", 0.0, 1.0, dims="school")
            theta = pm.Deterministic("theta", mu + tau * theta_raw, dims="school")
        pm.Normal("y", mu=theta, sigma=arr[:, 1], observed=y_data, dims="school")
    return model


def funnel(dim=9, scale=3.0):
    """Neal's funnel: ``v ~ N(0, scale)`` and ``x_i | v ~ N(0, exp(v / 2))``, ``i < dim``.

    No data: the conditional density of ``x`` enters as a Potential (the "likelihood" of the
    workbench's convention). The posterior is the prior, known exactly, and no Gaussian fits
    it: the width of ``x`` changes by orders of magnitude along ``v``.
    """
    if isinstance(dim, bool) or int(dim) != dim or dim < 1:
        raise InputError("dim", "a positive integer", repr(dim))
    scale = _positive("scale", scale)
    with pm.Model(coords={"coordinate": np.arange(int(dim))}) as model:
        v = pm.Normal("v", 0.0, scale)
        x = pm.Flat("x", dims="coordinate")
        pm.Potential("x_given_v", pm.logp(pm.Normal.dist(0.0, pt.exp(v / 2)), x).sum())
    return model
