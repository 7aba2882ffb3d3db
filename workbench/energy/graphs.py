"""Symbolic PyTensor graphs of restricted Boltzmann machines, written once and compiled once.

Energy, with a Bernoulli layer on {0, 1} and a Gaussian layer on the reals::

    E(v, h) = -a.v - b.h - v W h  [+ sum_i v_i^2 / (2 sigma_i^2)]  [+ sum_j h_j^2 / (2 tau_j^2)]

(the bracketed terms only for Gaussian layers; ``sigma`` for the visible, ``tau`` for the
hidden layer). Summing or integrating one layer out unit by unit gives the free energies

    F(v) = -a.v [+ v^2/(2 sigma^2)] - sum_j L_hidden(b_j + (v W)_j)
    L_bernoulli(c) = softplus(c),  L_gaussian(c) = tau^2 c^2 / 2 + log(2 pi tau^2) / 2

and the symmetric ``hidden_free_energy(h)``. Every graph below takes the parameters as inputs
(no shapes fixed), so one compiled function serves every RBM of the same layer types.
:func:`compiled` caches them per (graph, layer types, mode).
"""

import math

import numpy as np
import pytensor
import pytensor.scalar.math as ps_math
import pytensor.tensor as pt
from pytensor.tensor.elemwise import Elemwise

from workbench.errors import InputError

__all__ = [
    "LAYERS",
    "compile_mode",
    "compiled",
    "energy",
    "free_energy",
    "hidden_free_energy",
    "log_marginal_unit",
    "logsumexp",
    "set_compile_mode",
    "small_dot",
]

LAYERS = ("bernoulli", "gaussian")
LOG_2PI = math.log(2.0 * math.pi)

# Chosen by measurement (docs/benchmarks.md, section "Energy-based models"): the Python VM
# with PyTensor's full rewrites except elementwise fusion compiles in well under a second and
# evaluates these large-array graphs as fast as NumPy, where Numba's first call of a graph
# with a matrix product costs tens of seconds and the C linker about ten.
_MODE = {"name": "py"}


def compile_mode():
    """The PyTensor mode the energy functions are compiled with."""
    if _MODE["name"] == "py":
        from pytensor.compile.mode import Mode

        return Mode(linker="py", optimizer="fast_run").excluding("fusion", "inplace")
    return _MODE["name"]


def set_compile_mode(name):
    """Compile later energy functions with ``name``: "py" (default), "NUMBA", "CVM" or
    "FAST_COMPILE". Already compiled functions stay cached under their own mode."""
    allowed = ("py", "NUMBA", "CVM", "FAST_COMPILE", "FAST_RUN")
    if name not in allowed:
        raise InputError("name", detail=f"expected one of {allowed}, got {name!r}")
    _MODE["name"] = name


def _numpy_softplus(x):
    return np.logaddexp(0.0, x)


class _NumpySoftplus(ps_math.Softplus):
    """PyTensor's softplus, evaluated by NumPy's vectorised ``logaddexp(0, x)`` under the
    Python linker (the stock op falls back to a per-element Python loop there, 10x slower)."""

    nfunc_spec = (f"{__name__}._numpy_softplus", 1, 1)


_fast_softplus = Elemwise(_NumpySoftplus(ps_math.upgrade_to_float), name="softplus")


def logsumexp(x, axis=-1):
    """log(sum(exp(x))) along ``axis``, shifted by the maximum (finite for any finite input)."""
    top = pt.max(x, axis=axis, keepdims=True)
    top = pt.switch(pt.isinf(top), 0.0, top)
    return pt.log(pt.sum(pt.exp(x - top), axis=axis)) + pt.squeeze(top, axis=axis)


def log_marginal_unit(layer, field, scale, softplus=pt.softplus):
    """log of sum/integral over one unit x of exp(x * field [- x^2 / (2 scale^2)]), summed
    over the last axis. ``field`` (..., n), ``scale`` (n,) (used by Gaussian units only)."""
    if layer == "bernoulli":
        return pt.sum(softplus(field), axis=-1)
    return pt.sum(0.5 * scale**2 * field**2 + 0.5 * (LOG_2PI + 2.0 * pt.log(scale)), axis=-1)


def _self_energy(layer, x, scale):
    """The quadratic confinement of a Gaussian layer (zero for a Bernoulli one), per row."""
    if layer == "bernoulli":
        return pt.zeros_like(x[..., 0])
    return pt.sum(x**2 / (2.0 * scale**2), axis=-1)


def energy(v, h, W, a, b, sigma, tau, visible, hidden):
    """E(v, h) per row: v (N, n_visible), h (N, n_hidden) -> (N,)."""
    interaction = pt.sum(pt.dot(v, W) * h, axis=-1)
    return (
        -pt.dot(v, a)
        - pt.dot(h, b)
        - interaction
        + _self_energy(visible, v, sigma)
        + _self_energy(hidden, h, tau)
    )


def small_dot(x, y):
    """``x @ y`` as a broadcast product and a sum. For the tiny matrices of an RBM inside a
    PyMC model this is as fast as ``dot``, and Numba compiles it in a fraction of the time
    (docs/benchmarks.md: 58 s against 400 s cold for a 4 x 2 RBM log-likelihood)."""
    if y.ndim == 1:
        return pt.sum(x * y, axis=-1)
    return pt.sum(x[:, :, None] * y[None, :, :], axis=1)


def free_energy(v, W, a, b, sigma, tau, visible, hidden, softplus=pt.softplus, dot=pt.dot):
    """F(v) = -log sum_h exp(-E(v, h)) per row: v (N, n_visible) -> (N,)."""
    field = dot(v, W) + b
    marginal = log_marginal_unit(hidden, field, tau, softplus)
    return -dot(v, a) + _self_energy(visible, v, sigma) - marginal


def hidden_free_energy(h, W, a, b, sigma, tau, visible, hidden, softplus=pt.softplus, dot=pt.dot):
    """F(h) = -log sum_v exp(-E(v, h)) per row: h (N, n_hidden) -> (N,)."""
    field = dot(h, W.T) + a
    marginal = log_marginal_unit(visible, field, sigma, softplus)
    return -dot(h, b) + _self_energy(hidden, h, tau) - marginal


def _conditional_mean(layer, field, scale):
    """E[x | other layer] for one layer given its total input ``field``."""
    return pt.sigmoid(field) if layer == "bernoulli" else scale**2 * field


def _inputs():
    v, h = pt.dmatrix("v"), pt.dmatrix("h")
    W, a, b = pt.dmatrix("W"), pt.dvector("a"), pt.dvector("b")
    sigma, tau = pt.dvector("sigma"), pt.dvector("tau")
    return v, h, W, a, b, sigma, tau


def _build(name, visible, hidden):
    """(inputs, outputs) of the graph ``name`` for these layer types."""
    v, h, W, a, b, sigma, tau = _inputs()
    params = (W, a, b, sigma, tau)
    kinds = {"visible": visible, "hidden": hidden}
    if _MODE["name"] == "py":
        kinds["softplus"] = _fast_softplus
    if name == "energy":
        return [v, h, *params], energy(v, h, *params, visible=visible, hidden=hidden)
    if name == "free_energy":
        return [v, *params], free_energy(v, *params, **kinds)
    if name == "hidden_free_energy":
        return [h, *params], hidden_free_energy(h, *params, **kinds)
    if name == "free_energy_grad":
        mean_f = pt.mean(free_energy(v, *params, **kinds))
        return [v, *params], [mean_f, *pytensor.grad(mean_f, [W, a, b])]
    if name == "hidden_given_visible":
        return [v, W, b, tau], _conditional_mean(hidden, pt.dot(v, W) + b, tau)
    if name == "visible_given_hidden":
        return [h, W, a, sigma], _conditional_mean(visible, pt.dot(h, W.T) + a, sigma)
    if name in ("enumerate_visible", "enumerate_hidden"):
        # One chunk of states of the enumerated layer: log of its share of Z, and the
        # Boltzmann-weighted means of the energy's observables (v, h, v h^T) within the chunk.
        if name == "enumerate_visible":
            states = v
            log_weight = -free_energy(v, *params, **kinds)
            other = _conditional_mean(hidden, pt.dot(v, W) + b, tau)
            mean_v_state, mean_h_state = states, other
        else:
            states = h
            log_weight = -hidden_free_energy(h, *params, **kinds)
            other = _conditional_mean(visible, pt.dot(h, W.T) + a, sigma)
            mean_v_state, mean_h_state = other, states
        lse = logsumexp(log_weight, axis=0)
        weight = pt.exp(log_weight - lse)
        moments = [
            pt.dot(weight, mean_v_state),
            pt.dot(weight, mean_h_state),
            pt.dot((mean_v_state * weight[:, None]).T, mean_h_state),
        ]
        return [states, *params], [lse, *moments]
    raise KeyError(name)


_CACHE = {}


def compiled(name, visible, hidden):
    """The compiled function ``name`` for these layer types (compiled on first use, cached)."""
    key = (name, visible, hidden, _MODE["name"])
    if key not in _CACHE:
        inputs, outputs = _build(name, visible, hidden)
        _CACHE[key] = pytensor.function(
            inputs, outputs, mode=compile_mode(), on_unused_input="ignore"
        )
    return _CACHE[key]
