"""nutpie against PyMC's own NUTS on the model catalogue: compile time, sampling time, ESS/s.

For each catalogue model and each sampler this script compiles and samples the posterior with
:class:`workbench.bayes.sampling.NutsRunner` (the code path that ``workbench estimate`` uses for
the CM), and reports

* ``compile s``: nutpie: ``nutpie.compile_pymc_model`` (PyTensor rewrites, the Numba-compiled
  log-density and its C callback); PyMC: the wall time of ``pm.sample`` minus PyMC's own
  ``sampling_time``, that is compiling the log-density and gradient, the initial points and,
  after sampling, building the DataTree;
* ``sample s``: nutpie: ``nutpie.sample``; PyMC: ``sampling_time`` as PyMC records it (starting
  the worker processes, tuning and draws);
* ``min ESS``: the smallest bulk ESS (``arviz_stats.ess``) over every free parameter and
  every component of vector parameters;
* ``ESS/s``: ``min ESS / sample s`` and ``min ESS / (compile s + sample s)``;
* ``ratio``: nutpie's ESS/s divided by PyMC's, for both figures.

Both samplers run ``--chains`` chains on (at most) two cores: nutpie in threads, PyMC in two
worker processes (``cores=2``). Seeds are fixed (``--seed``), so the draws and therefore the
ESS are the same in every repeat; only the timings vary. Timings are medians over
``--repeats`` runs (each run recompiles; nutpie recompiles its Numba callback every time
anyway). The first repeat of a model may pay for a cold PyTensor/Numba cache, and the first
nutpie compile of the process for Numba's start-up (the ``1st`` column); the JSON output keeps
every repeat.

Examples::

    .venv/bin/python benchmarks/nuts_samplers.py
    .venv/bin/python benchmarks/nuts_samplers.py --models beta-binomial normal --repeats 5
    .venv/bin/python benchmarks/nuts_samplers.py --json --out nuts.json
"""

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
import warnings
from datetime import UTC, datetime

import arviz_stats as azs
import numpy as np

import models
from workbench.bayes.sampling import SAMPLERS, NutsRunner

# Extra settings per catalogue model for the benchmark (deconvolution: the Gaussian prior).
MODEL_SETTINGS = {"deconvolution": {"prior": "gaussian"}}
DEFAULT_MODELS = tuple(models.CATALOGUE)


def min_bulk_ess(tree, var_names):
    """Smallest bulk ESS over ``var_names`` and all their components."""
    ess = azs.ess(tree, var_names=list(var_names), method="bulk")
    return float(min(np.nanmin(np.asarray(ess[name].values)) for name in var_names))


def run_once(name, sampler, *, draws, tune, chains, seed):
    """One compile + sample of catalogue model ``name``; returns a dict of timings and ESS."""
    model = models.build(name, **MODEL_SETTINGS.get(name, {}))
    var_names = [rv.name for rv in model.free_RVs]
    runner = NutsRunner(model, sampler)
    start = time.perf_counter()
    runner.compile()  # nutpie: compile_pymc_model; pymc: nothing (pm.sample compiles)
    compiled = time.perf_counter()
    tree = runner(draws=draws, tune=tune, chains=chains, seed=seed, progressbar=False)
    done = time.perf_counter()
    total = done - start
    if sampler == "nutpie":
        compile_s, sample_s = compiled - start, done - compiled
    else:
        sampling_time = float(tree["posterior"].attrs.get("sampling_time", np.nan))
        if np.isfinite(sampling_time):
            sample_s = sampling_time
            compile_s = total - sampling_time
        else:  # not recorded: report the total as sampling time, compile unknown
            sample_s, compile_s = total, float("nan")
    stats = tree["sample_stats"]
    divergences = int(np.asarray(stats["diverging"].values).sum()) if "diverging" in stats else 0
    ess = min_bulk_ess(tree, var_names)
    return {
        "compile_s": compile_s,
        "sample_s": sample_s,
        "total_s": total,
        "min_ess": ess,
        "divergences": divergences,
        "n_params": int(sum(np.asarray(tree["posterior"][v].values[0, 0]).size for v in var_names)),
    }


def summarise(runs):
    """Median timings over repeats (ESS is seed-determined, so identical across repeats)."""
    compile_s = statistics.median(r["compile_s"] for r in runs)
    sample_s = statistics.median(r["sample_s"] for r in runs)
    total_s = statistics.median(r["total_s"] for r in runs)
    ess = statistics.median(r["min_ess"] for r in runs)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_s = ess / sample_s if sample_s > 0 else float("nan")
        per_s_total = ess / total_s if total_s > 0 else float("nan")
    return {
        "compile_s": compile_s,
        "sample_s": sample_s,
        "total_s": total_s,
        "sample_s_range": [min(r["sample_s"] for r in runs), max(r["sample_s"] for r in runs)],
        "compile_s_range": [min(r["compile_s"] for r in runs), max(r["compile_s"] for r in runs)],
        "min_ess": ess,
        "ess_per_s": per_s,
        "ess_per_s_total": per_s_total,
        "divergences": max(r["divergences"] for r in runs),
        "n_params": runs[0]["n_params"],
        "repeats": runs,
    }


def ratios(results, name):
    """nutpie / pymc ESS/s ratios for model ``name`` (None when a sampler is missing)."""
    nut, pym = results.get((name, "nutpie")), results.get((name, "pymc"))
    if not nut or not pym:
        return None
    return {
        "ess_per_s": nut["ess_per_s"] / pym["ess_per_s"],
        "ess_per_s_total": nut["ess_per_s_total"] / pym["ess_per_s_total"],
    }


def fmt(value, spec):
    return "n/a" if value is None or not np.isfinite(value) else format(value, spec)


def table(results, model_names, samplers):
    head = (
        f"{'model':<18} {'sampler':<7} {'compile s':>9} {'1st':>6} {'sample s':>9} {'min ESS':>8} "
        f"{'ESS/s':>8} {'ESS/s+c':>8} {'ratio ESS/s':>11} {'ratio ESS/s+c':>13}"
    )
    lines = [head, "-" * len(head)]
    for name in model_names:
        ratio = ratios(results, name)
        for sampler in samplers:
            r = results.get((name, sampler))
            if r is None:
                continue
            first = ratio is not None and sampler == samplers[0]
            lines.append(
                f"{name:<18} {sampler:<7} {fmt(r['compile_s'], '9.2f')} "
                f"{fmt(r['repeats'][0]['compile_s'], '6.2f')} "
                f"{fmt(r['sample_s'], '9.2f')} {fmt(r['min_ess'], '8.0f')} "
                f"{fmt(r['ess_per_s'], '8.0f')} {fmt(r['ess_per_s_total'], '8.0f')} "
                + (
                    f"{fmt(ratio['ess_per_s'], '11.2f')} {fmt(ratio['ess_per_s_total'], '13.2f')}"
                    if first
                    else ""
                )
            )
    lines.append(
        "compile s, sample s: medians over repeats; 1st: compile time of the first repeat. "
        "ESS/s: min bulk ESS per second of sampling; ESS/s+c: per second of compile + sampling; "
        "ratio: nutpie / pymc."
    )
    return "\n".join(line.rstrip() for line in lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models",
        nargs="+",
        default=list(DEFAULT_MODELS),
        choices=list(models.CATALOGUE),
        metavar="MODEL",
        help=f"catalogue models (default: all: {' '.join(DEFAULT_MODELS)})",
    )
    parser.add_argument(
        "--samplers", nargs="+", default=list(SAMPLERS), choices=list(SAMPLERS), metavar="SAMPLER"
    )
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="runs per model and sampler")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="limit BLAS threads (threadpoolctl) for the whole run; default: leave as is",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--out", default=None, help="also write the JSON results to this file")
    return parser.parse_args(argv)


def run_all(args, started):
    results = {}
    for name in args.models:
        for sampler in args.samplers:
            runs = []
            for repeat in range(args.repeats):
                run = run_once(
                    name,
                    sampler,
                    draws=args.draws,
                    tune=args.tune,
                    chains=args.chains,
                    seed=args.seed,
                )
                runs.append(run)
                print(
                    f"[{time.perf_counter() - started:6.0f} s] {name} {sampler} "
                    f"#{repeat + 1}: compile {run['compile_s']:.2f} s, sample "
                    f"{run['sample_s']:.2f} s, min ESS {run['min_ess']:.0f}",
                    file=sys.stderr,
                    flush=True,
                )
            results[(name, sampler)] = summarise(runs)
    return results


def main(argv=None):
    args = parse_args(argv)
    if args.repeats < 1:
        raise SystemExit("--repeats: expected at least 1")
    warnings.filterwarnings("ignore")
    logging.getLogger("pymc").setLevel(logging.ERROR)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    load_at_start = list(os.getloadavg())
    started = time.perf_counter()
    if args.blas_threads is None:
        results = run_all(args, started)
    else:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=args.blas_threads, user_api="blas"):
            results = run_all(args, started)
    payload = {
        "benchmark": "nuts_samplers",
        "date": started_at,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_start": load_at_start,
            "load_average_end": list(os.getloadavg()),
        },
        "settings": {
            "draws": args.draws,
            "tune": args.tune,
            "chains": args.chains,
            "repeats": args.repeats,
            "seed": args.seed,
            "blas_threads": args.blas_threads,
            "model_settings": MODEL_SETTINGS,
        },
        "wall_s": time.perf_counter() - started,
        "results": [
            {"model": name, "sampler": sampler, **summary}
            for (name, sampler), summary in results.items()
        ],
        "ratios": {name: ratios(results, name) for name in args.models},
    }
    text = json.dumps(payload, indent=2)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    if args.json:
        print(text)
    else:
        print(table(results, args.models, args.samplers))
        load = payload["machine"]
        print(
            f"total wall time {payload['wall_s']:.0f} s; 1-min load average "
            f"{load['load_average_start'][0]:.1f} at the start, "
            f"{load['load_average_end'][0]:.1f} at the end ({load['cpus']} CPUs)"
        )


if __name__ == "__main__":
    main()
