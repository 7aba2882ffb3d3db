"""The RBM's epochs: mini-batches of the kernels in :mod:`workbench.nn.rbm.training`, monitors,
progress, checkpoints and Ctrl-C; used by :meth:`workbench.nn.rbm.RBM.fit`.

Rank 0 alone monitors (``history_`` stays empty elsewhere), shows progress and writes
checkpoints; a checkpoint holds everything the next update needs, so a resumed run continues
exactly as the uninterrupted one.
"""

import signal
import sys
import threading
import time
from collections import deque

import numpy as np
import torch

from workbench.nn.rbm import training
from workbench.nn.runtime.training import distributed_context

__all__ = ["begin", "monitor", "run_epochs"]


def begin(estimator, X, device):
    """Fresh training state on ``estimator`` from the rows ``X``: seed (None: fresh entropy,
    recorded), generator, parameters, chains, empty history and chain window."""
    seed = estimator.random_state
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    estimator._seed = int(seed)
    estimator._generator = torch.Generator(device=device).manual_seed(estimator._seed)
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
    monitor_rows = torch.randperm(n, generator=torch.Generator().manual_seed(estimator._seed))
    X_monitor = X[monitor_rows[: estimator.monitor_size].to(X.device)]
    total = max(settings.n_epochs - s["epoch"], 0) * n_batches - s["batch"]
    bar = tqdm(total=max(total, 0), file=sys.stderr, disable=not (estimator.verbose and lead),
               desc=f"RBM {settings.method}-{settings.k}", unit="batch", leave=False)  # fmt: skip
    stop, seconds = _InterruptFlag(), 0.0
    try:
        with stop:
            while s["epoch"] < settings.n_epochs:
                tick = time.perf_counter()
                if s["perm"] is None:
                    s["perm"] = torch.randperm(n, generator=generator, device=X.device)
                lr = training.learning_rate_at(settings, s["epoch"])
                momentum = training.momentum_at(settings, s["epoch"])
                while s["batch"] < n_batches:
                    if stop.raised:
                        raise KeyboardInterrupt
                    rows = s["perm"][s["batch"] * B : (s["batch"] + 1) * B]
                    training.update(s, X[rows], settings, lr, momentum, generator)
                    if settings.method == "pcd":  # stays on the device
                        estimator._window.append(estimator._free_energy(s["chains"][0]))
                    s["batch"] += 1
                    bar.update(1)
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
    log-likelihood when the smaller layer can be enumerated, chain R-hat/ESS, swap rate."""
    est, seed = estimator, estimator._seed + 7919 * estimator._state["epoch"]
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
    if est.n_temperatures > 1:
        record["swap_rate"] = float(est._state["swaps"])
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
