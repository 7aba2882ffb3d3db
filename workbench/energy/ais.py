"""Annealed importance sampling (AIS) of an RBM's log partition function, forward and reverse.

The path of distributions p_beta(v) ~ exp(-F_beta(v)), beta from 0 to 1, scales W and the
hidden bias by beta and blends the visible bias from a base value ``a0`` to the model's:
``(1 - beta) a0 + beta a``. At beta = 0 the units are independent and log Z_0 is a sum of
one-unit terms. Each step multiplies a chain's importance weight by p*_k(v) / p*_{k-1}(v) and
moves the chain by one block-Gibbs sweep that leaves p_k invariant.

- forward AIS (Neal 2001; Salakhutdinov & Murray 2008): chains start from p_0; the mean
  weight estimates Z / Z_0 without bias, so log Z-hat is *below* log Z on average;
- reverse AIS (Burda, Grosse & Salakhutdinov 2015): chains start from the model and anneal
  back to p_0; the mean weight estimates Z_0 / Z, so log Z-hat is *above* log Z on average.
"""

import numpy as np

from workbench.energy.gibbs import draw, hidden_field, log_marginal_unit, log_ratio, sweep
from workbench.energy.states import MAX_STATES, LogPartition, binary_states, log_mean_exp
from workbench.errors import InputError, check_count, check_memory

__all__ = ["annealed_log_partition", "base_log_partition"]


def base_log_partition(rbm, base_bias):
    """log Z_0 of the beta = 0 model: independent visible units with bias ``base_bias``, and
    hidden units with no bias and no coupling."""
    visible = log_marginal_unit(rbm.visible, base_bias, rbm.sigma).sum()
    hidden = log_marginal_unit(rbm.hidden, np.zeros(rbm.n_hidden), rbm.hidden_sigma).sum()
    return float(visible + hidden)


def _base_bias(rbm, data, base_bias):
    """The visible bias of the beta = 0 model: ``base_bias`` as given, else matched to the
    means of ``data`` (logits of the clipped means, or means / sigma^2), else zeros."""
    if base_bias is not None:
        if data is not None:
            raise InputError("base_bias", detail="give data or base_bias, not both")
        base = np.asarray(base_bias, dtype=float)
        if base.shape != (rbm.n_visible,) or not np.all(np.isfinite(base)):
            raise InputError(
                "base_bias", f"{rbm.n_visible} finite numbers", f"{base.shape} {base_bias!r}"
            )
        return base
    if data is None:
        return np.zeros(rbm.n_visible)
    V, _ = rbm._rows("data", data, "visible")
    mean = V.mean(axis=0)
    if rbm.visible == "bernoulli":
        p = np.clip(mean, 1e-3, 1 - 1e-3)  # keep the base model away from 0/1 pixels
        return np.log(p) - np.log1p(-p)
    return mean / rbm.sigma**2


def _model_draws(rbm, n, rng, max_states, burn_in=1000):
    """Draws of v from the model: exact when a binary layer can be enumerated within
    ``max_states`` (and 2^22 states in memory), else the ends of long Gibbs chains."""
    try:
        layer, bits = rbm._enumerated_layer(min(max_states, 2**22))
    except InputError:
        return rbm.sample(n, n_steps=burn_in, seed=rng)[0], "Gibbs"
    states = binary_states(bits)
    if layer == "visible":
        log_w = -rbm.free_energy(states)
    else:
        log_w = -rbm.hidden_free_energy(states)
    p = np.exp(log_w - np.logaddexp.reduce(log_w))
    picked = states[rng.choice(len(states), size=n, p=p / p.sum())]
    if layer == "visible":
        return picked, "exact"
    field = picked @ rbm.W.T + rbm.visible_bias
    return draw(rbm.visible, field, rbm.sigma, rng), "exact"


def annealed_log_partition(
    rbm,
    *,
    reverse=False,
    n_runs=100,
    n_betas=1000,
    seed=None,
    data=None,
    base_bias=None,
    max_states=MAX_STATES,
):
    """log Z of ``rbm`` by forward (or ``reverse``) AIS: ``n_runs`` independent runs through
    ``n_betas`` inverse temperatures spaced evenly from 0 to 1 (both ends included, so
    ``n_betas - 1`` Gibbs sweeps per run). The base model's visible bias is ``base_bias``, or
    is set from the means of ``data``, or is zero. ``max_states`` bounds the enumeration that
    gives reverse AIS exact model draws (long Gibbs chains beyond it).

    Returns a :class:`~workbench.energy.states.LogPartition` whose ``se`` is the delta-method
    standard error sd(w) / (mean(w) sqrt(n_runs)) of the log of the mean weight.
    """
    if rbm.visible == rbm.hidden == "gaussian":
        raise InputError(
            "method", detail="a Gaussian-Gaussian RBM has a closed-form log Z; use method='exact'"
        )
    n_runs = check_count("n_runs", n_runs, 2)
    n_betas = check_count("n_betas", n_betas, 2)
    units = rbm.n_visible + rbm.n_hidden  # about 6 arrays of (n_runs, units) doubles at once
    check_memory("n_runs", 6 * 8 * n_runs * units, f"{n_runs:,} AIS runs of {units} units")
    rng = np.random.default_rng(seed)
    a0 = _base_bias(rbm, data, base_bias)
    log_z0 = base_log_partition(rbm, a0)
    betas = np.linspace(0.0, 1.0, n_betas)
    if reverse:
        V, _ = _model_draws(rbm, n_runs, rng, max_states)
        pairs = zip(betas[::-1][1:], betas[::-1][:-1], strict=True)  # (beta_{k-1}, beta_k)
    else:
        V = draw(rbm.visible, np.broadcast_to(a0, (n_runs, rbm.n_visible)), rbm.sigma, rng)
        pairs = zip(betas[1:], betas[:-1], strict=True)  # (beta_k, beta_{k-1})
    log_w = np.zeros(n_runs)
    for beta, beta_prev in pairs:
        # weight with p*_beta(v) / p*_beta_prev(v), then one Gibbs sweep at beta
        field = hidden_field(rbm, V)  # (n_runs, n_hidden), shared by both
        log_w += log_ratio(rbm, V, field, beta, beta_prev, a0)
        V, _ = sweep(rbm, V, beta, a0, rng, field)
    log_mean, se = log_mean_exp(log_w)
    value = log_z0 - log_mean if reverse else log_z0 + log_mean
    return LogPartition(value, se, "reverse_ais" if reverse else "ais", n_runs, n_betas, log_w)
