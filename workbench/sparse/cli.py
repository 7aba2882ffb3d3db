"""``workbench sparse learn | code``: dictionary learning and sparse codes from the command line.

``learn`` trains :class:`~workbench.sparse.DictionaryLearning` on a data set (``digits``,
``mnist5k``, ``fashion-mnist``, a user ``.npy`` / ``.csv`` file; ``--patch P`` cuts random
P x P patches from the images first) and leaves in ``--out`` the checkpoint
``dictionary.pt``, the atoms as ``atoms.npy``, the figures ``atoms.png`` and ``training.png``
and ``metrics.json`` (sparsity, reconstruction error and objective on the held-out rows, the
per-epoch history). ``code`` computes the codes of a data set under a dictionary (a checkpoint
of ``learn`` or an ``.npy`` of atoms) with :func:`~workbench.sparse.sparse_code` and saves
``codes.npy``.
"""

from pathlib import Path

__all__ = ["register"]

# the estimator's and sparse_code's argument names (in InputError) -> this CLI's flags
FLAG_NAMES = {"X": "--data", "name": "--data", "n_atoms": "--atoms", "n_epochs": "--epochs",
              "random_state": "--seed", "dictionary": "--dictionary"}  # fmt: skip


# `sparse learn --resume`: option -> the parameter the checkpoint saved (a typed value must match)
RESUME_OPTIONS = {dest: f"state.params.{param}" for dest, param in {
    "atoms": "n_atoms", "alpha": "alpha", "batch_size": "batch_size", "max_iter": "max_iter",
    "tol": "tol", "seed": "random_state"}.items()}  # fmt: skip


def register(sub):
    from workbench.nn.runtime.command import add_resume_option, add_run_options

    parser = sub.add_parser("sparse", help="sparse coding: learn a dictionary, code data (Torch)")
    actions = parser.add_subparsers(dest="sparse_command", required=True, metavar="ACTION")

    p = actions.add_parser("learn", help="learn a dictionary of unit-norm atoms")
    p.add_argument("--data", required=True, help="data set name or file (see workbench.data)")
    p.add_argument("--atoms", type=int, default=64, help="number of atoms (default 64)")
    p.add_argument("--alpha", type=float, default=0.1, help="weight of |h|_1 (default 0.1)")
    p.add_argument("--epochs", type=int, default=10, help="passes over the data")
    p.add_argument("--batch-size", type=int, default=64, help="rows per dictionary update")
    p.add_argument("--max-iter", type=int, default=300, help="FISTA iterations per batch")
    p.add_argument("--tol", type=float, default=1e-3, help="FISTA's relative duality gap")
    p.add_argument("--patch", type=int, default=None, metavar="P",
                   help="learn on random P x P patches of the images")  # fmt: skip
    p.add_argument("--patches", type=int, default=10_000, help="patches drawn (with --patch)")
    add_resume_option(p, "dictionary.pt")
    add_run_options(p, out="workbench-sparse")
    p.set_defaults(flag_names=FLAG_NAMES)

    p = actions.add_parser("code", help="sparse codes of a data set under a dictionary")
    p.add_argument("--data", required=True, help="data set name or file")
    p.add_argument(
        "--dictionary",
        required=True,
        help="dictionary.pt of `sparse learn`, or an .npy of atoms (one per row)",
    )
    p.add_argument("--alpha", type=float, default=None,
                   help="weight of |h|_1 (default: the dictionary's own, or 0.1)")  # fmt: skip
    p.add_argument("--method", choices=("fista", "ista", "cd"), default="fista",
                   help="lasso solver")  # fmt: skip
    p.add_argument("--max-iter", type=int, default=1000, help="solver iterations per row")
    p.add_argument("--tol", type=float, default=1e-6, help="relative duality gap to stop at")
    p.add_argument("--patch", type=int, default=None, metavar="P",
                   help="code random P x P patches of the images")  # fmt: skip
    p.add_argument("--patches", type=int, default=10_000, help="patches drawn (with --patch)")
    add_run_options(p, out="workbench-sparse")
    p.set_defaults(flag_names={**FLAG_NAMES, "checkpoint": "--dictionary"})
    return {"sparse": run}


def run(args):
    from workbench.nn.runtime import set_process_threads

    set_process_threads(args.threads)
    return {"learn": _learn, "code": _code}[args.sparse_command](args)


def _rows(args):
    """(train rows, held-out rows or None, image shape) of ``--data``, cut into patches with
    ``--patch``."""
    from workbench.errors import InputError, check_count
    from workbench.nn.runtime import numpy_rng
    from workbench.nn.runtime.command import load_split

    train, test = load_split(args.data)
    shape = train.image_shape
    if args.patch is None:
        return train.X, None if test is None else test.X, shape
    size = check_count("patch", args.patch, 1)
    check_count("patches", args.patches, 1)
    if shape is None or size > min(shape):
        raise InputError("patch", f"a size up to the image side of {args.data}",
                         f"{size} for image shape {shape}")  # fmt: skip
    parts = [(train.X, "train")] + ([] if test is None else [(test.X, "test")])
    cut = [_patches(X, shape, size, args.patches, numpy_rng(args.seed, "patches", i))
           for i, (X, _) in enumerate(parts)]  # fmt: skip
    return cut[0], cut[1] if len(cut) > 1 else None, (size, size)


def _patches(X, shape, size, n, rng):
    """``n`` random ``size`` x ``size`` patches of the images ``X`` (rows of ``shape``)."""
    images = X.reshape(-1, *shape)
    which = rng.integers(len(images), size=n)
    top = rng.integers(shape[0] - size + 1, size=n)
    left = rng.integers(shape[1] - size + 1, size=n)
    rows = top[:, None] + range(size)  # (n, size)
    cols = left[:, None] + range(size)
    return images[which[:, None, None], rows[:, :, None], cols[:, None, :]].reshape(n, -1)


def _learn(args):

    import numpy as np

    from workbench.nn.runtime.command import finish_run, resume_checkpoint, verbose
    from workbench.output import atomic_path
    from workbench.sparse import DictionaryLearning, sparse_code
    from workbench.sparse.plots import plot_atoms, plot_training

    X, X_test, shape = _rows(args)
    out = Path(args.out)
    checkpoint = out / "dictionary.pt"
    resume = resume_checkpoint(args, out, "dictionary.pt", "dictionary", RESUME_OPTIONS)
    dl = DictionaryLearning(args.atoms, alpha=args.alpha, batch_size=args.batch_size,
                            n_epochs=args.epochs, max_iter=args.max_iter, tol=args.tol,
                            checkpoint=str(checkpoint), device=args.device,
                            random_state=args.seed, verbose=verbose(args))  # fmt: skip
    if resume is not None:  # the checkpoint's settings, not the defaults of the options
        dl = DictionaryLearning.load(checkpoint, device=args.device)
        dl.set_params(n_epochs=args.epochs, checkpoint=str(checkpoint), verbose=verbose(args))
    dl.fit(X, resume=resume is not None)
    evaluated = X if X_test is None else X_test
    result = sparse_code(evaluated, dl.components_, dl.alpha, max_iter=max(dl.max_iter, 1000),
                         tol=min(dl.tol, 1e-4), device=args.device)  # fmt: skip
    residual = evaluated - result.codes @ dl.components_
    with atomic_path(out / "atoms.npy") as tmp, open(tmp, "wb") as fh:
        np.save(fh, dl.components_)
    payload = {
        "data": args.data,
        "settings": {
            "atoms": dl.n_atoms,
            "alpha": dl.alpha,
            "epochs": args.epochs,
            "batch_size": dl.batch_size,
            "patch": args.patch,
            "seed": dl.random_state,
            "device": args.device,
        },  # fmt: skip
        "final": {
            "evaluated_on": "train" if X_test is None else "test",
            "rows": len(evaluated),
            "objective": float(result.objective.mean()),
            "nonzero": float((result.codes != 0).mean()),
            "atoms_used_per_row": float((result.codes != 0).sum(1).mean()),
            "reconstruction_error": float((residual**2).sum(1).mean()),
        },
        "history": dl.history_,
        "checkpoint": str(checkpoint),
        "files": {"atoms_npy": str(out / "atoms.npy")},
    }
    figures = {"atoms": plot_atoms(dl.components_, shape), "training": plot_training(dl.history_)}
    finish_run(args, out, payload, figures, _learn_table)
    return 0


def _learn_table(payload):
    final = payload["final"]
    lines = [f"dictionary of {payload['settings']['atoms']} atoms on {payload['data']}, "
             f"alpha {payload['settings']['alpha']:g} ({final['evaluated_on']}, "
             f"{final['rows']} rows)"]  # fmt: skip
    for key in ("objective", "reconstruction_error", "nonzero", "atoms_used_per_row"):
        lines.append(f"  {key:<22}{final[key]:.4f}")
    lines.append(f"checkpoint: {payload['checkpoint']}")
    lines.extend(f"{k}: {v}" for k, v in payload["files"].items())
    return "\n".join(lines)


def _atoms(path, device):
    """(atoms, alpha or None) from a ``dictionary.pt`` checkpoint or an ``.npy`` of atoms."""
    import numpy as np

    from workbench.errors import InputError

    if Path(path).suffix.lower() == ".npy":
        from workbench.data import load_array

        try:
            return load_array(path), None
        except InputError as err:
            raise InputError("dictionary", detail=err.detail) from None
    from workbench.sparse import DictionaryLearning

    dl = DictionaryLearning.load(path, device=device)
    return np.asarray(dl.components_), dl.alpha


def _code(args):
    import time

    import numpy as np

    from workbench.nn.runtime.command import finish_run
    from workbench.output import atomic_path
    from workbench.sparse import sparse_code

    atoms, own_alpha = _atoms(args.dictionary, args.device)
    alpha = args.alpha if args.alpha is not None else own_alpha if own_alpha is not None else 0.1
    X, X_test, _ = _rows(args)
    X = X if X_test is None else np.concatenate([X, X_test])
    tick = time.perf_counter()
    result = sparse_code(X, atoms, alpha, method=args.method, max_iter=args.max_iter,
                         tol=args.tol, device=args.device)  # fmt: skip
    seconds = time.perf_counter() - tick
    out = Path(args.out)
    with atomic_path(out / "codes.npy") as tmp, open(tmp, "wb") as fh:
        np.save(fh, result.codes)
    residual = X - result.codes @ np.asarray(atoms, dtype=float)
    payload = {
        "data": args.data,
        "dictionary": str(args.dictionary),
        "alpha": alpha,
        "method": args.method,
        "rows": len(X),
        "objective": float(result.objective.mean()),
        "nonzero": float((result.codes != 0).mean()),
        "reconstruction_error": float((residual**2).sum(1).mean()),
        "iterations_mean": float(result.n_iter.mean()),
        "iterations_max": int(result.n_iter.max()),
        "converged": float(result.converged.mean()),
        "codes_per_second": len(X) / seconds,
        "files": {"codes": str(out / "codes.npy")},
    }
    finish_run(args, out, payload, {}, _code_table, metrics="codes.json")
    return 0


def _code_table(payload):
    lines = [f"{payload['rows']} codes of {payload['data']} ({payload['method']}, "
             f"alpha {payload['alpha']:g})"]  # fmt: skip
    for key in ("objective", "reconstruction_error", "nonzero", "iterations_mean", "converged",
                "codes_per_second"):  # fmt: skip
        lines.append(f"  {key:<22}{payload[key]:.4g}")
    lines.extend(f"{k}: {v}" for k, v in payload["files"].items())
    return "\n".join(lines)
