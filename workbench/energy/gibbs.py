"""Block-Gibbs sweeps of an RBM's tempered distributions, in NumPy: the one sampler kernel
behind :meth:`workbench.energy.RBM.sample` and annealed importance sampling.

The tempered model p_beta scales W and the hidden bias by beta and blends the visible bias
from a base value to the model's: ``(1 - beta) a_base + beta a`` (beta = 1 is the model). A
sweep draws h ~ p_beta(h | v), then v' ~ p_beta(v | h). Uniform (Bernoulli layer) or standard
normal (Gaussian layer) noise comes from the NumPy generator, hidden layer first, so a seed fixes
everything. These loops run thousands of small steps, where NumPy's per-call cost is a fraction
of a compiled PyTensor function's (docs/benchmarks.md, "Energy-based models").

>>> V, H = sweep(rbm, V, 1.0, np.zeros(rbm.n_visible), rng)              # one model sweep
>>> log_r = log_ratio(rbm, V, hidden_field(rbm, V), 0.5, 0.4, a_base)    # log p*_0.5 / p*_0.4
"""

import numpy as np
from scipy.special import expit

__all__ = ["draw", "hidden_field", "log_marginal_unit", "log_ratio", "sweep"]

_LOG_2PI = np.log(2.0 * np.pi)


def log_marginal_unit(kind, field, scale):
    """log of the sum/integral over one unit x of exp(x * field [- x^2 / (2 scale^2)]),
    elementwise: softplus for a Bernoulli unit, a Gaussian integral for a Gaussian one."""
    if kind == "bernoulli":
        return np.logaddexp(0.0, field)
    return 0.5 * scale**2 * field**2 + 0.5 * (_LOG_2PI + 2.0 * np.log(scale))


def draw(kind, field, scale, rng):
    """A draw of a layer of ``kind`` given its total input ``field`` (N, n): Bernoulli with
    p = sigmoid(field), or normal with mean scale^2 field and standard deviation scale."""
    if kind == "bernoulli":
        return (rng.random(field.shape) < expit(field)).astype(float)
    return scale**2 * field + scale * rng.standard_normal(field.shape)


def hidden_field(rbm, V):
    """v W + b per row: (N, n_visible) -> (N, n_hidden)."""
    return V @ rbm.W + rbm.hidden_bias


def sweep(rbm, V, beta, a_base, rng, field=None):
    """One sweep v -> h -> v' of p_beta from the rows of ``V`` (N, n_visible): returns
    (V', H) of shapes (N, n_visible), (N, n_hidden). ``field``: ``hidden_field(rbm, V)`` if
    already computed."""
    field = hidden_field(rbm, V) if field is None else field
    H = draw(rbm.hidden, beta * field, rbm.hidden_sigma, rng)
    visible_field = beta * (H @ rbm.W.T) + (1.0 - beta) * a_base + beta * rbm.visible_bias
    return draw(rbm.visible, visible_field, rbm.sigma, rng), H


def log_ratio(rbm, V, field, beta, beta_prev, a_base):
    """log p*_beta(v) - log p*_beta_prev(v) per row, the unnormalised marginals of v (hidden
    layer summed out); ``field`` is ``hidden_field(rbm, V)``. A Gaussian visible layer's
    self-energy does not depend on beta and cancels."""
    marginal = log_marginal_unit(rbm.hidden, beta * field, rbm.hidden_sigma).sum(axis=1)
    previous = log_marginal_unit(rbm.hidden, beta_prev * field, rbm.hidden_sigma).sum(axis=1)
    return (beta - beta_prev) * (V @ (rbm.visible_bias - a_base)) + marginal - previous
