"""Deep Boltzmann machines: the price of the extra layer, and AIS cost against accuracy.

1. Training throughput (samples/s) of the DBM's joint stage (mean field + PCD, no
   pre-training) against the RBM trainer (PCD-1) on the same first layer: same data, visible
   and first hidden layer sizes, batch size, chains, epochs and learning rate; the DBM adds
   the second layer and ``mean_field_steps`` rounds of mean field per update.
2. AIS on a DBM small enough to enumerate (bars-stripes-3, 12-6 hidden units): time, log Z-hat,
   its standard error and its error against the exact value, against the number of
   temperatures; then time and standard error on an mnist5k DBM (no exact value there).

    python benchmarks/dbm.py
    python benchmarks/dbm.py --hidden 256,64 --epochs 2 --device cuda
"""

import argparse
import time

import numpy as np
import torch

from workbench.data import load_dataset
from workbench.nn import DBM, RBM


def timed(fn):
    tick = time.perf_counter()
    result = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return result, time.perf_counter() - tick


def throughput(X, hidden, epochs, batch, chains, steps, device, seed):
    common = dict(n_epochs=epochs, batch_size=batch, learning_rate=0.01, weight_decay=0.0,
                  n_chains=chains, device=device, random_state=seed, verbose=False,
                  monitor=False)  # fmt: skip
    rbm = RBM(hidden[0], method="pcd", momentum=0.5, **common)
    _, t_rbm = timed(lambda: rbm.fit(X))
    rows = [("RBM PCD-1", t_rbm)]
    for mf in steps:
        dbm = DBM(hidden, pretrain=False, mean_field_steps=mf, momentum=0.5, **common)
        _, t = timed(lambda dbm=dbm: dbm.fit(X))
        rows.append((f"DBM, {mf} mean-field steps", t))
    n = epochs * len(X)
    print(f"\n1. training throughput: {len(X)} x {X.shape[1]}, hidden {hidden}, batch {batch}, "
          f"{chains} chains, {epochs} epochs, {device}")  # fmt: skip
    print(f"{'trainer':<28}{'samples/s':>12}{'x RBM time':>12}")
    for name, t in rows:
        print(f"{name:<28}{n / t:>12.0f}{t / t_rbm:>12.2f}")


def ais_table(dbm, betas, runs, exact=None, seed=0):
    print(
        f"{'temperatures':>12}{'seconds':>9}{'log Z-hat':>12}{'SE':>9}"
        + ("" if exact is None else f"{'error':>9}")
    )
    for n_betas in betas:
        z, t = timed(lambda n=n_betas: dbm.log_partition("ais", n_runs=runs, n_betas=n,
                                                          random_state=seed))  # fmt: skip
        line = f"{n_betas:>12}{t:>9.2f}{z.value:>12.3f}{z.se:>9.4f}"
        print(line + ("" if exact is None else f"{z.value - exact:>+9.4f}"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", default="128,32", help="DBM hidden layers for mnist5k")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--chains", type=int, default=100)
    parser.add_argument("--betas", default="100,1000,10000")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    hidden = tuple(int(n) for n in args.hidden.split(","))
    betas = [int(n) for n in args.betas.split(",")]
    X = load_dataset("mnist5k", split="train", binarize=True).X.astype(np.float32)
    throughput(X, hidden, args.epochs, args.batch_size, args.chains, (1, 5, 10), args.device,
               args.seed)  # fmt: skip

    small = load_dataset("bars-stripes-3").X
    dbm = DBM((12, 6), n_epochs=100, batch_size=2, learning_rate=0.05, weight_decay=0.0,
              rbm_params={"method": "pcd", "learning_rate": 0.1}, random_state=args.seed,
              device=args.device, verbose=False).fit(small)  # fmt: skip
    exact = dbm.log_partition("exact").value
    print(f"\n2a. AIS on a 9-12-6 DBM (bars-stripes-3), {args.runs} runs; exact log Z {exact:.4f}")
    ais_table(dbm, betas, args.runs, exact, args.seed)

    big = DBM(hidden, n_epochs=args.epochs, batch_size=args.batch_size, learning_rate=0.01,
              pretrain_epochs=1, device=args.device, random_state=args.seed, verbose=False,
              monitor=False).fit(X)  # fmt: skip
    print(f"\n2b. AIS on a 784-{'-'.join(map(str, hidden))} DBM (mnist5k), {args.runs} runs")
    ais_table(big, betas, args.runs, None, args.seed)


if __name__ == "__main__":
    main()
