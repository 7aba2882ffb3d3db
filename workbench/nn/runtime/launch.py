"""One torchrun relaunch for every ``--nproc N`` command.

``workbench <family> train ... --nproc N`` (N > 1) checks its input, then runs itself again
under ``python -m torch.distributed.run --standalone --nproc-per-node N -m workbench.cli``
with the *same command line* minus ``--nproc``: the line is taken from the command line as
typed (not rebuilt from parsed options), so every flag, including ones added later, is
forwarded unchanged. Each worker then joins the process group
(:func:`workbench.nn.runtime.init_distributed`).

Before relaunching on CPUs, :func:`scaling_warning` says in one line on stderr when the run
will not pay off: more processes than cores, more threads than cores, or a global batch that
leaves fewer rows per process than measured to reach 1.6x one process (the per-step work every
process repeats and the wait for the slowest process at every all-reduce are then too large a
share; docs/benchmarks.md, section 13).
"""

import os
import signal
import subprocess
import sys

from workbench.errors import InputError
from workbench.nn.runtime.threads import default_threads

__all__ = ["MIN_LOCAL_ROWS_PER_PROCESS", "MIN_ROWS_PER_PROCESS", "command_line",
           "launch_torchrun", "local_update_advice", "scaling_limits", "scaling_warning",
           "torchrun_command", "without_flag"]  # fmt: skip

# Below this many rows of the global batch per process, two CPU processes did not reach 1.6x
# one on a quiet 2-core machine (course LeNet, one thread each: 32 rows per process 1.21x, 128
# 1.35x, 256 1.40x, 512 1.47x, 1024 2.10x; the RBM's threshold is its own, passed by its CLI).
# Measured, docs/benchmarks.md section 13.
MIN_ROWS_PER_PROCESS = 1024
# With local updates (--sync-every 10) the default batch of 64 rows per process already gave
# 1.6-1.9x per epoch and, at --lr 0.006, one process's test accuracy in 1.8x less time.
MIN_LOCAL_ROWS_PER_PROCESS = 64


def local_update_advice(nproc, batch_size, min_rows, lr_example):
    """The warning's advice for a synchronous run below its break-even: the measured
    local-update recipe (each process gets the batch one process would, at least
    ``min_rows``), with ``lr_example`` (e.g. "0.15 for Fashion-MNIST")."""
    per_process = max(batch_size, min_rows)
    return (
        f"local updates reach it from {min_rows} rows per process: add --sync-every 10 "
        f"--batch-size {per_process * nproc} and raise --lr ({lr_example}; "
        "docs/benchmarks.md, section 13), or use one process with --threads"
    )


def scaling_limits(sync_every, nproc, batch_size, *, min_rows=MIN_ROWS_PER_PROCESS,
                   min_local_rows=MIN_LOCAL_ROWS_PER_PROCESS, lr_example):  # fmt: skip
    """The scaling keywords of :func:`launch_torchrun` (through ``run_ranks``) for a training
    command: the break-even of its scheme (``min_rows`` synchronous, ``min_local_rows`` with
    local updates, ``sync_every`` > 1), and for a synchronous run the local-update recipe as
    the advice (:func:`local_update_advice`, ``lr_example``)."""
    if sync_every > 1:
        return {"batch_size": batch_size, "min_rows": min_local_rows}
    advice = local_update_advice(nproc, batch_size, min_local_rows, lr_example)
    return {"batch_size": batch_size, "min_rows": min_rows, "advice": advice}


def without_flag(argv, flag="--nproc"):
    """``argv`` without ``flag`` and its value (``--nproc 4`` or ``--nproc=4``)."""
    out, skip = [], False
    argv = list(argv)
    for item in argv:
        if skip:
            skip = False
        elif item == flag:
            skip = True
        elif not item.startswith(flag + "="):
            out.append(item)
    return out


def torchrun_command(nproc, argv):
    """The torchrun command line that runs ``workbench <argv>`` (minus ``--nproc``) on
    ``nproc`` local worker processes."""
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise InputError("nproc", "an integer >= 1", repr(nproc))
    runner = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    return [*runner, f"--nproc-per-node={nproc}", "-m", "workbench.cli", *without_flag(argv)]


def scaling_warning(nproc, threads=None, batch_size=None, *, min_rows=MIN_ROWS_PER_PROCESS,
                    device="auto", advice=None):  # fmt: skip
    """Why ``nproc`` data-parallel CPU processes will not pay off, in one line, or None (also on
    a GPU, where these CPU measurements do not apply). ``batch_size``: the global batch, None
    when unknown; ``min_rows``: the rows per process below which splitting it does not pay;
    ``advice``: what to do then (default: more threads or a larger batch)."""
    import torch

    if nproc < 2 or device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
        return None
    cores = os.cpu_count() or 1
    if nproc > cores:
        return (f"--nproc {nproc} is more processes than the {cores} CPU cores: they will take "
                f"turns on the cores and run slower than --nproc {cores}")  # fmt: skip
    if threads is not None and nproc * threads > cores:
        return (f"--nproc {nproc} x --threads {threads} oversubscribes the {cores} CPU cores; "
                f"use --threads {max(1, cores // nproc)}")  # fmt: skip
    if batch_size is not None and batch_size // nproc < min_rows:
        advice = advice or (f"one process with --threads {cores} usually does better, or "
                            f"use --batch-size >= {min_rows * nproc} (fewer updates per "
                            "epoch)")  # fmt: skip
        return (f"--batch-size {batch_size} leaves {batch_size // nproc} rows per process, below "
                f"the {min_rows} measured to reach 1.6x one process (each step waits for the "
                f"slowest process); {advice}")  # fmt: skip
    return None


def launch_torchrun(nproc, argv=None, threads=None, *, batch_size=None,
                    min_rows=MIN_ROWS_PER_PROCESS, device="auto", advice=None):  # fmt: skip
    """Run ``workbench <argv>`` under torchrun with ``nproc`` workers and wait; returns the exit
    code. ``argv`` defaults to this process's command line (``sys.argv[1:]``); the CLI passes
    the list it parsed. Workers get ``OMP_NUM_THREADS`` = ``threads`` or cores // nproc. First
    prints :func:`scaling_warning` (``batch_size``, ``min_rows``, ``device``, ``advice``). A
    SIGTERM sent to this process is passed on to torchrun (which passes it to the workers, who
    save their checkpoint; Ctrl-C reaches them directly), and they are waited for."""
    argv = sys.argv[1:] if argv is None else argv
    warning = scaling_warning(nproc, threads, batch_size, min_rows=min_rows, device=device,
                              advice=advice)  # fmt: skip
    if warning:
        print(f"workbench: warning: {warning}", file=sys.stderr)
    n = threads if threads is not None else default_threads(nproc)
    env = {**os.environ, "OMP_NUM_THREADS": str(n)}
    with subprocess.Popen(torchrun_command(nproc, argv), env=env) as proc:
        try:
            return proc.wait()
        except KeyboardInterrupt as err:  # the ranks save and stop; wait for them
            if getattr(err, "signal", "SIGINT") == "SIGTERM":  # Ctrl-C reached them already
                proc.send_signal(signal.SIGTERM)
            proc.wait()
            raise


def command_line(*words):
    """This process's command line (``sys.argv[1:]``) for :func:`launch_torchrun`, checked to
    start with ``words`` (e.g. "cnn", "train"): a relaunch must repeat the command as typed,
    which a call of ``workbench.cli.main([...])`` from Python does not have."""
    argv = sys.argv[1:]
    if argv[: len(words)] != list(words):
        raise InputError(
            "nproc",
            detail=f"a relaunch under torchrun repeats the command line, but this process was "
            f"not started as `workbench {' '.join(words)} ...`; run it from the shell or call "
            "torchrun directly",
        )
    return argv
