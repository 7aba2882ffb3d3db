"""CNN training speed: the workbench loop against a minimal hand-written Torch loop, images per
second on Fashion-MNIST, and 1 -> 2 data-parallel processes, as ratios in one run.

    PYTHONPATH=. .venv/bin/python benchmarks/cnn.py [--subset N] [--repeats R] [--threads T]

1. Overhead: one epoch of the workbench's ``train_classifier`` (learning-rate schedule, loss
   bookkeeping, interrupt flag; no validation, no progress bar, no checkpoint) against a bare
   loop (same network, initial weights, AdamW, batch order and batch size). The two are
   interleaved ``--repeats`` times; medians are compared.
2. Throughput: training images per second of that epoch.
3. Scaling: ``workbench cnn train --nproc 1`` against ``--nproc 2`` (torchrun, gloo), one
   epoch each, ``--threads`` threads per process; the epoch time comes from the run's history,
   so start-up is excluded. At this default batch of 64 two CPU processes cannot pay off (32
   rows per process; ``--nproc`` warns): ``benchmarks/scaling.py`` measures the scaling of
   record (batch 256, and one process with two threads), docs/benchmarks.md section 13.
"""

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

from workbench.data import load_dataset
from workbench.nn import CNNConfig, TrainConfig, build_network, train_classifier
from workbench.nn.runtime import numpy_rng


def hand_loop(net, X, y, batch_size, learning_rate, seed):
    """The minimal loop: permutation, slices, forward, loss, backward, step."""
    optimizer = torch.optim.AdamW(net.parameters(), lr=learning_rate, weight_decay=1e-4, fused=True)
    order = torch.from_numpy(numpy_rng(seed, "batch-order", 0).permutation(len(X)))
    for b in range(math.ceil(len(X) / batch_size)):
        rows = order[b * batch_size : (b + 1) * batch_size]
        loss = F.cross_entropy(net(X[rows]), y[rows])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def fresh_net(X):
    torch.manual_seed(0)
    return build_network(CNNConfig(), float(X.mean()), float(X.std()))


def time_epochs(X, y, repeats, batch_size=64):
    """Median epoch seconds of both loops, after one untimed warm-up epoch; the order
    alternates (workbench first, then hand first) to cancel drift in the machine's load."""
    cfg = TrainConfig(n_epochs=1, batch_size=batch_size, progress=False, patience=None)
    loops = {
        "workbench": lambda net: train_classifier(net, (X, y), None, cfg, model_args={}),
        "hand": lambda net: hand_loop(net, X, y, batch_size, cfg.learning_rate, cfg.seed),
    }
    loops["hand"](fresh_net(X))  # warm-up: allocator, kernels, caches
    timings = {name: [] for name in loops}
    for r in range(repeats):
        for name in list(loops)[:: 1 if r % 2 == 0 else -1]:
            net = fresh_net(X)
            tick = time.perf_counter()
            loops[name](net)
            timings[name].append(time.perf_counter() - tick)
    return {k: statistics.median(v) for k, v in timings.items()}, timings


def cli_epoch_seconds(nproc, threads):
    with tempfile.TemporaryDirectory() as out:
        argv = [
            sys.executable,
            "-m",
            "workbench.cli",
            "cnn",
            "train",
            "--data",
            "fashion-mnist",
            "--epochs",
            "1",
            "--validation-fraction",
            "0",
            "--no-figures",
            "--json",
            "--threads",
            str(threads),
            "--nproc",
            str(nproc),
            "--out",
            out,
        ]
        proc = subprocess.run(argv, capture_output=True, text=True, check=True)
    payload = json.loads(proc.stdout)
    return payload["history"][0]["seconds"], payload["n_train"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", type=int, default=None, help="training images for part 1")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--skip-scaling", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data = load_dataset("fashion-mnist", split="train", dtype=np.float32)
    X, y = data.X, data.y
    if args.subset:
        X, y = X[: args.subset], y[: args.subset]
    X = torch.from_numpy(X.reshape(-1, 1, 28, 28))
    y = torch.from_numpy(y)
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), {len(X)} training images, "
        f"batch 64, course LeNet (34,622 parameters)"
    )
    medians, runs = time_epochs(X, y, args.repeats)
    overhead = medians["workbench"] / medians["hand"]
    print(f"{'loop':<12}{'epoch s (median)':>18}{'all runs':>30}{'images/s':>12}")
    for name in ("workbench", "hand"):
        runs_text = " ".join(f"{t:.2f}" for t in runs[name])
        print(f"{name:<12}{medians[name]:>18.2f}{runs_text:>30}{len(X) / medians[name]:>12.0f}")
    print(f"overhead ratio workbench / hand loop: {overhead:.3f} (target <= 1.05)")

    if not args.skip_scaling:
        one, n = cli_epoch_seconds(1, args.threads)
        two, _ = cli_epoch_seconds(2, args.threads)
        print(
            f"data-parallel epoch on {n} images: 1 process {one:.2f} s ({n / one:.0f} img/s), "
            f"2 processes {two:.2f} s ({n / two:.0f} img/s); speed-up {one / two:.2f}x"
        )


if __name__ == "__main__":
    main()
