"""The sigmoid belief net on the runtime's training loop: the closed-form wake-sleep update of
:mod:`workbench.nn.sbn.kernels` as the loop's step, an exact log-likelihood monitor at the end of
an epoch when the net is small, and the checkpoint (kind "sbn") that
:meth:`workbench.nn.sbn.SigmoidBeliefNet.load` reads.

The loop (:func:`workbench.nn.runtime.run_loop`) owns the batch order, progress, checkpoints,
SIGINT/SIGTERM and resume. A checkpoint holds the parameters and the generator, everything the
next update needs, so a resumed run continues exactly as the uninterrupted one. Every rank of a
torchrun launch would repeat the whole update (there is no data-parallel split here).
"""

from pathlib import Path

import torch

from workbench.errors import InputError
from workbench.nn.runtime import load_checkpoint, resolve_seed, torch_generator
from workbench.nn.runtime.checkpoint import load_estimator
from workbench.nn.runtime.loop import run_loop
from workbench.nn.sbn import kernels

__all__ = ["KIND", "begin", "load", "run"]

KIND = "sbn"  # the checkpoint kind
# settings a resumed run may change (all others must match the checkpoint)
RUNTIME = ("n_epochs", "checkpoint", "checkpoint_every", "device", "verbose", "monitor",
           "monitor_every", "monitor_size", "monitor_states")  # fmt: skip


def begin(estimator, X, device):
    """Fresh training state on ``estimator`` from the rows ``X``: seed (None: fresh entropy,
    kept in ``seed_``), the generator (stream "train", which draws the initial weights and all
    sampling noise) and the parameters."""
    estimator.seed_ = resolve_seed(estimator.random_state, "random_state")
    estimator._generator = torch_generator(estimator.seed_, "train", device=device)
    sizes = [X.shape[1], *estimator.layers]
    estimator._state = kernels.init_state(sizes, X, estimator._generator, estimator.init_scale)
    estimator.history_ = []


def run(estimator, X, resume, device):
    """Train up to ``n_epochs`` epochs; with ``resume``, continue from ``checkpoint`` when that
    file exists (restored here first: the loop's config needs the run's seed)."""
    path = estimator.checkpoint
    if resume and path is not None and Path(path).exists():
        _restore(estimator, load_checkpoint(path, KIND)["state"], device)
    else:
        begin(estimator, X, device)
    task = _Task(estimator, X)
    result = run_loop(task, n_train=X.shape[0], n_epochs=estimator.n_epochs,
                      batch_size=estimator.batch_size, seed=estimator.seed_,
                      checkpoint=estimator.checkpoint, resume=resume,
                      checkpoint_every=estimator.checkpoint_every,
                      progress=estimator.verbose)  # fmt: skip
    estimator.history_ = result.history


class _Task:
    """The sigmoid belief net as a task of :func:`workbench.nn.runtime.run_loop`."""

    kind = KIND

    def __init__(self, estimator, X):
        self.est, self.X = estimator, X
        self.settings = kernels.Settings.of(estimator)
        params = estimator.get_params()
        self.config = {k: _plain(v) for k, v in params.items() if k not in RUNTIME}
        self.config["layers"] = [int(n) for n in estimator.layers]
        self.config["n_features_in"] = estimator.n_features_in_
        self.X_monitor = None

    def step(self, batch, share, step):
        rows = self.X[batch.to(self.X.device)]  # (B, n_visible)
        est = self.est
        return kernels.update(est._state, rows, self.settings, est.learning_rate, est._generator)

    def end_epoch(self, epoch):
        est = self.est
        due = epoch % est.monitor_every == 0 or epoch == est.n_epochs
        sizes = kernels.sizes_of(est._state)
        if not (est.monitor and due and 2 ** kernels.exact_states(sizes) <= est.monitor_states):
            return {}, False
        if self.X_monitor is None:  # a fixed subset of the rows, from the seed
            gen = torch_generator(est.seed_, "monitor-rows")
            order = torch.randperm(self.X.shape[0], generator=gen)[: est.monitor_size]
            self.X_monitor = self.X[order.to(self.X.device)]
        log_p = kernels.exact_log_likelihood(est._state, self.X_monitor, est.monitor_states)
        return {"log_likelihood_exact": float(log_p.mean())}, False

    def state_dict(self):
        est = self.est
        return {
            "params": {k: _plain(v) for k, v in est.get_params().items()},
            "n_features_in": est.n_features_in_,
            "seed": est.seed_,
            "sbn": {k: [t.detach().cpu() for t in v] for k, v in est._state.items()},
            "generator": est._generator.get_state(),
        }

    def load_state_dict(self, state):
        _restore(self.est, state, self.X.device)


def _plain(value):
    if isinstance(value, Path):
        return str(value)
    return list(value) if isinstance(value, tuple) else value


def _restore(est, state, dev):
    est.n_features_in_, est.seed_ = int(state["n_features_in"]), int(state["seed"])
    sizes = [int(b.shape[0]) for b in state["sbn"]["gen_b"]]
    if sizes != [est.n_features_in_, *[int(n) for n in est.layers]]:
        raise InputError("checkpoint", detail=f"layers {sizes[1:]} do not match "
                         f"layers={list(est.layers)}")  # fmt: skip
    est._state = {k: [t.to(dev) for t in v] for k, v in state["sbn"].items()}
    est._generator = torch.Generator(device=dev)
    try:
        est._generator.set_state(state["generator"])
    except RuntimeError:  # saved on another device type: a new stream
        est._generator = torch_generator(est.seed_, "train-moved", device=dev)


def load(cls, path, device=None):
    """An estimator of class ``cls`` restored from the checkpoint at ``path`` (on ``device``,
    default the saved one)."""

    def restore(est, state):
        _restore(est, state, est._check_params())
        est.history_ = list(state["loop"]["history"])

    return load_estimator(cls, path, KIND, restore, device=device)
