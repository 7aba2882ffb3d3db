"""Training kernels of the Torch RBM: CD-k, persistent CD-k and parallel tempering.

Every kernel is a function of tensors, the hyper-parameters (:class:`Settings`) and an explicit
``torch.Generator``; nothing reads a global random state. Gradients are written in closed form
(no autograd) and a mini-batch is a handful of matrix products (no loop over samples).

Variants, chosen by ``Settings.method`` and ``Settings.n_temperatures``:

- CD-k: Gibbs chains restarted at the data rows for every update;
- PCD-k: ``n_chains`` persistent ("fantasy") chains kept across updates;
- hidden units: binary, or (``hidden="gaussian"``) linear with unit-variance Gaussian noise,
  E(v, h) = ... - b.h - v W h + |h|^2 / 2, so p(h | v) = N(b + v W, 1) and the CD statistics
  keep their form with E[h | v] = b + v W in place of p(h = 1 | v) (Hinton & Salakhutdinov's
  code layer; Bernoulli visible units, CD or PCD without tempering);
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
same data, draws the same global mini-batch order from the shared generator and takes its
contiguous share of each global batch; PCD's persistent chains are shared out the same way
(every rank holds all of them between updates and advances its own share). The Gibbs noise of a
share is its rows of the noise the whole batch (or all chains) would get: each rank draws the
global random numbers and keeps its rows. After the sweeps each rank adds its rows' part of the
gradient, ``sum_pos / B - sum_neg / C``, and its new chains and their free energies into one
flat buffer (the chains at their rows, zeros elsewhere), and a single all-reduce per update
gives every rank the global gradient, all chains and all energies. Hence the samples, the
statistics and the parameters equal the one-process run's up to float rounding of the split
sums (relative ~1e-7 per update; a Bernoulli draw changes only when a rounding difference
straddles its uniform number, which did not happen in the tests), and the work per rank is
1/N of the batch and of the chains. Bytes per update: one gradient (n_visible x n_hidden +
n_visible + n_hidden numbers) plus the chains, not the six statistics. With
``Settings.sync_every`` K > 1 the ranks instead update on their shares alone, each with its own
noise, and average every K updates (local SGD: :mod:`workbench.nn.rbm.parallel`).
"""

import math
from typing import NamedTuple

import numpy as np
import torch

from workbench.errors import InputError, check_count, check_memory
from workbench.nn.rbm import parallel
from workbench.nn.rbm.gibbs import (
    bernoulli,
    coupled,
    hidden_mean,
    hidden_probs,
    joint_energy,
    noise,
    sample_hidden,
    sample_visible,
    visible_mean,
)
from workbench.nn.runtime import distributed_context, resolve_device
from workbench.nn.runtime.distributed import all_reduce, flat_views, rows_of
from workbench.validation import binarized, check_binarize, check_data

__all__ = [
    "LAYERS",
    "METHODS",
    "SCHEDULES",
    "Settings",
    "check_X",
    "check_params",
    "bernoulli",
    "cd_negative_phase",
    "chain_free_energy",
    "hidden_mean",
    "hidden_probs",
    "init_state",
    "joint_energy",
    "learning_rate_at",
    "momentum_at",
    "sample_hidden",
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
    hidden: str
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
    sync_every: int

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
        ("hidden", LAYERS),
        ("method", METHODS),
        ("lr_schedule", SCHEDULES),
    ):
        if getattr(estimator, name) not in allowed:
            raise InputError(name, f"one of {', '.join(allowed)}", repr(getattr(estimator, name)))
    for name in ("n_hidden", "k", "n_epochs", "batch_size", "n_temperatures", "sync_every"):
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
    if check_binarize(estimator.binarize) is not None and estimator.visible != "bernoulli":
        raise InputError("binarize", "None for visible='gaussian'", repr(estimator.binarize))
    if estimator.doubling not in DOUBLINGS:
        raise InputError("doubling", "None, 'visible' or 'hidden'", repr(estimator.doubling))
    if estimator.doubling is not None and (
        estimator.visible != "bernoulli" or estimator.n_temperatures > 1
    ):
        raise InputError("doubling", "None unless visible='bernoulli' and n_temperatures=1",
                         repr(estimator.doubling))  # fmt: skip
    if estimator.hidden == "gaussian" and (
        estimator.visible != "bernoulli" or estimator.n_temperatures > 1
        or estimator.doubling is not None or estimator.sparsity_target is not None
    ):  # fmt: skip
        raise InputError("hidden", "'bernoulli' unless visible='bernoulli', n_temperatures=1, "
                         "doubling=None and sparsity_target=None", "'gaussian'")  # fmt: skip
    if estimator.sync_every > 1 and estimator.n_temperatures > 1:
        raise InputError("sync_every", "1 with parallel tempering (n_temperatures > 1)",
                         repr(estimator.sync_every))  # fmt: skip
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


def check_X(estimator, X, *, reset, name="X", binary=False):
    """``X`` as a float32 tensor on the estimator's device, checked by
    :func:`workbench.validation.check_data` (InputError naming ``name``; ``reset`` records
    ``n_features_in_``, else it must match). For Bernoulli visible units the estimator's
    ``binarize`` threshold maps any real data to {0, 1}; without one the values must be
    probabilities in [0, 1], or binary with ``binary`` (:func:`workbench.validation.binarized`)."""
    X = check_data(estimator, X, reset=reset, name=name, writable=True)
    if getattr(estimator, "visible", "bernoulli") == "bernoulli":
        X = binarized(X, estimator.binarize, name=name, binary=binary)
    return torch.from_numpy(X).to(resolve_device(estimator.device))


# ---------------------------------------------------------------------- negative phases
def cd_negative_phase(h0, W, a, b, settings, generator, shard=None):
    """k Gibbs sweeps from hidden states drawn at the data: the model rows and their hidden
    probabilities, (B, n_visible) and (B, n_hidden)."""
    h, (W_up, W_down) = h0, coupled(W, settings)
    for step in range(settings.k):
        v = sample_visible(h, W_down, a, settings.visible, settings.sigma, generator, shard)
        ph = hidden_mean(v, W_up, b, settings.hidden)
        if step < settings.k - 1:
            h = sample_hidden(ph, settings.hidden, generator, shard)
    return v, ph


def temperatures(n_temperatures, *, dtype=torch.float32, device=None):
    """Inverse temperatures 1, (K-1)/K, ..., 1/K: shape (K,)."""
    K = n_temperatures
    return torch.arange(K, 0, -1, dtype=dtype, device=device) / K


def swap_log_ratio(beta_cold, beta_hot, energy_cold, energy_hot):
    """log of the Metropolis ratio for exchanging the states of two temperatures:
    (beta_i - beta_j)(E_i - E_j); the swap is accepted with probability min(1, exp(.))."""
    return (beta_cold - beta_hot) * (energy_cold - energy_hot)


def swap(chains, energies, betas, parity, generator, shard=None):
    """Metropolis swaps of neighbouring temperatures, pairs (0, 1), (2, 3), ... when
    ``parity`` is 0 and (1, 2), (3, 4), ... when it is 1.

    chains (K, C, n_visible), energies (K, C) joint energies of the chains' states, betas (K,);
    ``shard``: these are the chains start:stop of all (see :func:`noise`).
    Returns the chains after the swaps and the accepted swaps, boolean (pairs, C).
    """
    cold = torch.arange(parity, len(betas) - 1, 2, device=chains.device)
    hot = cold + 1
    log_ratio = swap_log_ratio(betas[cold, None], betas[hot, None], energies[cold], energies[hot])
    u = noise(torch.rand, log_ratio[..., None], generator, shard, dtype=log_ratio.dtype)[..., 0]
    accept = torch.log(u) < log_ratio  # (pairs, C)
    chains = chains.clone()
    low, high, take = chains[cold], chains[hot], accept[..., None]
    chains[cold], chains[hot] = torch.where(take, high, low), torch.where(take, low, high)
    return chains, accept


def tempered_negative_phase(chains, W, a, b, settings, parity, generator, shard=None):
    """k sweeps of the persistent chains (K, C, n_visible) at every temperature, then one round
    of swaps (when K > 1); ``shard``: these are the chains start:stop of all (see
    :func:`noise`). Returns the chains and the accepted swaps, boolean (pairs, C)."""
    K = chains.shape[0]
    betas = temperatures(K, dtype=chains.dtype, device=chains.device)
    column = betas[:, None, None]  # (K, 1, 1)
    W_up, W_down = coupled(W, settings)  # both W unless doubling (then K == 1)
    for _ in range(settings.k):
        h = sample_hidden(hidden_mean(chains, W_up, b, settings.hidden, column),
                          settings.hidden, generator, shard)  # fmt: skip
        if K == 1:
            chains = sample_visible(h, W_down, a, settings.visible, settings.sigma, generator,
                                    shard)  # fmt: skip
        else:
            chains = bernoulli(torch.sigmoid(column * (h @ W.T + a)), generator, shard)
    if K == 1:
        return chains, torch.zeros((0, chains.shape[1]), dtype=torch.bool, device=chains.device)
    h = bernoulli(hidden_probs(chains, W, b, column), generator, shard)
    return swap(chains, joint_energy(chains, h, W, a, b), betas, parity, generator, shard)


def chain_free_energy(v, field, a, settings):
    """F(v) per row, (C, n_visible) -> (C,), from the hidden field ``v W + b`` (C, n_hidden)
    already computed; ``settings``: anything with ``hidden``, ``visible`` and ``sigma`` (the
    Settings, or the estimator for :func:`workbench.nn.rbm.sampling.free_energy`)."""
    if settings.hidden == "gaussian":  # minus log of the Gaussian integral over each h_j
        marginal = 0.5 * field**2 + 0.5 * math.log(2 * math.pi)
    else:
        marginal = torch.nn.functional.softplus(field)
    value = -(v @ a) - marginal.sum(-1)
    if settings.visible == "gaussian":
        value = value + (v**2).sum(-1) / (2.0 * settings.sigma**2)
    return value


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


def update(state, batch, settings, lr, momentum, generator):
    """One closed-form gradient step on the global mini-batch ``batch`` (B, n_visible).

    Returns the free energies (updates, C) of the cold persistent chains after their sweeps,
    under the parameters that drew them, for the chain diagnostics; None for CD. In a
    data-parallel run this rank takes its share of the rows and of the chains; with
    ``sync_every`` 1 one all-reduce of a flat buffer sums the gradient parts, new chains and
    energies (module docstring); with ``sync_every`` K > 1 the rank steps on its share alone
    and :func:`~workbench.nn.rbm.parallel.synchronise` averages the ranks every K updates
    (the energies come back then: 0 or K rows).
    """
    W, a, b = state["W"], state["a"], state["b"]
    (n_visible, n_hidden), B = W.shape, batch.shape[0]
    world, shard = distributed_context().world, rows_of(B)
    local = world > 1 and settings.sync_every > 1
    noise_rows = shard  # this rank's rows of the global batch's noise
    if local:  # its own stream instead: no share of another's noise to draw
        generator, noise_rows = parallel.local_generator(state, generator), None
    v0 = batch if shard is None else batch[shard[0] : shard[1]]
    W_up = coupled(W, settings)[0]
    ph0 = hidden_mean(v0, W_up, b, settings.hidden)
    shapes = {"W": (n_visible, n_hidden), "a": (n_visible,), "b": (n_hidden,)}
    if settings.sparsity_target is not None:
        shapes.update(v0_mean=(n_visible,), h0_mean=(n_hidden,))
    if settings.method == "cd":
        h0 = sample_hidden(ph0, settings.hidden, generator, noise_rows)
        vk, phk = cd_negative_phase(h0, W, a, b, settings, generator, noise_rows)
        C = B  # rows behind the negative statistics
    else:
        K, C = state["chains"].shape[:2]
        own = rows_of(C)
        mine = state["chains"] if own is None else state["chains"][:, own[0] : own[1]]
        chains, accept = tempered_negative_phase(
            mine, W, a, b, settings, state["step"] % 2, generator, None if local else own
        )
        vk = chains[0]
        field = vk @ W_up + b  # (C share, n_hidden)
        phk = field if settings.hidden == "gaussian" else torch.sigmoid(field)
        if W_up is not W:  # doubled visible layer: the model's own field for F
            field = vk @ W + b
        energies = chain_free_energy(vk, field, a, settings)  # under the drawing parameters
        if local and vk.shape[0] == 0:
            raise InputError("n_chains", f"at least one chain per process ({world}) with "
                             "sync_every > 1", C)  # fmt: skip
        if local:
            parallel.keep_local(state, chains, energies, own, settings.sync_every)
        else:
            shapes.update(chains=(K, C, n_visible), energies=(C,))
        if K > 1:  # accepted and proposed swaps, summed until the monitor reads them
            shapes["swaps"] = (2,)
    if local:  # this rank's rows and chains are its whole batch
        B, C = v0.shape[0], vk.shape[0]
        if B == 0:  # a short last batch left this rank no rows: its chains moved, no step
            return parallel.after_local_update(state, settings.sync_every)
    flat, parts = flat_views(shapes, W)
    # this rank's part of the gradient: its rows' positive sums / B - negative sums / C
    torch.mm(vk.T, phk, out=parts["W"]).addmm_(v0.T, ph0, beta=-1.0 / C, alpha=1.0 / B)
    torch.sub(v0.sum(0) / B, vk.sum(0) / C, out=parts["a"])
    torch.sub(ph0.sum(0) / B, phk.sum(0) / C, out=parts["b"])
    if settings.sparsity_target is not None:
        torch.div(v0.sum(0), B, out=parts["v0_mean"])
        torch.div(ph0.sum(0), B, out=parts["h0_mean"])
    if settings.method == "pcd" and not local:
        parallel.write_rows(parts["chains"], chains, own, 1)
        parallel.write_rows(parts["energies"], energies, own, 0)
        if "swaps" in parts:
            parts["swaps"][0], parts["swaps"][1] = accept.sum(), accept.numel()
    if world > 1 and not local:
        all_reduce(flat)
    dW, da, db, grad_b = state["dW"], state["da"], state["db"], parts["b"]
    if settings.sparsity_target is not None:  # Hinton's guide, section 11
        state["q"].mul_(0.9).add_(parts["h0_mean"], alpha=0.1)
        excess = settings.sparsity_cost * (state["q"] - settings.sparsity_target)
        grad_b = grad_b - excess
    # velocities and parameters in place: few passes over the n_visible x n_hidden weights
    dW.mul_(momentum).add_(parts["W"], alpha=lr)
    if settings.weight_decay:
        dW.add_(W, alpha=-lr * settings.weight_decay)
    if settings.sparsity_target is not None:
        dW.addr_(parts["v0_mean"], excess, alpha=-lr)
    da.mul_(momentum).add_(parts["a"], alpha=lr)
    db.mul_(momentum).add_(grad_b, alpha=lr)
    for param, velocity in ((W, dW), (a, da), (b, db)):
        param.add_(velocity)
    if local:
        return parallel.after_local_update(state, settings.sync_every)
    state["step"] += 1
    if settings.method == "cd":
        return None
    state["chains"] = parts["chains"].clone()
    if "swaps" in parts:
        state["swap_counts"] = state.get("swap_counts", 0.0) + parts["swaps"]
    return parts["energies"].clone()[None]
