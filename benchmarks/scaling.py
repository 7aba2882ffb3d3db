"""Data-parallel scaling on the CPU, in one run: 1 process x 1 thread, 2 processes x 1 thread
and 1 process x 2 threads, for the CNN and the RBM; speed-ups against 1 x 1.

    PYTHONPATH=. .venv/bin/python benchmarks/scaling.py        # about 3 minutes on 2 idle cores

Every configuration is one ``workbench ... train`` command (torchrun and gloo for 2 processes),
one epoch on all 60,000 Fashion-MNIST training images; the epoch time comes from the run's
history (start-up, evaluation and figures excluded), the command's wall time is shown too.

- CNN: the course LeNet, ``--batch-size 256`` (128 rows per process at 2 processes), other
  settings the defaults; then the default batch of 64 at 1 x 1 and 2 x 1, the case
  ``--nproc`` warns about (``--skip-default-batch`` leaves it out).
- RBM: 500 hidden units, the Fashion-MNIST defaults (PCD-1, batch 100, chains = batch;
  ``--rbm-batch`` changes the batch).

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
CONFIGS = ((1, 1), (2, 1), (1, 2))  # (processes, threads per process)


def load_note(when):
    load = os.getloadavg()[0]
    note = f"load average {load:.2f} on {CORES} CPU cores {when}"
    if load > CORES:
        note += (f"; WARNING: the load exceeds the {CORES} cores, other work competes for them "
                 "and these speed-ups are not the machine's")  # fmt: skip
    return note


def run_command(argv, nproc, threads):
    """``workbench <argv>`` with ``--nproc`` and ``--threads``: (payload, wall seconds)."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "workbench.cli", *argv, "--json", "--out", out,
                   "--threads", str(threads), "--nproc", str(nproc)]  # fmt: skip
        tick = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - tick
    if proc.returncode:
        sys.exit(f"failed: {' '.join(command)}\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout), wall


def cnn(batch, configs):
    argv = ["cnn", "train", "--data", "fashion-mnist", "--epochs", "1", "--batch-size",
            str(batch), "--validation-fraction", "0", "--no-figures"]  # fmt: skip
    rows = []
    for nproc, threads in configs:
        payload, wall = run_command(argv, nproc, threads)
        epoch = payload["history"][0]
        rows.append((nproc, threads, epoch["seconds"], wall, epoch["train_loss"]))
    return f"CNN, batch {batch}", payload["n_train"], rows


def rbm(batch, configs):
    argv = ["rbm", "train", "--data", "fashion-mnist", "--hidden", "500", "--epochs", "1",
            "--batch-size", str(batch)]  # fmt: skip
    rows = []
    for nproc, threads in configs:
        payload, wall = run_command(argv, nproc, threads)
        seconds = payload["history"][-1]["seconds"]  # training time of the epoch
        rows.append((nproc, threads, seconds, wall, payload["final"]["reconstruction_error"]))
    return f"RBM 500 hidden, batch {batch}", 60000, rows


def report(name, n, rows):
    base = rows[0][2]
    for nproc, threads, seconds, wall, _ in rows:
        print(f"{name:<28}{nproc:>6}{threads:>8}{seconds:>10.2f}{n / seconds:>10.0f}"
              f"{base / seconds:>9.2f}x{wall:>9.1f}", flush=True)  # fmt: skip
    values = [row[4] for row in rows]
    spread = (max(values) - min(values)) / abs(values[0])
    print(f"{'':<28}runs agree: {'yes' if spread < 1e-4 else 'NO'} (relative spread of the "
          f"train loss / reconstruction error {spread:.1e})", flush=True)  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cnn", "rbm"], choices=("cnn", "rbm"))
    parser.add_argument("--cnn-batch", type=int, default=256)
    parser.add_argument("--rbm-batch", type=int, default=100, help="the Fashion-MNIST default")
    parser.add_argument("--skip-default-batch", action="store_true")
    args = parser.parse_args()
    tick = time.perf_counter()
    print(load_note("at the start"), flush=True)
    print(f"{'model':<28}{'procs':>6}{'threads':>8}{'epoch s':>10}{'rows/s':>10}"
          f"{'speed-up':>10}{'wall s':>9}")  # fmt: skip
    if "cnn" in args.models:
        report(*cnn(args.cnn_batch, CONFIGS))
        if not args.skip_default_batch:
            report(*cnn(64, CONFIGS[:2]))
    if "rbm" in args.models:
        report(*rbm(args.rbm_batch, CONFIGS))
    print(load_note("at the end"))
    print(f"benchmark time {time.perf_counter() - tick:.0f} s")


if __name__ == "__main__":
    main()
