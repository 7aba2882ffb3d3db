"""Gibbs conditionals of the Torch RBM: p(h | v) and p(v | h) for binary or Gaussian units,
their draws from an explicit ``torch.Generator``, and the joint energy. Functions of tensors
only; :mod:`workbench.nn.rbm.training` builds the CD, PCD and tempering kernels on them and
re-exports them.

``shard = (start, stop, rows)``: in a data-parallel run a rank draws the random numbers of all
``rows`` rows and keeps its own, so N ranks reproduce one process (see
:mod:`workbench.nn.rbm.training`).
"""

import torch

__all__ = ["bernoulli", "coupled", "hidden_mean", "hidden_probs", "joint_energy", "noise",
           "sample_hidden", "sample_visible", "visible_mean"]  # fmt: skip


def noise(draw, like, generator, shard=None, **options):
    """``draw`` (torch.rand or torch.randn) of the shape of ``like``; with ``shard = (start,
    stop, rows)`` the rows start:stop (dimension -2: data rows, or chains) of a draw for all
    ``rows`` rows, so a rank's share gets the numbers the one-process run gives those rows."""
    shape = like.shape if shard is None else (*like.shape[:-2], shard[2], like.shape[-1])
    values = draw(shape, generator=generator, device=like.device, **options)
    return values if shard is None else values[..., shard[0] : shard[1], :]


def bernoulli(p, generator, shard=None):
    """Binary draws with probabilities ``p`` (any shape), in the dtype of ``p``."""
    return (noise(torch.rand, p, generator, shard) < p).to(p.dtype)


def hidden_probs(v, W, b, beta=1.0):
    """p(h_j = 1 | v) at inverse temperature ``beta``: (..., n_visible) -> (..., n_hidden)."""
    return torch.sigmoid(beta * (v @ W + b))


def hidden_mean(v, W, b, hidden, beta=1.0):
    """E[h | v]: p(h_j = 1 | v) for binary units, b + v W for Gaussian ones, (..., n_hidden)."""
    field = beta * (v @ W + b)
    return torch.sigmoid(field) if hidden == "bernoulli" else field


def sample_hidden(mean, hidden, generator, shard=None):
    """A draw of h | v from its mean: Bernoulli, or N(mean, 1) for Gaussian units."""
    if hidden == "bernoulli":
        return bernoulli(mean, generator, shard)
    return mean + noise(torch.randn, mean, generator, shard, dtype=mean.dtype)


def visible_mean(h, W, a, visible, sigma):
    """E[v | h]: (..., n_hidden) -> (..., n_visible)."""
    field = h @ W.T + a
    return torch.sigmoid(field) if visible == "bernoulli" else sigma**2 * field


def sample_visible(h, W, a, visible, sigma, generator, shard=None):
    """A draw of v | h: Bernoulli units, or N(sigma^2 (a + W h), sigma^2) Gaussian units."""
    mean = visible_mean(h, W, a, visible, sigma)
    if visible == "bernoulli":
        return bernoulli(mean, generator, shard)
    return mean + sigma * noise(torch.randn, mean, generator, shard, dtype=mean.dtype)


def coupled(W, settings):
    """(W_up, W_down), the weights of p(h | v) and of p(v | h): both ``W``, or one of them
    doubled by ``settings.doubling`` ("visible": p(h | v) = sigmoid(b + 2 v W), as if the visible
    layer came twice; "hidden": p(v | h) = sigmoid(a + 2 W h)), the pre-training of a deep
    Boltzmann machine's bottom and top layers (Salakhutdinov & Hinton 2009)."""
    up, down = (2.0 if settings.doubling == side else 1.0 for side in ("visible", "hidden"))
    return (W if up == 1.0 else up * W), (W if down == 1.0 else down * W)


def joint_energy(v, h, W, a, b):
    """E(v, h) = -a.v - b.h - v W h per row (Bernoulli visible units): (..., n) -> (...)."""
    return -(v @ a) - (h @ b) - ((v @ W) * h).sum(-1)
