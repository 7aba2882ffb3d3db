"""One torchrun relaunch for every ``--nproc N`` command.

``workbench <family> train ... --nproc N`` (N > 1) checks its input, then runs itself again
under ``python -m torch.distributed.run --standalone --nproc-per-node N -m workbench.cli``
with the *same command line* minus ``--nproc``: the line is taken from the command line as
typed (not rebuilt from parsed options), so every flag, including ones added later, is
forwarded unchanged. Each worker then joins the process group
(:func:`workbench.nn.runtime.init_distributed`).
"""

import os
import signal
import subprocess
import sys

from workbench.errors import InputError
from workbench.nn.runtime.threads import default_threads

__all__ = ["command_line", "launch_torchrun", "torchrun_command", "without_flag"]


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


def launch_torchrun(nproc, argv=None, threads=None):
    """Run ``workbench <argv>`` under torchrun with ``nproc`` workers and wait; returns the exit
    code. ``argv`` defaults to this process's command line (``sys.argv[1:]``); the CLI passes
    the list it parsed. Workers get ``OMP_NUM_THREADS`` = ``threads`` or cores // nproc. A
    SIGTERM sent to this process is passed on to torchrun (which passes it to the workers, who
    save their checkpoint; Ctrl-C reaches them directly), and they are waited for."""
    argv = sys.argv[1:] if argv is None else argv
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
