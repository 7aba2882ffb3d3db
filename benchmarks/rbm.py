"""RBM training: workbench.nn.RBM (Torch) against scikit-learn's BernoulliRBM, in one run.

Both train PCD-1 with the same hidden units, batch size, learning rate, epochs and number of
persistent chains (= batch size, as scikit-learn does), no momentum, no weight decay. Printed
per setting: training throughput (samples/s) of each and their ratio, and the held-out mean
log-likelihood of each model, exact (enumerating the hidden layer) for small hidden layers,
by AIS (same AIS code, runs and temperatures for both models) for large ones. Also the
GFLOP/s achieved by the Torch training step against torch.matmul on the same shapes.

    python benchmarks/rbm.py                                   # mnist5k and fashion-mnist
    python benchmarks/rbm.py --data mnist5k --hidden 16 --epochs 3 --fashion-rows 10000
"""

import argparse
import os
import time
import types
import warnings

import numpy as np
import torch

from workbench.data import load_dataset
from workbench.nn.rbm.model import RBM


def train_workbench(X, hidden, batch, epochs, lr, seed, device):
    rbm = RBM(hidden, method="pcd", k=1, learning_rate=lr, n_epochs=epochs, batch_size=batch,
              momentum=0.0, weight_decay=0.0, monitor=False, random_state=seed,
              device=device, verbose=False)  # fmt: skip
    tick = time.perf_counter()
    rbm.fit(X)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return rbm, time.perf_counter() - tick


def train_sklearn(X, hidden, batch, epochs, lr, seed):
    from sklearn.neural_network import BernoulliRBM

    model = BernoulliRBM(
        n_components=hidden, learning_rate=lr, batch_size=batch, n_iter=epochs, random_state=seed
    )
    tick = time.perf_counter()
    model.fit(X)
    seconds = time.perf_counter() - tick
    as_energy = types.SimpleNamespace(
        W=model.components_.T, visible_bias=model.intercept_visible_,
        hidden_bias=model.intercept_hidden_, visible="bernoulli", hidden="bernoulli", sigma=1.0,
    )  # fmt: skip
    twin = RBM.from_energy(as_energy, verbose=False)
    twin._state["base_bias"] = _marginal_logits(X)
    return twin, seconds


def _marginal_logits(X):
    p = np.clip(X.mean(0), 1e-3, 1 - 1e-3)
    return torch.from_numpy(np.log(p / (1 - p)).astype(np.float32))


def held_out_ll(rbm, X_test, ais_runs, ais_betas):
    if rbm.n_hidden <= 25:
        log_z = rbm.log_partition("exact")
    else:
        log_z = rbm.log_partition("ais", n_runs=ais_runs, n_betas=ais_betas, random_state=1)
    return float(np.mean(-rbm.free_energy(X_test))) - log_z.value, log_z.se


def matmul_gflops(n_visible, hidden, batch, device, repeats=200):
    """GFLOP/s of torch.matmul on the three products of one PCD-1 update's shapes."""
    dev = torch.device(device)
    v = torch.rand(batch, n_visible, device=dev)
    W = torch.rand(n_visible, hidden, device=dev)
    h = torch.rand(batch, hidden, device=dev)
    tick = time.perf_counter()
    for _ in range(repeats):
        v @ W, h @ W.T, v.T @ h
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return 3 * 2 * batch * n_visible * hidden * repeats / (time.perf_counter() - tick) / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["mnist5k", "fashion-mnist"])
    parser.add_argument("--hidden", nargs="+", type=int, default=[16, 500])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--fashion-rows", type=int, default=None,
                        help="use only the first N Fashion-MNIST training rows")  # fmt: skip
    parser.add_argument("--ais-runs", type=int, default=100)
    parser.add_argument("--ais-betas", type=int, default=3000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, "
          f"{os.cpu_count()} CPUs; PCD-1, batch {args.batch_size}, lr {args.lr}, "
          f"{args.epochs} epochs")  # fmt: skip
    header = (f"{'data':<14}{'hidden':>7}{'wb samples/s':>14}{'sk samples/s':>14}{'ratio':>7}"
              f"{'wb LL':>10}{'sk LL':>10}{'LL method':>14}{'GFLOP/s':>9}"
              f"{'matmul':>8}")  # fmt: skip
    print(header)
    for name in args.data:
        train = load_dataset(name, split="train", binarize=True, dtype=np.float32)
        test = load_dataset(name, split="test", binarize=True, dtype=np.float32)
        X = train.X if not (name == "fashion-mnist" and args.fashion_rows) else train.X[
            : args.fashion_rows]  # fmt: skip
        for hidden in args.hidden:
            ours, t_ours = train_workbench(X, hidden, args.batch_size, args.epochs, args.lr,
                                           args.seed, args.device)  # fmt: skip
            theirs, t_theirs = train_sklearn(X, hidden, args.batch_size, args.epochs, args.lr,
                                             args.seed)  # fmt: skip
            n = len(X) * args.epochs
            ll_ours, se_ours = held_out_ll(ours, test.X, args.ais_runs, args.ais_betas)
            ll_theirs, se_theirs = held_out_ll(theirs, test.X, args.ais_runs, args.ais_betas)
            # one PCD-1 update: 5 products of (batch x n_visible x hidden) multiply-adds
            flops = 5 * 2 * n * X.shape[1] * hidden
            method = "exact" if hidden <= 25 else f"AIS±{max(se_ours, se_theirs):.2f}"
            print(f"{name:<14}{hidden:>7}{n / t_ours:>14.0f}{n / t_theirs:>14.0f}"
                  f"{t_theirs / t_ours:>7.1f}{ll_ours:>10.2f}{ll_theirs:>10.2f}{method:>14}"
                  f"{flops / t_ours / 1e9:>9.1f}"
                  f"{matmul_gflops(X.shape[1], hidden, args.batch_size, args.device):>8.1f}",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
