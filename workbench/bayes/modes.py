"""Posterior modes and likelihood maxima of PyMC models, found by L-BFGS on compiled graphs.

Convention: both the MAP and the ML maximise densities *of the parameters as the model writes
them* (``jacobian=False``). The optimiser moves in PyMC's unconstrained space, so supports are
respected, but without the log-Jacobian the maximiser is the same point as in the constrained
space. With the Jacobian one would get the mode of the density of the transformed variable
(for example of ``logit(p)``), which maps back to a different ``p``.
"""

import warnings
from typing import NamedTuple

import numpy as np
import pytensor
from pymc.blocking import DictToArrayBijection, RaveledVars
from pymc.tuning.scipy_interface import scipy_optimize_funcs_from_loss
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from workbench.bayes.sampling import SMALL_MODEL, model_size

__all__ = ["EDGE", "Mode", "ModeFinder", "ModeSearch", "likelihood_terms"]

# A free coordinate beyond this on the unconstrained scale sits at the edge of its support
# (exp(30) ~ 1e13, sigmoid(-30) ~ 1e-13): the supremum is not attained.
EDGE = 30.0
# Moving the edge coordinates this much further out raises an unbounded log-density by more
# than UNBOUNDED_RISE (a pole such as tau^-J rises linearly on the log scale); a bounded
# supremum approached at the edge rises by ~exp(-EDGE + 10).
UNBOUNDED_STEP, UNBOUNDED_RISE = 5.0, 1.0


def likelihood_terms(model):
    """The likelihood of a model: its observed variables and its Potentials.

    Potentials count as likelihood terms (an RBM log-likelihood enters a model that way);
    prior information belongs in random variables.
    """
    return list(model.observed_RVs) + list(model.potentials)


class Mode(NamedTuple):
    """A maximiser: constrained ``values`` by variable name, the unconstrained vector ``x``,
    the maximised log-density, the optimiser result, warnings in plain words, whether the
    optimiser converged (small gradient, or a polished kink) and whether a coordinate ran to
    the edge of its support."""

    values: dict
    x: np.ndarray
    log_density: float
    result: object
    warnings: list
    converged: bool = True
    at_edge: bool = False

    def record(self, start):
        """JSON-ready summary of this run from start number ``start``."""
        return {
            "start": start,
            "converged": self.converged,
            "status": str(self.result.message),
            "gradient_norm": ModeFinder._gradient_norm(self.result),
            "log_density": self.log_density,
            "at_edge": self.at_edge,
        }


class ModeSearch(NamedTuple):
    """Several seeded starts of one :class:`ModeFinder`: the ``best`` :class:`Mode` (None when
    no maximum exists or no run moved), every run (None: the start was outside the support),
    the JSON-ready ``report`` and warnings in plain words."""

    best: Mode | None
    runs: list
    report: dict
    warnings: list


class ModeFinder:
    """Compile once, then maximise ``model.logp(vars=terms, jacobian=False)``.

    ``terms=None`` maximises the whole posterior (MAP); ``terms=likelihood_terms(model)`` drops
    the priors (ML); ``jacobian=True`` maximises the density of the unconstrained vector (the
    Laplace approximation's centre). Data held in ``pm.Data`` can change between calls.
    """

    def __init__(self, model, terms=None, label="MAP", jacobian=False):
        # Small models: no Numba/C compile (FAST_COMPILE: the Python VM, few rewrites). Their
        # few hundred evaluations cost milliseconds either way, while building the compiled
        # graphs costs seconds. Larger ones keep the default mode (fast per evaluation).
        small = model_size(model) <= SMALL_MODEL
        with pytensor.config.change_flags(mode="FAST_COMPILE" if small else pytensor.config.mode):
            self._build(model, terms, label, jacobian)

    def _build(self, model, terms, label, jacobian):
        self.model, self.label = model, label
        self.value_vars = list(model.value_vars)
        self.start = model.initial_point()
        loss = -model.logp(vars=terms, jacobian=jacobian)
        self._loss_and_grad, _ = scipy_optimize_funcs_from_loss(
            loss=loss,
            inputs=self.value_vars,
            initial_point_dict=self.start,
            use_grad=True,
            use_hess=False,
            use_hessp=False,
        )
        self._constrained = model.compile_fn(
            model.unobserved_value_vars,
            inputs=model.value_vars,
            point_fn=False,
            on_unused_input="ignore",
        )
        self._names = [var.name for var in model.unobserved_value_vars]
        self._rv_names = {v.name: model.values_to_rvs[v].name for v in self.value_vars}
        self._x0 = DictToArrayBijection.map({v.name: self.start[v.name] for v in self.value_vars})
        bounded = [
            model.rvs_to_transforms.get(model.values_to_rvs[v]) is not None for v in self.value_vars
        ]
        self.bounded = (
            np.concatenate(
                [
                    np.full(size, flag)
                    for (_, _, size, _), flag in zip(self._x0.point_map_info, bounded, strict=True)
                ]
            )
            if bounded
            else np.zeros(0, bool)
        )

    gradient_tolerance = 1e-4

    def _minimise(self, x0):
        return minimize(
            self._loss_and_grad,
            x0,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": 3000, "maxfun": 6000, "maxcor": 30, "ftol": 1e-15, "gtol": 1e-10},
        )

    @staticmethod
    def _gradient_norm(result):
        return float(np.max(np.abs(result.jac))) if result.jac.size else 0.0

    def reported(self, mode, names):
        """``{name: value}`` of ``mode``; NaN of the right shape when there is no mode."""
        if mode is None:
            shapes = {n: np.shape(v) for n, v in self.values_at(self._x0.data).items()}
            return {n: np.full(shapes[n], np.nan) for n in names}
        return {n: mode.values[n] for n in names}

    def values_at(self, x):
        """Constrained values (free and deterministic) at the unconstrained vector ``x``."""
        point = DictToArrayBijection.rmap(RaveledVars(np.asarray(x), self._x0.point_map_info))
        return dict(zip(self._names, self._constrained(**point), strict=True))

    def __call__(self, x0=None):
        x0 = self._x0.data if x0 is None else np.asarray(x0, dtype=float)
        value, _ = self._loss_and_grad(x0)
        if not np.isfinite(value):
            raise ValueError(
                f"{self.label}: the log-density is not finite at the starting point; "
                "check the data against the model's support (model.debug() helps)"
            )
        # One BLAS thread: L-BFGS-B's vectors are tiny, and threads only add spin-up cost
        # (8.6 s against 0.6 s for the TV deconvolution on 2 busy cores) and make the path
        # depend on the machine's thread count.
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore", RuntimeWarning)
            result = self._minimise(x0)
            hit_limit = result.status == 1  # L-BFGS-B: iteration or evaluation limit
            if self._gradient_norm(result) > self.gradient_tolerance * (1.0 + abs(result.fun)):
                # A kink (|x| of a Laplace prior at zero) stalls L-BFGS; Powell's exact line
                # searches along each direction settle on it.
                polished = minimize(
                    lambda x: self._loss_and_grad(x)[0],
                    result.x,
                    method="Powell",
                    options={"xtol": 1e-10, "ftol": 1e-15, "maxfev": 2000 + 100 * x0.size},
                )
                if polished.fun <= result.fun:
                    result.x, result.fun, result.message = polished.x, polished.fun, "Powell polish"
                    result.nonsmooth = True
        notes = []
        grad_norm = self._gradient_norm(result)
        smooth = not getattr(result, "nonsmooth", False)
        if smooth and grad_norm > self.gradient_tolerance * (1.0 + abs(result.fun)):
            notes.append(
                f"{self.label}: the optimiser stopped with gradient {grad_norm:.2g} "
                f"({result.message}); the estimate may be inaccurate"
            )
        if hit_limit and not notes:
            notes.append(
                f"{self.label}: the optimiser hit its iteration limit; the objective is very flat "
                "along some direction (an ill-posed problem?), so the estimate is not reliable"
            )
        at_edge = self.at_edge(result.x)
        if at_edge.any():
            names = self._edge_names(result.x)
            notes.append(
                f"{self.label}: {', '.join(names)} ran to the edge of the support; the maximum is "
                "not attained inside it (reported value is the boundary approached)"
            )
        values = self.values_at(result.x)
        converged = bool(not notes or (len(notes) == 1 and at_edge.any()))
        if converged and not at_edge.any() and not self._is_maximum(result.x, -result.fun):
            converged = False
            notes.append(
                f"{self.label}: the optimiser stopped at a stationary point that is not a maximum "
                "(a saddle or a minimum, typically a symmetric starting point)"
            )
        return Mode(
            values, np.asarray(result.x), -float(result.fun), result, notes, converged,
            bool(at_edge.any()),
        )  # fmt: skip

    def search(self, n_starts=4, seed=None, jitter=2.0):
        """Maximise from the model's initial point and ``n_starts - 1`` seeded starts jittered by
        Uniform(-jitter, jitter) on the unconstrained scale (as Stan and PyMC initialise).

        Returns a :class:`ModeSearch`: the best converged run (highest log-density), a report
        of every run, and warnings for disagreeing optima, runs that failed, and densities
        that grow without bound at an edge of the support (then ``best`` is None: no mode).
        """
        rng = np.random.default_rng(seed)
        x0 = self._x0.data
        starts = [x0] + [x0 + rng.uniform(-jitter, jitter, x0.size) for _ in range(n_starts - 1)]
        runs = [self(starts[0])]
        for start in starts[1:]:
            try:
                runs.append(self(start))
            except ValueError:  # a jittered start outside the data's support
                runs.append(None)
        finite = [m for m in runs if m is not None and np.isfinite(m.log_density)]
        good = [m for m in finite if m.converged] or finite
        best = max(good, key=lambda m: m.log_density) if good else None
        report = {
            "starts": n_starts,
            "converged_starts": int(sum(m.converged for m in finite)),
            "runs": [m.record(i) for i, m in enumerate(runs) if m is not None],
        }
        notes = []
        index = next((i for i, m in enumerate(runs) if m is best), None)
        if best is None or not best.converged and np.allclose(best.x, starts[index]):
            report.update(exists=None, agree=None)
            note = f"{self.label}: not reported: no run moved from its starting point"
            return ModeSearch(None, runs, report, [note])
        report.update(
            status=str(best.result.message),
            gradient_norm=self._gradient_norm(best.result),
            **self._spread(good),
        )
        if best.at_edge and self._unbounded(best.x):
            names = ", ".join(self._edge_names(best.x))
            report.update(exists=False, agree=False)
            note = (
                f"{self.label}: no {self.label}: the log-density grows without bound as {names} "
                "goes to the edge of its support (every start climbs towards it); there is no "
                "mode to report, summarise the posterior by sampling instead"
            )
            return ModeSearch(None, runs, report, [note])
        report["exists"] = True
        notes += best.warnings
        if not report["agree"]:
            notes.append(
                f"{self.label}: the {len(good)} starts reached different optima (log-density "
                f"range {report['log_density_range']:.3g}, parameter spread "
                f"{report['spread']:.3g}): several modes, or a flat direction; the highest is "
                "reported"
            )
        failed = n_starts - report["converged_starts"]
        if failed and best.converged:
            notes.append(f"{self.label}: {failed} of {n_starts} starts did not converge")
        return ModeSearch(best, runs, report, notes)

    def _spread(self, modes):
        """Agreement of several maxima: log-density range, largest parameter difference."""
        dens = np.array([m.log_density for m in modes])
        names = [n for n in self._names if not n.endswith("__")]
        flat = np.array(
            [np.concatenate([np.ravel(m.values[n]) for n in names]) for m in modes], dtype=float
        )
        ref = np.abs(flat).max(axis=0)
        spread = float(np.max((flat.max(axis=0) - flat.min(axis=0)) / (1.0 + ref)))
        ld_range = float(np.ptp(dens))
        agree = bool(ld_range <= 1e-6 * (1.0 + np.abs(dens).max()) and spread <= 1e-3)
        return {"log_density_range": ld_range, "spread": spread, "agree": agree}

    def _unbounded(self, x):
        """Does the log-density keep rising towards the edge reached at ``x``? It is compared
        at two depths short of the edge, the edge coordinates set to +-(EDGE - 10) and
        +-(EDGE - 5) and the others kept as at ``x`` (in a funnel they have already closed in,
        theta_j = mu, as tau shrinks; deeper, rounding of theta_j - mu swamps the density)."""
        edge = self.at_edge(x)
        near, deep = np.asarray(x, dtype=float).copy(), np.asarray(x, dtype=float).copy()
        near[edge] = (EDGE - 2 * UNBOUNDED_STEP) * np.sign(near[edge])
        deep[edge] = (EDGE - UNBOUNDED_STEP) * np.sign(deep[edge])
        rise = self.log_density_at(deep) - self.log_density_at(near)
        return bool(rise > UNBOUNDED_RISE or rise == np.inf)

    def log_density_at(self, x):
        """The maximised log-density at the unconstrained vector ``x``."""
        return -float(self._loss_and_grad(np.asarray(x, dtype=float))[0])

    def _is_maximum(self, x, value):
        """False when a small step along a coordinate (or two random directions) goes uphill:
        the optimiser stopped at a saddle or a minimum (a start at a symmetric point)."""
        x = np.asarray(x, dtype=float)
        h = 1e-3 * (1.0 + np.abs(x))
        dirs = np.vstack([np.eye(x.size), np.random.default_rng(0).normal(size=(2, x.size))])
        for step in (dirs * h, -dirs * h):
            for delta in step:
                if self.log_density_at(x + delta) > value + 1e-9 * (1.0 + abs(value)):
                    return False
        return True

    def _edge_names(self, x):
        return sorted({self._coordinate_name(i) for i in np.flatnonzero(self.at_edge(x))})

    def at_edge(self, x):
        """Mask of coordinates of bounded variables that ran to an edge of their support."""
        return self.bounded & (np.abs(np.asarray(x)) > EDGE)

    def hessian(self, x, step=1e-5):
        """Hessian of the maximised log-density at ``x`` by central differences of the gradient,
        (n, n), on the unconstrained scale."""
        x = np.asarray(x, dtype=float)
        n = x.size
        hess = np.empty((n, n))
        for i in range(n):
            h = step * (1.0 + abs(x[i]))
            up, down = x.copy(), x.copy()
            up[i] += h
            down[i] -= h
            hess[:, i] = -(self._loss_and_grad(up)[1] - self._loss_and_grad(down)[1]) / (2 * h)
        return 0.5 * (hess + hess.T)

    def _coordinate_name(self, index):
        for value_name, shape, size, _ in self._x0.point_map_info:
            name = self._rv_names[value_name]
            if index < size:
                return name if shape == () else f"{name}{list(np.unravel_index(index, shape))}"
            index -= size
        return "?"
