"""Gaussian approximations of a PyMC posterior: Laplace, mean-field and full-rank ADVI, Pathfinder.

All four live on PyMC's unconstrained scale (``log sigma``, ``logit p``, ...) and approximate
the density *of the unconstrained vector*, Jacobian included, as Stan does. Each is a Gaussian
``q = N(mean, cov)`` there; its draws are mapped back to the constrained parameters, so the
reported mean, sd and interval are those of ``q`` pushed through the transforms (not the
transform of ``mean``). The quality check is the Pareto k-hat of the importance ratios
``log p(x) - log q(x)`` over draws from ``q`` (Yao et al. 2018, computed by ArviZ): above
:data:`KHAT_THRESHOLD` the approximation misses mass that the posterior has.

- ``laplace``: mode of the unconstrained log-density (with the Jacobian), covariance minus the
  inverse Hessian there. Not the MAP of :mod:`workbench.bayes.modes`, which drops the Jacobian.
- ``advi`` / ``fullrank_advi``: ``pm.fit`` (diagonal / dense covariance), Adam with a decaying
  step so that the fit settles instead of jittering.
- ``pathfinder``: single-path Pathfinder (Zhang et al. 2022), written here because
  ``pymc-extras`` (which has it) requires ``pymc < 6.4``: L-BFGS from a jittered start, one
  Gaussian per iterate from an inverse-Hessian estimate of the L-BFGS curvature pairs (the
  block BFGS update, exact on a Gaussian once the pairs span the space), the one with the
  largest Monte Carlo ELBO kept.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import pytensor
import pytensor.tensor as pt
from pymc.blocking import DictToArrayBijection
from pymc.pytensorf import compile as compile_fn
from pymc.pytensorf import join_nonshared_inputs
from pytensor.graph.replace import vectorize_graph

from workbench.bayes.modes import ModeFinder

__all__ = [
    "APPROXIMATIONS",
    "KHAT_THRESHOLD",
    "Approximation",
    "FlatModel",
    "LaplaceFinder",
    "advi",
    "approximate",
    "gaussian_approximation",
    "khat_verdict",
    "label",
    "laplace",
    "pathfinder",
]

APPROXIMATIONS = ("laplace", "advi", "fullrank_advi", "pathfinder")
KHAT_THRESHOLD = 0.7
PARAMETRISATION = "unconstrained, with the log-Jacobian (as Stan); draws mapped back"


def label(method):
    """How a method is named in messages: ``fullrank_advi`` -> ``FULLRANK-ADVI``."""
    return "Laplace" if method == "laplace" else method.upper().replace("_", "-")


class LaplaceFinder(ModeFinder):
    """The mode of the unconstrained log-density with the Jacobian: the Laplace centre."""

    def __init__(self, model):
        super().__init__(model, None, "Laplace centre", jacobian=True)


class FlatModel:
    """A model's log-density on the unconstrained scale (with the Jacobian) and its reported
    values, as functions of one flat vector ``x`` (d,) or a batch of them (n, d)."""

    def __init__(self, model, var_names):
        point = model.initial_point()
        self.layout = DictToArrayBijection.map({v.name: point[v.name] for v in model.value_vars})
        self.x0 = self.layout.data
        self.var_names = list(var_names)
        graphs = {v.name: v for v in model.unobserved_value_vars}
        outputs = [model.logp(jacobian=True), *(graphs[n] for n in self.var_names)]
        (logp, *values), flat = join_nonshared_inputs(point, outputs, model.value_vars)
        self._lp_grad = compile_fn([flat], [logp, pt.grad(logp, flat)])
        batch = pt.matrix("batch", dtype=flat.dtype)
        batched = vectorize_graph([logp, *values], replace={flat: batch})
        self._batch = compile_fn([batch], batched)

    @property
    def size(self):
        return self.x0.size

    def offsets(self):
        """``{value-variable name: slice}`` of the flat vector."""
        out, start = {}, 0
        for name, _, size, _ in self.layout.point_map_info:
            out[name] = slice(start, start + size)
            start += size
        return out

    def logp_grad(self, x):
        """Log-density and its gradient at one point ``x`` (d,)."""
        logp, grad = self._lp_grad(np.asarray(x, dtype=float))
        return float(logp), np.asarray(grad, dtype=float)

    def evaluate(self, xs):
        """Log-densities (n,) and ``{name: values (n, *shape)}`` at the rows of ``xs`` (n, d)."""
        logp, *values = self._batch(np.atleast_2d(np.asarray(xs, dtype=float)))
        return np.asarray(logp, dtype=float), dict(zip(self.var_names, values, strict=True))


def khat_verdict(khat):
    """Plain-words reading of the Pareto k-hat of ``log p - log q``."""
    if khat == -math.inf:
        return "exact: log p - log q is constant over the draws (q is the posterior)"
    if khat == math.inf:
        return "unreliable: log p - log q is not finite at some draws of q"
    if khat <= 0.5:
        return "reliable: q covers the posterior (k-hat <= 0.5)"
    if khat <= KHAT_THRESHOLD:
        return f"usable with care: the ratios have a heavy tail (0.5 < k-hat <= {KHAT_THRESHOLD})"
    return (
        f"unreliable: q misses posterior mass (k-hat > {KHAT_THRESHOLD}); its mean, sd and "
        "interval are not trustworthy, use NUTS"
    )


@dataclass
class Approximation:
    """A Gaussian ``N(mean, cov)`` on the unconstrained scale and its draws mapped back.

    ``draws[name]`` is (n, *shape); ``log_ratio`` (n,) is ``log p - log q`` at the draws.
    """

    method: str
    mean: np.ndarray
    cov: np.ndarray
    draws: dict
    log_ratio: np.ndarray
    khat: float
    info: dict = field(default_factory=dict)

    @property
    def reliable(self):
        return not self.khat > KHAT_THRESHOLD

    def summary(self, name, hdi_prob):
        """Mean, sd and ``hdi_prob`` highest-density interval (lo, hi) of ``name``'s draws."""
        from arviz_stats.base import array_stats

        draws = np.moveaxis(np.asarray(self.draws[name], dtype=float), 0, -1)
        bounds = np.asarray(array_stats.hdi(draws, hdi_prob, axis=-1))
        return draws.mean(axis=-1), draws.std(axis=-1, ddof=1), (bounds[..., 0], bounds[..., 1])

    def warning(self):
        """The plain-words warning of an unreliable fit."""
        return f"{label(self.method)}: k-hat {self.khat:.2f}: {khat_verdict(self.khat)}"

    def diagnostics(self):
        """JSON-ready quality report: k-hat (None when exact), its verdict, the scale."""
        finite = math.isfinite(self.khat)
        return {
            "khat": round(self.khat, 4) if finite else None,
            "khat_threshold": KHAT_THRESHOLD,
            "reliable": self.reliable,
            "verdict": khat_verdict(self.khat),
            "parametrisation": PARAMETRISATION,
            "draws": int(self.log_ratio.size),
            **self.info,
        }


def pareto_khat(log_ratio):
    """ArviZ's Pareto k-hat (PSIS) of importance ratios given on the log scale, (n,); -inf when
    they are constant (q is the posterior)."""
    from arviz_stats.base import array_stats

    log_ratio = np.asarray(log_ratio, dtype=float)
    if not np.isfinite(log_ratio).all():
        return math.inf
    if np.ptp(log_ratio) < 1e-6:
        return -math.inf
    # psislw takes minus the log-ratios (its LOO convention: -log-likelihood). Only the right
    # tail of the ratios counts; ratios below e^-500 of the largest (underflowing to zero) are
    # raised to that floor. Independent draws: r_eff 1.
    shifted = np.maximum(log_ratio - log_ratio.max(), -500.0)
    return float(array_stats.psislw(-shifted, r_eff=1.0)[1])


def gaussian_approximation(method, flat, mean, cov, z, info=None):
    """Map standard normal draws ``z`` (n, d) to ``N(mean, cov)``, then back to the constrained
    parameters, and compute the k-hat of ``log p - log q`` over them."""
    mean, cov = np.asarray(mean, dtype=float), np.asarray(cov, dtype=float)
    chol = np.linalg.cholesky(cov)
    xs = mean + z @ chol.T
    log_q = (
        -0.5 * np.sum(z**2, axis=1)
        - np.sum(np.log(np.diag(chol)))
        - 0.5 * mean.size * math.log(2 * math.pi)
    )
    log_p, values = flat.evaluate(xs)
    log_ratio = log_p - log_q
    return Approximation(method, mean, cov, values, log_ratio, pareto_khat(log_ratio), info or {})


def laplace(flat, finder, mode, draws, rng):
    """Laplace approximation at ``mode`` (a :class:`~workbench.bayes.modes.Mode` of
    ``finder``, which must maximise the log-density with the Jacobian); raises ValueError when
    the Hessian there is not negative definite (no Gaussian to fit)."""
    hess = finder.hessian(mode.x)
    eig = np.linalg.eigvalsh(-hess)
    if not eig.min() > 0:
        raise ValueError(
            "Laplace: the Hessian at the mode is not negative definite (smallest curvature "
            f"{eig.min():.2g}): a flat or non-smooth direction, no Gaussian fits there"
        )
    cov = np.linalg.inv(-hess)
    cov = 0.5 * (cov + cov.T)
    info = {"curvature_min": float(eig.min()), "curvature_max": float(eig.max())}
    z = rng.standard_normal((draws, flat.size))
    return gaussian_approximation("laplace", flat, mode.x, cov, z, info)


def advi(model, flat, method, iterations, draws, rng, learning_rate=0.05, gradient_draws=10):
    """Mean-field (``method="advi"``) or full-rank (``"fullrank_advi"``) ADVI by ``pm.fit``.

    Each step averages the ELBO gradient over ``gradient_draws`` draws. Adam's step size is
    ``learning_rate`` for the first half of the iterations, then falls geometrically to 1/100
    of it, so the fitted mean and covariance settle (their Monte Carlo jitter shrinks).
    """
    import pymc as pm

    step = pytensor.shared(np.asarray(learning_rate, dtype=pytensor.config.floatX))
    half = max(iterations // 2, 1)

    def decay(_approx, _losses, i):
        step.set_value(np.asarray(learning_rate * 0.01 ** max(0.0, i / half - 1.0), step.dtype))

    seed = int(rng.integers(2**31 - 1))
    fitted = pm.fit(
        n=iterations,
        method=method,
        model=model,
        random_seed=seed,
        progressbar=False,
        obj_optimizer=pm.adam(learning_rate=step),
        obj_n_mc=gradient_draws,
        callbacks=[decay],
    )
    group = fitted.groups[0]
    order = np.concatenate(
        [np.arange(flat.size)[flat.offsets()[name]] for name in group.ordering]
    )  # position in flat's layout of each of the group's coordinates
    mean, cov = np.empty(flat.size), np.empty((flat.size, flat.size))
    mean[order] = np.asarray(group.mean.eval(), dtype=float)
    cov[np.ix_(order, order)] = np.asarray(group.cov.eval(), dtype=float)
    losses = np.asarray(fitted.hist, dtype=float)
    info = {"iterations": iterations, "final_loss": float(np.mean(losses[-max(half // 10, 1) :]))}
    z = rng.standard_normal((draws, flat.size))
    return gaussian_approximation(method, flat, mean, cov, z, info)


def _inverse_hessian(pairs, dim, cutoff=1e-10):
    """Inverse-Hessian estimate from curvature pairs (s, y), oldest first, (d, d): the block
    (multi-secant) BFGS update of ``gamma I`` (Schnabel 1983),

        H = S M^+ S' + (I - S M^+ Y') gamma (I - Y M^+ S'),   M = sym(Y'S),

    which satisfies ``H y = s`` for every pair at once. On a quadratic (``y = A s``) it is
    ``A^-1`` as soon as the ``s`` span the space, whatever the line searches did; the usual
    L-BFGS recursion keeps only the newest secant equation exactly and reaches ``A^-1`` only
    with exact line searches (on a 3-D Gaussian it stayed 3-29% off). Pairs are scaled to unit
    ``|s|``; directions of ``M`` with curvature below ``cutoff`` times the largest (repeated
    directions, noise, negative curvature away from a quadratic) are left to ``gamma I``.
    """
    steps = np.array([s for s, _ in pairs]).T
    changes = np.array([y for _, y in pairs]).T
    norms = np.linalg.norm(steps, axis=0)
    steps, changes = steps / norms, changes / norms
    s_last, y_last = steps[:, -1], changes[:, -1]
    gamma = (s_last @ y_last) / (y_last @ y_last)
    m = changes.T @ steps
    w, v = np.linalg.eigh(0.5 * (m + m.T))
    keep = w > cutoff * w.max()
    m_pinv = (v[:, keep] / w[keep]) @ v[:, keep].T
    left = np.eye(dim) - steps @ m_pinv @ changes.T
    h = steps @ m_pinv @ steps.T + gamma * left @ left.T
    return 0.5 * (h + h.T)


def pathfinder(flat, x0, draws, rng, history=None, elbo_draws=100, max_iterations=1000):
    """Single-path Pathfinder from the unconstrained start ``x0``.

    The L-BFGS path maximises the log-density; at each iterate ``x_l`` with gradient ``g_l``
    and inverse-Hessian estimate ``H_l`` (the last ``history`` curvature pairs, default all up
    to 2 d) the Gaussian ``N(x_l + H_l g_l, H_l)`` is scored by a Monte Carlo ELBO over
    ``elbo_draws`` draws; the best one gives the ``draws``.
    """
    from scipy.optimize import minimize

    dim = flat.size
    history = history or 2 * dim
    path = [np.asarray(x0, dtype=float)]
    minimize(
        lambda x: tuple(-v for v in flat.logp_grad(x)),
        path[0],
        jac=True,
        method="L-BFGS-B",
        callback=lambda intermediate_result: path.append(np.array(intermediate_result.x)),
        options={"maxiter": max_iterations, "maxcor": history, "gtol": 1e-9, "ftol": 1e-14},
    )
    grads = [flat.logp_grad(x)[1] for x in path]
    z = rng.standard_normal((elbo_draws, dim))  # common random numbers for every candidate
    pairs, best = [], None
    for k in range(1, len(path)):
        s, y = path[k] - path[k - 1], grads[k - 1] - grads[k]  # y: change of -gradient
        if s @ y > 1e-12 * (y @ y):  # keep only pairs with positive curvature
            pairs = [*pairs, (s, y)][-history:]
        if not pairs:
            continue
        cov = _inverse_hessian(pairs, dim)
        if not np.all(np.linalg.eigvalsh(cov) > 0):
            continue
        mean = path[k] + cov @ grads[k]
        fit = gaussian_approximation("pathfinder", flat, mean, cov, z)
        elbo = float(np.mean(fit.log_ratio)) if np.isfinite(fit.log_ratio).all() else -np.inf
        if best is None or elbo > best[0]:
            best = (elbo, k, mean, cov)
    if best is None:
        raise ValueError("Pathfinder: the L-BFGS path found no positive curvature to fit")
    elbo, k, mean, cov = best
    info = {"iterations": len(path) - 1, "selected_iteration": k, "elbo": elbo}
    z = rng.standard_normal((draws, dim))
    return gaussian_approximation("pathfinder", flat, mean, cov, z, info)


def approximate(method, model, flat, rng, *, draws, n_starts, advi_iterations, laplace_finder):
    """Fit approximation ``method`` (one of :data:`APPROXIMATIONS`); a ValueError says in
    plain words why it cannot be made (no mode for the Laplace centre, no curvature)."""
    if method == "laplace":
        search = laplace_finder.search(n_starts, seed=int(rng.integers(2**63)))
        if search.best is None:
            raise ValueError("; ".join(search.warnings))
        return laplace(flat, laplace_finder, search.best, draws, rng)
    if method == "pathfinder":
        return pathfinder(flat, flat.x0 + rng.uniform(-2.0, 2.0, flat.size), draws, rng)
    if method in ("advi", "fullrank_advi"):
        return advi(model, flat, method, advi_iterations, draws, rng)
    raise ValueError(f"method: expected one of {', '.join(APPROXIMATIONS)}, got {method!r}")
