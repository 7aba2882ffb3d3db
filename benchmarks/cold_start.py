"""Cold-start cost of ``workbench estimate``: the first run on an empty compile cache, then again.

PyTensor 3 compiles graphs with Numba by default and caches the machine code under its
``base_compiledir`` (``~/.pytensor`` unless ``PYTENSOR_FLAGS=base_compiledir=...`` says
otherwise; the C linker's modules live there too). Each scenario below gets a fresh, empty
temporary ``base_compiledir``; the script runs ``workbench estimate MODEL --json --seed 1`` in a
subprocess once on it (*cold*) and then ``--warm-repeats`` more times on the same directory
(*warm*), and reports the wall times of the whole subprocess (Python start-up and imports
included).

Scenarios are the product of ``--models``, ``--method-sets`` (``all`` is the CLI default, the
four methods; ``"map ml"`` compiles only the optimiser graphs) and ``--variants``. A variant is
one of these tokens or several joined by ``+`` (``cvm+pymc+blas1``):

================  ==============================================================================
``default``       as shipped: PyTensor's default mode (Numba) for MAP/ML, nutpie for CM/CM-ML
``cvm``           ``PYTENSOR_FLAGS=mode=CVM``: C-compiled ops (g++) for every PyTensor function
                  that uses the default mode (MAP/ML, initial points, PyMC's NUTS); nutpie still
                  compiles its log-density with Numba
``fast-compile``  ``PYTENSOR_FLAGS=mode=FAST_COMPILE``: Python VM, few rewrites, nothing
                  compiled for those functions; nutpie as above
``pymc``          ``--sampler pymc``: PyMC's NUTS instead of nutpie
``openblas``      ``PYTENSOR_FLAGS=blas__ldflags=-lopenblas``: link the C linker's BLAS ops to a
                  system OpenBLAS (``apt-get install libopenblas-dev``; PyTensor does not
                  detect it by itself, as Debian's package ships no ``libcblas.so``)
``blas1``         ``OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=MKL_NUM_THREADS=1``: single-threaded
                  BLAS (numpy's and scipy's OpenBLAS; L-BFGS-B and Numba's dot call it)
================  ==============================================================================

The ``workbench`` CLI is used when ``.venv/bin/workbench estimate --help`` works; otherwise (or
with ``--python-api``) the subprocess calls ``workbench.estimate`` directly. ``--busy N`` starts
N busy-loop processes for the duration of the run, to measure under competition for the cores.

The default run (2 models x 2 method sets x cold + warm) takes about 150 s on an idle 2-core
machine and several times that under load: the cold deconvolution runs dominate.

Examples::

    .venv/bin/python benchmarks/cold_start.py
    .venv/bin/python benchmarks/cold_start.py --models deconvolution --variants default cvm
    .venv/bin/python benchmarks/cold_start.py --json --out cold.json
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
WORKBENCH = Path(sys.executable).with_name("workbench")
ALL_METHODS = ("map", "ml", "cm", "cm_ml")


@dataclass(frozen=True)
class Variant:
    flags: str = ""  # extra PYTENSOR_FLAGS
    sampler: str | None = None  # None: the default (nutpie)
    env: tuple = ()  # extra environment variables, (name, value) pairs


# Variant tokens; a variant is one token or several joined by "+", e.g. "cvm+pymc+blas1".
TOKENS = {
    "default": Variant(),
    "cvm": Variant(flags="mode=CVM"),
    "fast-compile": Variant(flags="mode=FAST_COMPILE"),
    "pymc": Variant(sampler="pymc"),
    "openblas": Variant(flags="blas__ldflags=-lopenblas"),
    "blas1": Variant(
        env=(("OPENBLAS_NUM_THREADS", "1"), ("OMP_NUM_THREADS", "1"), ("MKL_NUM_THREADS", "1"))
    ),
}


def parse_variant(text):
    """``"cvm+pymc"`` -> the merged :class:`Variant` (flags joined, later sampler wins)."""
    flags, sampler, env = [], None, []
    for token in text.split("+"):
        if token not in TOKENS:
            raise argparse.ArgumentTypeError(
                f"unknown variant token {token!r}; tokens: {', '.join(TOKENS)} (join with '+')"
            )
        part = TOKENS[token]
        flags += [part.flags] if part.flags else []
        sampler = part.sampler or sampler
        env += list(part.env)
    return Variant(",".join(flags), sampler, tuple(env))


API_CODE = """\
import json, sys, warnings
warnings.simplefilter("ignore")
import models, workbench
name, methods, sampler, seed = sys.argv[1], sys.argv[2].split(","), sys.argv[3], int(sys.argv[4])
result = workbench.estimate(
    models.build(name), methods=methods, seed=seed, sampler=sampler, progressbar=False
)
print(json.dumps(result.to_dict(), default=str))
"""


def cli_works():
    """True when ``workbench estimate --help`` runs and knows ``--methods``."""
    if not WORKBENCH.exists():
        return False
    try:
        proc = subprocess.run(
            [str(WORKBENCH), "estimate", "--help"], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and "--methods" in proc.stdout


def command(model, methods, variant, *, seed, python_api):
    sampler = variant.sampler or "nutpie"
    if python_api:
        return [PYTHON, "-c", API_CODE, model, ",".join(methods or ALL_METHODS), sampler, str(seed)]
    cmd = [str(WORKBENCH), "estimate", model, "--json", "--seed", str(seed)]
    if methods:
        cmd += ["--methods", *methods]
    if variant.sampler:
        cmd += ["--sampler", variant.sampler]
    return cmd


def environment(compiledir, variant):
    env = dict(os.environ)
    flags = [env.get("PYTENSOR_FLAGS", ""), f"base_compiledir={compiledir}", variant.flags]
    env["PYTENSOR_FLAGS"] = ",".join(f for f in flags if f)
    env.setdefault("PYTHONWARNINGS", "ignore")
    env.update(dict(variant.env))
    return env


def timed_run(cmd, env, timeout):
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"wall_s": time.perf_counter() - start, "ok": False, "error": "timeout"}
    wall = time.perf_counter() - start
    run = {"wall_s": wall, "ok": proc.returncode == 0, "returncode": proc.returncode}
    if proc.returncode == 0:
        try:
            payload = json.loads(proc.stdout)
            run["diagnostics"] = payload.get("diagnostics")
        except json.JSONDecodeError:
            run.update(ok=False, error="stdout is not JSON")
    if not run["ok"]:
        run["stderr_tail"] = proc.stderr[-2000:]
    return run


def blas_ldflags():
    """PyTensor's BLAS link flags on this machine (empty: no BLAS for the C linker)."""
    with tempfile.TemporaryDirectory(prefix="pytensor-probe-") as tmp:
        env = environment(tmp, Variant())
        proc = subprocess.run(
            [PYTHON, "-c", "import pytensor; print(repr(pytensor.config.blas__ldflags))"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    return proc.stdout.strip() if proc.returncode == 0 else f"error: {proc.stderr[-200:]}"


def fmt(value, spec=".1f"):
    return "n/a" if value is None else format(value, spec)


def table(rows):
    head = (
        f"{'model':<15} {'methods':<11} {'variant':<24} {'cold s':>7} {'warm s':>7} "
        f"{'cold-warm':>9}  ok"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['model']:<15} {r['methods']:<11} {r['variant']:<24} {fmt(r['cold_s']):>7} "
            f"{fmt(r['warm_s']):>7} {fmt(r['cold_minus_warm_s']):>9}  "
            f"{'yes' if r['ok'] else 'NO'}"
        )
    return "\n".join(lines)


def variant_name(text):
    parse_variant(text)  # validate
    return text


def parse_method_set(text):
    if text.strip() == "all":
        return None
    methods = tuple(m for m in text.replace(",", " ").split() if m)
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown or not methods:
        raise argparse.ArgumentTypeError(f"expected 'all' or a subset of {ALL_METHODS}: {text!r}")
    return methods


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=["beta-binomial", "deconvolution"])
    parser.add_argument(
        "--method-sets",
        nargs="+",
        type=parse_method_set,
        default=[None, ("map", "ml")],
        metavar="SET",
        help="'all' (the CLI default) or methods joined by spaces/commas, e.g. 'map ml' "
        "(default: all, 'map ml')",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["default"],
        type=variant_name,
        metavar="VARIANT",
        help="settings to compare: tokens default, cvm, fast-compile, pymc, openblas, blas1, "
        "joined by '+' (e.g. cvm+pymc; see the module docstring; default: default)",
    )
    parser.add_argument("--warm-repeats", type=int, default=1, help="warm runs per scenario")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--python-api",
        action="store_true",
        help="call workbench.estimate in `python -c` instead of the workbench CLI",
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds per run")
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        help="start this many busy-loop processes for the whole run (emulates other work "
        "competing for the cores; default 0)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--out", default=None, help="also write the JSON results to this file")
    return parser.parse_args(argv)


def run_scenarios(args, python_api):
    started = time.perf_counter()
    rows = []
    for model in args.models:
        for methods in args.method_sets:
            for name in args.variants:
                variant = parse_variant(name)
                cmd = command(model, methods, variant, seed=args.seed, python_api=python_api)
                compiledir = tempfile.mkdtemp(prefix="pytensor-cold-")
                try:
                    env = environment(compiledir, variant)
                    runs = [timed_run(cmd, env, args.timeout)]
                    for _ in range(args.warm_repeats):
                        runs.append(timed_run(cmd, env, args.timeout))
                finally:
                    shutil.rmtree(compiledir, ignore_errors=True)
                cold, warm = runs[0], runs[1:]
                ok = all(r["ok"] for r in runs)
                warm_s = statistics.median(r["wall_s"] for r in warm) if warm else None
                row = {
                    "model": model,
                    "methods": " ".join(methods) if methods else "all",
                    "variant": name,
                    "pytensor_flags": variant.flags,
                    "sampler": variant.sampler or "nutpie",
                    "env": dict(variant.env),
                    "command": " ".join(cmd[:2] + ["<code>"] + cmd[3:])
                    if python_api
                    else " ".join(cmd),
                    "cold_s": cold["wall_s"],
                    "warm_s": warm_s,
                    "cold_minus_warm_s": None if warm_s is None else cold["wall_s"] - warm_s,
                    "ok": ok,
                    "runs": runs,
                }
                rows.append(row)
                print(
                    f"[{time.perf_counter() - started:6.0f} s] {model} [{row['methods']}] {name}: "
                    f"cold {cold['wall_s']:.1f} s, warm {fmt(warm_s)} s"
                    + ("" if ok else " FAILED: " + str(runs[-1].get("stderr_tail", ""))[-300:]),
                    file=sys.stderr,
                    flush=True,
                )
    return rows, started


def main(argv=None):
    args = parse_args(argv)
    python_api = args.python_api or not cli_works()
    if python_api and not args.python_api:
        print("cold_start: the workbench CLI does not run; using the Python API", file=sys.stderr)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    load_at_start = list(os.getloadavg())
    busy = [subprocess.Popen([PYTHON, "-c", "while True: pass"]) for _ in range(max(args.busy, 0))]
    try:
        rows, started = run_scenarios(args, python_api)
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    payload = {
        "benchmark": "cold_start",
        "date": started_at,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "interface": "python-api" if python_api else "cli",
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_start": load_at_start,
            "load_average_end": list(os.getloadavg()),
            "pytensor_blas_ldflags": blas_ldflags(),
        },
        "seed": args.seed,
        "warm_repeats": args.warm_repeats,
        "busy_processes": args.busy,
        "wall_s": time.perf_counter() - started,
        "results": rows,
    }
    text = json.dumps(payload, indent=2)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    if args.json:
        print(text)
    else:
        print(table(rows))
        machine = payload["machine"]
        print(
            f"interface: {payload['interface']}; busy-loop processes: {args.busy}; "
            f"total wall time {payload['wall_s']:.0f} s; "
            f"1-min load average {machine['load_average_start'][0]:.1f} at the start, "
            f"{machine['load_average_end'][0]:.1f} at the end ({machine['cpus']} CPUs); "
            f"PyTensor blas__ldflags {machine['pytensor_blas_ldflags']}"
        )
    if not all(r["ok"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
