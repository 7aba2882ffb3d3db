"""What every training command of the CLI shares: its common options, its data, its ranks and
how it ends (figures, ``metrics.json``, the JSON or table on stdout).

A family's ``cli.py`` (``workbench rbm``, ``workbench ae``, ...) builds its own options and
calls these, so the commands agree on defaults and on what they leave in ``--out``::

    add_run_options(p, out="workbench-rbm")          # --seed --device --threads --out --json
    train, test = load_split(args.data, binarize=True)
    run_ranks(args, ("rbm", "train"), train_process)  # --nproc N: N torchrun ranks
    finish_run(args, args.out, payload, {"filters": fig}, table)

Library imports (Torch, the data sets, matplotlib) happen inside the functions, so that
``workbench --help`` stays cheap.
"""

import os
from pathlib import Path

from workbench.errors import InputError
from workbench.output import emit

__all__ = [
    "add_resume_option",
    "add_run_options",
    "add_tensorboard_option",
    "dataset_defaults",
    "finish_run",
    "finish_samples",
    "int_list",
    "load_split",
    "resume_checkpoint",
    "run_ranks",
    "tensorboard_recording",
    "verbose",
]

DEFAULT_SEED = 0
MAX_PROCESSES_PER_CORE = 4  # --nproc above this many per core is refused
FIGURE_DPI = 90


def add_run_options(p, *, out):
    """Add ``--seed`` (default 0), ``--device`` (default auto), ``--threads``, ``--out``
    (default ``out``) and ``--json`` to the argparse parser ``p``; the CLI adds ``--overwrite``
    to every command with ``--out`` (see :mod:`workbench.runfolder`)."""
    p.add_argument(
        "--seed", type=int, default=DEFAULT_SEED,
        help="random seed; same seed, same result (default %(default)s)",
    )  # fmt: skip
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument(
        "--threads", type=int, default=None,
        help="torch CPU threads per process (default: the cores per process)",
    )  # fmt: skip
    p.add_argument(
        "--out", default=out,
        help="folder for the checkpoint, figures and metrics.json (default %(default)s)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def add_tensorboard_option(p):
    """Add ``--tensorboard DIR`` (off by default) to a training command's parser ``p``; the
    command trains inside :func:`tensorboard_recording` (``run_ranks`` does so)."""
    p.add_argument(
        "--tensorboard", default=None, metavar="DIR",
        help="write live training curves, weight histograms and filters for TensorBoard "
             "under DIR (view: tensorboard --logdir DIR)",
    )  # fmt: skip


def tensorboard_recording(args):
    """The TensorBoard context of ``args.tensorboard`` (a no-op without the option)."""
    from workbench.nn.runtime.tensorboard import recording

    return recording(getattr(args, "tensorboard", None))


def verbose(args):
    """Whether a training run logs its epochs on stderr: not with ``--json``; its progress bar
    is drawn only on a terminal besides (:func:`workbench.output.progress_bars`)."""
    return not args.json


def add_resume_option(p, checkpoint):
    """Add ``--resume [CHECKPOINT]`` (the same meaning in every training command): continue
    from CHECKPOINT, or with the bare flag from ``OUT/checkpoint``."""
    p.add_argument(
        "--resume", nargs="?", const=True, default=None, metavar="CHECKPOINT",
        help=f"continue training from CHECKPOINT (the bare flag: OUT/{checkpoint}) up to "
        "--epochs, which may not be below the epochs done; the settings come from the "
        "checkpoint, and an option typed with another value is an error naming it. May change: "
        "--epochs (and so where the learning-rate schedule ends), --device, --threads, "
        "--nproc, --json, --out",
    )  # fmt: skip


def _plain(value):
    return [_plain(v) for v in value] if isinstance(value, list | tuple) else value


def _saved(ckpt, where):
    value = ckpt
    for key in where.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def resume_checkpoint(args, out, name, kind, options, *, epochs=None, given=None):
    """The checkpoint ``OUT/name`` to continue with ``--resume``, or None without it.

    ``--resume PATH`` is copied to ``OUT/name`` first (atomically), the bare flag uses
    ``OUT/name`` itself, which must exist. Each option in ``options`` (argparse dest -> dotted
    place in the checkpoint dict, e.g. ``{"hidden": "state.params.n_hidden"}``) that was typed
    (``args.typed_options``; every non-None one when called from Python) must equal the saved
    value (``given`` overrides ``getattr(args, dest)``), else an :class:`InputError` naming
    ``resume`` lists every conflict; ``epochs`` (default ``args.epochs``) below the epochs done
    is an InputError naming ``epochs``."""
    from workbench.nn.runtime.checkpoint import check_config, load_checkpoint
    from workbench.output import write_bytes

    if not getattr(args, "resume", None):
        return None
    target = Path(out) / name
    source = target if args.resume is True else Path(args.resume)
    if not source.is_file():
        hint = "; train once without --resume first" if args.resume is True else ""
        raise InputError("resume", detail=f"no checkpoint to continue at {source}{hint}")
    ckpt = load_checkpoint(source, kind, argument="resume")
    typed, given = getattr(args, "typed_options", None), given or {}
    have, want = {}, {}
    for dest, where in options.items():
        value = given.get(dest, getattr(args, dest, None))
        if (typed is not None and dest not in typed) or value is None:
            continue
        saved = _saved(ckpt, where)
        if _plain(value) != _plain(saved):
            flag = "--" + dest.replace("_", "-")
            have[flag], want[flag] = saved, value
    check_config({"config": have}, want, source, argument="resume",
                 advice="leave those options out (the checkpoint's values are used), or train "
                 "anew without --resume")  # fmt: skip
    done = _saved(ckpt, "state.loop.epoch")
    epochs = getattr(args, "epochs", None) if epochs is None else epochs
    if done is not None and epochs is not None and epochs < done:
        raise InputError("epochs", f"at least the {done} epochs {source} has done", epochs)
    if source.resolve() != target.resolve():
        write_bytes(target, source.read_bytes())
    return target


def dataset_defaults(name, table, common=None):
    """A command's training settings for the data set ``name``: ``common`` updated with the
    entry of ``table`` for its family (``bars-stripes-3`` -> ``bars-stripes``, ``ising-4-2.5``
    -> ``ising``), or with ``table["file"]`` for a user file or an unlisted name."""
    import re

    family = re.sub(r"-\d.*$", "", str(name))
    return {**(common or {}), **table.get(family, table["file"])}


def int_list(text):
    """The argparse type of a list of layer sizes: "1000,500,30" -> (1000, 500, 30)."""
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        import argparse

        raise argparse.ArgumentTypeError(f"comma-separated integers, got {text!r}") from None


def load_split(name, *, binarize=False, data_dir=None):
    """``(train, test)``: the data set ``name`` (a built-in name or a user file, see
    :func:`workbench.data.load_dataset`) as :class:`~workbench.data.datasets.Dataset` tuples,
    ``test`` None where the data set has no held-out split. ``binarize`` thresholds at 0.5. A bad
    ``name`` is an :class:`InputError` naming ``data`` (the commands' ``--data``)."""
    from workbench.data.datasets import has_split, load_dataset

    parts = ("train", "test") if has_split(name) else ("all",)
    try:  # the commands take the data set as --data: name it so in errors
        loaded = [load_dataset(name, split=p, binarize=binarize, data_dir=data_dir) for p in parts]
    except InputError as err:
        raise InputError("data" if err.argument == "name" else err.argument,
                         detail=err.detail) from None  # fmt: skip
    return (*loaded, None) if len(loaded) == 1 else tuple(loaded)


def run_ranks(args, words, process, **scaling):
    """Run ``process(args, device)`` once, or with ``args.nproc`` > 1 in that many torchrun
    ranks: the command line as typed (``words``, e.g. ``("rbm", "train")``, name the
    sub-command) is re-run under ``torchrun --standalone``, and each rank sets up the process
    group, runs ``process`` and tears the group down. Returns what ``process`` returns (None in
    the launching process). ``scaling`` (``batch_size``, ``min_rows``, ``advice``) feeds the
    relaunch's warning when the run will not pay off
    (:func:`workbench.nn.runtime.launch.scaling_warning`)."""
    from workbench.nn.runtime import (
        command_line,
        init_distributed,
        launch_torchrun,
        under_torchrun,
    )

    nproc = getattr(args, "nproc", 1)
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise InputError("nproc", "an integer >= 1", repr(nproc))
    most = MAX_PROCESSES_PER_CORE * (os.cpu_count() or 1)
    if nproc > most:  # each rank is a whole Python process with Torch loaded (~0.5 GB)
        raise InputError("nproc", f"at most {most} ({MAX_PROCESSES_PER_CORE} per CPU core)", nproc)
    if nproc > 1 and not under_torchrun():
        code = launch_torchrun(nproc, command_line(*words), args.threads,
                               device=getattr(args, "device", "auto"),
                               **scaling)  # fmt: skip
        if code:
            raise SystemExit(code)
        return None
    if not under_torchrun():
        with tensorboard_recording(args):
            return process(args, args.device)
    import torch

    device = str(init_distributed(args.device))
    try:
        with tensorboard_recording(args):
            return process(args, device)
    finally:
        torch.distributed.destroy_process_group()


def finish_run(args, out, payload, figures, text, *, metrics="metrics.json"):
    """End a run: save each ``Figure`` of ``figures`` (name -> Figure) atomically as
    ``out/name.png`` and list it in ``payload["files"]``, write ``payload`` to ``out/metrics``
    as JSON, then print it (``--json``) or ``text(payload)``. Returns ``payload``."""
    from workbench.output import save_figure, write_json

    out = Path(out)
    files = dict(payload.get("files", {}))
    for name, fig in figures.items():
        files[name] = str(save_figure(fig, out / f"{name}.png", dpi=FIGURE_DPI))
    payload = {**payload, "files": files}
    write_json(out / metrics, payload)
    emit(args, payload, text(payload))
    return payload


def finish_samples(args, samples, title, **fields):
    """End a ``sample`` command: ``samples`` (n, n_features) saved atomically as
    ``OUT/samples.npy`` and drawn as images (square ones when n_features is a square) in
    ``OUT/samples_figure.png``, ``OUT/sample.json`` holding the checkpoint, n and ``fields``."""
    import math

    import numpy as np

    from workbench.nn.rbm.plots import plot_images
    from workbench.output import atomic_path

    out = Path(args.out)
    with atomic_path(out / "samples.npy") as tmp:
        np.save(tmp, samples)
    side = math.isqrt(samples.shape[1])
    shape = (side, side) if side * side == samples.shape[1] else None
    payload = {"checkpoint": args.checkpoint, "n": args.n, **fields,
               "files": {"samples": str(out / "samples.npy")}}  # fmt: skip
    figures = {"samples_figure": plot_images(samples, shape, title=title)}
    return finish_run(args, out, payload, figures,
                      lambda done: "\n".join(f"{k}: {v}" for k, v in done["files"].items()),
                      metrics="sample.json")  # fmt: skip
