"""``workbench energy``: log Z, log-likelihood and the joint table of an RBM saved as .npz.

The file holds arrays ``W`` (n_visible, n_hidden), ``visible_bias``, ``hidden_bias`` and
optionally ``sigma``, ``hidden_sigma`` and 0-d string arrays ``visible``, ``hidden``
(layer types), e.g. from ``np.savez(path, W=W, visible_bias=a, hidden_bias=b)``.
"""

import sys

from workbench.errors import InputError
from workbench.output import emit, to_json

__all__ = ["register"]

KEYS = ("W", "visible_bias", "hidden_bias")


def load_rbm(path):
    """An RBM from an .npz file (read by :func:`workbench.data.read_numpy`), with errors that
    name the file and what is wrong: unreadable, missing keys, complex, NaN or overflowing
    weights."""
    from pathlib import Path

    from workbench.data import read_numpy, real_array
    from workbench.energy import RBM
    from workbench.errors import check_weights

    path = Path(path)
    if path.suffix != ".npz":
        raise InputError("weights", detail=f"expected an existing .npz file, got {str(path)!r}")
    saved = read_numpy(path, "weights")
    missing = [k for k in KEYS if k not in saved]
    if missing:
        raise InputError(
            "weights",
            detail=f"{path} lacks {', '.join(missing)}; it has {', '.join(saved) or 'nothing'}",
        )
    options = {k: str(saved[k]) for k in ("visible", "hidden") if k in saved}
    arrays = {k: real_array("weights", saved[k], f"{path}: {k}")
              for k in (*KEYS, "sigma", "hidden_sigma") if k in saved}  # fmt: skip
    check_weights("weights", arrays, path)
    layers = [arrays.pop(k) for k in KEYS]
    return RBM(*layers, **options, **arrays)


def _finite_log_z(value, path):
    """``value`` unless the weights at ``path`` make log Z overflow."""
    import math

    if not math.isfinite(value):
        raise InputError("weights", detail=f"{path}: log Z is {value}: the weights overflow "
                         "double precision; scale them down")  # fmt: skip
    return value


def cmd_logz(args):
    from workbench.data import load_array

    rbm = load_rbm(args.weights)
    data = None if args.data is None else load_array(args.data)
    est = rbm.log_partition(
        args.method,
        n_runs=args.ais_runs,
        n_betas=args.ais_betas,
        seed=args.seed,
        data=data if args.method != "exact" else None,
    )
    payload = {
        "rbm": {
            "n_visible": rbm.n_visible,
            "n_hidden": rbm.n_hidden,
            "visible": rbm.visible,
            "hidden": rbm.hidden,
        },
        "log_z": _finite_log_z(est.value, args.weights),
        "se": est.se,
        "method": est.method,
    }
    if est.method != "exact":
        payload.update(n_runs=est.n_runs, n_betas=est.n_betas, seed=args.seed)
    if data is not None:
        payload["log_likelihood"] = rbm.log_likelihood(data, log_z=est.value)
        payload["n_rows"] = int(len(data))
    lines = [
        f"{rbm!r}",
        f"log Z = {est.value:.6f}" + (f" +- {est.se:.6f} ({est.method})" if est.se else " (exact)"),
    ]
    if data is not None:
        lines.append(f"mean log-likelihood of {len(data)} rows = {payload['log_likelihood']:.6f}")
    emit(args, payload, "\n".join(lines))


def cmd_table(args):
    rbm = load_rbm(args.weights)
    table = rbm.joint_table()
    _finite_log_z(table.log_z, args.weights)
    if args.json:
        payload = {
            "visible": table.visible.astype(int).tolist(),
            "hidden": table.hidden.astype(int).tolist(),
            "energy": table.energy.tolist(),
            "probability": table.probability.tolist(),
            "log_z": table.log_z,
            "marginal": table.marginal.tolist(),
        }
        sys.stdout.write(to_json(payload))
    else:
        print(table)


def register(sub):
    """Add ``energy logz`` and ``energy table``; returns {command name: function}."""
    p = sub.add_parser("energy", help="RBM partition functions and joint tables (.npz weights)")
    inner = p.add_subparsers(dest="energy_command", required=True, metavar="ENERGY_COMMAND")
    q = inner.add_parser("logz", help="exact or AIS log Z (and the data's log-likelihood)")
    q.add_argument("weights", help=".npz with W, visible_bias, hidden_bias")
    q.add_argument("--method", choices=("exact", "ais", "reverse_ais"), default="exact",
                   help="exact enumeration, or annealed importance sampling")  # fmt: skip
    q.add_argument("--data", default=None, help="visible data (.npy/.csv/.txt), one row each")
    q.add_argument("--ais-runs", type=int, default=100, help="AIS runs")
    q.add_argument("--ais-betas", type=int, default=1000,
                   help="AIS inverse temperatures from 0 to 1, both included")  # fmt: skip
    q.add_argument("--seed", type=int, default=0, help="AIS seed; same seed, same result")
    q.set_defaults(
        flag_names={"n_runs": "--ais-runs", "n_betas": "--ais-betas", "weights": "weights"}
    )
    q.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    t = inner.add_parser("table", help="every (v, h) of a tiny Bernoulli RBM")
    t.add_argument("weights")
    t.set_defaults(flag_names={"weights": "weights"})
    t.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    def dispatch(args):
        return {"logz": cmd_logz, "table": cmd_table}[args.energy_command](args)

    return {"energy": dispatch}
