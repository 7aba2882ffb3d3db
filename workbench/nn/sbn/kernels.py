"""Kernels of the sigmoid belief net: sampling passes, log-probabilities, wake-sleep updates and
the exact and importance-sampled log-likelihood.

Layers are indexed bottom-up: layer 0 is the visible vector v, layer L the top. The state is a
dict of lists of tensors (bottom-up as well)::

    gen_W[i]  (n_{i+1}, n_i)   generative weights, layer i+1 -> layer i
    gen_b[i]  (n_i,)           generative biases, i = 0 .. L (gen_b[L]: the top prior's logits)
    rec_W[i]  (n_i, n_{i+1})   recognition weights, layer i -> layer i+1
    rec_b[i]  (n_{i+1},)       recognition biases

so p(h_L = 1) = sigmoid(gen_b[L]), p(h_i = 1 | h_{i+1}) = sigmoid(gen_b[i] + h_{i+1} gen_W[i])
and q(h_{i+1} = 1 | h_i) = sigmoid(rec_b[i] + h_i rec_W[i]). Every gradient is written in closed
form: for a layer of sigmoid units with input x, output y and logits b + x W, the gradient of
sum_n w_n log p(y_n | x_n) is x^T ((y - sigmoid(b + x W)) * w) for W and the column sums for b.

Functions take an explicit ``torch.Generator``; nothing reads a global random state.
"""

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from workbench.energy.states import CHUNK_ELEMENTS, binary_states, check_enumerable, state_chunks

__all__ = [
    "METHODS",
    "MAX_EXACT_STATES",
    "Settings",
    "down",
    "exact_log_likelihood",
    "exact_states",
    "importance_log_weights",
    "init_state",
    "log_joint",
    "log_recognition",
    "recognition_gradients",
    "sigmoid_layer_gradient",
    "sizes_of",
    "up",
    "update",
]

METHODS = ("wake-sleep", "reweighted")
MAX_EXACT_STATES = 2**20  # the default limit of exact enumeration


class Settings(NamedTuple):
    """What an update reads (see :class:`workbench.nn.sbn.SigmoidBeliefNet`)."""

    method: str
    n_importance: int

    @classmethod
    def of(cls, estimator):
        return cls(estimator.method, int(estimator.n_importance))


def sizes_of(state):
    """Units per layer, bottom-up: [n_visible, n_1, ..., n_L]."""
    return [int(b.shape[0]) for b in state["gen_b"]]


def init_state(sizes, X, generator, init_scale):
    """Fresh parameters for layer sizes [n_visible, n_1, ..., n_L]: weights N(0, init_scale^2),
    the visible biases at the logits of the data's marginals (clipped to [0.01, 0.99]), other
    biases 0."""
    dev = X.device

    def normal(*shape):
        return torch.randn(*shape, generator=generator, device=dev) * init_scale

    mean = X.mean(0).clamp(0.01, 0.99)
    gen_b = [torch.log(mean / (1 - mean))] + [torch.zeros(n, device=dev) for n in sizes[1:]]
    return {
        "gen_W": [normal(sizes[i + 1], sizes[i]) for i in range(len(sizes) - 1)],
        "gen_b": gen_b,
        "rec_W": [normal(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)],
        "rec_b": [torch.zeros(n, device=dev) for n in sizes[1:]],
    }


def _bernoulli(logits, generator):
    return (torch.rand(logits.shape, generator=generator, device=logits.device)
            < torch.sigmoid(logits)).to(logits.dtype)  # fmt: skip


def _log_bernoulli(x, logits):
    """sum over units of log Bernoulli(x | sigmoid(logits)), stably: (..., n) -> (...)."""
    return (x * logits - F.softplus(logits)).sum(-1)


def _up(state, v, generator):
    """(samples [v, h_1, ..., h_L], their recognition logits [z_1, ..., z_L])."""
    layers, logits = [v], []
    for W, b in zip(state["rec_W"], state["rec_b"], strict=True):
        logits.append(b + layers[-1] @ W)
        layers.append(_bernoulli(logits[-1], generator))
    return layers, logits


def up(state, v, generator):
    """Samples of the recognition net from the rows ``v`` (N, n_0): [v, h_1, ..., h_L]."""
    return _up(state, v, generator)[0]


def down(state, n, generator):
    """``n`` ancestral samples of the generative net: [v, h_1, ..., h_L], each (n, n_i)."""
    top = state["gen_b"][-1]
    layers = [_bernoulli(top.expand(n, -1), generator)]
    for W, b in zip(reversed(state["gen_W"]), reversed(state["gen_b"][:-1]), strict=True):
        layers.append(_bernoulli(b + layers[-1] @ W, generator))
    return layers[::-1]


def log_joint(state, layers):
    """log p(v, h_1, ..., h_L) per row of the samples ``layers`` (bottom-up): (N,)."""
    total = _log_bernoulli(layers[-1], state["gen_b"][-1])
    for i, W in enumerate(state["gen_W"]):
        total = total + _log_bernoulli(layers[i], state["gen_b"][i] + layers[i + 1] @ W)
    return total


def log_recognition(state, layers):
    """log q(h_1, ..., h_L | v) per row of the samples ``layers`` (bottom-up): (N,)."""
    total = 0.0
    for i, (W, b) in enumerate(zip(state["rec_W"], state["rec_b"], strict=True)):
        total = total + _log_bernoulli(layers[i + 1], b + layers[i] @ W)
    return total


def sigmoid_layer_gradient(x, y, W, b, weights):
    """Gradient of sum_n weights_n log p(y_n | x_n) for p(y = 1 | x) = sigmoid(b + x W):
    (x^T ((y - sigmoid(b + x W)) * weights), column sums) for x (N, a), y (N, c), weights (N,)."""
    return _delta(x, y, b + x @ W, weights)


def _delta(x, y, logits, weights):
    error = (y - torch.sigmoid(logits)) * weights[:, None]
    return x.T @ error, error.sum(0)


def recognition_gradients(state, layers, weights):
    """Gradients of sum_n weights_n log q(h_n | v_n) for the samples ``layers``: (dW list,
    db list), shaped as ``rec_W`` and ``rec_b`` (sleep phase: ``layers`` are dreams of the
    generative net; reweighted wake phase: samples of the recognition net)."""
    dW, db = [], []
    for i, (W, b) in enumerate(zip(state["rec_W"], state["rec_b"], strict=True)):
        gW, gb = sigmoid_layer_gradient(layers[i], layers[i + 1], W, b, weights)
        dW.append(gW)
        db.append(gb)
    return dW, db


def _apply(params, grads, lr):
    for p, g in zip(params, grads, strict=True):
        p.add_(g, alpha=lr)


@torch.no_grad()
def update(state, v, settings, lr, generator):
    """One wake-sleep step on the rows ``v`` (B, n_0), in place; returns the summed negative
    K-sample bound -sum_n log mean_k w_nk (K = 1 for wake-sleep), w = p(v, h) / q(h | v).

    Wake-sleep: one recognition sample per row; the generative net ascends log p(v, h) (wake),
    the recognition net log q(h | v) on B dreams (h, v) of the generative net (sleep). Reweighted
    (Bornschein & Bengio 2015): K recognition samples per row with self-normalised weights
    softmax_k(log w_nk); the generative net ascends sum_k weight_k log p(v, h_k), the
    recognition net the mean of that weighted wake gradient of log q and the sleep gradient.
    Both phases read the parameters as they were before the step; gradients are means over
    rows."""
    B = v.shape[0]
    K = settings.n_importance if settings.method == "reweighted" else 1
    rows = v.repeat_interleave(K, dim=0) if K > 1 else v  # (B K, n_0)
    layers, rec_logits = _up(state, rows, generator)  # logits computed once, used twice
    gen_logits = [
        b + layers[i + 1] @ W
        for i, (W, b) in enumerate(zip(state["gen_W"], state["gen_b"], strict=False))
    ]
    gen_logits.append(state["gen_b"][-1])
    log_w = sum(_log_bernoulli(layers[i], z) for i, z in enumerate(gen_logits)) - sum(
        _log_bernoulli(layers[i + 1], z) for i, z in enumerate(rec_logits)
    )
    log_w = log_w.view(B, K)
    weights = torch.softmax(log_w, dim=1).reshape(-1) / B  # (B K,); 1 / B for K = 1
    gen = [_delta(layers[i + 1], layers[i], z, weights) for i, z in enumerate(gen_logits[:-1])]
    top = ((layers[-1] - torch.sigmoid(gen_logits[-1])) * weights[:, None]).sum(0)
    gen = ([g[0] for g in gen], [g[1] for g in gen] + [top])
    dreams = down(state, B, generator)
    sleep = recognition_gradients(state, dreams, torch.full((B,), 1.0 / B, device=v.device))
    if settings.method == "reweighted":
        wake = [_delta(layers[i], layers[i + 1], z, weights) for i, z in enumerate(rec_logits)]
        sleep = ([(a + w[0]) / 2 for a, w in zip(sleep[0], wake, strict=True)],
                 [(a + w[1]) / 2 for a, w in zip(sleep[1], wake, strict=True)])  # fmt: skip
    _apply(state["gen_W"], gen[0], lr)
    _apply(state["gen_b"], gen[1], lr)
    _apply(state["rec_W"], sleep[0], lr)
    _apply(state["rec_b"], sleep[1], lr)
    return -(torch.logsumexp(log_w, dim=1) - math.log(K)).sum()


# ---------------------------------------------------------------------- evaluation
def _double(state):
    return {k: [t.detach().double().cpu() for t in v] for k, v in state.items()}


def exact_states(sizes):
    """The largest table the exact sum builds: 2^n_1 (visible part) or 2^(n_i + n_{i+1}) for
    neighbouring hidden layers i, i+1 (the chain is summed out layer by layer from the top)."""
    pairs = [sizes[i] + sizes[i + 1] for i in range(1, len(sizes) - 1)]
    return max([sizes[1], *pairs])


def _check_exact(sizes, max_states):
    instead = "method='importance' (the recognition net as proposal)"
    check_enumerable(exact_states(sizes), max_states, f"the hidden layers {sizes[1:]}",
                     alternative=instead)  # fmt: skip


@torch.no_grad()
def exact_log_likelihood(state, X, max_states=MAX_EXACT_STATES):
    """log p(v) per row of ``X`` (N, n_0), exactly, in float64: ndarray (N,).

    The hidden layers are summed out from the top down, log p(h_i) = logsumexp over h_{i+1} of
    log p(h_{i+1}) + log p(h_i | h_{i+1}), then log p(v) = logsumexp over h_1 of
    log p(h_1) + log p(v | h_1): the cost is the sum, not the product, of the tables of 2^n_1
    and 2^(n_i + n_{i+1}) states (refused beyond ``max_states``)."""
    sizes = sizes_of(state)
    _check_exact(sizes, max_states)
    s = _double(state)
    top = torch.from_numpy(binary_states(sizes[-1]))
    log_prior = _log_bernoulli(top, s["gen_b"][-1])  # (2^n_L,)
    for i in range(len(sizes) - 2, 0, -1):  # log p(h_i) from log p(h_{i+1})
        above, below = top, torch.from_numpy(binary_states(sizes[i]))
        logits = s["gen_b"][i] + above @ s["gen_W"][i]  # (2^n_{i+1}, n_i)
        table = below @ logits.T - F.softplus(logits).sum(1)  # (2^n_i, 2^n_{i+1})
        log_prior = torch.logsumexp(table + log_prior, dim=1)
        top = below
    X = torch.as_tensor(X).double().cpu()
    parts, start = [], 0
    for H in state_chunks(sizes[1], width=X.shape[0] + sizes[0]):
        H = torch.from_numpy(H)
        logits = s["gen_b"][0] + H @ s["gen_W"][0]  # (rows, n_0)
        table = X @ logits.T - F.softplus(logits).sum(1)  # (N, rows)
        parts.append(torch.logsumexp(table + log_prior[start : start + len(H)], dim=1))
        start += len(H)
    return torch.logsumexp(torch.stack(parts, dim=1), dim=1).numpy()


@torch.no_grad()
def importance_log_weights(state, X, n_samples, generator):
    """log p(v, h_k) - log q(h_k | v) for ``n_samples`` recognition samples h_k of each row of
    ``X`` (N, n_0), in float64: ndarray (N, n_samples)."""
    s = {k: [t.detach().double() for t in v] for k, v in state.items()}
    X = X.double()
    width = sum(sizes_of(state)) * n_samples
    rows = max(1, CHUNK_ELEMENTS // width)
    out = []
    for start in range(0, X.shape[0], rows):
        v = X[start : start + rows].repeat_interleave(n_samples, dim=0)
        layers = up(s, v, generator)
        out.append((log_joint(s, layers) - log_recognition(s, layers)).view(-1, n_samples))
    return torch.cat(out).cpu().numpy().astype(np.float64)
