"""The one training loop (nanoGPT style): epochs x batches, for every model family.

A family supplies a *task*, an object with

- ``kind`` (str) and ``config`` (dict): the checkpoint kind, and what a resumed run must share
  (hyper-parameters, data sizes; compared entry by entry on resume);
- ``step(batch, share, step)``: one optimiser step on the global mini-batch ``batch`` (row
  indices, 1-D tensor) of which this rank handles ``share``; returns this rank's summed loss
  (a tensor or float) or None. The update may use autograd or a closed form (an RBM's CD
  statistics), so the loop never calls ``backward`` itself;
- ``end_epoch(epoch)``: after epoch ``epoch`` (1-based): ``(fields, stop)``, further entries of
  the epoch's history record (validation scores, learning rate, monitors) and whether to stop;
- ``state_dict()`` / ``load_state_dict(state)``: everything the task needs to continue
  (tensors and plain values; model and optimiser state, generators, ...);
- optionally ``weights()``: ``{name: tensor}`` in Torch's (out, in, ...) layout, for observers;
- optionally ``sync_every`` (int): the task synchronises its ranks itself every that many steps
  (and in ``end_epoch``); the ranks then agree on interrupts only at multiples of it, so that
  a checkpoint never holds ranks that differ.

An *observer* (``observer=``, or on rank 0 the TensorBoard writer of an enclosing
:func:`workbench.nn.runtime.tensorboard.recording`) sees every epoch on rank 0:
``observer.epoch(task, record, logged)`` with the history record and whether it was logged.

The loop owns the rest: the batch order of epoch ``e`` (``numpy_rng(seed, "batch-order", e)``,
a pure function, so a run resumed mid-epoch draws the same batches), the global batch shared
among ranks (``tensor_split(batch, world)[rank]``, so N processes see what one process sees),
the training loss averaged over all ranks, the history, a tqdm bar (only when stderr is a
terminal) and log lines (below) on stderr (rank 0, with ``progress``), checkpoints
(:mod:`~workbench.nn.runtime.checkpoint`, rank 0) every ``checkpoint_every`` epochs, at the end
and on SIGINT/SIGTERM (agreed by every rank), and resume.

Log lines: the history record of epoch 1, of every ``log_every``-th epoch and of the last one
(the ``n_epochs``-th, or the one the task stopped at), so a run prints about 20 lines whatever
its length: ``log_every=None`` means ``max(1, n_epochs // 20)`` (the RBM's 4000 full-batch
epochs on bars-stripes print 21 lines, not 4000); 1 prints every epoch. The history keeps
every epoch.

Example::

    result = run_loop(task, n_train=len(X), n_epochs=10, batch_size=64, seed=0,
                      checkpoint="run/ckpt.pt")
    result.history   # [{"epoch": 1, "train_loss": ..., ...}, ...]
"""

import math
import sys
import time
from pathlib import Path
from typing import NamedTuple

import torch

from workbench.errors import InputError
from workbench.nn.runtime.checkpoint import check_config, load_checkpoint, save_checkpoint
from workbench.nn.runtime.distributed import all_reduce, collective_device, distributed_context
from workbench.nn.runtime.interrupts import Interrupts
from workbench.nn.runtime.seeds import numpy_rng
from workbench.nn.runtime.tensorboard import observer_for
from workbench.output import progress_bars
from workbench.signals import Interrupted

__all__ = ["LoopResult", "run_loop"]

LOG_LINES = 20  # epochs logged per run by default (plus the first and the last)
INTERRUPT_EVERY = 10  # steps between the ranks' agreements on a stop signal (at least)


class LoopResult(NamedTuple):
    history: list  # one dict per epoch
    stopped_early: bool  # the task asked to stop before n_epochs
    checkpoint: str | None  # path of the checkpoint, None without one
    resumed: bool  # the run continued from a checkpoint
    state: dict  # the loop's own state (epoch, step, history, ...), for ``run_loop(start=...)``


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(name, "an integer >= 1", repr(value))


def run_loop(task, *, n_train, n_epochs, batch_size, seed, checkpoint=None, resume=False,
             checkpoint_every=1, progress=True, log_every=None, start=None,
             observer=None):  # fmt: skip
    """Train ``task`` for ``n_epochs`` passes over ``n_train`` rows in global mini-batches of
    ``batch_size`` (the last one holds the remainder); see the module docstring. ``resume``
    continues from ``checkpoint`` when that file exists; ``start`` (a ``LoopResult.state``, or
    ``state["loop"]`` of a checkpoint already loaded into the task) continues in memory, up to
    the new ``n_epochs``. ``log_every``: epochs between log lines (None: about 20 per run).
    ``observer``: sees each epoch on rank 0 (None: TensorBoard inside ``recording``, else none).
    Raises :class:`~workbench.signals.Interrupted` (a KeyboardInterrupt naming the signal and
    the checkpoint) after saving the checkpoint when interrupted."""
    sizes = {"n_train": n_train, "n_epochs": n_epochs, "batch_size": batch_size,
             "checkpoint_every": checkpoint_every}  # fmt: skip
    if log_every is not None:
        sizes["log_every"] = log_every
    for name, value in sizes.items():
        _positive(name, value)
    log_every = log_every or max(1, n_epochs // LOG_LINES)
    from tqdm import tqdm

    rank, world, _ = distributed_context()
    observer = observer_for(task) if observer is None else observer
    B, steps_per_epoch = batch_size, math.ceil(n_train / batch_size)
    config = {**task.config, "loop": {"batch_size": B, "seed": seed, "n_train": n_train}}
    path = None if checkpoint is None else Path(checkpoint)
    loop = {"epoch": 0, "step": 0, "history": [], "epoch_sums": [0.0, 0], "stopped": False,
            "finished": False}  # fmt: skip
    if start is not None:
        loop = {**start, "history": list(start["history"]), "epoch_sums": list(start["epoch_sums"])}
    resumed = bool(resume and path is not None and path.exists())
    if resumed:
        ckpt = load_checkpoint(path, task.kind)
        check_config(ckpt, config, path)
        loop = ckpt["state"].pop("loop")
        if loop["epoch"] > n_epochs:
            raise InputError("n_epochs", f"at least the {loop['epoch']} epochs {path} has done",
                             n_epochs)  # fmt: skip
        task.load_state_dict(ckpt["state"])

    def save():
        if path is not None and rank == 0:
            save_checkpoint(path, kind=task.kind, config=config,
                            state={"loop": loop, **task.state_dict()})  # fmt: skip

    def stop_now():  # the CLI prints the message as its one line (exit 130 or 143)
        save()
        where = f"checkpoint saved to {path}" if path else "no checkpoint path was set"
        raise Interrupted(interrupts.signal, f"interrupted ({interrupts.signal or 'signal'}) "
                          f"after step {loop['step']}: {where}; resume with the same settings "
                          "and resume=True / --resume")  # fmt: skip

    sync = getattr(task, "sync_every", 1)  # agree on interrupts at its multiples, about every 10
    interrupts = Interrupts(every=sync * math.ceil(INTERRUPT_EVERY / sync))
    with interrupts:
        while loop["epoch"] < n_epochs and not loop["stopped"]:
            epoch, tick = loop["epoch"], time.perf_counter()
            order = numpy_rng(seed, "batch-order", epoch).permutation(n_train)
            order = torch.from_numpy(order)  # (n_train,) row indices
            first = loop["step"] - epoch * steps_per_epoch  # > 0 when resuming mid-epoch
            loss_sum = 0.0  # a tensor once a step returned one (no sync per step)
            bar = tqdm(range(first, steps_per_epoch), desc=f"epoch {epoch + 1}/{n_epochs}",
                       file=sys.stderr, leave=False,
                       disable=not (progress and rank == 0 and progress_bars()))  # fmt: skip
            for b in bar:
                batch = order[b * B : (b + 1) * B]  # (global batch,)
                share = torch.tensor_split(batch, world)[rank] if world > 1 else batch
                loss = task.step(batch, share, loop["step"])
                if loss is not None:
                    loss_sum = loss_sum + (loss.detach() if torch.is_tensor(loss) else loss)
                    loop["epoch_sums"][1] += len(share)
                loop["step"] += 1
                if interrupts.requested(loop["step"]):
                    loop["epoch_sums"][0] += float(loss_sum)
                    bar.close()
                    stop_now()
            bar.close()
            loop["epoch_sums"][0] += float(loss_sum)
            sums = torch.tensor(loop["epoch_sums"], dtype=torch.float64, device=collective_device())
            total, count = all_reduce(sums).tolist()
            record = {"epoch": epoch + 1}
            if count:
                record["train_loss"] = total / count
            record["seconds"] = time.perf_counter() - tick
            fields, stop = task.end_epoch(epoch + 1)
            record.update(fields)
            loop["history"].append(record)
            loop["epoch"], loop["epoch_sums"], loop["stopped"] = epoch + 1, [0.0, 0], bool(stop)
            last = loop["stopped"] or loop["epoch"] == n_epochs
            due = loop["epoch"] == 1 or loop["epoch"] % log_every == 0 or last
            if progress and rank == 0 and due:
                tqdm.write(" ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                    for k, v in record.items()), file=sys.stderr)  # fmt: skip
            if observer is not None and rank == 0:
                observer.epoch(task, record, due)
            if loop["epoch"] % checkpoint_every == 0 and loop["epoch"] < n_epochs:
                save()
            if interrupts.requested(None):
                stop_now()
    stopped_early = loop["stopped"] and loop["epoch"] < n_epochs
    loop["finished"] = True
    save()
    where = None if path is None else str(path)
    return LoopResult(loop["history"], stopped_early, where, resumed, loop)
