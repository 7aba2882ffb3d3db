"""One versioned checkpoint format for every model family.

A checkpoint is one ``torch.save`` file holding a dict::

    {"format": "workbench-checkpoint", "version": 1, "kind": "cnn" | "rbm" | ...,
     "config": {...},   # what must match to resume (hyper-parameters, data sizes, ...)
     "state": {...},    # what the run needs to continue (model/optimiser state, step, ...)
     ...}               # further entries a family adds (history, generator state, ...)

It is written atomically (:func:`workbench.output.atomic_path`: an interrupted write leaves
the old file or none, never half a file) and read with ``torch.load(weights_only=True)``, so a
checkpoint holds only tensors and plain Python values and loading it runs no code. The loader
checks the format, the version and the kind, and says which is wrong.

Example::

    save_checkpoint(path, kind="cnn", state={"model": net.state_dict()}, config=run_config)
    ckpt = load_checkpoint(path, kind="cnn")
    check_config(ckpt, run_config, path)    # InputError naming what differs
"""

from pathlib import Path

import torch

from workbench.errors import InputError, check_weights
from workbench.output import atomic_path

__all__ = [
    "FORMAT",
    "VERSION",
    "check_config",
    "load_checkpoint",
    "load_estimator",
    "plain_params",
    "save_checkpoint",
]

FORMAT = "workbench-checkpoint"
VERSION = 1
RESERVED = ("format", "version", "kind", "config", "state")


def save_checkpoint(path, *, kind, state, config, **extra):
    """Write a checkpoint of ``kind`` to ``path`` atomically; returns the path. ``state``,
    ``config`` and the ``extra`` entries must be tensors or plain Python values."""
    clash = sorted(set(extra) & set(RESERVED))
    if clash:
        raise InputError("extra", f"keys other than {RESERVED}", clash)
    payload = {"format": FORMAT, "version": VERSION, "kind": str(kind), "config": config,
               "state": state, **extra}  # fmt: skip
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(path, kind, *, argument="checkpoint", map_location="cpu"):
    """The checkpoint dict at ``path``, checked to be a version-:data:`VERSION` checkpoint of
    ``kind``. Errors are :class:`InputError` naming ``argument`` (the caller's name for the
    path) and saying what is wrong: missing, unreadable, foreign, other version, other kind."""
    path = Path(path)
    if not path.is_file():
        raise InputError(argument, detail=f"no such checkpoint file: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many kinds (pickle, zip, EOF, Runtime) for bad files
        first = str(err).splitlines()[0][:120] if str(err) else ""
        raise InputError(
            argument, detail=f"{path} is not a readable checkpoint ({type(err).__name__}: {first})"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise InputError(
            argument, detail=f"{path} is not a workbench checkpoint (format {found!r})"
        )
    if ckpt.get("version") != VERSION:
        raise InputError(
            argument,
            detail=f"{path} has checkpoint version {ckpt.get('version')!r}; this workbench "
            f"reads version {VERSION}",
        )
    if ckpt.get("kind") != kind:
        raise InputError(
            argument, detail=f"{path} is a {ckpt.get('kind')!r} checkpoint, not a {kind!r} one"
        )
    check_weights(argument, dict(_tensors(ckpt.get("state"), "state")), path)
    return ckpt


def _tensors(value, name):
    """(dotted name, tensor) of every tensor nested in dicts and lists of ``value``."""
    if isinstance(value, torch.Tensor):
        yield name, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _tensors(item, f"{name}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _tensors(item, f"{name}[{i}]")


def plain_params(estimator, exclude=()):
    """``estimator.get_params()`` as a checkpoint holds them (paths as text, tuples as lists),
    leaving out the names in ``exclude``: the ``params`` a checkpoint saves, or the ``config`` a
    resumed run must share when ``exclude`` lists the settings a resume may change."""
    return {
        key: str(value) if isinstance(value, Path) else list(value) if isinstance(value, tuple)
        else value
        for key, value in estimator.get_params().items()
        if key not in exclude
    }  # fmt: skip


def load_estimator(cls, path, kind, restore, *, device=None):
    """An estimator of class ``cls`` rebuilt from the ``kind`` checkpoint at ``path``: made from
    the saved ``state["params"]`` (lists become tuples again; ``device``, when given, replaces the
    saved one), then ``restore(estimator, state)`` puts back its fitted state. A checkpoint that
    lacks an entry or does not fit the class is an :class:`InputError` naming "checkpoint"."""
    state = load_checkpoint(path, kind)["state"]
    try:
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in state["params"].items()}
        if device is not None:
            params["device"] = device
        estimator = cls(**params)
        restore(estimator, state)
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise InputError(
            "checkpoint", detail=f"{path} is incomplete or incompatible: {err}"
        ) from None
    return estimator


def check_config(ckpt, config, path, *, argument="checkpoint",
                 advice="use the same settings, or another checkpoint path"):  # fmt: skip
    """Raise :class:`InputError` unless ``ckpt["config"] == config``, naming each entry that
    differs (nested dicts are spelled ``outer.inner``), then ``advice``. The CLI's ``--resume``
    passes the options as typed (``{"--hidden": 99}``) against the checkpoint's values."""
    have = ckpt.get("config")
    if have == config:
        return
    diffs = [
        f"{key}: checkpoint {old!r}, this run {new!r}"
        for key, old, new in _differences(have if isinstance(have, dict) else {}, config)
    ]
    raise InputError(
        argument, detail=f"{path} belongs to a different run ({'; '.join(diffs)}); {advice}"
    )


def _differences(have, want, prefix=""):
    for key in sorted(set(have) | set(want), key=str):
        old, new = have.get(key), want.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            yield from _differences(old, new, f"{prefix}{key}.")
        elif old != new:
            yield f"{prefix}{key}", old, new
