"""The RBM's epochs: mini-batches of the kernels in :mod:`workbench.nn.rbm.training`, monitors,
progress, checkpoints and Ctrl-C; used by :meth:`workbench.nn.rbm.RBM.fit`.

Rank 0 alone monitors (``history_`` stays empty elsewhere), shows progress and writes
checkpoints; a checkpoint holds everything the next update needs, so a resumed run continues
exactly as the uninterrupted one.
"""

import sys
import time
from collections import deque
from pathlib import Path

import torch

from workbench.errors import InputError
from workbench.nn.rbm import training
from workbench.nn.runtime import (
    Interrupts,
    derive_seed,
    distributed_context,
    load_checkpoint,
    resolve_seed,
    save_checkpoint,
    torch_generator,
)

__all__ = ["KIND", "begin", "load", "monitor", "run_epochs", "save"]

KIND = "rbm"  # the checkpoint kind


def begin(estimator, X, device):
    """Fresh training state on ``estimator`` from the rows ``X``: seed (None: fresh entropy,
    recorded in ``seed_``), generator, parameters, chains, empty history and chain window.

    One generator, the stream "train" of the seed, draws the initial weights and chains, the
    mini-batch orders and all Gibbs and swap noise, in that order; every rank of a
    data-parallel run holds the same one."""
    estimator.seed_ = resolve_seed(estimator.random_state, "random_state")
    estimator._generator = torch_generator(estimator.seed_, "train", device=device)
    estimator._state = training.init_state(X, training.Settings.of(estimator), estimator._generator)
    estimator.history_ = []
    estimator._window = deque(maxlen=estimator.diagnostics_window)


def run_epochs(estimator, X, X_val):
    """Train ``estimator`` from its current state up to ``n_epochs`` epochs."""
    from tqdm.auto import tqdm

    s, generator = estimator._state, estimator._generator
    settings = training.Settings.of(estimator)
    lead = distributed_context().rank == 0  # monitors, progress and checkpoints
    n, B = X.shape[0], settings.batch_size
    n_batches = -(-n // B)
    monitor_rows = torch.randperm(n, generator=torch_generator(estimator.seed_, "monitor-rows"))
    X_monitor = X[monitor_rows[: estimator.monitor_size].to(X.device)]
    total = max(settings.n_epochs - s["epoch"], 0) * n_batches - s["batch"]
    bar = tqdm(total=max(total, 0), file=sys.stderr, disable=not (estimator.verbose and lead),
               desc=f"RBM {settings.method}-{settings.k}", unit="batch", leave=False)  # fmt: skip
    seconds = 0.0
    try:
        with Interrupts() as stop:
            while s["epoch"] < settings.n_epochs:
                tick = time.perf_counter()
                if s["perm"] is None:
                    s["perm"] = torch.randperm(n, generator=generator, device=X.device)
                lr = training.learning_rate_at(settings, s["epoch"])
                momentum = training.momentum_at(settings, s["epoch"])
                while s["batch"] < n_batches:
                    rows = s["perm"][s["batch"] * B : (s["batch"] + 1) * B]
                    training.update(s, X[rows], settings, lr, momentum, generator)
                    if settings.method == "pcd":  # stays on the device
                        estimator._window.append(estimator._free_energy(s["chains"][0]))
                    s["batch"] += 1
                    bar.update(1)
                    if stop.requested(s["step"]):  # the same answer on every rank
                        raise KeyboardInterrupt
                s["epoch"], s["batch"], s["perm"] = s["epoch"] + 1, 0, None
                seconds += time.perf_counter() - tick
                last = s["epoch"] == settings.n_epochs
                if estimator.monitor and lead and (s["epoch"] % estimator.monitor_every == 0
                                                   or last):  # fmt: skip
                    record = {"epoch": s["epoch"], "learning_rate": lr}
                    record.update(monitor(estimator, X_monitor, X_val))
                    record["seconds"] = round(seconds, 4)
                    estimator.history_.append(record)
                    bar.set_postfix(_postfix(record), refresh=False)
                due = s["epoch"] % estimator.checkpoint_every == 0 or last
                if estimator.checkpoint and lead and due:
                    estimator.save(estimator.checkpoint)
    except KeyboardInterrupt:
        if estimator.checkpoint and lead:
            estimator.save(estimator.checkpoint)
            print(f"\nRBM: interrupted; checkpoint saved to {estimator.checkpoint} "
                  f"(epoch {s['epoch']}, batch {s['batch']})", file=sys.stderr)  # fmt: skip
        raise
    finally:
        bar.close()


@torch.no_grad()
def monitor(estimator, X_train, X_val):
    """The metrics of one ``history_`` record on the monitor rows ``X_train`` (and held-out rows
    ``X_val`` or None): reconstruction error, pseudo-log-likelihood, free-energy gap, exact
    log-likelihood when the smaller layer can be enumerated, chain R-hat/ESS, swap rate
    (parallel tempering: accepted / proposed swaps since the last record)."""
    est = estimator
    seed = derive_seed(est.seed_, "monitor", est._state["epoch"])  # the pseudo-likelihood's flips
    record = {
        "reconstruction_error": est.reconstruction_error(X_train),
        "pseudo_log_likelihood": (
            float(est.pseudo_log_likelihood(X_train, random_state=seed).mean())
            if est.visible == "bernoulli"
            else None
        ),
        "free_energy_gap": None,
        "log_likelihood_exact": None,
        "log_likelihood_exact_val": None,
    }
    if X_val is not None:
        f_val = est.free_energy(X_val[: est.monitor_size]).mean()
        record["free_energy_gap"] = float(f_val - est.free_energy(X_train).mean())
    if est._smaller_layer() <= est.exact_max_units:
        rows = X_train if X_val is None else torch.cat([X_train, X_val])
        log_p = est.score_samples(rows, method="exact")
        record["log_likelihood_exact"] = float(log_p[: len(X_train)].mean())
        if X_val is not None:
            record["log_likelihood_exact_val"] = float(log_p[len(X_train) :].mean())
    record.update(est.chain_diagnostics())
    if est.n_temperatures > 1:  # the acceptance rate of the swaps since the last record
        accepted, proposed = est._state["swap_counts"].tolist()
        record["swap_rate"] = accepted / proposed if proposed else None
        est._state["swap_counts"] = torch.zeros_like(est._state["swap_counts"])
    return record


def _postfix(record):
    keys = {
        "reconstruction_error": "recon",
        "pseudo_log_likelihood": "pll",
        "log_likelihood_exact": "ll",
        "free_energy_gap": "gap",
        "chain_rhat": "rhat",
    }
    return {short: f"{record[k]:.3g}" for k, short in keys.items() if record.get(k) is not None}


def save(estimator, path):
    """Checkpoint of kind "rbm": config (the hyper-parameters), state (parameters, velocities,
    chains, counters), the generator, the chain window and the history."""
    state = {
        k: (v.detach().cpu() if isinstance(v, torch.Tensor) else v)
        for k, v in estimator._state.items()
    }
    config = {k: str(v) if isinstance(v, Path) else v for k, v in estimator.get_params().items()}
    generator = getattr(estimator, "_generator", None)
    return save_checkpoint(
        path,
        kind=KIND,
        state=state,
        config=config,
        n_features_in=estimator.n_features_in_,
        seed=estimator.seed_,
        generator=None if generator is None else generator.get_state(),
        window=[w.cpu() for w in getattr(estimator, "_window", ())],
        history=estimator.history_,
    )


def load(cls, path, device=None):
    """An estimator of class ``cls`` restored from the checkpoint at ``path`` (on ``device``,
    default the saved one)."""
    ckpt = load_checkpoint(path, KIND)
    try:
        params = dict(ckpt["config"])
        if device is not None:
            params["device"] = device
        est = cls(**params)
        dev = est._check_params()
        est.n_features_in_, est.seed_ = int(ckpt["n_features_in"]), int(ckpt["seed"])
        state = ckpt["state"]
        if tuple(state["W"].shape) != (est.n_features_in_, est.n_hidden):
            raise ValueError(f"weights of shape {tuple(state['W'].shape)} do not match")
        est._state = {
            k: (v.to(dev) if isinstance(v, torch.Tensor) else v) for k, v in state.items()
        }
        est._generator = torch.Generator(device=dev)
        if ckpt["generator"] is not None:
            est._generator.set_state(ckpt["generator"])
        est._window = deque([w.to(dev) for w in ckpt["window"]], maxlen=est.diagnostics_window)
        est.history_ = list(ckpt["history"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise InputError(
            "checkpoint", detail=f"{path} is incomplete or incompatible: {err}"
        ) from None
    return est
