"""Kernels of a deep Boltzmann machine: conditionals, mean field, Gibbs sweeps, exact sums, AIS.

Layers are numbered bottom-up, 0 the visible one; ``W[j]`` (n_l, n_{l+1}) couples layers j and
j + 1 and ``b[j]`` is the bias of layer j. The energy of a joint state s = (s_0, ..., s_L) is::

    E(s) = -sum_l s_l . b_l - sum_l s_l W_l s_{l+1}

Given the odd layers, the even ones are independent (and the other way round), so a sum over
all states of one parity is a product of one-unit sums: ``log_sum`` below. Exact log Z
enumerates the cheaper parity (for two hidden layers: h1, 2^(n_1) states, whatever the sizes
of v and h2) and sums the other analytically; AIS moves the odd layers only, with the even ones
summed out (Salakhutdinov & Hinton 2009). Functions take lists of tensors (the parameters
``W``, ``b``) and return tensors in their dtype.
"""

import math

import numpy as np
import torch
from torch.nn.functional import softplus

from workbench.energy.states import (
    MAX_STATES,
    LogPartition,
    check_enumerable,
    log_mean_exp,
    state_chunks,
)

__all__ = [
    "ais_log_partition",
    "energy",
    "enumeration_plan",
    "exact_log_partition",
    "field",
    "gibbs_sweep",
    "log_sum",
    "lower_bound",
    "mean_field",
    "path",
    "unnormalised_log_prob",
]


def field(states, W, b, layer):
    """Total input b_l + s_{l-1} W_{l-1} + s_{l+1} W_l^T of ``layer`` from its neighbours in
    ``states`` (tensors broadcasting against each other; None entries are skipped)."""
    total = b[layer]
    if layer > 0 and states[layer - 1] is not None:
        total = total + states[layer - 1] @ W[layer - 1]
    if layer < len(b) - 1 and states[layer + 1] is not None:
        total = total + states[layer + 1] @ W[layer].T
    return total


def energy(states, W, b):
    """E(s) per joint state, for full ``states`` [(N, n_0), ..., (N, n_L)]: (N,)."""
    value = -sum((s * bias).sum(-1) for s, bias in zip(states, b, strict=True))
    for j, weights in enumerate(W):
        value = value - ((states[j] @ weights) * states[j + 1]).sum(-1)
    return value


def log_sum(states, W, b, summed):
    """log of the sum of exp(-E) over the layers in ``summed`` (one parity, so independent
    given the others), the other layers fixed at ``states`` (broadcasting tensors; entries of
    summed layers are ignored). Shape: the broadcast batch."""
    states = [None if j in summed else s for j, s in enumerate(states)]
    value = 0.0
    for j, s in enumerate(states):
        if s is None:
            value = value + softplus(field(states, W, b, j)).sum(-1)
            continue
        value = value + (s * b[j]).sum(-1)
        if j + 1 < len(states) and states[j + 1] is not None:
            value = value + ((s @ W[j]) * states[j + 1]).sum(-1)
    return value


def enumeration_plan(units, clamp_visible):
    """(enumerated, summed) layer tuples of the cheaper exact sum: the odd layers, or the even
    ones (without the visible layer when it is clamped), with their 2^n cost the smaller."""
    layers = range(1 if clamp_visible else 0, len(units))
    odd = tuple(j for j in layers if j % 2 == 1)
    even = tuple(j for j in layers if j % 2 == 0)
    cost = lambda group: sum(units[j] for j in group)  # noqa: E731
    return (odd, even) if cost(odd) <= cost(even) else (even, odd)


def _enumerated_log_sum(W, b, V, max_states):
    """log sum over every joint state (``V`` None) or over the hidden states with the visible
    layer clamped to the rows of ``V`` (N, n_0): a 0-d tensor, or (N,)."""
    units = [len(bias) for bias in b]
    enumerated, summed = enumeration_plan(units, V is not None)
    n = sum(units[j] for j in enumerated)
    check_enumerable(n, max_states, "the enumerated layers " + str(list(enumerated)))
    rows = 1 if V is None else V.shape[0]
    total = None
    for chunk in state_chunks(n, width=rows * max(units)):
        S = torch.from_numpy(chunk).to(b[0])  # (chunk, n)
        states = [None] * len(units)
        for j, part in zip(enumerated, S.split([units[j] for j in enumerated], 1), strict=True):
            states[j] = part if V is None else part[None]  # (chunk, n_l) or (1, chunk, n_l)
        if V is not None:
            states[0] = V[:, None, :]  # (N, 1, n_0)
        value = torch.logsumexp(log_sum(states, W, b, summed), dim=-1)
        total = value if total is None else torch.logaddexp(total, value)
    return total


def exact_log_partition(W, b, *, max_states=MAX_STATES):
    """Exact log Z by enumerating the cheaper parity (see :func:`enumeration_plan`)."""
    return LogPartition(float(_enumerated_log_sum(W, b, None, max_states)), 0.0, "exact")


def unnormalised_log_prob(W, b, V, *, max_states=MAX_STATES):
    """log p*(v) = log sum_h exp(-E(v, h)) per row of ``V`` (N, n_0), exactly: (N,)."""
    return _enumerated_log_sum(W, b, V, max_states)


def mean_field(V, W, b, n_steps):
    """Fully factorised q(h | v) maximising the variational bound: [mu_1, ..., mu_L].

    Start: one bottom-up pass with the weights of every layer but the top doubled (each unit
    then hears its missing top-down input as a copy of the bottom-up one); then ``n_steps``
    rounds of the fixed-point updates mu_l = sigmoid(field_l), odd layers first. Each layer's
    update is the exact optimum given its neighbours, so the bound never decreases."""
    L = len(W)
    mu = [V]
    for j in range(1, L + 1):
        scale = 2.0 if j < L else 1.0
        mu.append(torch.sigmoid(b[j] + scale * (mu[j - 1] @ W[j - 1])))
    for _ in range(n_steps):
        for parity in (1, 0):
            for j in range(1, L + 1):
                if j % 2 == parity:
                    mu[j] = torch.sigmoid(field(mu, W, b, j))
    return mu[1:]


def lower_bound(V, mu, W, b):
    """sum_l mu_l.b_l + sum_l mu_l W_l mu_{l+1} + H(q) per row (the bound on log p*(v); subtract
    log Z for the bound on log p(v)), with ``mu`` from :func:`mean_field`: (N,)."""
    states = [V, *mu]
    value = -energy(states, W, b)
    for m in mu:
        m = m.clamp(1e-12, 1 - 1e-12)
        value = value - (m * m.log() + (1 - m) * (1 - m).log()).sum(-1)
    return value


def _bernoulli(p, generator):
    noise = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
    return (noise < p).to(p.dtype)


def gibbs_sweep(states, W, b, generator, first=1):
    """One block-Gibbs sweep in place of the full list ``states``: the layers of parity
    ``first`` given the others, then the others. Returns the probabilities of the layers of
    parity ``first`` given the final states of the others (dict layer -> tensor)."""
    L = len(b) - 1
    for parity in (first, 1 - first):
        for j in range(parity, L + 1, 2):
            states[j] = _bernoulli(torch.sigmoid(field(states, W, b, j)), generator)
    return {j: torch.sigmoid(field(states, W, b, j)) for j in range(first, L + 1, 2)}


def path(W, b, base, beta):
    """Parameters of the AIS distribution at ``beta``, exp(-beta E(s) + (1 - beta) a0.v):
    couplings and biases times beta, the visible bias blended with ``base`` (a0)."""
    return [beta * w for w in W], [beta * b[0] + (1.0 - beta) * base, *(beta * x for x in b[1:])]


def ais_log_partition(W, b, base, *, n_runs, n_betas, generator):
    """log Z by AIS from the model with visible bias ``base`` (a0) and no couplings or hidden
    biases (log Z_0 = sum softplus(a0) + (hidden units) log 2) to the DBM, through ``n_betas``
    inverse temperatures evenly spaced from 0 to 1 (:func:`path`); the state is the odd layers,
    the even ones summed out at every step. Returns a LogPartition with the delta-method
    standard error of :func:`workbench.energy.states.log_mean_exp`."""
    units = [len(bias) for bias in b]
    even = tuple(range(0, len(units), 2))
    log_z0 = float(softplus(base).sum()) + sum(units[1:]) * math.log(2.0)
    states = [torch.zeros((n_runs, n), dtype=b[0].dtype, device=b[0].device) for n in units]
    for j in range(1, len(units), 2):  # beta = 0: the odd layers are uniform
        states[j] = _bernoulli(torch.full_like(states[j], 0.5), generator)
    betas = np.linspace(0.0, 1.0, n_betas)
    log_w = torch.zeros(n_runs, dtype=b[0].dtype, device=b[0].device)
    for beta_prev, beta in zip(betas[:-1], betas[1:], strict=True):
        # weight with p*_beta(odd) / p*_beta_prev(odd), then a sweep that leaves p_beta invariant
        log_w += log_sum(states, *path(W, b, base, beta), even)
        log_w -= log_sum(states, *path(W, b, base, beta_prev), even)
        gibbs_sweep(states, *path(W, b, base, beta), generator, first=0)
    log_w = log_w.double().cpu().numpy()
    value, se = log_mean_exp(log_w)
    return LogPartition(log_z0 + value, se, "ais", n_runs, n_betas, log_w)
