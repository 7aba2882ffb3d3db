"""The RBM on the runtime's training loop: the closed-form update of
:mod:`workbench.nn.rbm.training` as the loop's step, monitors at the end of an epoch, and the
checkpoint (kind "rbm") that :meth:`workbench.nn.rbm.RBM.load` reads.

The loop (:func:`workbench.nn.runtime.run_loop`) owns the batch order, progress, checkpoints,
SIGINT/SIGTERM and resume; the task below owns the parameters, chains and generator. Rank 0
alone monitors (``history_`` stays empty elsewhere). A checkpoint holds everything the next
update needs, so a resumed run continues exactly as the uninterrupted one. The chain
diagnostics read the cold chains' free energies that each update returns: every state under the
parameters that drew it (computed from the hidden field the update needs anyway, so no extra
product per update; before issue 18 they were evaluated after the update, one product more).
"""

import math
from collections import deque
from pathlib import Path

import torch

from workbench.errors import InputError
from workbench.nn.rbm import parallel, training
from workbench.nn.runtime import (
    derive_seed,
    distributed_context,
    load_checkpoint,
    resolve_seed,
    torch_generator,
)
from workbench.nn.runtime.checkpoint import load_estimator, plain_params
from workbench.nn.runtime.loop import run_loop

__all__ = ["KIND", "begin", "chain_diagnostics", "load", "monitor", "run"]

KIND = "rbm"  # the checkpoint kind
# settings a resumed run may change (all others must match the checkpoint)
RUNTIME = ("n_epochs", "checkpoint", "checkpoint_every", "device", "verbose", "monitor",
           "monitor_every", "monitor_size", "exact_max_units")  # fmt: skip
MONITORED = "reconstruction_error"  # a key every monitored history record has


def begin(estimator, X, device):
    """Fresh training state on ``estimator`` from the rows ``X``: seed (None: fresh entropy,
    recorded in ``seed_``), generator, parameters, chains, empty history and chain window.

    One generator, the stream "train" of the seed, draws the initial weights and chains and all
    Gibbs and swap noise; every rank of a data-parallel run holds the same one. The batch order
    is the loop's (stream "batch-order", epoch)."""
    estimator.seed_ = resolve_seed(estimator.random_state, "random_state")
    estimator._generator = torch_generator(estimator.seed_, "train", device=device)
    estimator._state = training.init_state(X, training.Settings.of(estimator), estimator._generator)
    estimator.history_ = []
    estimator._window = deque(maxlen=estimator.diagnostics_window)


def run(estimator, X, X_val, resume, device, *, binary=True):
    """Train ``estimator`` up to ``n_epochs`` epochs through the runtime's loop; with
    ``resume``, continue from ``estimator.checkpoint`` when that file exists (restored here
    first: the loop's config needs the run's seed). ``binary``: False when the rows are
    probabilities (see :func:`monitor`)."""
    path = estimator.checkpoint
    if resume and path is not None and Path(path).exists():
        _restore(estimator, load_checkpoint(path, KIND)["state"], device)
    else:
        begin(estimator, X, device)
    task = _Task(estimator, X, X_val, binary)
    result = run_loop(task, n_train=X.shape[0], n_epochs=estimator.n_epochs,
                      batch_size=estimator.batch_size, seed=estimator.seed_,
                      checkpoint=estimator.checkpoint, resume=resume,
                      checkpoint_every=estimator.checkpoint_every,
                      progress=estimator.verbose)  # fmt: skip
    estimator.history_ = _monitored(result.history)


class _Task:
    """The RBM as a task of :func:`workbench.nn.runtime.run_loop`."""

    kind = KIND

    def __init__(self, estimator, X, X_val, binary):
        self.est, self.X, self.X_val, self.X_monitor = estimator, X, X_val, None
        self.binary = binary
        self.settings = training.Settings.of(estimator)
        self.n_batches = -(-X.shape[0] // estimator.batch_size)
        self.config = plain_params(estimator, exclude=RUNTIME)
        for name in ("doubling", "binarize"):  # None: as in checkpoints from before the setting
            if self.config[name] is None:
                del self.config[name]
        if self.config["sync_every"] == 1:  # as in checkpoints from before the setting
            del self.config["sync_every"]
        self.sync_every = estimator.sync_every  # the loop honours interrupts at its multiples
        self.config["n_features_in"] = estimator.n_features_in_

    def step(self, batch, share, step):
        """One closed-form update on the global batch (rows ``batch``); this rank's share is
        taken inside :func:`training.update` (it needs the global batch's noise)."""
        est, settings = self.est, self.settings
        epoch = step // self.n_batches
        lr = training.learning_rate_at(settings, epoch)
        momentum = training.momentum_at(settings, epoch)
        rows = self.X[batch.to(self.X.device)]  # (B, n_visible)
        energies = training.update(est._state, rows, settings, lr, momentum, est._generator)
        if energies is not None:  # PCD: the cold chains' free energies, kept on the device
            est._window.extend(energies)
        return None

    def end_epoch(self, epoch):
        est = self.est
        energies = parallel.synchronise(est._state)  # with sync_every > 1: average the ranks
        if energies is not None:
            est._window.extend(energies)
        est._state["epoch"] = epoch
        fields = {"learning_rate": training.learning_rate_at(self.settings, epoch - 1)}
        due = epoch % est.monitor_every == 0 or epoch == est.n_epochs
        if est.monitor and due and distributed_context().rank == 0:
            if self.X_monitor is None:  # a fixed subset of the rows, from the seed
                order = torch.randperm(
                    self.X.shape[0], generator=torch_generator(est.seed_, "monitor-rows")
                )
                self.X_monitor = self.X[order[: est.monitor_size].to(self.X.device)]
            fields.update(monitor(est, self.X_monitor, self.X_val, epoch, binary=self.binary))
        return fields, False

    def weights(self):
        state = self.est._state  # W (n_visible, n_hidden): the receptive fields are its columns
        return {"W": state["W"].T, "visible_bias": state["a"], "hidden_bias": state["b"]}

    def state_dict(self):
        est = self.est
        return {
            "params": plain_params(est),
            "n_features_in": est.n_features_in_,
            "seed": est.seed_,
            "rbm": {k: v.detach().cpu() if torch.is_tensor(v) else v
                    for k, v in est._state.items()},
            "generator": est._generator.get_state(),
            "window": [w.cpu() for w in est._window],
        }  # fmt: skip

    def load_state_dict(self, state):
        _restore(self.est, state, self.X.device)


def _restore(est, state, dev):
    est.n_features_in_, est.seed_ = int(state["n_features_in"]), int(state["seed"])
    W = state["rbm"]["W"]
    if tuple(W.shape) != (est.n_features_in_, est.n_hidden):
        raise InputError("checkpoint", detail=f"weights of shape {tuple(W.shape)} do not "
                         f"match n_hidden={est.n_hidden}")  # fmt: skip
    est._state = {k: v.to(dev) if torch.is_tensor(v) else v for k, v in state["rbm"].items()}
    est._generator = torch.Generator(device=dev)
    try:
        est._generator.set_state(state["generator"])
    except RuntimeError:  # saved on another device type (CPU and CUDA generators differ): a
        est._generator = torch_generator(est.seed_, "train-moved", device=dev)  # new stream
    est._window = deque([w.to(dev) for w in state["window"]], maxlen=est.diagnostics_window)


def _monitored(history):
    """The monitored records of the loop's history, each with the training time so far."""
    records, seconds = [], 0.0
    for record in history:
        seconds += record.get("seconds", 0.0)
        if MONITORED in record:
            records.append({**record, "seconds": round(seconds, 4)})
    return records


def load(cls, path, device=None):
    """An estimator of class ``cls`` restored from the checkpoint at ``path`` (on ``device``,
    default the saved one)."""

    def restore(est, state):
        _restore(est, state, est._check_params())
        est.history_ = _monitored(state["loop"]["history"])

    return load_estimator(cls, path, KIND, restore, device=device)


@torch.no_grad()
def monitor(estimator, X_train, X_val, epoch, *, binary=True):
    """The metrics of one ``history_`` record on the monitor rows ``X_train`` (and held-out rows
    ``X_val`` or None): reconstruction error, pseudo-log-likelihood, free-energy gap, exact
    log-likelihood when the smaller layer can be enumerated, chain R-hat/ESS, swap rate
    (parallel tempering: accepted / proposed swaps since the last record). Rows that are
    probabilities (``binary=False``) get the reconstruction error and chain metrics only."""
    est = estimator
    seed = derive_seed(est.seed_, "monitor", epoch)  # the pseudo-likelihood's flips
    record = {
        "reconstruction_error": est.reconstruction_error(X_train),
        "pseudo_log_likelihood": (
            float(est.pseudo_log_likelihood(X_train, random_state=seed).mean())
            if est.visible == "bernoulli" and binary
            else None
        ),
        "free_energy_gap": None,
        "log_likelihood_exact": None,
        "log_likelihood_exact_val": None,
    }
    if X_val is not None and binary:
        f_val = est.free_energy(X_val[: est.monitor_size]).mean()
        record["free_energy_gap"] = float(f_val - est.free_energy(X_train).mean())
    if binary and est.exact_likelihood_:
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


def chain_diagnostics(estimator):
    """R-hat, bulk ESS and convergence of the persistent chains' free energies over the last
    ``diagnostics_window`` updates (see :meth:`workbench.nn.rbm.RBM.chain_diagnostics`)."""
    from workbench.diagnostics import MIN_DRAWS, diagnose

    window = getattr(estimator, "_window", ())
    if estimator.method != "pcd" or len(window) < MIN_DRAWS:
        return {"chain_rhat": None, "chain_ess": None, "chain_converged": None,
                "chain_draws": len(window)}  # fmt: skip
    energies = torch.stack(list(window), dim=1).double().cpu().numpy()  # (chains, draws)
    report = diagnose({"free_energy": energies}, allow_single_chain=True)
    free_energy = report.variables["free_energy"]
    return {
        "chain_rhat": _finite_or_none(free_energy.r_hat),
        "chain_ess": _finite_or_none(free_energy.ess_bulk),
        "chain_converged": report.converged,
        "chain_draws": energies.shape[1],
    }


def _finite_or_none(value):
    value = float(value)
    return value if math.isfinite(value) else None
