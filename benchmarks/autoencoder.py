"""Autoencoder training speed: ``Autoencoder.fit`` (the runtime's loop and autograd task)
against a minimal hand-written Torch loop, images per second on mnist5k.

    PYTHONPATH=. .venv/bin/python benchmarks/autoencoder.py [--layers 1000,500,250]
        [--epochs E] [--repeats R] [--threads T]

Both sides train the same deep sigmoid autoencoder (784-layers-30, mirrored decoder, sigmoid
outputs, Bernoulli cross-entropy) from the same initial weights with AdamW at a constant
learning rate, the same batch order and batch size, for ``--epochs`` epochs on the 4,000
mnist5k training images. The workbench side is ``Autoencoder(kind="deep").fit`` with no
pre-training, progress bar, validation or checkpoint (learning-rate schedule, loss
bookkeeping, interrupt flag, evaluation-free epoch records); the hand loop is permutation,
slice, forward, loss, backward, step. The two are interleaved ``--repeats`` times, after one
untimed warm-up; medians are compared.
"""

import argparse
import math
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from workbench.data import load_dataset
from workbench.nn import Autoencoder
from workbench.nn.autoencoder import AutoencoderNet
from workbench.nn.runtime import numpy_rng, torch_seeded

BATCH, LR, CODE = 100, 3e-3, 30


def hand_loop(X, sizes, epochs, seed=0):
    """The minimal loop: permutation, slices, forward, loss, backward, step."""
    with torch_seeded(seed, "init"):
        net = AutoencoderNet(sizes)
    optimizer = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=0.0)
    for epoch in range(epochs):
        order = torch.from_numpy(numpy_rng(seed, "batch-order", epoch).permutation(len(X)))
        for b in range(math.ceil(len(X) / BATCH)):
            rows = X[order[b * BATCH : (b + 1) * BATCH]]
            logits, _ = net(rows)
            loss = F.binary_cross_entropy_with_logits(logits, rows, reduction="sum") / len(rows)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return net


def workbench_fit(X, layers, epochs):
    return Autoencoder(CODE, kind="deep", hidden_layers=layers, n_epochs=epochs,
                       batch_size=BATCH, learning_rate=LR, random_state=0).fit(X)  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="1000,500,250", help="hidden layers (code: 30)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    layers = tuple(int(n) for n in args.layers.split(","))
    X = load_dataset("mnist5k", split="train", dtype=np.float32).X
    sizes = (X.shape[1], *layers, CODE)
    X_t = torch.from_numpy(X)
    runs = {
        "workbench": lambda: workbench_fit(X, layers, args.epochs),
        "hand": lambda: hand_loop(X_t, sizes, args.epochs),
    }
    n_params = sum(p.numel() for p in AutoencoderNet(sizes).parameters())
    print(f"torch {torch.__version__}, {args.threads} thread(s), {len(X)} images, batch {BATCH}, "
          f"{'-'.join(map(str, sizes))} mirrored ({n_params:,} parameters), "
          f"{args.epochs} epoch(s) per run")  # fmt: skip
    runs["hand"]()  # warm-up: allocator, kernels, caches
    timings = {name: [] for name in runs}
    for r in range(args.repeats):
        for name in list(runs)[:: 1 if r % 2 == 0 else -1]:
            tick = time.perf_counter()
            runs[name]()
            timings[name].append(time.perf_counter() - tick)
    medians = {k: statistics.median(v) for k, v in timings.items()}
    images = len(X) * args.epochs
    print(f"{'loop':<12}{'run s (median)':>16}{'all runs':>26}{'images/s':>12}")
    for name in runs:
        runs_text = " ".join(f"{t:.2f}" for t in timings[name])
        print(f"{name:<12}{medians[name]:>16.2f}{runs_text:>26}{images / medians[name]:>12.0f}")
    ratio = medians["workbench"] / medians["hand"]
    print(f"overhead ratio workbench / hand loop: {ratio:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
