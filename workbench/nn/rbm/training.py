"""Training kernels of the Torch RBM: CD-k, persistent CD-k and parallel tempering.

Every kernel is a function of tensors, the hyper-parameters (:class:`Settings`) and an explicit
``torch.Generator``; nothing reads a global random state. Gradients are written in closed form
(no autograd) and a mini-batch is a handful of matrix products (no loop over samples).

Variants, chosen by ``Settings.method`` and ``Settings.n_temperatures``:

- CD-k: Gibbs chains restarted at the data rows for every update;
- PCD-k: ``n_chains`` persistent ("fantasy") chains kept across updates;
- parallel tempering: persistent chains at the inverse temperatures 1, (K-1)/K, ..., 1/K of the
  joint energy, Metropolis swaps of neighbouring temperatures after the k sweeps (Bernoulli
  visible units). At inverse temperature beta the visible marginal is
  p_beta(v) ∝ exp(beta a.v) prod_j (1 + exp(beta (b_j + (v W)_j))).

Usage::

    settings = Settings.of(rbm)                   # the hyper-parameters the kernels read
    state = init_state(X, settings, generator)    # parameters, velocities, chains, counters
    update(state, batch, settings, lr, momentum, generator)   # one update, in place

The state is a dict of tensors updated in place (the Torch idiom: no copy of the weights per
update); everything the next update needs is in it, so saving it resumes a run exactly.

Data-parallel training: under ``torchrun --nproc-per-node N`` (a process group joined by
:func:`workbench.nn.runtime.init_distributed`; gloo on CPU, NCCL on CUDA) every rank loads the
same data, draws the same global mini-batch order from the shared generator, takes its
contiguous share of each global batch, and the sums (not means) of the CD statistics are
all-reduced and divided by the global batch size before the update, so all ranks hold identical
parameters. The Gibbs noise of a shard is its rows of the noise the whole batch would get (each
rank draws the global batch's random numbers and keeps its rows), and the persistent chains are
replicated (every rank runs all of them with the same generator). Hence the samples, statistics
and parameters equal the one-process run's up to float rounding of the split sums (relative
~1e-7 per update; a Bernoulli draw changes only when a rounding difference straddles its uniform
number, which did not happen in the tests). The PCD negative phase is not divided among ranks.
"""

import math
from typing import NamedTuple

import numpy as np
import torch

from workbench.errors import InputError, check_count, check_memory
from workbench.nn.runtime import distributed_context, resolve_device

__all__ = [
    "LAYERS",
    "METHODS",
    "SCHEDULES",
    "Settings",
    "check_X",
    "check_params",
    "bernoulli",
    "cd_negative_phase",
    "hidden_probs",
    "init_state",
    "joint_energy",
    "learning_rate_at",
    "momentum_at",
    "sample_visible",
    "swap",
    "swap_log_ratio",
    "tempered_negative_phase",
    "temperatures",
    "update",
    "visible_mean",
]

INITIAL_MOMENTUM, MOMENTUM_EPOCHS = 0.5, 5  # Hinton's guide: 0.5 at first, then the setting


class Settings(NamedTuple):
    """The hyper-parameters the kernels read (see :class:`workbench.nn.rbm.RBM`)."""

    n_hidden: int
    visible: str
    sigma: float
    method: str
    k: int
    n_chains: int | None
    n_temperatures: int
    batch_size: int
    learning_rate: float
    lr_schedule: str
    n_epochs: int
    momentum: float
    weight_decay: float
    sparsity_target: float | None
    sparsity_cost: float
    init_scale: float
    doubling: str | None

    @classmethod
    def of(cls, estimator):
        return cls(**{name: getattr(estimator, name) for name in cls._fields})


LAYERS = ("bernoulli", "gaussian")
METHODS = ("cd", "pcd")
SCHEDULES = ("constant", "linear", "cosine")
DOUBLINGS = (None, "visible", "hidden")


def check_params(estimator):
    """Check the hyper-parameters of an :class:`~workbench.nn.rbm.RBM` (InputError naming the
    first bad one); returns the resolved device."""

    def integer(name, low):
        check_count(name, getattr(estimator, name), low)

    def number(name, low, *, strict=True, high=None):
        value = getattr(estimator, name)
        ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
        ok = ok and math.isfinite(value) and (value > low if strict else value >= low)
        ok = ok and (high is None or value < high)
        if not ok:
            bound = f"> {low}" if strict else f">= {low}"
            bound += f" and < {high}" if high is not None else ""
            raise InputError(name, f"a number {bound}", repr(value))

    for name, allowed in (
        ("visible", LAYERS),
        ("method", METHODS),
        ("lr_schedule", SCHEDULES),
    ):
        if getattr(estimator, name) not in allowed:
            raise InputError(name, f"one of {', '.join(allowed)}", repr(getattr(estimator, name)))
    for name in ("n_hidden", "k", "n_epochs", "batch_size", "n_temperatures"):
        integer(name, 1)
    for name in ("monitor_every", "monitor_size", "diagnostics_window", "checkpoint_every"):
        integer(name, 1)
    integer("exact_max_units", 0)
    if estimator.n_chains is not None:
        integer("n_chains", 1)
    number("learning_rate", 0.0)
    number("momentum", 0.0, strict=False, high=1.0)
    number("weight_decay", 0.0, strict=False)
    number("sparsity_cost", 0.0, strict=False)
    number("sigma", 0.0)
    number("init_scale", 0.0, strict=False)
    if estimator.sparsity_target is not None:
        number("sparsity_target", 0.0, high=1.0)
    if estimator.doubling not in DOUBLINGS:
        raise InputError("doubling", "None, 'visible' or 'hidden'", repr(estimator.doubling))
    if estimator.doubling is not None and (
        estimator.visible != "bernoulli" or estimator.n_temperatures > 1
    ):
        raise InputError("doubling", "None unless visible='bernoulli' and n_temperatures=1",
                         repr(estimator.doubling))  # fmt: skip
    if estimator.n_temperatures > 1 and (
        estimator.method != "pcd" or estimator.visible != "bernoulli"
    ):
        raise InputError(
            "n_temperatures",
            "1 unless method='pcd' and visible='bernoulli' (parallel tempering)",
            f"n_temperatures={estimator.n_temperatures}, method={estimator.method!r}, "
            f"visible={estimator.visible!r}",
        )
    return resolve_device(estimator.device)


def check_X(estimator, X, *, reset, name="X", probabilities=False):
    """``X`` as a float32 tensor on the estimator's device (InputError naming ``name``):
    2-D and finite; binary for Bernoulli visible units, or values in [0, 1] with
    ``probabilities``; ``reset`` records the feature count (``n_features_in_``), else it must
    match it."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    try:
        X = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise InputError(name, "a numeric array", f"{type(X).__name__}: {err}") from None
    if X.ndim != 2 or X.shape[0] == 0:
        raise InputError(name, "a 2-D array (samples, features)", X.shape)
    bad = ~np.isfinite(X)
    if bad.any():
        where = np.argwhere(bad)[0].tolist()
        raise InputError(name, detail=f"{int(bad.sum())} NaN/inf entries (first at {where})")
    if probabilities and not ((X >= 0) & (X <= 1)).all():
        raise InputError(name, "probabilities in [0, 1]", f"[{X.min():.3g}, {X.max():.3g}]")
    if estimator.visible == "bernoulli" and not probabilities and not np.isin(X, (0, 1)).all():
        odd = X[~np.isin(X, (0.0, 1.0))][0]
        raise InputError(
            name,
            detail=f"Bernoulli visible units need binary data in {{0, 1}}, got values in "
            f"[{X.min():.3g}, {X.max():.3g}] (e.g. {odd:.3g}); binarise first, e.g. "
            "X = (X > 0.5) (load_dataset(..., binarize=True), CLI --binarize), "
            "or use visible='gaussian' for real-valued data",
        )
    if reset:
        estimator.n_features_in_ = X.shape[1]
    elif X.shape[1] != estimator.n_features_in_:
        raise InputError(name, f"{estimator.n_features_in_} features (as fitted)", X.shape[1])
    return torch.from_numpy(X).to(resolve_device(estimator.device))


# ---------------------------------------------------------------------- Gibbs conditionals
def noise(draw, like, generator, shard=None, **options):
    """``draw`` (torch.rand or torch.randn) of the shape of ``like``; with ``shard = (start,
    stop, rows)`` the rows start:stop of a draw for all ``rows`` rows of the global batch, so a
    rank's share gets the numbers that the one-process run gives those rows."""
    shape = like.shape if shard is None else (shard[2], *like.shape[1:])
    values = draw(shape, generator=generator, device=like.device, **options)
    return values if shard is None else values[shard[0] : shard[1]]


def bernoulli(p, generator, shard=None):
    """Binary draws with probabilities ``p`` (any shape), in the dtype of ``p``."""
    return (noise(torch.rand, p, generator, shard) < p).to(p.dtype)


def hidden_probs(v, W, b, beta=1.0):
    """p(h_j = 1 | v) at inverse temperature ``beta``: (..., n_visible) -> (..., n_hidden)."""
    return torch.sigmoid(beta * (v @ W + b))


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


# ---------------------------------------------------------------------- negative phases
def cd_negative_phase(h0, W, a, b, settings, generator, shard=None):
    """k Gibbs sweeps from hidden states drawn at the data: the model rows and their hidden
    probabilities, (B, n_visible) and (B, n_hidden)."""
    h, (W_up, W_down) = h0, coupled(W, settings)
    for step in range(settings.k):
        v = sample_visible(h, W_down, a, settings.visible, settings.sigma, generator, shard)
        ph = hidden_probs(v, W_up, b)
        if step < settings.k - 1:
            h = bernoulli(ph, generator, shard)
    return v, ph


def temperatures(n_temperatures, *, dtype=torch.float32, device=None):
    """Inverse temperatures 1, (K-1)/K, ..., 1/K: shape (K,)."""
    K = n_temperatures
    return torch.arange(K, 0, -1, dtype=dtype, device=device) / K


def swap_log_ratio(beta_cold, beta_hot, energy_cold, energy_hot):
    """log of the Metropolis ratio for exchanging the states of two temperatures:
    (beta_i - beta_j)(E_i - E_j); the swap is accepted with probability min(1, exp(.))."""
    return (beta_cold - beta_hot) * (energy_cold - energy_hot)


def swap(chains, energies, betas, parity, generator):
    """Metropolis swaps of neighbouring temperatures, pairs (0, 1), (2, 3), ... when
    ``parity`` is 0 and (1, 2), (3, 4), ... when it is 1.

    chains (K, C, n_visible), energies (K, C) joint energies of the chains' states, betas (K,).
    Returns the chains after the swaps and the accepted swaps, boolean (pairs, C).
    """
    cold = torch.arange(parity, len(betas) - 1, 2, device=chains.device)
    hot = cold + 1
    log_ratio = swap_log_ratio(betas[cold, None], betas[hot, None], energies[cold], energies[hot])
    u = torch.rand(
        log_ratio.shape, generator=generator, device=chains.device, dtype=log_ratio.dtype
    )
    accept = torch.log(u) < log_ratio  # (pairs, C)
    chains = chains.clone()
    low, high, take = chains[cold], chains[hot], accept[..., None]
    chains[cold], chains[hot] = torch.where(take, high, low), torch.where(take, low, high)
    return chains, accept


def tempered_negative_phase(chains, W, a, b, settings, parity, generator):
    """k sweeps of the persistent chains (K, C, n_visible) at every temperature, then one round
    of swaps (when K > 1). Returns the chains and the accepted swaps, boolean (pairs, C)."""
    K = chains.shape[0]
    betas = temperatures(K, dtype=chains.dtype, device=chains.device)
    column = betas[:, None, None]  # (K, 1, 1)
    W_up, W_down = coupled(W, settings)  # both W unless doubling (then K == 1)
    for _ in range(settings.k):
        h = bernoulli(hidden_probs(chains, W_up, b, column), generator)
        if K == 1:
            chains = sample_visible(h, W_down, a, settings.visible, settings.sigma, generator)
        else:
            chains = bernoulli(torch.sigmoid(column * (h @ W.T + a)), generator)
    if K == 1:
        return chains, torch.zeros((0, chains.shape[1]), dtype=torch.bool, device=chains.device)
    h = bernoulli(hidden_probs(chains, W, b, column), generator)
    return swap(chains, joint_energy(chains, h, W, a, b), betas, parity, generator)


# ---------------------------------------------------------------------- schedules
def learning_rate_at(settings, epoch):
    """The learning rate of an epoch: constant, or decaying linearly or by a half cosine to 0."""
    fraction = epoch / settings.n_epochs
    scale = {
        "constant": 1.0,
        "linear": 1.0 - fraction,
        "cosine": 0.5 * (1.0 + math.cos(math.pi * fraction)),
    }[settings.lr_schedule]
    return settings.learning_rate * scale


def momentum_at(settings, epoch):
    """min(0.5, momentum) for the first 5 epochs, then the setting (Hinton's guide)."""
    if epoch >= MOMENTUM_EPOCHS:
        return settings.momentum
    return min(INITIAL_MOMENTUM, settings.momentum)


# ---------------------------------------------------------------------- init and update
def init_state(X, settings, generator):
    """Parameters (weights N(0, init_scale^2), visible biases from the data's marginals),
    zero velocities, the sparsity average, persistent chains at random data rows, counters."""
    n_visible, dev = X.shape[1], X.device
    units, chains = n_visible + settings.n_hidden, settings.n_chains or settings.batch_size
    check_memory("n_hidden", 4 * 4 * n_visible * settings.n_hidden,  # W, dW, gradient, stats
                 f"{n_visible} x {settings.n_hidden:,} weights")  # fmt: skip
    check_memory("n_chains", 4 * 4 * settings.n_temperatures * chains * units,
                 f"{settings.n_temperatures} x {chains:,} chains of {units:,} units")  # fmt: skip
    W = settings.init_scale * torch.randn(
        n_visible, settings.n_hidden, generator=generator, device=dev
    )
    if settings.visible == "bernoulli":
        p = X.mean(0).clamp(1e-3, 1 - 1e-3)
        a = torch.log(p / (1 - p))  # Hinton's guide: log p_i / (1 - p_i)
    else:
        a = X.mean(0) / settings.sigma**2  # conditional mean sigma^2 a = data mean
    b = torch.zeros(settings.n_hidden, device=dev)
    target = settings.sparsity_target
    if target is not None:
        b.fill_(math.log(target / (1 - target)))
    state = {"W": W, "a": a, "b": b, "base_bias": a.clone()}
    for name in ("W", "a", "b"):
        state["d" + name] = torch.zeros_like(state[name])
    state["q"] = torch.full((settings.n_hidden,), target or 0.0, device=dev)
    if settings.method == "pcd":  # fantasy chains start at random data rows
        n_chains = settings.n_chains or settings.batch_size
        rows = torch.randint(0, X.shape[0], (settings.n_temperatures, n_chains), device=dev,
                             generator=generator)  # fmt: skip
        state["chains"] = X[rows].clone()  # (temperatures, chains, n_visible)
    state.update(epoch=0, step=0, swap_counts=torch.zeros(2, device=dev))  # epochs, updates done
    return state


def _shard(B):
    """(rank, world, (start, stop, B)) of this process's rows of a global batch of B rows, as
    torch.tensor_split splits; shard None in a one-process run."""
    rank, world, _ = distributed_context()
    if world == 1:
        return rank, world, None
    start = rank * (B // world) + min(rank, B % world)
    return rank, world, (start, start + B // world + (rank < B % world), B)


def update(state, batch, settings, lr, momentum, generator):
    """One closed-form gradient step on the global mini-batch ``batch`` (B, n_visible).

    In a data-parallel run this rank takes its share of the rows, and the sums of the positive
    statistics (and of CD's negative ones) are all-reduced before the update; the persistent
    chains are replicated on every rank.
    """
    W, a, b = state["W"], state["a"], state["b"]
    B = batch.shape[0]
    _, world, shard = _shard(B)
    v0 = batch if shard is None else batch[shard[0] : shard[1]]
    W_up = coupled(W, settings)[0]
    ph0 = hidden_probs(v0, W_up, b)
    if settings.method == "cd":
        h0 = bernoulli(ph0, generator, shard)
        vk, phk = cd_negative_phase(h0, W, a, b, settings, generator, shard)
        C = B  # rows behind the negative statistics
    else:
        parity = state["step"] % 2
        chains, accept = tempered_negative_phase(
            state["chains"], W, a, b, settings, parity, generator
        )
        if accept.numel():  # accepted and proposed swaps, summed until the monitor reads them
            proposed = torch.tensor(accept.numel(), device=accept.device)
            counts = torch.stack([accept.sum(), proposed]).to(chains.dtype)
            state["swap_counts"] = state.get("swap_counts", 0.0) + counts
        state["chains"], vk = chains, chains[0]
        phk, C = hidden_probs(vk, W_up, b), vk.shape[0]
    stats = [v0.T @ ph0, v0.sum(0), ph0.sum(0), vk.T @ phk, vk.sum(0), phk.sum(0)]
    if world > 1:  # sums over this rank's rows
        shared = stats if settings.method == "cd" else stats[:3]
        flat = torch.cat([t.reshape(-1) for t in shared])
        torch.distributed.all_reduce(flat)
        parts = torch.split(flat, [t.numel() for t in shared])
        stats[: len(shared)] = [part.view_as(t) for part, t in zip(parts, shared, strict=True)]
    vh0, v0_sum, h0_sum, vhk, vk_sum, hk_sum = stats
    grads = {
        "W": vh0 / B - vhk / C - settings.weight_decay * W,
        "a": v0_sum / B - vk_sum / C,
        "b": h0_sum / B - hk_sum / C,
    }
    if settings.sparsity_target is not None:  # Hinton's guide, section 11
        state["q"].mul_(0.9).add_(h0_sum / B, alpha=0.1)
        excess = settings.sparsity_cost * (state["q"] - settings.sparsity_target)
        grads["b"] -= excess
        grads["W"] -= torch.outer(v0_sum / B, excess)
    for name, grad in grads.items():
        state["d" + name].mul_(momentum).add_(grad, alpha=lr)
        state[name].add_(state["d" + name])
    state["step"] += 1
