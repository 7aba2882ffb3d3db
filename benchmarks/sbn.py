"""Wake-sleep throughput: workbench.nn.SigmoidBeliefNet against a minimal hand-written Torch loop.

Both train a one-hidden-layer Helmholtz machine by plain wake-sleep (one recognition sample per
row, SGD, the same batch size, learning rate and epochs). The hand-written loop is the update
written inline over a shuffled index, with none of the runtime (no training loop, checkpoints,
history, seeds by purpose); ``kernels`` is the estimator's own update called in the same bare
loop, which separates the cost of the kernel from the cost of the loop around it. Printed per
setting: updates per second of each and the estimator's ratio to the hand-written loop, and the
mean log-likelihood of each trained model on the training rows (exact when the hidden layer can
be enumerated, else by importance sampling, K = 100), so the speed is compared at equal work.

    python benchmarks/sbn.py                       # bars-stripes-3 (9-10) and mnist5k (784-200)
    python benchmarks/sbn.py --data mnist5k --hidden 200 --epochs 2 --threads 1
"""

import argparse
import os
import time

import numpy as np
import torch

from workbench.data import load_dataset
from workbench.nn import SigmoidBeliefNet
from workbench.nn.sbn import kernels

SETTINGS = {  # data -> (hidden, batch size, epochs, learning rate)
    "bars-stripes-3": (10, 14, 1000, 0.2),
    "mnist5k": (200, 50, 2, 0.05),
}


def hand_written(X, hidden, batch, epochs, lr, seed):
    """Wake-sleep for one hidden layer, written out: returns (parameters, updates, seconds)."""
    g = torch.Generator().manual_seed(seed)
    n, d = X.shape
    G = torch.randn(hidden, d, generator=g) * 0.01  # generative, hidden -> visible
    R = torch.randn(d, hidden, generator=g) * 0.01  # recognition, visible -> hidden
    mean = X.mean(0).clamp(0.01, 0.99)
    c_v, c_h, r_h = torch.log(mean / (1 - mean)), torch.zeros(hidden), torch.zeros(hidden)
    updates, tick = 0, time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(n, generator=g)
        for start in range(0, n, batch):
            v = X[order[start : start + batch]]
            B = v.shape[0]
            h = (torch.rand(B, hidden, generator=g) < torch.sigmoid(r_h + v @ R)).float()
            err_v = v - torch.sigmoid(c_v + h @ G)  # wake
            err_h = h - torch.sigmoid(c_h)
            h_d = (torch.rand(B, hidden, generator=g) < torch.sigmoid(c_h)).float()  # sleep
            v_d = (torch.rand(B, d, generator=g) < torch.sigmoid(c_v + h_d @ G)).float()
            err_r = h_d - torch.sigmoid(r_h + v_d @ R)
            G += lr / B * (h.T @ err_v)
            c_v += lr * err_v.mean(0)
            c_h += lr * err_h.mean(0)
            R += lr / B * (v_d.T @ err_r)
            r_h += lr * err_r.mean(0)
            updates += 1
    seconds = time.perf_counter() - tick
    net = SigmoidBeliefNet.from_weights([G.numpy()], [c_h.numpy(), c_v.numpy()],
                                        recognition=([R.numpy()], [r_h.numpy()]))  # fmt: skip
    return net, updates, seconds


def bare_kernels(X, hidden, batch, epochs, lr, seed):
    """The estimator's update (kernels.update) in the same bare loop."""
    g = torch.Generator().manual_seed(seed)
    state = kernels.init_state([X.shape[1], hidden], X, g, 0.01)
    settings = kernels.Settings("wake-sleep", 1)
    updates, tick = 0, time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(X.shape[0], generator=g)
        for start in range(0, X.shape[0], batch):
            kernels.update(state, X[order[start : start + batch]], settings, lr, g)
            updates += 1
    return updates, time.perf_counter() - tick


def estimator(X, hidden, batch, epochs, lr, seed):
    net = SigmoidBeliefNet((hidden,), n_epochs=epochs, batch_size=batch, learning_rate=lr,
                           monitor=False, random_state=seed, verbose=False)  # fmt: skip
    tick = time.perf_counter()
    net.fit(X)
    return net, -(-len(X) // batch) * epochs, time.perf_counter() - tick


def mean_ll(net, X):
    if net.layers[0] <= 20:
        return float(net.log_likelihood(X).mean()), "exact"
    value = net.log_likelihood(X[:1000], "importance", n_samples=100, random_state=1)
    return float(value.mean()), "IS K=100"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=list(SETTINGS))
    parser.add_argument("--hidden", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; plain wake-sleep, one hidden layer")  # fmt: skip
    print(f"{'data':<16}{'units':>9}{'batch':>6}{'updates':>8}{'estimator/s':>12}"
          f"{'kernels/s':>11}{'by hand/s':>11}{'ratio':>7}{'LL est.':>9}{'LL hand':>9}"
          f"{'LL by':>10}")  # fmt: skip
    for name in args.data:
        hidden, batch, epochs, lr = SETTINGS.get(name, (64, 50, 2, 0.05))
        hidden, epochs = args.hidden or hidden, args.epochs or epochs
        X = torch.from_numpy(load_dataset(name, binarize=True).X.astype(np.float32))
        ours, n_updates, t_ours = estimator(X, hidden, batch, epochs, lr, args.seed)
        n_kernel, t_kernel = bare_kernels(X, hidden, batch, epochs, lr, args.seed)
        theirs, n_hand, t_hand = hand_written(X, hidden, batch, epochs, lr, args.seed)
        ll_ours, how = mean_ll(ours, X)
        ll_theirs, _ = mean_ll(theirs, X)
        print(f"{name:<16}{f'{X.shape[1]}-{hidden}':>9}{batch:>6}{n_updates:>8}"
              f"{n_updates / t_ours:>12.0f}{n_kernel / t_kernel:>11.0f}{n_hand / t_hand:>11.0f}"
              f"{(n_updates / t_ours) / (n_hand / t_hand):>7.2f}{ll_ours:>9.3f}"
              f"{ll_theirs:>9.3f}{how:>10}")  # fmt: skip


if __name__ == "__main__":
    main()
