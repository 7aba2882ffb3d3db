"""Data-parallel scaling on the CPU, in one run: 1 process x 1 thread, 2 processes x 1 thread
and 1 process x 2 threads, for the CNN and the RBM; speed-ups against 1 x 1.

The last row of each model, "2 ind.", runs two identical 1 x 1 commands at once that share
nothing: their combined rows per second is the ceiling of any two-process data-parallel scheme
on this machine (communication and synchronisation cost nothing there).

    PYTHONPATH=. .venv/bin/python benchmarks/scaling.py        # about 17 minutes on 2 idle cores

Every configuration is one ``workbench ... train`` command (torchrun and gloo for 2 processes),
one epoch on all 60,000 Fashion-MNIST training images; the epoch time comes from the run's
history (start-up, evaluation and figures excluded), the command's wall time is shown too.

- CNN: the course LeNet, ``--batch-size 2048`` (1024 rows per process at 2 processes), other
  settings the defaults; then the default batch of 64 at 1 x 1 and 2 x 1, the case ``--nproc``
  warns about (``--skip-default-batch`` leaves it out).
- RBM: 500 hidden units, the Fashion-MNIST defaults (PCD-1, batch 100, chains = batch;
  ``--rbm-batch`` changes the batch).
- "2 local" (CNN at batch 64, RBM): 2 processes x 1 thread with local updates averaged every
  ``--sync-every`` K steps (default 10) on twice the batch, so that each process updates on as
  many rows as the one process does (a different trajectory: left out of the agreement check).
- Time to quality (``--skip-quality`` leaves it out; about 8 minutes): the default epochs (CNN
  15 with early stopping on a 10 % validation split, RBM 5) at 1 x 1 with the defaults against
  2 x 1 with the README's local-update recipe (:data:`RECIPES`): training seconds, the test
  accuracy (CNN) or reconstruction error and pseudo-log-likelihood (RBM).

Runs of one model are checked to agree (train loss, reconstruction error) to float rounding.
The load average is printed before and after, with a warning when it exceeds the core count:
speed-ups measured while other jobs compete for the cores are not the machine's.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CORES = os.cpu_count() or 1
# (processes, threads per process, independent copies); the last is the machine's ceiling
CONFIGS = ((1, 1, 1), (2, 1, 1), (1, 2, 1), (1, 1, 2))


def load_note(when):
    load = os.getloadavg()[0]
    note = f"load average {load:.2f} on {CORES} CPU cores {when}"
    if load > CORES:
        note += (f"; WARNING: the load exceeds the {CORES} cores, other work competes for them "
                 "and these speed-ups are not the machine's")  # fmt: skip
    return note


def run_command(argv, nproc, threads, copies=1):
    """``workbench <argv>`` with ``--nproc`` and ``--threads``: (payloads, wall seconds).

    ``copies`` > 1 starts that many identical commands at once, sharing nothing (one payload
    each): the ceiling any data-parallel run of as many processes can reach.
    """
    with tempfile.TemporaryDirectory() as root:
        commands = [[sys.executable, "-m", "workbench.cli", *argv, "--json",
                     "--out", os.path.join(root, str(copy)), "--threads", str(threads),
                     "--nproc", str(nproc)] for copy in range(copies)]  # fmt: skip
        tick = time.perf_counter()
        procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for c in commands]  # fmt: skip
        outputs = [proc.communicate() for proc in procs]
        wall = time.perf_counter() - tick
    for command, proc, (_, stderr) in zip(commands, procs, outputs, strict=True):
        if proc.returncode:
            sys.exit(f"failed: {' '.join(command)}\n{stderr[-2000:]}")
    return [json.loads(stdout) for stdout, _ in outputs], wall


def epoch_rows(argv, batch, configs, sync_every, epoch_seconds, score):
    """One row per (processes, threads, copies) in ``configs`` for ``workbench <argv>`` at the
    global ``batch``; with ``sync_every``, a last row: 2 x 1 local updates on twice the batch
    (each process updates on the rows one process would). ``epoch_seconds(payload)`` and
    ``score(payload)`` read a run's output."""
    runs = [(argv + ["--batch-size", str(batch)], config) for config in configs]
    if sync_every:
        local = ["--batch-size", str(2 * batch), "--sync-every", str(sync_every)]
        runs.append((argv + local, (2, 1, 1)))
    rows = []
    for command, (nproc, threads, copies) in runs:
        payloads, wall = run_command(command, nproc, threads, copies)
        # per epoch's rows: the copies' mean epoch, shared among them
        seconds = sum(epoch_seconds(p) for p in payloads) / copies**2
        rows.append((nproc, threads, copies, seconds, wall, score(payloads[0])))
    return rows


CNN = ["cnn", "train", "--data", "fashion-mnist", "--no-figures"]
RBM = ["rbm", "train", "--data", "fashion-mnist", "--hidden", "500"]


def cnn(batch, configs, sync_every=None):
    argv = CNN + ["--epochs", "1", "--validation-fraction", "0"]  # the epoch's time alone
    rows = epoch_rows(argv, batch, configs, sync_every,
                      lambda p: p["history"][0]["seconds"],
                      lambda p: p["history"][0]["train_loss"])  # fmt: skip
    return f"CNN, batch {batch}", 60000, rows, len(configs)


def rbm(batch, configs, sync_every=None):
    # the RBM's history holds the training time so far: one epoch's here
    rows = epoch_rows(RBM + ["--epochs", "1"], batch, configs, sync_every,
                      lambda p: p["history"][-1]["seconds"],
                      lambda p: p["final"]["reconstruction_error"])  # fmt: skip
    return f"RBM 500 hidden, batch {batch}", 60000, rows, len(configs)


# the local-update recipes of the README: each process updates on the one process's batch
RECIPES = {
    "cnn": ["--batch-size", "128", "--sync-every", "10", "--lr", "0.006"],
    "rbm": ["--batch-size", "200", "--sync-every", "10", "--lr", "0.15"],
}


def time_to_quality(model):
    """One process with the defaults against two with the local-update recipe, the default
    epochs each (CNN 15 with early stopping, RBM 5): training seconds and test scores."""
    if model == "cnn":
        argv, title, header = CNN, "CNN, 15 epochs", "test acc."
        seconds = lambda p: sum(r["seconds"] for r in p["history"])  # noqa: E731
        scores = lambda p: f"{p['test_accuracy']:>12.4f}{'':>10}"  # noqa: E731
    else:
        argv, title, header = RBM, "RBM 500 hidden, 5 epochs", "test recon."
        seconds = lambda p: p["history"][-1]["seconds"]  # noqa: E731
        scores = lambda p: (f"{p['final']['reconstruction_error']:>12.4f}"  # noqa: E731
                            f"{p['final']['pseudo_log_likelihood']:>10.1f}")  # fmt: skip
    print(f"{title + ':':<31}{'run':<52}{'train s':>9}{header:>12}"
          f"{'test PLL' if model == 'rbm' else '':>10}{'speed-up':>10}")  # fmt: skip
    base = None
    recipe = RECIPES[model]
    for label, extra, nproc in (("1 x 1, the defaults", [], 1),
                                ("2 x 1, " + " ".join(recipe), recipe, 2)):  # fmt: skip
        (payload,), _ = run_command(argv + extra, nproc, 1)
        base = base or seconds(payload)
        print(f"{'':<31}{label:<52}{seconds(payload):>9.1f}{scores(payload)}"
              f"{base / seconds(payload):>9.2f}x", flush=True)  # fmt: skip


def report(name, n, rows, exact=None):
    """Print ``rows``; the first ``exact`` (default all) must agree to float rounding."""
    base = rows[0][3]
    for index, (nproc, threads, copies, seconds, wall, _) in enumerate(rows):
        procs = f"{copies} ind." if copies > 1 else str(nproc)
        procs = procs if exact is None or index < exact else f"{nproc} local"
        print(f"{name:<28}{procs:>8}{threads:>8}{seconds:>10.2f}{n / seconds:>10.0f}"
              f"{base / seconds:>9.2f}x{wall:>9.1f}", flush=True)  # fmt: skip
    values = [row[5] for row in rows[:exact]]
    spread = (max(values) - min(values)) / abs(values[0])
    print(f"{'':<28}runs agree: {'yes' if spread < 1e-4 else 'NO'} (relative spread of the "
          f"train loss / reconstruction error {spread:.1e})", flush=True)  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cnn", "rbm"], choices=("cnn", "rbm"))
    parser.add_argument("--cnn-batch", type=int, default=2048)
    parser.add_argument("--rbm-batch", type=int, default=100, help="the Fashion-MNIST default")
    parser.add_argument("--skip-default-batch", action="store_true")
    parser.add_argument("--sync-every", type=int, default=10,
                        help="the local-update rows (0: leave them out)")  # fmt: skip
    parser.add_argument("--skip-quality", action="store_true",
                        help="leave out the time-to-quality comparisons")  # fmt: skip
    args = parser.parse_args()
    tick = time.perf_counter()
    print(load_note("at the start"), flush=True)
    print(f"{'model':<28}{'procs':>8}{'threads':>8}{'epoch s':>10}{'rows/s':>10}"
          f"{'speed-up':>10}{'wall s':>9}")  # fmt: skip
    if "cnn" in args.models:
        report(*cnn(args.cnn_batch, CONFIGS))
        if not args.skip_default_batch:
            report(*cnn(64, CONFIGS[:2], args.sync_every))
    if "rbm" in args.models:
        report(*rbm(args.rbm_batch, CONFIGS, args.sync_every))
    for model in args.models if not args.skip_quality else ():
        time_to_quality(model)
    print(load_note("at the end"))
    print(f"benchmark time {time.perf_counter() - tick:.0f} s")


if __name__ == "__main__":
    main()
