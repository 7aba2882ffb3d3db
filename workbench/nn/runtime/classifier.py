"""The autograd task on the training loop: a summed loss (cross-entropy of logits by default;
an autoencoder passes its reconstruction loss), AdamW, warm-up and cosine decay, optional
random translations, model selection and early stopping on a validation set (classifiers).

The whole data set lives on the device as two tensors; a batch is a slice of the loop's seeded
permutation (no DataLoader). The learning rate is a pure function of the step, so a run resumed
from a checkpoint, even one written mid-epoch by Ctrl-C, continues exactly as the uninterrupted
run would have.

Data-parallel runs (torchrun; gloo on CPU, NCCL on CUDA) wrap the model in
DistributedDataParallel. Each rank's loss is its *sum* of per-sample losses times
``world / global batch``, so DDP's gradient average is exactly the gradient of the global-batch
mean and N processes follow the one-process trajectory to float rounding. Per step the ranks
exchange one gradient all-reduce (one bucket for the course LeNet's 34,622 parameters, the
gradients living in it) and nothing else: no buffer broadcast unless the model has running
statistics, the loss stays on the device until the epoch ends. The per-step work every rank
repeats (the optimiser: one fused AdamW kernel; Python and dispatch) does not shrink with more
ranks, so the batch per rank must be large enough (docs/benchmarks.md, section 13).

With ``sync_every`` K > 1 the ranks do not wrap the model: each takes AdamW steps on the mean
loss of its share alone, and every K steps and at each epoch's end one all-reduce averages the
parameters, floating buffers and AdamW's moments (local SGD, the same scheme as the RBM's
``sync_every``: a different trajectory, judged by accuracy; the loop honours interrupts at
multiples of K, so checkpoints always hold agreeing ranks).

Example::

    cfg = TrainConfig(n_epochs=5, batch_size=64, learning_rate=2e-3, seed=0)
    result = train_classifier(net, (X, y), (X_val, y_val), cfg, model_args=config.to_dict())
"""

import math
from dataclasses import dataclass, fields
from typing import NamedTuple

import torch
import torch.nn.functional as F

from workbench.nn.runtime.distributed import all_reduce, average, distributed_context
from workbench.nn.runtime.loop import run_loop
from workbench.nn.runtime.seeds import torch_generator

__all__ = ["TrainConfig", "TrainResult", "cross_entropy_loss", "evaluate", "learning_rate_at",
           "random_shift", "train_classifier"]  # fmt: skip


@dataclass(frozen=True)
class TrainConfig:
    # optimisation
    n_epochs: int = 15  # passes over the training data
    batch_size: int = 64  # global batch (shared among processes in data-parallel runs)
    learning_rate: float = 3e-3  # peak learning rate (AdamW)
    min_lr_ratio: float = 0.05  # cosine decay ends at learning_rate * min_lr_ratio
    warmup_steps: int = 20  # linear warm-up from 0 to learning_rate
    weight_decay: float = 1e-4
    shift: int = 0  # augmentation: random translations by up to this many pixels (zero fill)
    sync_every: int = 1  # data-parallel: 1 all-reduces gradients (DDP); K > 1 local SGD
    # validation and early stopping
    patience: int | None = 5  # stop after this many epochs without a better validation score
    eval_batch_size: int = 1000
    # system
    seed: int = 0  # batch order and augmentation (resolved: None is not accepted here)
    progress: bool = True  # tqdm bar and one line per epoch on stderr (rank 0)
    checkpoint: str | None = None  # path of the checkpoint file (written each epoch)
    resume: bool = False  # continue from ``checkpoint`` if it exists

    # settings that may differ between a run and its resumption (n_epochs: where the schedule
    # ends; a run resumed with the same n_epochs equals the uninterrupted one)
    RUNTIME = ("progress", "checkpoint", "resume", "eval_batch_size", "n_epochs")


class TrainResult(NamedTuple):
    history: list  # one dict per epoch
    best_epoch: int | None  # 1-based epoch whose weights were kept (None: no validation)
    stopped_early: bool
    checkpoint: str | None


def learning_rate_at(step, total_steps, cfg):
    """Linear warm-up over ``cfg.warmup_steps``, then cosine decay from ``cfg.learning_rate``
    to ``learning_rate * min_lr_ratio`` at ``total_steps``."""
    peak = cfg.learning_rate
    warmup = min(cfg.warmup_steps, max(total_steps - 1, 0))
    if step < warmup:
        return peak * (step + 1) / (warmup + 1)
    progress = (step - warmup) / max(total_steps - warmup, 1)
    floor = peak * cfg.min_lr_ratio
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * min(progress, 1.0)))


@torch.no_grad()
def evaluate(model, X, y, batch_size=1000):
    """Mean cross-entropy and accuracy of ``model`` on tensors X (n, ...) and y (n,).

    In a data-parallel run every rank evaluates its share and the sums are all-reduced, so all
    ranks return the same numbers.
    """
    rank, world, _ = distributed_context()
    rows = torch.tensor_split(torch.arange(len(X), device=X.device), world)[rank]
    was_training = model.training
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64, device=X.device)  # loss, correct, count
    for chunk in torch.split(rows, batch_size):
        logits = model(X[chunk])  # (batch, classes)
        sums[0] += F.cross_entropy(logits, y[chunk], reduction="sum")
        sums[1] += (logits.argmax(1) == y[chunk]).sum()
        sums[2] += len(chunk)
    model.train(was_training)
    loss, correct, count = all_reduce(sums).tolist()
    return loss / count, correct / count


def random_shift(images, offsets, shift):
    """Translate each image (batch, C, H, W) by its own (dy, dx) in ``offsets`` (batch, 2),
    |dy|, |dx| <= shift, filling with zeros; one gather, no loop over images."""
    B, _, H, W = images.shape
    offsets = offsets.to(images.device)
    padded = F.pad(images, (shift, shift, shift, shift))  # (B, C, H + 2s, W + 2s)
    rows = torch.arange(H, device=images.device) + shift - offsets[:, :1]  # (B, H)
    cols = torch.arange(W, device=images.device) + shift - offsets[:, 1:]  # (B, W)
    batch = torch.arange(B, device=images.device)[:, None, None]
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2)


def _moving_buffers(model):
    """Whether training changes buffers (batch-norm running statistics), which DDP must then
    broadcast from rank 0 before every forward; constant buffers (a CNN's pixel mean and
    standard deviation, the same on every rank) are not worth that collective per step."""
    return any(name.rsplit(".", 1)[-1] in ("running_mean", "running_var")
               for name, _ in model.named_buffers())  # fmt: skip


def _fusable(model):
    """One fused AdamW kernel for all parameters (CPU or CUDA floats): a quarter of the
    per-parameter loop's CPU time per step (0.4 against 1.6 ms for the course LeNet)."""
    params = list(model.parameters())
    return bool(params) and all(
        p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params
    )


def cross_entropy_loss(net, inputs, targets, step, n_batch):
    """Summed cross-entropy of the logits ``net(inputs)`` (rows, classes) against integer
    ``targets`` (rows,). The signature of every loss of :class:`ClassifierTask`: ``step`` (the
    global step) and ``n_batch`` (the global batch size) let a loss draw per-step randomness
    for the whole batch and keep this rank's share (see :mod:`workbench.nn.autoencoder`)."""
    return F.cross_entropy(net(inputs), targets, reduction="sum")


class ClassifierTask:
    """The loop's autograd task (see :mod:`workbench.nn.runtime.loop`): ``loss`` (signature of
    :func:`cross_entropy_loss`) summed over this rank's rows; ``monitor(model) -> dict`` adds
    entries to each epoch's record (e.g. a held-out reconstruction error)."""

    def __init__(self, model, train, val, cfg, *, model_args, kind, loss=cross_entropy_loss,
                 monitor=None):  # fmt: skip
        self.model, (self.X, self.y), self.val, self.cfg, self.kind = model, train, val, cfg, kind
        self.loss, self.monitor = loss, monitor
        rank, world, _ = distributed_context()
        self.net, self.local = model, world > 1 and cfg.sync_every > 1
        self.sync_every, self.local_steps = cfg.sync_every if self.local else 1, 0
        if world > 1 and not self.local:  # DDP: one bucket for small nets; buffers sent only
            # when training moves them
            device_ids = [self.X.device] if self.X.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=device_ids, gradient_as_bucket_view=True,
                broadcast_buffers=_moving_buffers(model),
            )  # fmt: skip
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay,
            fused=_fusable(model),
        )  # fmt: skip
        if self.local:  # every rank starts from the same weights
            average(self._averaged())
        self.steps_per_epoch = math.ceil(len(self.X) / cfg.batch_size)
        self.total_steps = cfg.n_epochs * self.steps_per_epoch
        schedule = {f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name not in cfg.RUNTIME}
        if schedule["sync_every"] == 1:  # as in checkpoints from before the setting
            del schedule["sync_every"]
        data = {"n_train": len(self.X), "n_val": 0 if val is None else len(val[0])}
        self.config = {"model": model_args, "train": schedule, "data": data}
        self.selection = {"best_score": (-math.inf, -math.inf), "best_epoch": None,
                          "best_state": None, "bad_epochs": 0}  # fmt: skip

    def step(self, batch, share, step):
        cfg, (rank, world, _) = self.cfg, distributed_context()
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate_at(step, self.total_steps, cfg)
        share = share.to(self.X.device)
        inputs = self.X[share]  # (share, ...)
        if cfg.shift:
            offsets = torch.randint(-cfg.shift, cfg.shift + 1, (len(batch), 2),
                                    generator=torch_generator(cfg.seed, "shift", step))  # fmt: skip
            inputs = random_shift(inputs, torch.tensor_split(offsets, world)[rank], cfg.shift)
        if self.local and len(share) == 0:  # a short last batch left this rank no rows
            return self._after_local_step(step, None)
        # this rank's loss: scaled so that DDP's average is the global batch's mean, or (local
        # SGD) its own rows' mean
        scale = 1 / len(share) if self.local else world / len(batch)
        loss = self.loss(self.net, inputs, self.y[share], step, len(batch)) * scale
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        summed = loss.detach() / scale  # this rank's summed loss
        return self._after_local_step(step, summed) if self.local else summed

    def _after_local_step(self, step, summed):
        """Local SGD: count the step, average the ranks every ``sync_every``; ``summed``."""
        self.local_steps += 1
        if (step + 1) % self.sync_every == 0:
            self.synchronise()
        return summed

    def _averaged(self):
        """The tensors local SGD averages: the model's parameters, its floating buffers and the
        parameters' AdamW moments (the step counters agree anyway)."""
        tensors = [p.data for p in self.model.parameters()]
        tensors += [b for b in self.model.buffers() if b.is_floating_point()]
        for p in self.model.parameters():
            state = self.optimizer.state.get(p, {})
            tensors += [state[k] for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if k in state]
        return tensors

    def synchronise(self):
        """Local SGD: average the ranks' weights, buffers and AdamW moments (one all-reduce)."""
        if self.local and self.local_steps:
            average(self._averaged())
            self.local_steps = 0

    def end_epoch(self, epoch):
        self.synchronise()  # local SGD: the ranks agree before evaluating and saving
        last_step = epoch * self.steps_per_epoch - 1
        record = {"learning_rate": learning_rate_at(last_step, self.total_steps, self.cfg)}
        if self.monitor is not None:
            record.update(self.monitor(self.model))
        if self.val is None:
            return record, False
        record["val_loss"], record["val_accuracy"] = evaluate(
            self.model, *self.val, self.cfg.eval_batch_size
        )
        s = self.selection
        score = (record["val_accuracy"], -record["val_loss"])
        if score > s["best_score"]:  # higher accuracy; ties: lower loss
            s["best_score"], s["best_epoch"], s["bad_epochs"] = score, epoch, 0
            weights = self.model.state_dict()
            s["best_state"] = {k: v.detach().cpu().clone() for k, v in weights.items()}
        else:
            s["bad_epochs"] += 1
        patience = self.cfg.patience
        return record, patience is not None and s["bad_epochs"] >= patience

    def weights(self):
        return dict(self.model.named_parameters())

    def state_dict(self):
        return {"model": self.model.state_dict(), "optim": self.optimizer.state_dict(),
                "selection": self.selection}  # fmt: skip

    def load_state_dict(self, state):
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optim"])
        self.selection = state["selection"]


def train_classifier(model, train, val, cfg, *, model_args, kind="cnn", loss=cross_entropy_loss,
                     monitor=None):  # fmt: skip
    """Train ``model`` (logits out) on ``train = (X, y)`` tensors with cross-entropy (or
    ``loss`` and ``monitor``, see :class:`ClassifierTask`; ``val`` then must be None).

    ``val`` is ``(X, y)`` or None. Tensors must already be on the training device. With a
    validation set, the weights of the epoch with the highest validation accuracy (ties: lower
    validation loss) are kept, with early stopping after ``cfg.patience`` epochs without
    improvement. SIGINT/SIGTERM save a checkpoint (when ``cfg.checkpoint`` is set) and raise
    KeyboardInterrupt. ``kind`` names the checkpoint's kind.
    """
    task = ClassifierTask(model, train, val, cfg, model_args=model_args, kind=kind, loss=loss,
                          monitor=monitor)  # fmt: skip
    model.train()
    result = run_loop(task, n_train=len(train[0]), n_epochs=cfg.n_epochs,
                      batch_size=cfg.batch_size, seed=cfg.seed, checkpoint=cfg.checkpoint,
                      resume=cfg.resume, progress=cfg.progress)  # fmt: skip
    if task.selection["best_state"] is not None:
        model.load_state_dict(task.selection["best_state"])
    model.eval()
    return TrainResult(result.history, task.selection["best_epoch"], result.stopped_early,
                       result.checkpoint)  # fmt: skip
