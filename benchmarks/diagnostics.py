"""Cost of the workbench's diagnostics and throughput of its Metropolis sampler.

1. ``diagnose``: 1,000 variables x 4 chains x 1,000 draws (i.i.d. normal draws in one array
   shaped (4, 1000, 1000)) through :func:`workbench.diagnostics.diagnose` against a bare
   ``arviz_stats.summary`` of the same DataTree. ``diagnose`` computes what the summary's
   diagnostics do (R-hat, bulk/tail ESS, MCSE of mean and sd) plus per-chain ESS and the
   checks behind the verdicts; the ratio is its overhead.
2. Random-walk Metropolis on a 10-D standard normal: chain-steps per second with all chains
   vectorised in one array, against the same kernel run one chain at a time.

Timings are medians over ``--repeats``; seeds are fixed.

Example::

    .venv/bin/python benchmarks/diagnostics.py
    .venv/bin/python benchmarks/diagnostics.py --repeats 5 --json
"""

import argparse
import json
import platform
import statistics
import time

import arviz_base as ab
import arviz_stats as azs
import numpy as np

from workbench.diagnostics import diagnose
from workbench.samplers import metropolis


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_diagnose(repeats, n_vars=1000, chains=4, draws=1000):
    draws_array = np.random.default_rng(1).normal(size=(chains, draws, n_vars))
    tree = ab.from_dict({"posterior": {"x": draws_array}})
    workbench_s = median_time(lambda: diagnose(tree), repeats)
    arviz_s = median_time(lambda: azs.summary(tree), repeats)
    return {
        "variables": n_vars,
        "chains": chains,
        "draws": draws,
        "workbench_s": workbench_s,
        "arviz_summary_s": arviz_s,
        "ratio": workbench_s / arviz_s,
    }


def bench_metropolis(repeats, chains=64, steps=2000, dim=10):
    def logdensity(x):
        return -0.5 * np.einsum("ci,ci->c", x, x)

    starts = np.zeros((chains, dim))

    def vectorised():
        metropolis.sample(logdensity, starts, draws=steps, warmup=0, step_size=0.7, seed=2)

    def one_at_a_time():
        for c in range(chains):
            metropolis.sample(
                logdensity, starts[c : c + 1], draws=steps, warmup=0, step_size=0.7, seed=c
            )

    vec_s = median_time(vectorised, repeats)
    loop_s = median_time(one_at_a_time, repeats)
    total = chains * steps
    return {
        "chains": chains,
        "steps": steps,
        "dim": dim,
        "vectorised_steps_per_s": total / vec_s,
        "one_chain_at_a_time_steps_per_s": total / loop_s,
        "ratio": loop_s / vec_s,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = {
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "diagnose": bench_diagnose(args.repeats),
        "metropolis": bench_metropolis(args.repeats),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    d, m = result["diagnose"], result["metropolis"]
    print(f"diagnose {d['variables']} vars x {d['chains']} chains x {d['draws']} draws")
    print(f"  workbench diagnose     {d['workbench_s']:8.2f} s")
    print(f"  arviz_stats.summary    {d['arviz_summary_s']:8.2f} s")
    print(f"  ratio                  {d['ratio']:8.2f}")
    print(f"Metropolis, {m['chains']} chains x {m['steps']} steps, {m['dim']}-D normal")
    print(f"  vectorised             {m['vectorised_steps_per_s']:10.0f} chain-steps/s")
    print(f"  one chain at a time    {m['one_chain_at_a_time_steps_per_s']:10.0f} chain-steps/s")
    print(f"  speed-up               {m['ratio']:10.1f}x")


if __name__ == "__main__":
    main()
