"""PyMC models of PPCA and factor analysis, and the MAP / NUTS / ADVI fits behind
``PPCA(method=...)`` and ``FactorAnalysis(method=...)``.

W W^T does not change when W is replaced by W R for any orthogonal R, so a prior on an
unconstrained W gives a posterior with a continuum of equivalent modes and chains that wander
among them (R-hat far above 1 for W, fine for W W^T). ``constrain=True`` (the default) makes W
lower-triangular with a positive diagonal, which picks one member of each orbit (see
:func:`workbench.linear.gaussian.canonical_loadings`).

>>> model = ppca_model(X, 2)                    # marginal form, identifiable W
>>> teaching = ppca_model(X, 2, form="latent", constrain=False)
"""

import warnings
from typing import NamedTuple

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import scipy.linalg

from workbench.linear.gaussian import canonical_loadings, check_data, check_n_components

__all__ = ["BayesFit", "fit_bayesian", "ppca_model", "rhat_max"]

FORMS = ("marginal", "latent")
NOISES = ("isotropic", "diagonal")


def ppca_model(
    X,
    n_components,
    *,
    noise="isotropic",
    form="marginal",
    constrain=True,
    ard=False,
    prior_scale=None,
    initval=None,
    feature_labels=None,
):
    """A PyMC model of x = W h + b + e (PPCA for isotropic noise, factor analysis for diagonal).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_components : int
    noise : {"isotropic", "diagonal"}, default="isotropic"
    form : {"marginal", "latent"}, default="marginal"
        ``marginal``: x ~ MvNormal(b, W W^T + diag(psi)), the latents integrated out (use this
        for inference). ``latent``: h ~ N(0, I) per row, explicit, and x | h ~ N(W h + b, psi);
        n_samples x n_components more parameters, for teaching.
    constrain : bool, default=True
        Lower-triangular W with a positive diagonal (identifiable); False: every entry free.
    ard : bool, default=False
        One scale per column of W, ``column_scale ~ HalfNormal``: unneeded columns shrink.
    prior_scale : float, optional
        Scale of the priors on W and the noise sd; default: the root mean feature variance.
    initval : dict, optional
        Starting values, e.g. {"W": ..., "sigma": ...} (constrained space).
    feature_labels : sequence, optional
        Coordinates of the ``feature`` dimension (default 0..d-1).

    Variables: ``b`` (feature), ``W`` (feature, latent), ``sigma`` (noise sd; scalar or per
    feature), deterministics ``noise_variance`` and ``WWt`` (W W^T), and ``h`` in the latent
    form. Observed: ``x``.
    """
    X = check_data(X)
    n, d = X.shape
    q = check_n_components(n_components, d)
    if noise not in NOISES:
        raise ValueError(f"noise: expected one of {', '.join(NOISES)}, got {noise!r}")
    if form not in FORMS:
        raise ValueError(f"form: expected one of {', '.join(FORMS)}, got {form!r}")
    xbar = X.mean(axis=0)
    scale = float(prior_scale or np.sqrt(X.var(axis=0).mean()))
    if not scale > 0:
        raise ValueError(f"prior_scale: expected a positive float, got {prior_scale!r}")
    initval = initval or {}
    labels = list(range(d)) if feature_labels is None else list(feature_labels)
    coords = {"obs": range(n), "feature": labels, "feature_j": labels, "latent": range(q)}
    with pm.Model(coords=coords) as model:
        b = pm.Normal("b", 0.0, 10 * (np.abs(xbar).max() + scale), dims="feature", initval=xbar)
        col = pm.HalfNormal("column_scale", 1.0, dims="latent") if ard else np.ones(q)
        if constrain:
            rows, cols = np.tril_indices(d, -1, q)
            W0 = canonical_loadings(initval["W"]) if "W" in initval else None
            lower = pm.Normal(
                "W_lower", 0.0, 1.0, shape=rows.size,
                initval=None if W0 is None else W0[rows, cols] / scale,
            )  # fmt: skip
            diag = pm.HalfNormal(
                "W_diag", 1.0, dims="latent",
                initval=None if W0 is None else np.maximum(np.diag(W0), 1e-3 * scale) / scale,
            )  # fmt: skip
            W_raw = pt.zeros((d, q))
            W_raw = pt.set_subtensor(W_raw[rows, cols], lower)
            W_raw = pt.set_subtensor(W_raw[np.arange(q), np.arange(q)], diag)
        else:
            W_raw = pm.Normal(
                "W_raw", 0.0, 1.0, dims=("feature", "latent"),
                initval=None if "W" not in initval else initval["W"] / scale,
            )  # fmt: skip
        W = pm.Deterministic("W", scale * W_raw * col, dims=("feature", "latent"))
        sigma_dims = "feature" if noise == "diagonal" else None
        sigma0 = initval.get("sigma")
        sigma = pm.HalfNormal("sigma", scale, dims=sigma_dims, initval=sigma0)
        psi = pt.broadcast_to(sigma**2, (d,))
        pm.Deterministic("noise_variance", sigma**2, dims=sigma_dims)
        pm.Deterministic("WWt", W @ W.T, dims=("feature", "feature_j"))
        if form == "marginal":
            cov = W @ W.T + pt.diag(psi)
            pm.MvNormal("x", mu=b, cov=cov, observed=X, dims=("obs", "feature"))
        else:
            h = pm.Normal("h", 0.0, 1.0, dims=("obs", "latent"))
            pm.Normal("x", h @ W.T + b, pt.sqrt(psi), observed=X, dims=("obs", "feature"))
    return model


def rhat_max(tree, var_names):
    """Largest R-hat over ``var_names`` from :func:`workbench.diagnostics.diagnose`, ignoring
    entries that never vary (the zeros above W's diagonal)."""
    from workbench.diagnostics import diagnose

    return diagnose(tree, var_names=list(var_names)).extremes()["r_hat_max"]


class BayesFit(NamedTuple):
    """Point summary of a Bayesian fit: W (d, q), noise (psi: scalar or (d,)), mean b (d,),
    the draws (DataTree; None for MAP), and for NUTS (else None) the largest R-hat and the
    verdict of :func:`workbench.diagnostics.diagnose` on the free parameters."""

    W: np.ndarray
    noise: np.ndarray
    mean: np.ndarray
    tree: object
    rhat_max: float | None
    converged: bool | None = None


def fit_bayesian(X, n_components, *, method, noise, draws=500, tune=500, chains=4, seed=None):
    """MAP, NUTS posterior mean or ADVI mean of :func:`ppca_model`'s marginal form.

    Starts from the ML solution (closed form for PPCA, EM for FA); the features are reordered
    so that the constrained leading block is well-conditioned (the DataTree's ``feature``
    coordinates are the original indices, in the model's order). For NUTS (nutpie) the
    posterior mean of the constrained W is reported, with R-hat over W, b and sigma.
    """
    from workbench.linear.estimators import PPCA, FactorAnalysis

    if noise == "isotropic":
        start = PPCA(n_components).fit(X)
    else:
        start = FactorAnalysis(n_components, random_state=seed).fit(X)
    # The positive-diagonal constraint needs the first q features to load clearly on the
    # factors (a near-zero diagonal entry splits the posterior in two). Put first the q features
    # that a pivoted QR of the ML loadings picks, and undo the permutation at the end.
    W_ml = start.components_.T
    pivots = scipy.linalg.qr(W_ml.T, pivoting=True)[2]
    order = np.concatenate([pivots[:n_components], np.sort(pivots[n_components:])])
    inverse = np.argsort(order)
    sigma0 = np.sqrt(start.noise_variance_)
    init = {"W": W_ml[order], "sigma": sigma0 if np.ndim(sigma0) == 0 else sigma0[order]}
    model = ppca_model(
        X[:, order], n_components, noise=noise, initval=init, feature_labels=order.tolist()
    )
    names = ["W", "b", "sigma"]
    if method == "map":
        from workbench.bayes import Estimator

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            point = Estimator(model, methods=("map",), var_names=names).run(seed=seed)
        values = {v: np.asarray(point.point["map"][v]) for v in names}
        return BayesFit(*_unpermute(values["W"], values["sigma"] ** 2, values["b"], inverse),
                        None, None)  # fmt: skip
    converged = None
    if method == "nuts":
        from workbench.bayes.sampling import NutsRunner
        from workbench.diagnostics import diagnose

        tree = NutsRunner(model, "nutpie")(draws=draws, tune=tune, chains=chains, seed=seed)
        # the free parameters: W's free entries mix exactly as W does (W is their positive
        # multiple), without the structural zeros that have no R-hat
        free = [rv.name for rv in model.free_RVs]
        report = diagnose(tree, var_names=free, allow_single_chain=True)
        rhat, converged = report.extremes()["r_hat_max"], report.converged
    elif method == "advi":
        with model:
            approx = pm.fit(
                n=20000, method="advi", random_seed=seed, progressbar=False,
                callbacks=[pm.variational.callbacks.CheckParametersConvergence(tolerance=1e-4)],
            )  # fmt: skip
            tree = approx.sample(draws, random_seed=seed)
        rhat = None
    else:
        raise ValueError(f"method: expected one of map, nuts, advi, got {method!r}")
    post = tree["posterior"]
    mean = {v: post[v].values.mean(axis=(0, 1)) for v in names}
    psi = (post["sigma"].values ** 2).mean(axis=(0, 1))
    return BayesFit(*_unpermute(mean["W"], psi, mean["b"], inverse), tree, rhat, converged)


def _unpermute(W, psi, b, inverse):
    """Loadings, noise variances and mean back in the caller's feature order."""
    return W[inverse], psi if np.ndim(psi) == 0 else psi[inverse], b[inverse]
