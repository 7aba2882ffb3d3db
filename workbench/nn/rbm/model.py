"""Restricted Boltzmann machines trained with Torch: CD-k, persistent CD-k, parallel tempering.

Energy of a visible vector v and a binary hidden vector h (the same parametrisation as
:class:`workbench.energy.RBM`, so weights move between the two unchanged)::

    E(v, h) = -a.v - b.h - v W h  [+ sum_i v_i^2 / (2 sigma^2) for Gaussian visible units]

    F(v) = -a.v [+ v^2 / (2 sigma^2)] - sum_j softplus(b_j + (v W)_j)       (free energy)

The log-likelihood gradient is <v h>_data - <v h>_model; the model term is estimated by Gibbs
chains: restarted at the data for every update (CD-k), kept across updates (PCD-k), or kept at
several temperatures with swaps between them (parallel tempering). Gradients are written in
closed form (no autograd), everything runs in float32 on the device given as a string.

Usage::

    rbm = RBM(16, method="pcd", n_epochs=200, random_state=0).fit(X)
    rbm.score_samples(X)          # exact log-likelihood per row when a layer is small
    rbm.sample(16, n_steps=1000)  # long Gibbs runs from random starts

Data-parallel training: under ``torchrun --nproc-per-node N`` (a process group initialised by
:func:`workbench.nn.runtime.training.init_distributed`; gloo on CPU, NCCL on CUDA) every rank
loads the same data, draws the same global mini-batch order from the shared seed, takes its
contiguous share of each global batch, and the sums (not means) of the CD statistics are
all-reduced and divided by the global batch size before the update, so all ranks hold identical
parameters. The Gibbs noise of a shard is its rows of the noise the whole batch would get (each
rank draws the global batch's random numbers from the shared generator and keeps its rows), and
the persistent chains are replicated (every rank runs all of them with the same generator).
Hence the samples, the statistics and the parameters equal the one-process run's up to float
rounding of the split sums (relative ~1e-7 per update; a Bernoulli draw can only change when a
rounding difference straddles its uniform number, which did not happen in the tests); they are
not bit-identical. The PCD negative phase is not divided among ranks (only the positive phase
and CD's negative phase are). Rank 0 alone monitors (``history_`` stays empty elsewhere), shows
progress and writes checkpoints."""

import math
import signal
import sys
import threading
import time
from collections import deque
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from workbench.errors import InputError
from workbench.nn.runtime.training import distributed_context
from workbench.output import atomic_path

__all__ = ["LAYERS", "METHODS", "SCHEDULES", "RBM", "check_device", "torch_threads"]

LAYERS = ("bernoulli", "gaussian")
METHODS = ("cd", "pcd")
SCHEDULES = ("constant", "linear", "cosine")
CHECKPOINT_FORMAT = "workbench.nn.RBM"
CHECKPOINT_VERSION = 1
INITIAL_MOMENTUM, MOMENTUM_EPOCHS = 0.5, 5  # Hinton's guide: 0.5 at first, then the setting


def check_device(device):
    """``torch.device`` for a string such as "cpu", "cuda" or "cuda:1"; clear error otherwise."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got {device!r}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device: {device!r} asked for, but this machine has no CUDA GPU")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device: {device!r} asked for, but only {torch.cuda.device_count()} GPU(s) exist"
            )
    elif dev.type != "cpu":
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    return dev


@contextmanager
def torch_threads(n):
    """Run the block with ``n`` torch CPU threads, then restore the previous number.

    Small RBMs gain nothing from several threads, and on a machine whose CPUs are
    oversubscribed torch's spinning worker threads are very slow: measured 0.44 ms per PCD
    update of a 9 x 16 RBM with 1 thread against 62 ms with 2 threads at load 10 on 2 CPUs.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _blas_threads_like_torch():
    """Within the block NumPy's BLAS uses as many threads as torch, so that ``--threads``
    (torch.set_num_threads) governs the evaluation by workbench.energy as it governs training:
    measured 7x slower AIS with OpenBLAS's default 2 threads on 2 oversubscribed CPUs."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(torch.get_num_threads(), user_api="blas")


def _to_python(value):
    value = float(value)
    return value if math.isfinite(value) else None


class RBM(TransformerMixin, BaseEstimator):
    """Restricted Boltzmann machine with binary hidden units, trained by CD-k or PCD-k.

    Parameters
    ----------
    n_hidden : int, default=64
    visible : {"bernoulli", "gaussian"}, default="bernoulli"
        Binary {0, 1} data, or real data (standardise it first) with fixed noise ``sigma``.
    method : {"cd", "pcd"}, default="pcd"
        Contrastive divergence (chains restart at the data) or persistent CD.
    k : int, default=1
        Gibbs steps per update.
    learning_rate : float, default=0.05
    n_epochs : int, default=20
    batch_size : int, default=32
        The last mini-batch of an epoch holds the remainder.
    lr_schedule : {"constant", "linear", "cosine"}, default="constant"
        Decay of the learning rate over the epochs (linear and cosine end at 0).
    momentum : float, default=0.9
        Used after the first 5 epochs; min(0.5, momentum) before them (Hinton's guide).
    weight_decay : float, default=1e-4
        L2 penalty on the weights.
    sparsity_target : float or None, default=None
        Target mean activation of the hidden units; ``sparsity_cost`` weighs the penalty.
    sparsity_cost : float, default=0.1
    n_chains : int or None, default=None
        Persistent chains (PCD); None: ``batch_size``.
    n_temperatures : int, default=1
        Parallel tempering with this many inverse temperatures 1, (K-1)/K, ..., 1/K (PCD,
        Bernoulli visible units); 1 means plain PCD.
    sigma : float, default=1.0
        Noise of Gaussian visible units.
    init_scale : float, default=0.01
        Standard deviation of the initial weights.
    monitor : bool, default=True
        Evaluate the metrics of ``history_`` (every ``monitor_every`` epochs and the last).
    monitor_every : int, default=1
    monitor_size : int, default=1000
        Rows of the training data (a fixed subset) used by the monitors.
    exact_max_units : int, default=16
        Exact log-likelihood (enumerating the smaller layer) when it has at most this many
        units; ``log_partition(method="exact")`` allows up to 25.
    diagnostics_window : int, default=100
        Updates over which the persistent chains' free energies feed R-hat and ESS.
    checkpoint : path or None, default=None
        Written atomically every ``checkpoint_every`` epochs, at the end, and on Ctrl-C.
    checkpoint_every : int, default=1
    device : str, default="cpu"
    random_state : int or None, default=None
    verbose : bool, default=True
        Progress bar with the latest metrics on standard error.

    Attributes
    ----------
    weights_ : ndarray of shape (n_visible, n_hidden)
    visible_bias_ : ndarray of shape (n_visible,)
    hidden_bias_ : ndarray of shape (n_hidden,)
    history_ : list of dict, one per epoch (see :meth:`fit`)
    n_features_in_ : int
    """

    def __init__(
        self,
        n_hidden=64,
        *,
        visible="bernoulli",
        method="pcd",
        k=1,
        learning_rate=0.05,
        n_epochs=20,
        batch_size=32,
        lr_schedule="constant",
        momentum=0.9,
        weight_decay=1e-4,
        sparsity_target=None,
        sparsity_cost=0.1,
        n_chains=None,
        n_temperatures=1,
        sigma=1.0,
        init_scale=0.01,
        monitor=True,
        monitor_every=1,
        monitor_size=1000,
        exact_max_units=16,
        diagnostics_window=100,
        checkpoint=None,
        checkpoint_every=1,
        device="cpu",
        random_state=None,
        verbose=True,
    ):
        self.n_hidden = n_hidden
        self.visible = visible
        self.method = method
        self.k = k
        self.learning_rate = learning_rate
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.sparsity_target = sparsity_target
        self.sparsity_cost = sparsity_cost
        self.n_chains = n_chains
        self.n_temperatures = n_temperatures
        self.sigma = sigma
        self.init_scale = init_scale
        self.monitor = monitor
        self.monitor_every = monitor_every
        self.monitor_size = monitor_size
        self.exact_max_units = exact_max_units
        self.diagnostics_window = diagnostics_window
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ validation
    def _check_params(self):
        def integer(name, low):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")

        def number(name, low, *, strict=True, high=None):
            value = getattr(self, name)
            ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
            ok = ok and math.isfinite(value) and (value > low if strict else value >= low)
            ok = ok and (high is None or value < high)
            if not ok:
                bound = f"> {low}" if strict else f">= {low}"
                bound += f" and < {high}" if high is not None else ""
                raise ValueError(f"{name}: expected a number {bound}, got {value!r}")

        for name, allowed in (
            ("visible", LAYERS),
            ("method", METHODS),
            ("lr_schedule", SCHEDULES),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name}: expected one of {', '.join(allowed)}, got {getattr(self, name)!r}"
                )
        for name in ("n_hidden", "k", "n_epochs", "batch_size", "n_temperatures"):
            integer(name, 1)
        for name in ("monitor_every", "monitor_size", "diagnostics_window", "checkpoint_every"):
            integer(name, 1)
        integer("exact_max_units", 0)
        if self.n_chains is not None:
            integer("n_chains", 1)
        number("learning_rate", 0.0)
        number("momentum", 0.0, strict=False, high=1.0)
        number("weight_decay", 0.0, strict=False)
        number("sparsity_cost", 0.0, strict=False)
        number("sigma", 0.0)
        number("init_scale", 0.0, strict=False)
        if self.sparsity_target is not None:
            number("sparsity_target", 0.0, high=1.0)
        if self.n_temperatures > 1 and (self.method != "pcd" or self.visible != "bernoulli"):
            raise ValueError(
                f"n_temperatures: parallel tempering needs method='pcd' and visible='bernoulli', "
                f"got n_temperatures={self.n_temperatures}, method={self.method!r}, "
                f"visible={self.visible!r}"
            )
        return check_device(self.device)

    def _check_X(self, X, *, reset, name="X", probabilities=False):
        """Float32 tensor on the device; binary for Bernoulli units (values in [0, 1] with
        ``probabilities``, for the layers of a DBN); the fitted feature count."""
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        try:
            X = np.asarray(X, dtype=np.float32)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"{name}: expected a numeric array, got {type(X).__name__}: {err}"
            ) from None
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"{name}: expected a 2-D array (samples, features), got {X.shape}")
        bad = ~np.isfinite(X)
        if bad.any():
            where = np.argwhere(bad)[0].tolist()
            raise ValueError(f"{name}: {int(bad.sum())} NaN/inf entries (first at {where})")
        if probabilities and not ((X >= 0) & (X <= 1)).all():
            raise ValueError(f"{name}: expected probabilities in [0, 1]")
        if self.visible == "bernoulli" and not probabilities and not np.isin(X, (0, 1)).all():
            odd = X[~np.isin(X, (0.0, 1.0))][0]
            raise ValueError(
                f"{name}: Bernoulli visible units need binary data in {{0, 1}}, got values in "
                f"[{X.min():.3g}, {X.max():.3g}] (e.g. {odd:.3g}); binarise first, e.g. "
                "X = (X > 0.5) (load_dataset(..., binarize=True), CLI --binarize), "
                "or use visible='gaussian' for real-valued data"
            )
        if reset:
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{name}: expected {self.n_features_in_} features (as fitted), got {X.shape[1]}"
            )
        return torch.from_numpy(X).to(check_device(self.device))

    # ------------------------------------------------------------------ the model
    @property
    def _params(self):
        return self._state["W"], self._state["a"], self._state["b"]

    def _hidden_probs(self, v, beta=1.0):
        W, _, b = self._params
        return torch.sigmoid(beta * (v @ W + b))

    def _visible_mean(self, h):
        W, a, _ = self._params
        field = h @ W.T + a
        return torch.sigmoid(field) if self.visible == "bernoulli" else self.sigma**2 * field

    def _sample_visible(self, h, generator, shard=None):
        mean = self._visible_mean(h)
        if self.visible == "bernoulli":
            return (_noise(torch.rand, mean, generator, shard) < mean).to(mean.dtype)
        return mean + self.sigma * _noise(torch.randn, mean, generator, shard, dtype=mean.dtype)

    @staticmethod
    def _bernoulli(p, generator, shard=None):
        return (_noise(torch.rand, p, generator, shard) < p).to(p.dtype)

    def _free_energy(self, v, params=None):
        """F(v) per row, (N, n_visible) -> (N,), in the dtype of the parameters."""
        W, a, b = params or self._params
        v = v.to(W.dtype)
        value = -(v @ a) - torch.nn.functional.softplus(v @ W + b).sum(-1)
        if self.visible == "gaussian":
            value = value + (v**2).sum(-1) / (2.0 * self.sigma**2)
        return value

    # ------------------------------------------------------------------ fitting
    def _init_state(self, X, generator):
        n_visible, dev = X.shape[1], X.device
        W = self.init_scale * torch.randn(n_visible, self.n_hidden, generator=generator, device=dev)
        if self.visible == "bernoulli":
            p = X.mean(0).clamp(1e-3, 1 - 1e-3)
            a = torch.log(p / (1 - p))  # Hinton's guide: log p_i / (1 - p_i)
        else:
            a = X.mean(0) / self.sigma**2  # conditional mean sigma^2 a = data mean
        b = torch.zeros(self.n_hidden, device=dev)
        if self.sparsity_target is not None:
            b.fill_(math.log(self.sparsity_target / (1 - self.sparsity_target)))
        state = {"W": W, "a": a, "b": b, "base_bias": a.clone()}
        for name in ("W", "a", "b"):
            state["d" + name] = torch.zeros_like(state[name])
        state["q"] = torch.full((self.n_hidden,), self.sparsity_target or 0.0, device=dev)
        n_chains = self.n_chains or self.batch_size
        if self.method == "pcd":  # fantasy chains start at random data rows
            rows = torch.randint(0, X.shape[0], (self.n_temperatures, n_chains), device=dev,
                                 generator=generator)  # fmt: skip
            state["chains"] = X[rows].clone()  # (temperatures, chains, n_visible)
        state.update(epoch=0, batch=0, step=0, perm=None, swaps=0.0)
        return state

    def _learning_rate(self, epoch):
        fraction = epoch / self.n_epochs
        scale = {
            "constant": 1.0,
            "linear": 1.0 - fraction,
            "cosine": 0.5 * (1.0 + math.cos(math.pi * fraction)),
        }[self.lr_schedule]
        return self.learning_rate * scale

    def _momentum(self, epoch):
        if epoch >= MOMENTUM_EPOCHS:
            return self.momentum
        return min(INITIAL_MOMENTUM, self.momentum)

    def _negative_phase(self, v0, ph0, generator, shard=None):
        """Model samples and their hidden probabilities: (C, n_visible), (C, n_hidden).
        ``shard``: (start, stop, rows) when ``v0`` holds rows start:stop of a global batch."""
        if self.method == "cd":
            h = self._bernoulli(ph0, generator, shard)
            for step in range(self.k):
                v = self._sample_visible(h, generator, shard)
                ph = self._hidden_probs(v)
                if step < self.k - 1:
                    h = self._bernoulli(ph, generator, shard)
            return v, ph
        chains = self._state["chains"]
        betas = self._betas(chains)
        for _ in range(self.k):
            h = self._bernoulli(self._hidden_probs(chains, betas), generator)
            if self.n_temperatures == 1:
                chains = self._sample_visible(h, generator)
            else:
                W, a, _ = self._params
                chains = self._bernoulli(torch.sigmoid(betas * (h @ W.T + a)), generator)
        if self.n_temperatures > 1:
            chains = self._swap(chains, betas, generator)
        self._state["chains"] = chains
        return chains[0], self._hidden_probs(chains[0])

    def _betas(self, chains):
        K = self.n_temperatures
        betas = torch.arange(K, 0, -1, device=chains.device, dtype=chains.dtype) / K
        return betas[:, None, None]  # (K, 1, 1): 1, (K-1)/K, ..., 1/K

    def _swap(self, chains, betas, generator):
        """Metropolis swaps of neighbouring temperatures (even or odd pairs, alternating)."""
        W, a, b = self._params
        h = self._bernoulli(self._hidden_probs(chains, betas), generator)
        energy = -(chains @ a) - (h @ b) - ((chains @ W) * h).sum(-1)  # (K, C)
        first = self._state["step"] % 2
        lo = torch.arange(first, self.n_temperatures - 1, 2, device=chains.device)
        if lo.numel() == 0:
            return chains
        hi = lo + 1
        log_ratio = (betas[lo, :, 0] - betas[hi, :, 0]) * (energy[lo] - energy[hi])
        u = torch.rand(log_ratio.shape, generator=generator, device=chains.device)
        accept = (torch.log(u) < log_ratio)[..., None]  # (pairs, C, 1)
        chains = chains.clone()
        low, high = chains[lo], chains[hi]
        chains[lo], chains[hi] = torch.where(accept, high, low), torch.where(accept, low, high)
        self._state["swaps"] = float(accept.float().mean())
        return chains

    def _update(self, batch, lr, momentum, generator):
        """One closed-form gradient step on the global mini-batch ``batch`` (B, n_visible).

        In a data-parallel run this rank takes its share of the rows, and the sums of the
        positive statistics (and of CD's negative ones) are all-reduced before the update.
        """
        s = self._state
        W = s["W"]
        rank, world, _ = distributed_context()
        B, shard, v0 = batch.shape[0], None, batch
        if world > 1:  # rows start:stop of the global batch, as torch.tensor_split splits
            start = rank * (B // world) + min(rank, B % world)
            shard = (start, start + B // world + (rank < B % world), B)
            v0 = batch[shard[0] : shard[1]]
        ph0 = self._hidden_probs(v0)
        vk, phk = self._negative_phase(v0, ph0, generator, shard)
        C = B if self.method == "cd" else vk.shape[0]  # rows behind the negative statistics
        stats = [v0.T @ ph0, v0.sum(0), ph0.sum(0), vk.T @ phk, vk.sum(0), phk.sum(0)]
        if world > 1:  # sums over this rank's rows; PCD chains are replicated on every rank
            shared = stats[:6] if self.method == "cd" else stats[:3]
            flat = torch.cat([t.reshape(-1) for t in shared])
            torch.distributed.all_reduce(flat)
            parts = torch.split(flat, [t.numel() for t in shared])
            stats[: len(shared)] = [part.view_as(t) for part, t in zip(parts, shared, strict=True)]
        vh0, v0_sum, h0_sum, vhk, vk_sum, hk_sum = stats
        grad_W = vh0 / B - vhk / C - self.weight_decay * W
        grad_a = v0_sum / B - vk_sum / C
        grad_b = h0_sum / B - hk_sum / C
        if self.sparsity_target is not None:  # Hinton's guide, section 11
            s["q"].mul_(0.9).add_(h0_sum / B, alpha=0.1)
            excess = self.sparsity_cost * (s["q"] - self.sparsity_target)
            grad_b -= excess
            grad_W -= torch.outer(v0_sum / B, excess)
        for name, grad in (("W", grad_W), ("a", grad_a), ("b", grad_b)):
            s["d" + name].mul_(momentum).add_(grad, alpha=lr)
            s[name].add_(s["d" + name])
        s["step"] += 1

    def fit(self, X, y=None, *, X_val=None, resume=False):
        """Train for ``n_epochs`` epochs (from scratch, or from the current state if ``resume``).

        Parameters
        ----------
        X : array of shape (n_samples, n_visible)
        y : ignored
        X_val : array of shape (n_val, n_visible), optional
            Held-out rows for the free-energy gap and held-out log-likelihood.
        resume : bool, default=False
            Continue the training state left by an earlier ``fit`` or by :meth:`load`
            (parameters, momentum, persistent chains, RNG, epoch) up to ``n_epochs``.

        ``history_`` gets one dict per monitored epoch: epoch, learning_rate, seconds (training
        time so far, monitors excluded),
        reconstruction_error, pseudo_log_likelihood, free_energy_gap (held-out minus training
        mean free energy), log_likelihood_exact and log_likelihood_exact_val (None when not
        enumerable), chain_rhat, chain_ess (PCD), swap_rate (parallel tempering).
        """
        self._check_params()
        if resume and not hasattr(self, "_state"):
            raise ValueError("resume: no training state; call fit first or RBM.load(checkpoint)")
        X = self._check_X(X, reset=not resume)
        X_val = None if X_val is None else self._check_X(X_val, reset=False, name="X_val")
        return self._fit_checked(X, X_val, resume)

    def _fit_checked(self, X, X_val, resume):
        device = self._check_params()
        if self.batch_size > X.shape[0]:
            raise ValueError(
                f"batch_size: {self.batch_size} is larger than the data ({X.shape[0]} rows); "
                f"use at most {X.shape[0]}"
            )
        if not resume:
            seed = self.random_state
            if seed is None:
                seed = int(np.random.SeedSequence().generate_state(1)[0])
            self._seed = int(seed)
            self._generator = torch.Generator(device=device).manual_seed(self._seed)
            self._state = self._init_state(X, self._generator)
            self.history_ = []
            self._window = deque(maxlen=self.diagnostics_window)
        self._train_loop(X, X_val)
        return self

    def partial_fit(self, X, y=None):
        """One pass of mini-batch updates over ``X`` at the current learning rate (no monitors);
        the first call initialises the model from ``X``."""
        device = self._check_params()
        first = not hasattr(self, "_state")
        X = self._check_X(X, reset=first)
        if first:
            self._seed = int(
                self.random_state
                if self.random_state is not None
                else np.random.SeedSequence().generate_state(1)[0]
            )
            self._generator = torch.Generator(device=device).manual_seed(self._seed)
            self._state = self._init_state(X, self._generator)
            self.history_ = []
            self._window = deque(maxlen=self.diagnostics_window)
        momentum = self._momentum(self._state["epoch"])
        for start in range(0, X.shape[0], self.batch_size):
            self._update(X[start : start + self.batch_size], self.learning_rate, momentum,
                         self._generator)  # fmt: skip
        return self

    def _train_loop(self, X, X_val):
        from tqdm.auto import tqdm

        s, generator = self._state, self._generator
        lead = distributed_context().rank == 0  # monitors, progress and checkpoints
        n, B = X.shape[0], self.batch_size
        n_batches = -(-n // B)
        monitor_rows = torch.randperm(n, generator=torch.Generator().manual_seed(self._seed))[
            : self.monitor_size
        ].to(X.device)
        X_monitor = X[monitor_rows]
        total = max(self.n_epochs - s["epoch"], 0) * n_batches - s["batch"]
        bar = tqdm(total=max(total, 0), file=sys.stderr, disable=not (self.verbose and lead),
                   desc=f"RBM {self.method}-{self.k}", unit="batch", leave=False)  # fmt: skip
        stop, seconds = _InterruptFlag(), 0.0
        try:
            with stop:
                while s["epoch"] < self.n_epochs:
                    tick = time.perf_counter()
                    if s["perm"] is None:
                        s["perm"] = torch.randperm(n, generator=generator, device=X.device)
                    lr = self._learning_rate(s["epoch"])
                    momentum = self._momentum(s["epoch"])
                    while s["batch"] < n_batches:
                        if stop.raised:
                            raise KeyboardInterrupt
                        rows = s["perm"][s["batch"] * B : (s["batch"] + 1) * B]
                        self._update(X[rows], lr, momentum, generator)
                        if self.method == "pcd":
                            self._window.append(
                                self._free_energy(s["chains"][0])
                            )  # stays on device
                        s["batch"] += 1
                        bar.update(1)
                    s["epoch"], s["batch"], s["perm"] = s["epoch"] + 1, 0, None
                    seconds += time.perf_counter() - tick
                    due = s["epoch"] % self.monitor_every == 0 or s["epoch"] == self.n_epochs
                    if self.monitor and due and lead:
                        record = {"epoch": s["epoch"], "learning_rate": lr}
                        record.update(self._monitor(X_monitor, X_val))
                        record["seconds"] = round(seconds, 4)
                        self.history_.append(record)
                        bar.set_postfix(_postfix(record), refresh=False)
                    if (
                        self.checkpoint
                        and lead
                        and (s["epoch"] % self.checkpoint_every == 0 or s["epoch"] == self.n_epochs)
                    ):
                        self.save(self.checkpoint)
        except KeyboardInterrupt:
            if self.checkpoint and lead:
                self.save(self.checkpoint)
                print(f"\nRBM: interrupted; checkpoint saved to {self.checkpoint} "
                      f"(epoch {s['epoch']}, batch {s['batch']})", file=sys.stderr)  # fmt: skip
            raise
        finally:
            bar.close()

    # ------------------------------------------------------------------ monitors
    @torch.no_grad()
    def _monitor(self, X_train, X_val):
        generator = torch.Generator(device=X_train.device).manual_seed(
            self._seed + 7919 * self._state["epoch"]
        )
        record = {
            "reconstruction_error": float(self.reconstruction_error(X_train)),
            "pseudo_log_likelihood": (
                float(self._pseudo_log_likelihood(X_train, generator).mean())
                if self.visible == "bernoulli"
                else None
            ),
            "free_energy_gap": None,
            "log_likelihood_exact": None,
            "log_likelihood_exact_val": None,
        }
        if X_val is not None:
            f_val = self._free_energy(X_val[: self.monitor_size]).mean()
            record["free_energy_gap"] = float(f_val - self._free_energy(X_train).mean())
        if self._smaller_layer() <= self.exact_max_units:
            log_z = self.log_partition("exact")
            record["log_likelihood_exact"] = float(self._log_likelihood(X_train, log_z).mean())
            if X_val is not None:
                record["log_likelihood_exact_val"] = float(
                    self._log_likelihood(X_val, log_z).mean()
                )
        record.update(self.chain_diagnostics())
        if self.n_temperatures > 1:
            record["swap_rate"] = self._state["swaps"]
        return record

    def chain_diagnostics(self):
        """R-hat and bulk ESS (ArviZ) of the free energy of the persistent chains over the last
        ``diagnostics_window`` updates, as {"chain_rhat", "chain_ess", "chain_draws"}; None for
        CD or fewer than 4 recorded updates."""
        window = getattr(self, "_window", ())
        if self.method != "pcd" or len(window) < 4:
            return {"chain_rhat": None, "chain_ess": None, "chain_draws": len(window)}
        import arviz_stats as azs

        energies = torch.stack(list(window), dim=1).double().cpu().numpy()  # (chains, draws)
        return {
            "chain_rhat": _to_python(azs.rhat(energies)),
            "chain_ess": _to_python(azs.ess(energies)),
            "chain_draws": energies.shape[1],
        }

    def _smaller_layer(self):
        if self.visible == "gaussian":
            return self.n_hidden
        return min(self.n_hidden, self.n_features_in_)

    def _double_params(self):
        return tuple(p.double() for p in self._params)

    def _log_likelihood(self, X, log_z):
        """log p(v) per row of the checked tensor ``X`` through :mod:`workbench.energy`, with
        ``log_z`` a float or a LogPartition: ndarray (n_samples,)."""
        return self.to_energy().log_prob(X.double().cpu().numpy(), log_z)

    def log_partition(self, method="auto", *, n_runs=100, n_betas=1000, random_state=None):
        """log Z with its standard error, a :class:`workbench.energy.LogPartition` (``value``,
        ``se``; ``float()`` gives the value), computed by :meth:`workbench.energy.RBM.log_partition`
        on this model in float64.

        ``method="exact"`` enumerates the smaller layer (the hidden one for Gaussian visible
        units; refused beyond ``workbench.energy.MAX_STATES`` = 2^25 states). ``"ais"`` runs
        annealed importance sampling from the zero-weight RBM whose visible biases match the
        training data's marginals, ``n_runs`` runs through ``n_betas`` inverse temperatures
        from 0 to 1 (standard error by the delta method); ``"reverse_ais"`` anneals the other
        way (high on average where forward AIS is low). ``"auto"`` is exact when the smaller
        layer has at most ``exact_max_units`` units, else AIS. ``random_state``: the AIS seed
        (None: fresh entropy).
        """
        check_is_fitted(self, "_state")
        methods = ("auto", "exact", "ais", "reverse_ais")
        if method not in methods:
            raise InputError("method", f"one of {', '.join(methods)}", repr(method))
        if method == "auto":
            method = "exact" if self._smaller_layer() <= self.exact_max_units else "ais"
        energy = self.to_energy()
        with _blas_threads_like_torch():
            if method == "exact":
                return energy.log_partition("exact")
            base = self._state["base_bias"].double().cpu().numpy()
            return energy.log_partition(method, n_runs=n_runs, n_betas=n_betas,
                                        seed=random_state, base_bias=base)  # fmt: skip

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def transform(self, X):
        """Hidden probabilities p(h_j = 1 | v): (n_samples, n_visible) -> (n_samples, n_hidden)."""
        check_is_fitted(self, "_state")
        return self._hidden_probs(self._check_X(X, reset=False)).cpu().numpy()

    @torch.no_grad()
    def free_energy(self, X):
        """F(v) per row, in float64: (n_samples, n_visible) -> (n_samples,)."""
        check_is_fitted(self, "_state")
        X = self._check_X(X, reset=False)
        return self.to_energy().free_energy(X.double().cpu().numpy())

    def score_samples(self, X, *, method="auto", **ais_options):
        """Log-likelihood log p(v) per row (n_samples,): exact when a layer is small enough,
        AIS otherwise (see :meth:`log_partition`)."""
        log_z = self.log_partition(method, **ais_options)
        return self._log_likelihood(self._check_X(X, reset=False), log_z)

    def score(self, X, y=None):
        """Mean log-likelihood per row."""
        return float(np.mean(self.score_samples(X)))

    @torch.no_grad()
    def reconstruction_error(self, X):
        """Mean squared error per pixel of the mean-field reconstruction v -> p(h|v) -> E[v|h]."""
        check_is_fitted(self, "_state")
        if not isinstance(X, torch.Tensor) or X.dtype != torch.float32:
            X = self._check_X(X, reset=False)
        return float(((X - self._visible_mean(self._hidden_probs(X))) ** 2).mean())

    def _pseudo_log_likelihood(self, X, generator):
        flip = torch.randint(0, X.shape[1], (X.shape[0],), generator=generator, device=X.device)
        flipped = X.clone()
        rows = torch.arange(X.shape[0], device=X.device)
        flipped[rows, flip] = 1.0 - flipped[rows, flip]
        params = self._double_params()
        gap = self._free_energy(flipped, params) - self._free_energy(X, params)
        return X.shape[1] * torch.nn.functional.logsigmoid(gap)

    @torch.no_grad()
    def pseudo_log_likelihood(self, X, random_state=0):
        """Stochastic pseudo-log-likelihood per row (one random unit flipped per row, scaled by
        n_visible), as scikit-learn's BernoulliRBM.score_samples; Bernoulli visible units."""
        check_is_fitted(self, "_state")
        if self.visible != "bernoulli":
            raise ValueError("pseudo_log_likelihood: defined here for visible='bernoulli' only")
        X = self._check_X(X, reset=False)
        generator = torch.Generator(device=X.device).manual_seed(int(random_state))
        return self._pseudo_log_likelihood(X, generator).cpu().numpy()

    @torch.no_grad()
    def reconstruct(self, X):
        """Mean-field reconstruction E[v | p(h | v)]: (n_samples, n_visible)."""
        check_is_fitted(self, "_state")
        return self._visible_mean(self._hidden_probs(self._check_X(X, reset=False))).cpu().numpy()

    def _sampling_generator(self, random_state):
        seed = self._seed if random_state is None else int(random_state)
        return torch.Generator(device=self._state["W"].device).manual_seed(seed)

    @torch.no_grad()
    def gibbs(self, V, n_steps, *, clamp=None, burn_in=0, random_state=None):
        """Run ``n_steps`` Gibbs sweeps v -> h -> v from the rows of ``V``.

        ``clamp``: boolean array like ``V``; True entries stay at their value in ``V``.
        Returns the mean of E[v | h] over the sweeps after ``burn_in`` (with clamped entries
        kept): ndarray of shape ``V.shape``.
        """
        check_is_fitted(self, "_state")
        if not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
            raise ValueError(f"n_steps: expected an integer >= 1, got {n_steps!r}")
        if not 0 <= burn_in < n_steps:
            raise ValueError(f"burn_in: expected 0 <= burn_in < n_steps={n_steps}, got {burn_in}")
        V = self._check_X(V, reset=False, name="V")
        mask = None
        if clamp is not None:
            clamp = np.asarray(clamp, dtype=bool)
            if clamp.shape != tuple(V.shape):
                raise ValueError(f"clamp: expected shape {tuple(V.shape)}, got {clamp.shape}")
            mask = torch.from_numpy(clamp).to(V.device)
        generator = self._sampling_generator(random_state)
        v, total = V.clone(), torch.zeros_like(V)
        for step in range(n_steps):
            h = self._bernoulli(self._hidden_probs(v), generator)
            mean = self._visible_mean(h)
            v = self._sample_visible(h, generator)
            if mask is not None:
                v, mean = torch.where(mask, V, v), torch.where(mask, V, mean)
            if step >= burn_in:
                total += mean
        return (total / (n_steps - burn_in)).cpu().numpy()

    def sample(self, n_samples=16, *, n_steps=1000, random_state=None):
        """Visible means after ``n_steps`` Gibbs sweeps from random starts:
        (n_samples, n_visible). Bernoulli starts are uniform bits, Gaussian ones N(0, sigma^2)."""
        check_is_fitted(self, "_state")
        generator = self._sampling_generator(random_state)
        shape, dev = (int(n_samples), self.n_features_in_), self._state["W"].device
        if self.visible == "bernoulli":
            start = (torch.rand(shape, generator=generator, device=dev) < 0.5).float()
        else:
            start = self.sigma * torch.randn(shape, generator=generator, device=dev)
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator, device=dev))
        return self.gibbs(start.cpu().numpy(), n_steps, burn_in=n_steps - 1, random_state=seed)

    def denoise(self, X, *, n_steps=10, random_state=None):
        """Average of E[v | h] over ``n_steps`` Gibbs sweeps started at the noisy rows ``X``."""
        return self.gibbs(X, n_steps, random_state=random_state)

    def inpaint(self, X, observed, *, n_steps=200, burn_in=50, random_state=None):
        """Fill the entries where ``observed`` is False by Gibbs sampling with the observed ones
        clamped; returns the posterior mean of every entry (observed ones unchanged)."""
        observed = np.asarray(observed, dtype=bool)
        X = np.asarray(X, dtype=np.float32)
        if observed.shape != X.shape:
            raise ValueError(f"observed: expected shape {X.shape}, got {observed.shape}")
        rng = np.random.default_rng(self._seed if random_state is None else random_state)
        guess = rng.random(X.shape) < 0.5 if self.visible == "bernoulli" else np.zeros(X.shape)
        start = np.where(observed, X, guess)  # missing entries start at random bits (or 0)
        return self.gibbs(start.astype(np.float32), n_steps, clamp=observed, burn_in=burn_in,
                          random_state=random_state)  # fmt: skip

    # ------------------------------------------------------------------ parameters out
    def _array(self, name):
        check_is_fitted(self, "_state")
        return self._state[name].detach().cpu().numpy().copy()

    @property
    def weights_(self):
        return self._array("W")

    @property
    def visible_bias_(self):
        return self._array("a")

    @property
    def hidden_bias_(self):
        return self._array("b")

    def to_energy(self):
        """The same model as a PyTensor :class:`workbench.energy.RBM` (float64)."""
        from workbench.energy import RBM as EnergyRBM

        return EnergyRBM(
            self.weights_.astype(np.float64),
            self.visible_bias_.astype(np.float64),
            self.hidden_bias_.astype(np.float64),
            visible=self.visible,
            hidden="bernoulli",
            sigma=self.sigma,
        )

    @classmethod
    def from_energy(cls, rbm, **params):
        """An estimator holding the parameters of a :class:`workbench.energy.RBM` (binary hidden
        units); ``params`` are further hyper-parameters (for sampling or further training)."""
        if getattr(rbm, "hidden", "bernoulli") != "bernoulli":
            raise ValueError(f"rbm: binary hidden units needed, got hidden={rbm.hidden!r}")
        W = np.asarray(_value(rbm.W), dtype=np.float32)
        sigma = np.asarray(_value(getattr(rbm, "sigma", 1.0)), dtype=float)
        if sigma.size > 1 and not np.allclose(sigma, sigma.flat[0]):
            raise ValueError("rbm: a per-unit sigma cannot be represented; one value expected")
        est = cls(W.shape[1], visible=rbm.visible, sigma=float(sigma.flat[0]), **params)
        device = est._check_params()
        est.n_features_in_ = W.shape[0]
        tensors = {
            "W": W,
            "a": np.asarray(_value(rbm.visible_bias), dtype=np.float32),
            "b": np.asarray(_value(rbm.hidden_bias), dtype=np.float32),
        }
        est._state = {k: torch.from_numpy(v.copy()).to(device) for k, v in tensors.items()}
        est._state.update(base_bias=est._state["a"].clone(), epoch=0, batch=0, step=0, perm=None)
        est._seed = int(est.random_state or 0)
        est.history_ = []
        return est

    # ------------------------------------------------------------------ checkpoints
    def save(self, path):
        """Write parameters, optimiser state, persistent chains, RNG state, history and
        hyper-parameters to ``path`` atomically (``torch.save``)."""
        check_is_fitted(self, "_state")
        state = {
            k: (v.detach().cpu() if isinstance(v, torch.Tensor) else v)
            for k, v in self._state.items()
        }
        payload = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "params": {
                k: str(v) if isinstance(v, Path) else v for k, v in self.get_params().items()
            },
            "n_features_in": self.n_features_in_,
            "seed": self._seed,
            "state": state,
            "generator": self._generator.get_state() if hasattr(self, "_generator") else None,
            "window": [w.cpu() for w in getattr(self, "_window", ())],
            "history": self.history_,
        }
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
        return Path(path)

    @classmethod
    def load(cls, path, *, device=None):
        """An estimator restored from :meth:`save` (ready for ``fit(X, resume=True)``).

        ``device`` overrides the saved device. A missing, corrupt or incompatible file raises a
        ValueError that says which.
        """
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"checkpoint: no such file: {path}")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises many types for a damaged file
            raise ValueError(
                f"checkpoint: {path} is corrupt or not a torch checkpoint "
                f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
            ) from None
        if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"checkpoint: {path} is not a workbench RBM checkpoint")
        if payload.get("version") != CHECKPOINT_VERSION:
            raise ValueError(
                f"checkpoint: {path} has format version {payload.get('version')}, this "
                f"workbench reads version {CHECKPOINT_VERSION}"
            )
        try:
            params = dict(payload["params"])
            if device is not None:
                params["device"] = device
            est = cls(**params)
            dev = est._check_params()
            est.n_features_in_ = int(payload["n_features_in"])
            est._seed = int(payload["seed"])
            state = payload["state"]
            W = state["W"]
            if tuple(W.shape) != (est.n_features_in_, est.n_hidden):
                raise ValueError(f"weights of shape {tuple(W.shape)} do not match the settings")
            est._state = {
                k: (v.to(dev) if isinstance(v, torch.Tensor) else v) for k, v in state.items()
            }
            est._generator = torch.Generator(device=dev)
            if payload["generator"] is not None:
                est._generator.set_state(payload["generator"])
            est._window = deque(
                [w.to(dev) for w in payload["window"]], maxlen=est.diagnostics_window
            )
            est.history_ = list(payload["history"])
        except (KeyError, TypeError, RuntimeError) as err:
            raise ValueError(f"checkpoint: {path} is incomplete or incompatible: {err}") from None
        return est


def _value(x):
    """A NumPy array from a NumPy array, a PyTensor shared variable or a constant."""
    get = getattr(x, "get_value", None)
    if get is not None:
        return get()
    return getattr(x, "data", x) if not isinstance(x, np.ndarray) else x


def _postfix(record):
    keys = {
        "reconstruction_error": "recon",
        "pseudo_log_likelihood": "pll",
        "log_likelihood_exact": "ll",
        "free_energy_gap": "gap",
        "chain_rhat": "rhat",
    }
    return {short: f"{record[k]:.3g}" for k, short in keys.items() if record.get(k) is not None}


def _noise(draw, like, generator, shard, **options):
    """``draw`` (torch.rand or torch.randn) of the shape of ``like``; with ``shard = (start,
    stop, rows)`` the rows start:stop of a draw for all ``rows`` rows of the global batch, so a
    rank's share gets the numbers that the one-process run gives those rows."""
    shape = like.shape if shard is None else (shard[2], *like.shape[1:])
    noise = draw(shape, generator=generator, device=like.device, **options)
    return noise if shard is None else noise[shard[0] : shard[1]]


class _InterruptFlag:
    """Within the block, Ctrl-C sets ``raised`` instead of interrupting mid-update (main thread
    only); the training loop checks it between mini-batches and saves a checkpoint."""

    raised = False

    def _handler(self, signum, frame):
        self.raised = True

    def __enter__(self):
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False
