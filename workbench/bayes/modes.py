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
from pymc.blocking import DictToArrayBijection, RaveledVars
from pymc.tuning.scipy_interface import scipy_optimize_funcs_from_loss
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

__all__ = ["EDGE", "ModeFinder", "Mode", "likelihood_terms"]

# A free coordinate beyond this on the unconstrained scale sits at the edge of its support
# (exp(30) ~ 1e13, sigmoid(-30) ~ 1e-13): the supremum is not attained.
EDGE = 30.0


def likelihood_terms(model):
    """The likelihood of a model: its observed variables and its Potentials.

    Potentials count as likelihood terms (an RBM log-likelihood enters a model that way);
    prior information belongs in random variables.
    """
    return list(model.observed_RVs) + list(model.potentials)


class Mode(NamedTuple):
    """A maximiser: constrained ``values`` by variable name, the unconstrained vector ``x``,
    the maximised log-density, the optimiser result, and warnings in plain words."""

    values: dict
    x: np.ndarray
    log_density: float
    result: object
    warnings: list


class ModeFinder:
    """Compile once, then maximise ``model.logp(vars=terms, jacobian=False)``.

    ``terms=None`` maximises the whole posterior (MAP); ``terms=likelihood_terms(model)`` drops
    the priors (ML). Data held in ``pm.Data`` can change between calls.
    """

    def __init__(self, model, terms=None, label="MAP"):
        self.model, self.label = model, label
        self.value_vars = list(model.value_vars)
        self.start = model.initial_point()
        loss = -model.logp(vars=terms, jacobian=False)
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
            names = sorted({self._coordinate_name(i) for i in np.flatnonzero(at_edge)})
            notes.append(
                f"{self.label}: {', '.join(names)} ran to the edge of the support; the maximum is "
                "not attained inside it (reported value is the boundary approached)"
            )
        values = self.values_at(result.x)
        return Mode(values, np.asarray(result.x), -float(result.fun), result, notes)

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
        for name, shape, size, _ in self._x0.point_map_info:
            if index < size:
                return name if shape == () else f"{name}{list(np.unravel_index(index, shape))}"
            index -= size
        return "?"
