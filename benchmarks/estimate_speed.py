"""Speed of the main commands against a hand-written PyMC script, interleaved; one table.

Each repeat runs, as whole processes (start-up and imports included), in this order:

- ``workbench estimate beta-binomial --json --seed 1`` (the four default estimates: MAP, ML,
  CM, CM-ML), warm compile caches;
- ``benchmarks/peer_estimate.py``: ``pm.find_MAP`` + ``nutpie.sample`` on the same model, the
  hand-written peer (one estimate less: no ML, no CM-ML);
- ``workbench --help`` and ``workbench models``.

``--baseline DIR`` adds ``workbench estimate beta-binomial`` run from another checkout (``DIR``
first on ``PYTHONPATH``, e.g. a ``git worktree`` of the commit before a change), interleaved
with the rest: before and after in the same run. One untimed round first fills the caches.
Medians over ``--repeats``; the ratio is peer / workbench (above 1: the workbench is faster).
``--cold`` adds the first ``workbench estimate deconvolution --json --seed 1`` on an empty
PyTensor compile directory and Numba cache (``PYTENSOR_FLAGS=base_compiledir=<tmp>``,
``NUMBA_CACHE_DIR=<tmp>``), once. The 1-minute load average is printed before and after: on a
shared machine absolute times scale with it, read the ratios.

Targets (issue 13): estimate <= 3 s and >= 3x faster than the peer; --help and models
<= 0.5 s; cold deconvolution <= 20 s.

    .venv/bin/python benchmarks/estimate_speed.py [--repeats 5] [--cold] [--baseline DIR]
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "workbench.cli"]
COMMANDS = {
    "estimate beta-binomial": [*CLI, "estimate", "beta-binomial", "--json", "--seed", "1"],
    "peer: find_MAP + nutpie": [sys.executable, str(ROOT / "benchmarks" / "peer_estimate.py")],
    "workbench --help": [*CLI, "--help"],
    "workbench models": [*CLI, "models"],
}


def timed(argv, env=None, cwd=ROOT):
    """Wall seconds of one process; raises if it fails. Its CPU seconds (user + system, all
    threads) go to ``CPU[-1]``: on a loaded machine they move much less than the wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env, cwd=cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


CPU = []


def with_path(directory):
    """The environment with ``directory`` first on PYTHONPATH (None: this checkout)."""
    first = str(directory or ROOT)
    rest = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{first}{os.pathsep}{rest}" if rest else first}


def load():
    return os.getloadavg()[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="add the cold deconvolution run")
    parser.add_argument("--baseline", default=None, help="checkout to time `estimate` from too")
    args = parser.parse_args(argv)
    print(f"load before: {load():.2f}  ({os.cpu_count()} CPUs)")
    runs = {name: (command, with_path(None), ROOT) for name, command in COMMANDS.items()}
    if args.baseline:  # `python -m` puts the working directory first on sys.path: run there
        baseline = Path(args.baseline).resolve()
        runs = {
            "estimate (baseline)": (
                COMMANDS["estimate beta-binomial"],
                with_path(baseline),
                baseline,
            ),
            **runs,
        }
    for name, (command, env, cwd) in runs.items():  # fill the caches
        print(f"  warm-up: {name:<25} {timed(command, env, cwd):6.2f} s", flush=True)
    times, cpu = {name: [] for name in runs}, {name: [] for name in runs}
    for repeat in range(args.repeats):
        for name, (command, env, cwd) in runs.items():
            times[name].append(timed(command, env, cwd))
            cpu[name].append(CPU[-1])
            print(
                f"  repeat {repeat + 1}: {name:<24} {times[name][-1]:6.2f} s, "
                f"CPU {cpu[name][-1]:6.2f} s, load {load():.2f}",
                flush=True,
            )
    rows = {name: statistics.median(values) for name, values in times.items()}
    cpus = {name: statistics.median(values) for name, values in cpu.items()}
    print(f"{'command':<26} {'median s':>9} {'min s':>7} {'max s':>7} {'CPU s':>7}")
    for name, values in times.items():
        print(
            f"{name:<26} {rows[name]:9.2f} {min(values):7.2f} {max(values):7.2f} {cpus[name]:7.2f}"
        )
    peer = "peer: find_MAP + nutpie"
    for name in ("estimate (baseline)", "estimate beta-binomial"):
        if name in rows:
            print(
                f"ratio peer / {name}: wall {rows[peer] / rows[name]:.2f}, CPU "
                f"{cpus[peer] / cpus[name]:.2f} (target >= 3; estimate target <= 3 s)"
            )
    if args.cold:
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                **with_path(None),
                "PYTENSOR_FLAGS": f"base_compiledir={tmp}/pytensor",
                "NUMBA_CACHE_DIR": f"{tmp}/numba",
            }
            command = [*CLI, "estimate", "deconvolution", "--json", "--seed", "1"]
            cold = timed(command, env)
            warm = timed(command, env)
        print(f"deconvolution, empty cache: {cold:.2f} s, then warm {warm:.2f} s (target <= 20 s)")
    print(f"load after: {load():.2f}")


if __name__ == "__main__":
    main()
