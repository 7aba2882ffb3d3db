"""Data-parallel scaling on the CPU, in one run: 1 process x 1 thread, 2 processes x 1 thread
and 1 process x 2 threads, for the CNN and the RBM; speed-ups against 1 x 1.

The last row of each model, "2 ind.", runs two identical 1 x 1 commands at once that share
nothing: their combined rows per second is the ceiling of any two-process data-parallel scheme
on this machine (communication and synchronisation cost nothing there).

    PYTHONPATH=. .venv/bin/python benchmarks/scaling.py        # about 10 minutes on 2 idle cores

Every configuration is one ``workbench ... train`` command (torchrun and gloo for 2 processes),
one epoch on all 60,000 Fashion-MNIST training images; the epoch time comes from the run's
history (start-up, evaluation and figures excluded), the command's wall time is shown too.

- CNN: the course LeNet, ``--batch-size 2048`` (1024 rows per process at 2 processes, the
  documented data-parallel setting, README), other settings the defaults; then the default
  batch of 64 at 1 x 1 and 2 x 1, the case ``--nproc`` warns about (``--skip-default-batch``
  leaves it out).
- RBM: 500 hidden units, the Fashion-MNIST defaults (PCD-1, batch 100, chains = batch;
  ``--rbm-batch`` changes the batch). Then the row "2 local": 2 processes x 1 thread with local
  updates averaged every ``--sync-every`` K updates (default 10) on twice the batch, so that each
  process updates on as many rows and chains as the one process does (a different trajectory:
  left out of the agreement check).
- RBM, time to quality: 5 epochs (the Fashion-MNIST default) at 1 x 1 with the defaults against
  2 x 1 with the local-update recipe (``--batch-size 200 --sync-every 10 --lr 0.15``): training
  seconds, the test set's reconstruction error and pseudo-log-likelihood (``--skip-quality``
  leaves it out; about 2 minutes).

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


def cnn(batch, configs):
    argv = ["cnn", "train", "--data", "fashion-mnist", "--epochs", "1", "--batch-size",
            str(batch), "--validation-fraction", "0", "--no-figures"]  # fmt: skip
    rows = []
    for nproc, threads, copies in configs:
        payloads, wall = run_command(argv, nproc, threads, copies)
        # per epoch's rows: the copies' mean epoch, shared among them
        seconds = sum(p["history"][0]["seconds"] for p in payloads) / copies**2
        loss = payloads[0]["history"][0]["train_loss"]
        rows.append((nproc, threads, copies, seconds, wall, loss))
    return f"CNN, batch {batch}", payloads[0]["n_train"], rows


def rbm(batch, configs, sync_every=None):
    """The RBM's rows; with ``sync_every``, a last one: 2 x 1 local updates on batch 2B."""
    argv = ["rbm", "train", "--data", "fashion-mnist", "--hidden", "500", "--epochs", "1"]
    runs = [(argv + ["--batch-size", str(batch)], config) for config in configs]
    if sync_every:
        local = ["--batch-size", str(2 * batch), "--sync-every", str(sync_every)]
        runs.append((argv + local, (2, 1, 1)))
    rows = []
    for command, (nproc, threads, copies) in runs:
        payloads, wall = run_command(command, nproc, threads, copies)
        # training time per epoch's rows: the copies' mean epoch, shared among them
        seconds = sum(p["history"][-1]["seconds"] for p in payloads) / copies**2
        error = payloads[0]["final"]["reconstruction_error"]
        rows.append((nproc, threads, copies, seconds, wall, error))
    return f"RBM 500 hidden, batch {batch}", 60000, rows, len(configs)


RECIPE = ["--batch-size", "200", "--sync-every", "10", "--lr", "0.15"]  # per process: 100


def rbm_quality(epochs=5):
    """One process with the defaults against two with the local-update recipe, ``epochs``
    each: training seconds and the test scores, printed with the ratio of the seconds."""
    argv = ["rbm", "train", "--data", "fashion-mnist", "--hidden", "500", "--epochs", str(epochs)]
    print(f"RBM 500 hidden, {epochs} epochs: {'run':<46}{'train s':>9}{'test recon.':>12}"
          f"{'test PLL':>10}{'speed-up':>10}")  # fmt: skip
    base = None
    for label, extra, nproc in (("1 x 1, the defaults (batch 100, lr 0.05)", [], 1),
                                ("2 x 1, " + " ".join(RECIPE), RECIPE, 2)):  # fmt: skip
        (payload,), _ = run_command(argv + extra, nproc, 1)
        seconds, final = payload["history"][-1]["seconds"], payload["final"]
        base = base or seconds
        scores = final["reconstruction_error"], final["pseudo_log_likelihood"]
        print(f"{'':<31}{label:<46}{seconds:>9.1f}{scores[0]:>12.4f}{scores[1]:>10.1f}"
              f"{base / seconds:>9.2f}x", flush=True)  # fmt: skip


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
                        help="the RBM's local-update row (0: leave it out)")  # fmt: skip
    parser.add_argument("--skip-quality", action="store_true",
                        help="leave out the RBM's time-to-quality comparison")  # fmt: skip
    args = parser.parse_args()
    tick = time.perf_counter()
    print(load_note("at the start"), flush=True)
    print(f"{'model':<28}{'procs':>8}{'threads':>8}{'epoch s':>10}{'rows/s':>10}"
          f"{'speed-up':>10}{'wall s':>9}")  # fmt: skip
    if "cnn" in args.models:
        report(*cnn(args.cnn_batch, CONFIGS))
        if not args.skip_default_batch:
            report(*cnn(64, CONFIGS[:2]))
    if "rbm" in args.models:
        report(*rbm(args.rbm_batch, CONFIGS, args.sync_every))
        if not args.skip_quality:
            rbm_quality()
    print(load_note("at the end"))
    print(f"benchmark time {time.perf_counter() - tick:.0f} s")


if __name__ == "__main__":
    main()
