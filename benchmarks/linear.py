"""Closed-form PPCA against scikit-learn's PCA: fit + score at equal q, in one run.

    PYTHONPATH=. .venv/bin/python benchmarks/linear.py [--datasets mnist5k fashion-mnist]
        [--q 10 50] [--repeats 3] [--solvers auto full]

Both fit on the training split and score the test split (mean log-likelihood per sample;
scikit-learn's variances divide by n - 1, the workbench's ML ones by n). scikit-learn runs
with its default solver choice ("auto": randomized SVD for these shapes) and with
``svd_solver="full"``. Times are medians over the repeats; the ratio is scikit-learn's time
over the workbench's (above 1: the workbench is faster). Memory: the workbench keeps one
d x d covariance and one chunk of rows.
"""

import argparse
import platform
import time

import numpy as np
import sklearn
from sklearn.decomposition import PCA

from workbench.data import load_dataset
from workbench.linear import PPCA


def _fit_score(estimator, train, test, repeats):
    """Median seconds of fit(train) + score(test) over ``repeats``, and the test score."""
    times, score = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        score = estimator.fit(train).score(test)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), score


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["mnist5k", "fashion-mnist"])
    parser.add_argument("--q", nargs="+", type=int, default=[10, 50])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--solvers", nargs="+", default=["auto", "full"],
                        help="scikit-learn svd_solver values to time")  # fmt: skip
    args = parser.parse_args(argv)
    print(f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, {platform.machine()}")
    head = (f"{'data':<14}{'n x d':>12}{'q':>4}{'peer':>16}{'peer s':>9}{'ours s':>9}"
            f"{'ratio':>7}{'peer test ll':>14}{'ours test ll':>14}")  # fmt: skip
    print(head)
    print("-" * len(head))
    for name in args.datasets:
        train = load_dataset(name, split="train").X
        test = load_dataset(name, split="test").X
        for q in args.q:
            ours_s, ours = _fit_score(PPCA(q), train, test, args.repeats)
            for solver in args.solvers:
                peer = PCA(q, svd_solver=solver, random_state=0)
                peer_s, theirs = _fit_score(peer, train, test, args.repeats)
                print(
                    f"{name:<14}{f'{train.shape[0]}x{train.shape[1]}':>12}{q:>4}"
                    f"{'PCA ' + solver:>16}{peer_s:>9.2f}{ours_s:>9.2f}{peer_s / ours_s:>7.2f}"
                    f"{theirs:>14.3f}{ours:>14.3f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
