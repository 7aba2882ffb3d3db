"""Inference with a fitted Torch RBM (:class:`workbench.nn.rbm.RBM`): mean-field passes, the
free energy, Gibbs sampling (free, from random starts, with clamped entries) and the
pseudo-log-likelihood.

Functions of the estimator ``est`` (its parameters in ``est._state``); ``X`` / ``v`` / ``h``
are float32 tensors on its device, already checked (:func:`workbench.nn.rbm.training.check_X`),
except in :func:`gibbs`, :func:`sample` and :func:`inpaint`, which take arrays and check them.
The estimator's methods of the same names call these in one line each::

    sampling.gibbs(rbm, V, 100, burn_in=10, random_state=0)   # rbm.gibbs(V, 100, ...)
"""

import numpy as np
import torch

from workbench.errors import check_count, check_memory
from workbench.nn.rbm import training
from workbench.nn.runtime import numpy_rng, resolve_seed, torch_generator

__all__ = [
    "free_energy",
    "gibbs",
    "hidden_probs",
    "inpaint",
    "pseudo_log_likelihood",
    "reconstruct",
    "sample",
    "visible_mean",
]


def hidden_probs(est, v, beta=1.0):
    """E[h | v]: p(h_j = 1 | v), or b + v W for Gaussian hidden units: (N, n_visible) ->
    (N, n_hidden)."""
    W, _, b = est._params
    return training.hidden_mean(v, W, b, est.hidden, beta)


def visible_mean(est, h):
    """E[v | h]: (N, n_hidden) -> (N, n_visible)."""
    W, a, _ = est._params
    return training.visible_mean(h, W, a, est.visible, est.sigma)


def reconstruct(est, X):
    """Mean-field reconstruction E[v | p(h | v)]: (N, n_visible) -> (N, n_visible)."""
    return visible_mean(est, hidden_probs(est, X))


def free_energy(est, v, params=None):
    """F(v) per row, (N, n_visible) -> (N,), in the dtype of ``params`` (W, a, b; default the
    estimator's float32 ones)."""
    W, a, b = params or est._params
    v = v.to(W.dtype)
    return training.chain_free_energy(v, v @ W + b, a, est)  # est: hidden, visible, sigma


@torch.no_grad()
def pseudo_log_likelihood(est, X, generator):
    """n_visible * log sigmoid(F(v~) - F(v)) per row (N,), float64, with v~ the row with one unit
    drawn by ``generator`` flipped (Bernoulli visible units)."""
    flip = torch.randint(0, X.shape[1], (X.shape[0],), generator=generator, device=X.device)
    flipped = X.clone()
    rows = torch.arange(X.shape[0], device=X.device)
    flipped[rows, flip] = 1.0 - flipped[rows, flip]
    params = tuple(p.double() for p in est._params)
    gap = free_energy(est, flipped, params) - free_energy(est, X, params)
    return X.shape[1] * torch.nn.functional.logsigmoid(gap)


def _generator(est, random_state):
    seed = resolve_seed(random_state, "random_state")  # None: fresh entropy
    return torch_generator(seed, "gibbs", device=est._state["W"].device)


@torch.no_grad()
def gibbs(est, V, n_steps, *, clamp=None, burn_in=0, random_state=None):
    """Mean of E[v | h] over the Gibbs sweeps after ``burn_in`` of ``n_steps`` sweeps from the
    rows of ``V``, entries where ``clamp`` is True kept at their value: ndarray ``V.shape``."""
    if not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps: expected an integer >= 1, got {n_steps!r}")
    if not 0 <= burn_in < n_steps:
        raise ValueError(f"burn_in: expected 0 <= burn_in < n_steps={n_steps}, got {burn_in}")
    V = training.check_X(est, V, reset=False, name="V")
    mask = None
    if clamp is not None:
        clamp = np.asarray(clamp, dtype=bool)
        if clamp.shape != tuple(V.shape):
            raise ValueError(f"clamp: expected shape {tuple(V.shape)}, got {clamp.shape}")
        mask = torch.from_numpy(clamp).to(V.device)
    generator = _generator(est, random_state)
    W, a, _ = est._params
    v, total = V.clone(), torch.zeros_like(V)
    for step in range(n_steps):
        h = training.sample_hidden(hidden_probs(est, v), est.hidden, generator)
        mean = visible_mean(est, h)
        v = training.sample_visible(h, W, a, est.visible, est.sigma, generator)
        if mask is not None:
            v, mean = torch.where(mask, V, v), torch.where(mask, V, mean)
        if step >= burn_in:
            total += mean
    return (total / (n_steps - burn_in)).cpu().numpy()


def sample(est, n_samples, *, n_steps, random_state):
    """Visible means after ``n_steps`` Gibbs sweeps from ``n_samples`` random starts (uniform
    bits, or N(0, sigma^2) for Gaussian units): (n_samples, n_visible)."""
    n_samples, n_steps = check_count("n_samples", n_samples, 1), check_count("n_steps", n_steps, 1)
    units = sum(est._state["W"].shape)  # v, h, their means and draws: about 6 float32 copies
    check_memory("n_samples", 6 * 4 * n_samples * units, f"{n_samples:,} chains of {units} units")
    generator = _generator(est, random_state)
    shape, dev = (n_samples, est.n_features_in_), est._state["W"].device
    if est.visible == "bernoulli":
        start = (torch.rand(shape, generator=generator, device=dev) < 0.5).float()
    else:
        start = est.sigma * torch.randn(shape, generator=generator, device=dev)
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator, device=dev))
    return gibbs(est, start.cpu().numpy(), n_steps, burn_in=n_steps - 1, random_state=seed)


def inpaint(est, X, observed, *, n_steps, burn_in, random_state):
    """Posterior means of every entry of ``X`` by Gibbs sampling with the entries where
    ``observed`` is True clamped (the others start at random bits, or 0 for Gaussian units)."""
    observed = np.asarray(observed, dtype=bool)
    X = np.asarray(X, dtype=np.float32)
    if observed.shape != X.shape:
        raise ValueError(f"observed: expected shape {X.shape}, got {observed.shape}")
    random_state = resolve_seed(random_state, "random_state")  # one seed for both steps
    rng = numpy_rng(random_state, "inpaint")
    guess = rng.random(X.shape) < 0.5 if est.visible == "bernoulli" else np.zeros(X.shape)
    start = np.where(observed, X, guess)
    return gibbs(est, start.astype(np.float32), n_steps, clamp=observed, burn_in=burn_in,
                 random_state=random_state)  # fmt: skip
