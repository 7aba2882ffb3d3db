"""Replicates on Dask: wall time of a risk study and of SBC on 1 and on 2 workers.

The same replicates (same seed) run once in this process (``n_workers=1``, no cluster) and
once on a fresh local Dask cluster of 2 single-threaded worker processes; the script checks
the results are equal and prints the wall times, the cluster start-up alone, and the load
average before and after (the 1-minute figure), since a shared machine inflates them.

1. ``risk_study("beta-binomial")`` with MAP, ML, CM (nutpie NUTS) and CM-ML per replicate;
2. ``sbc_model`` of the beta-binomial with the workbench's Metropolis.

Example::

    .venv/bin/python benchmarks/replicates.py
    .venv/bin/python benchmarks/replicates.py --risk-replicates 40 --sbc-replicates 200 --json
"""

import argparse
import json
import os
import time

import numpy as np

import models
from workbench.bayes.risk import risk_study
from workbench.diagnostics import sbc_model
from workbench.replicates import dask_client


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def cluster_start(n_workers):
    """Seconds to start and close a local cluster that runs nothing."""
    start = time.perf_counter()
    with dask_client(n_workers=n_workers):
        pass
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--risk-replicates", type=int, default=24)
    parser.add_argument("--sbc-replicates", type=int, default=100)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for workers in args.workers:
        load = os.getloadavg()[0]
        risk_s, risk = timed(
            lambda w=workers: risk_study("beta-binomial", replicates=args.risk_replicates,
                                         seed=1, n_workers=w, progressbar=False)
        )  # fmt: skip
        sbc_s, sbc = timed(
            lambda w=workers: sbc_model(models.build("beta-binomial"),
                                        replicates=args.sbc_replicates, seed=1, n_workers=w,
                                        progressbar=False)
        )  # fmt: skip
        rows.append({"workers": workers, "risk_s": round(risk_s, 1), "sbc_s": round(sbc_s, 1),
                     "load_before": load, "load_after": os.getloadavg()[0],
                     "risk_cm": risk.estimates["cm"]["p"].tolist(),
                     "sbc_ranks": sbc.ranks["p"].tolist()})  # fmt: skip
    equal = all(
        np.array_equal(r["risk_cm"], rows[0]["risk_cm"])
        and np.array_equal(r["sbc_ranks"], rows[0]["sbc_ranks"])
        for r in rows
    )
    summary = {
        "risk_replicates": args.risk_replicates,
        "sbc_replicates": args.sbc_replicates,
        "results_equal": equal,
        "cores": os.cpu_count(),
        "cluster_start_s": {w: round(cluster_start(w), 1) for w in args.workers if w > 1},
        "rows": [{k: v for k, v in r.items() if k not in ("risk_cm", "sbc_ranks")} for r in rows],
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{'workers':>7} {'risk s':>8} {'SBC s':>8} {'load 1 min':>12}")
    for r in summary["rows"]:
        print(f"{r['workers']:>7} {r['risk_s']:>8} {r['sbc_s']:>8} "
              f"{r['load_before']:>5.1f}-{r['load_after']:<5.1f}")  # fmt: skip
    print(f"results equal across worker counts: {equal}")
    print(f"local cluster start + close (s): {summary['cluster_start_s']}")


if __name__ == "__main__":
    main()
