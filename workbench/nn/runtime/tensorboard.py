"""Live training curves in TensorBoard: one writer for every family on the training loop.

Inside ``with recording(log_dir):``, each :func:`~workbench.nn.runtime.loop.run_loop` gets an
:class:`Observer` writing, through :class:`torch.utils.tensorboard.SummaryWriter`, into its own
run folder ``log_dir/<kind>`` (``rbm``, ``cnn``, ...; a second run of the same kind in the same
block, such as the next layer of a DBN, gets ``rbm-2``, and so on):

- every number of each epoch's history record as a scalar, step = epoch (training loss,
  learning rate, validation scores, an RBM's pseudo-log-likelihood, exact log-likelihood,
  reconstruction error and chain R-hat/ESS, seconds);
- on the epochs the loop logs (about 20 per run), a histogram of every tensor of the task's
  optional ``weights()`` (name -> tensor in Torch's (out, in, ...) layout) and, as images, the
  filters of the first weight that has a picture: a convolution's (out, in, kh, kw), or a
  matrix (out, in) whose ``in`` is a square number of pixels (an RBM's or a dense layer's
  receptive fields).

Only rank 0 writes; the other ranks get no observer. Writers are closed when the block ends.

>>> with recording("runs"):
...     RBM(64, n_epochs=20).fit(X)
$ tensorboard --logdir runs
"""

import contextvars
import math
from contextlib import contextmanager
from pathlib import Path

import torch

from workbench.nn.runtime.distributed import distributed_context

__all__ = ["MAX_FILTERS", "Observer", "filter_images", "observer_for", "recording"]

MAX_FILTERS = 64  # filter images per step
_ACTIVE = contextvars.ContextVar("tensorboard_recording", default=None)


@contextmanager
def recording(log_dir):
    """Within the block, training loops write to TensorBoard under ``log_dir`` (None: nothing,
    so a command can pass its option through); yields the list of run folders opened."""
    if log_dir is None:
        yield []
        return
    state = {"root": Path(log_dir), "observers": [], "runs": []}
    token = _ACTIVE.set(state)
    try:
        yield state["runs"]
    finally:
        _ACTIVE.reset(token)
        for observer in state["observers"]:
            observer.close()


def observer_for(task):
    """An :class:`Observer` for a new run of ``task`` inside :func:`recording` on rank 0;
    None elsewhere."""
    state = _ACTIVE.get()
    if state is None or distributed_context().rank != 0:
        return None
    name, n = task.kind, 1
    while name in state["runs"]:
        n += 1
        name = f"{task.kind}-{n}"
    state["runs"].append(name)
    observer = Observer(state["root"] / name)
    state["observers"].append(observer)
    return observer


class Observer:
    """Writes one run's epochs to ``run_dir`` (see the module docstring)."""

    def __init__(self, run_dir):
        from torch.utils.tensorboard import SummaryWriter

        self.run_dir = Path(run_dir)
        self.writer = SummaryWriter(log_dir=str(run_dir))

    def epoch(self, task, record, logged):
        """Epoch ``record["epoch"]`` ended with the history ``record``; ``logged``: the loop
        printed it (histograms and filters are written then)."""
        step = int(record["epoch"])
        for key, value in record.items():
            if key == "epoch" or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if math.isfinite(value):
                self.writer.add_scalar(key, value, step)
        weights = getattr(task, "weights", None)
        if logged and weights is not None:
            tensors = {name: w.detach().float().cpu() for name, w in weights().items()}
            for name, tensor in tensors.items():
                self.writer.add_histogram(name, tensor, step)
            for name, tensor in tensors.items():
                images = filter_images(tensor)
                if images is not None:
                    self.writer.add_images(f"filters/{name}", images, step)
                    break
            self.writer.flush()

    def close(self):
        self.writer.close()


def filter_images(weight, limit=MAX_FILTERS):
    """The first ``limit`` filters of ``weight`` as grey images (n, 1, H, W) scaled to [0, 1]
    each, or None when it has no picture: (out, in, kh, kw) shows input channel 0, (out, in)
    needs ``in`` a square."""
    if weight.ndim == 4:
        images = weight[:limit, :1]
    elif (
        weight.ndim == 2
        and weight.shape[1] >= 4
        and math.isqrt(weight.shape[1]) ** 2 == weight.shape[1]
    ):
        side = math.isqrt(weight.shape[1])
        images = weight[:limit].reshape(-1, 1, side, side)
    else:
        return None
    low = images.amin(dim=(1, 2, 3), keepdim=True)
    high = images.amax(dim=(1, 2, 3), keepdim=True)
    return (images - low) / torch.clamp(high - low, min=1e-12)
