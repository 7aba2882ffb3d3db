"""Sparse coding: workbench.sparse against scikit-learn, in one run.

1. Codes per second at equal objective. The dictionary is 256 unit-norm atoms (rows of the data
   plus a little noise) for 8x8 digits and for 28x28 mnist5k images. scikit-learn's
   ``SparseCoder`` runs ``lasso_cd`` (default tolerance) and ``lasso_lars``; FISTA runs at
   relative duality gaps 1e-2 ... 1e-5 and the fastest whose mean objective is at most the
   competitor's is reported against it. "best" is the lowest mean objective of all runs
   (LARS solves the lasso exactly, up to rounding).
2. Iterations to a given duality gap, ISTA against FISTA (gap checked every iteration):
   the slope of log(iterations) against log(1 / gap), about 1 for O(1/k) and 1/2 for O(1/k^2).
3. Dictionary learning at equal final objective: ``MiniBatchDictionaryLearning`` for a few
   epochs, then the first epoch at which ``DictionaryLearning`` reaches its objective (both
   measured as the estimator's history does: FISTA codes of all rows, gap 1e-3, at most 300
   iterations), training time only.

    python benchmarks/sparse.py                      # both data sets, CPU, one thread
    python benchmarks/sparse.py --rows 1000 --device cuda --threads 4
"""

import argparse
import time
import warnings

import numpy as np
import torch

from workbench.data import load_dataset
from workbench.sparse import DictionaryLearning, sparse_code

ALPHA = {"digits": 0.2, "mnist5k": 1.0}


def timed(fn):
    tick = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - tick


def dictionary(X, n_atoms, seed):
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(X), n_atoms, replace=False)
    D = X[rows] + 0.01 * rng.normal(size=(n_atoms, X.shape[1]))
    return D / np.linalg.norm(D, axis=1, keepdims=True)


def objective(X, D, H, alpha):
    return float(np.mean(0.5 * ((X - H @ D) ** 2).sum(1) + alpha * np.abs(H).sum(1)))


def coding(name, rows, device):
    from sklearn.decomposition import SparseCoder

    X = load_dataset(name).X[:rows]
    D, alpha = dictionary(X, 256, 0), ALPHA[name]
    theirs = {}
    for algorithm in ("lasso_lars", "lasso_cd"):
        coder = SparseCoder(D, transform_algorithm=algorithm, transform_alpha=alpha)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            H, seconds = timed(lambda c=coder: c.transform(X))
        theirs[algorithm] = (objective(X, D, H, alpha), seconds)
    ours = []
    for tol in (1e-2, 1e-3, 1e-4, 1e-5):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result, seconds = timed(lambda t=tol: sparse_code(X, D, alpha, max_iter=20_000,
                                                              tol=t, device=device))  # fmt: skip
        ours.append((tol, float(result.objective.mean()), seconds, float(result.n_iter.mean())))
    best = min([v for v, _ in theirs.values()] + [o[1] for o in ours])
    print(f"\n## {name}: {len(X)} rows x {X.shape[1]} features, 256 atoms, alpha {alpha}, "
          f"best objective {best:.6f} per row")  # fmt: skip
    print("| solver | mean objective - best | seconds | codes/s |")
    print("| --- | --- | --- | --- |")
    for tol, value, seconds, iters in ours:
        print(f"| FISTA gap {tol:g} ({iters:.0f} it.) | {value - best:.2e} | {seconds:.3f} | "
              f"{len(X) / seconds:,.0f} |")  # fmt: skip
    for algorithm, (value, seconds) in theirs.items():
        speed = len(X) / seconds
        print(f"| sklearn {algorithm} | {value - best:.2e} | {seconds:.3f} | {speed:,.0f} |")
    for algorithm, (value, seconds) in theirs.items():
        match = [o for o in ours if o[1] <= value]
        if match:
            tol, _, ours_seconds, _ = min(match, key=lambda o: o[2])
            print(f"FISTA at {algorithm}'s objective or better (gap {tol:g}): "
                  f"{seconds / ours_seconds:.1f}x its codes/s")  # fmt: skip
        else:
            print(f"FISTA at gap 1e-5 stays above {algorithm}'s objective")
    return X, D, alpha


def rates(X, D, alpha, device):
    gaps = (1e-2, 1e-3, 1e-4)
    print("\n| relative gap | ISTA iterations (mean) | FISTA iterations (mean) |")
    print("| --- | --- | --- |")
    counts = {m: [] for m in ("ista", "fista")}
    for tol in gaps:
        for method in counts:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = sparse_code(X, D, alpha, method=method, max_iter=200_000, tol=tol,
                                     check_every=1, device=device)  # fmt: skip
            counts[method].append(result.n_iter.mean())
        print(f"| {tol:g} | {counts['ista'][-1]:.0f} | {counts['fista'][-1]:.0f} |")
    for method, values in counts.items():
        slope = np.polyfit(np.log(1 / np.asarray(gaps)), np.log(values), 1)[0]
        print(f"{method}: iterations ~ (1/gap)^{slope:.2f}")


def learning(rows, epochs, device):
    from sklearn.decomposition import MiniBatchDictionaryLearning

    X = load_dataset("digits").X[:rows]
    alpha, n_atoms, batch = 0.3, 64, 64
    sk = MiniBatchDictionaryLearning(n_atoms, alpha=alpha, batch_size=batch, max_iter=epochs,
                                     random_state=0)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, sk_seconds = timed(lambda: sk.fit(X))
        # measured as DictionaryLearning's history measures it: FISTA codes of every row
        # (monitor_size = rows), gap 1e-3, at most 300 iterations
        target = float(sparse_code(X, sk.components_, alpha, max_iter=300, tol=1e-3,
                                   device=device).objective.mean())  # fmt: skip
    print(f"\n## dictionary learning, digits ({len(X)} rows), {n_atoms} atoms, alpha {alpha}, "
          f"batch {batch}")  # fmt: skip
    print("| learner | epochs | training seconds | objective |")
    print("| --- | --- | --- | --- |")
    print(f"| MiniBatchDictionaryLearning | {epochs} | {sk_seconds:.2f} | {target:.4f} |")
    dl = DictionaryLearning(n_atoms, alpha=alpha, batch_size=batch, n_epochs=3 * epochs,
                            monitor_size=len(X), random_state=0, device=device).fit(X)  # fmt: skip
    seconds = 0.0
    for record in dl.history_:  # "seconds": the epoch's training time, monitors excluded
        seconds += record["seconds"]
        print(f"| DictionaryLearning | {record['epoch']} | {seconds:.2f} | "
              f"{record['objective']:.4f} |")  # fmt: skip
        if record["objective"] <= target:
            print(
                f"equal objective after {record['epoch']} epochs: "
                f"{sk_seconds / seconds:.1f}x the speed of MiniBatchDictionaryLearning"
            )
            break


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300, help="rows per data set")
    parser.add_argument("--epochs", type=int, default=3, help="MiniBatchDictionaryLearning epochs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(args.threads):  # scikit-learn's BLAS gets the same number
        X, D, alpha = coding("digits", args.rows, args.device)
        rates(X[:50], D, alpha, args.device)
        coding("mnist5k", args.rows, args.device)
        learning(args.rows, args.epochs, args.device)


if __name__ == "__main__":
    main()
