"""One readable training loop for Torch classifiers (nanoGPT style), single- or multi-process.

The whole data set lives on the device as two tensors; a batch is a slice of a seeded
permutation (no Python loop over samples, no DataLoader). The permutation of epoch ``e`` is a
pure function of ``(seed, e)`` and the learning rate a pure function of the step, so a run
resumed from a checkpoint, even one written mid-epoch by Ctrl-C, continues exactly as the
uninterrupted run would have.

Data-parallel runs (``torchrun --nproc-per-node N``; gloo on CPU, NCCL on CUDA) wrap the model
in DistributedDataParallel. Every rank draws the same global batch and takes its own contiguous
share of it; each rank's loss is its *sum* of per-sample losses times ``world / global batch``,
so DDP's gradient average is exactly the gradient of the global batch mean. N processes
therefore follow the single-process trajectory to float rounding. Only rank 0 logs and writes
checkpoints.

Example::

    cfg = TrainConfig(epochs=5, batch_size=64, lr=2e-3, seed=0)
    result = train_classifier(net, (X, y), (X_val, y_val), cfg, model_args=config.to_dict())
"""

import math
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F

from workbench.nn.runtime.checkpoint import check_config, load_checkpoint, save_checkpoint
from workbench.nn.runtime.distributed import (  # noqa: F401  (nn/rbm imports them from here)
    all_reduce,
    distributed_context,
    init_distributed,
)
from workbench.nn.runtime.interrupts import Interrupts
from workbench.nn.runtime.launch import launch_torchrun  # noqa: F401  (nn/rbm/cli.py)
from workbench.nn.runtime.seeds import numpy_rng, torch_generator

__all__ = ["CHECKPOINT_KIND", "TrainConfig", "TrainResult", "evaluate", "learning_rate",
           "random_shift", "train_classifier"]  # fmt: skip

CHECKPOINT_KIND = "cnn"


@dataclass(frozen=True)
class TrainConfig:
    # optimisation
    epochs: int = 15  # passes over the training data
    batch_size: int = 64  # global batch (shared among processes in data-parallel runs)
    lr: float = 3e-3  # peak learning rate (AdamW)
    min_lr_ratio: float = 0.05  # cosine decay ends at lr * min_lr_ratio
    warmup_steps: int = 20  # linear warm-up from 0 to lr
    weight_decay: float = 1e-4
    shift: int = 0  # augmentation: random translations by up to this many pixels (zero fill)
    # validation and early stopping
    patience: int | None = 5  # stop after this many epochs without a better validation score
    eval_batch_size: int = 1000
    # system
    seed: int = 0
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    progress: bool = True  # tqdm bar and one line per epoch on stderr (rank 0)
    checkpoint: str | None = None  # path of the checkpoint file (written each epoch)
    resume: bool = False  # continue from ``checkpoint`` if it exists

    # settings that may differ between a run and its resumption
    RUNTIME = ("device", "progress", "checkpoint", "resume", "eval_batch_size")


class TrainResult(NamedTuple):
    history: list  # one dict per epoch
    best_epoch: int | None  # 1-based epoch whose weights were kept (None: no validation)
    stopped_early: bool
    checkpoint: str | None


def learning_rate(step, total_steps, cfg):
    """Linear warm-up over ``cfg.warmup_steps``, then cosine decay to ``lr * min_lr_ratio``."""
    warmup = min(cfg.warmup_steps, max(total_steps - 1, 0))
    if step < warmup:
        return cfg.lr * (step + 1) / (warmup + 1)
    progress = (step - warmup) / max(total_steps - warmup, 1)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + 0.5 * (cfg.lr - floor) * (1 + math.cos(math.pi * min(progress, 1.0)))


@torch.no_grad()
def evaluate(model, X, y, batch_size=1000):
    """Mean cross-entropy and accuracy of ``model`` on tensors X (n, C, H, W) and y (n,).

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
    all_reduce(sums)
    loss, correct, count = sums.tolist()
    return loss / count, correct / count


def _schedule_config(cfg):
    return {f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name not in cfg.RUNTIME}


def train_classifier(model, train, val, cfg, *, model_args):
    """Train ``model`` (logits out) on ``train = (X, y)`` tensors with cross-entropy.

    ``val`` is ``(X, y)`` or None. Tensors must already be on the training device. With a
    validation set, the weights of the epoch with the highest validation accuracy (ties: lower
    validation loss) are kept, with early stopping after ``cfg.patience`` epochs without
    improvement. Ctrl-C saves a
    checkpoint (when ``cfg.checkpoint`` is set) and re-raises KeyboardInterrupt.
    """
    from tqdm import tqdm

    rank, world, _ = distributed_context()
    X, y = train
    n_train, B = len(X), cfg.batch_size
    steps_per_epoch = math.ceil(n_train / B)
    total_steps = cfg.epochs * steps_per_epoch
    net = model
    if world > 1:
        device_ids = [X.device] if X.device.type == "cuda" else None
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    run_config = _schedule_config(cfg)
    data_sizes = {"n_train": n_train, "n_val": 0 if val is None else len(val[0])}
    config = {"model": model_args, "train": run_config, "data": data_sizes}
    state = {
        "epoch": 0,
        "step": 0,
        "history": [],
        "best_score": (-math.inf, -math.inf),
        "best_epoch": None,
        "best_state": None,
        "bad_epochs": 0,
        "epoch_sums": [0.0, 0.0],
        "finished": False,
    }
    path = Path(cfg.checkpoint) if cfg.checkpoint else None
    if cfg.resume and path is not None and path.exists():
        ckpt = load_checkpoint(path, CHECKPOINT_KIND)
        check_config(ckpt, config, path)
        model.load_state_dict(ckpt["state"]["model"])
        optimizer.load_state_dict(ckpt["state"]["optim"])
        state = ckpt["state"]["loop"]

    def save():
        if path is None or rank != 0:
            return
        save_checkpoint(path, kind=CHECKPOINT_KIND, config=config,
                        state={"model": model.state_dict(), "optim": optimizer.state_dict(),
                               "loop": state})  # fmt: skip

    def log(text):
        if cfg.progress and rank == 0:
            tqdm.write(text, file=sys.stderr)

    interrupt = Interrupts()
    model.train()
    with interrupt:
        while state["epoch"] < cfg.epochs and not state["finished"]:
            epoch, tick = state["epoch"], time.perf_counter()
            order = torch.from_numpy(numpy_rng(cfg.seed, "batch-order", epoch).permutation(n_train))
            order = order.to(X.device)
            first = state["step"] - epoch * steps_per_epoch  # > 0 when resuming mid-epoch
            loss_sum = torch.zeros((), dtype=torch.float64, device=X.device)
            bar = tqdm(
                range(first, steps_per_epoch),
                desc=f"epoch {epoch + 1}/{cfg.epochs}",
                file=sys.stderr,
                leave=False,
                disable=not cfg.progress or rank != 0,
            )
            for b in bar:
                batch = order[b * B : (b + 1) * B]
                mine = torch.tensor_split(batch, world)[rank] if world > 1 else batch
                lr = learning_rate(state["step"], total_steps, cfg)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                images = X[mine]  # (share, C, H, W)
                if cfg.shift:
                    images = random_shift(
                        images, _offsets(cfg, state["step"], len(batch), world, rank), cfg.shift
                    )
                logits = net(images)  # (share, classes)
                loss = F.cross_entropy(logits, y[mine], reduction="sum") * (world / len(batch))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss_sum += loss.detach() * (len(batch) / world)  # this rank's summed loss
                state["step"] += 1
                state["epoch_sums"][1] += len(mine)
                if interrupt.requested(state["step"]):
                    state["epoch_sums"][0] += loss_sum.item()
                    bar.close()
                    _stop(save, path, state, rank)
            state["epoch_sums"][0] += loss_sum.item()
            sums = torch.tensor(state["epoch_sums"], dtype=torch.float64, device=X.device)
            all_reduce(sums)
            record = {
                "epoch": epoch + 1,
                "train_loss": sums[0].item() / sums[1].item(),
                "lr": learning_rate(state["step"] - 1, total_steps, cfg),
                "seconds": time.perf_counter() - tick,
            }
            if val is not None:
                record["val_loss"], record["val_accuracy"] = evaluate(
                    model, *val, cfg.eval_batch_size
                )
                score = (record["val_accuracy"], -record["val_loss"])
                if score > state["best_score"]:  # higher accuracy; ties: lower loss
                    state["best_score"], state["best_epoch"], state["bad_epochs"] = (
                        score,
                        epoch + 1,
                        0,
                    )
                    state["best_state"] = {
                        k: v.detach().cpu().clone() for k, v in model.state_dict().items()
                    }
                else:
                    state["bad_epochs"] += 1
                    if cfg.patience is not None and state["bad_epochs"] >= cfg.patience:
                        state["finished"] = True
            state["history"].append(record)
            state["epoch"], state["epoch_sums"] = epoch + 1, [0.0, 0.0]
            bar.close()
            log(
                " ".join(
                    f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in record.items()
                )
            )
            save()
            if interrupt.requested(None):
                _stop(save, path, state, rank)
    stopped_early = state["finished"] and state["epoch"] < cfg.epochs
    state["finished"] = True
    save()
    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    model.eval()
    return TrainResult(
        state["history"], state["best_epoch"], stopped_early, None if path is None else str(path)
    )


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


def _offsets(cfg, step, global_batch, world, rank):
    """This rank's share of the global batch's random offsets, a function of (seed, step)."""
    generator = torch_generator(cfg.seed, "shift", step)
    offsets = torch.randint(-cfg.shift, cfg.shift + 1, (global_batch, 2), generator=generator)
    return torch.tensor_split(offsets, world)[rank]


def _stop(save, path, state, rank):
    save()
    if rank == 0:
        where = f"checkpoint saved to {path}" if path else "no checkpoint path was set"
        print(
            f"interrupted after step {state['step']}: {where} (resume with the same settings "
            "and resume=True / --resume)",
            file=sys.stderr,
        )
    raise KeyboardInterrupt
