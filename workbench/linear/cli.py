"""``workbench ppca`` and ``workbench fa``: fit a linear factor model to a data set or file.

Named data sets with a split are fitted on ``train`` and scored on ``test`` as well.
"""

import sys
import time
import warnings
from pathlib import Path

from workbench.errors import InputError
from workbench.output import emit, save_figure, write_json, write_netcdf

__all__ = ["register", "run_fit"]

PPCA_METHODS = ("closed", "em", "ard", "map", "nuts", "advi")
FA_METHODS = ("em", "map", "nuts", "advi")


def _add_options(parser, methods, default):
    parser.add_argument("--data", required=True, help="data set name or .npy/.csv/.tsv/.txt file")
    parser.add_argument("--q", type=int, required=True, help="number of latent components")
    parser.add_argument("--method", choices=methods, default=default, help="how to fit")
    parser.add_argument("--data-dir", default=None, help="folder of the Fashion-MNIST IDX files")
    parser.add_argument("--max-rows", type=int, default=None, help="use the first N rows only")
    parser.add_argument("--draws", type=int, default=500, help="NUTS draws per chain / ADVI draws")
    parser.add_argument("--tune", type=int, default=500, help="NUTS warm-up steps per chain")
    parser.add_argument("--chains", type=int, default=4, help="NUTS chains (Bayesian method)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same result")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--out", default=None, help="folder for figures and result.json")
    parser.set_defaults(
        flag_names={
            "name": "--data",
            "X": "--data",
            "n_components": "--q",
            "random_state": "--seed",
        }
    )


def register(sub):
    p = sub.add_parser("ppca", help="probabilistic PCA (closed form, EM, ARD, MAP, NUTS, ADVI)")
    _add_options(p, PPCA_METHODS, "closed")
    p = sub.add_parser("fa", help="factor analysis (EM, MAP, NUTS, ADVI; optional varimax)")
    _add_options(p, FA_METHODS, "em")
    p.add_argument("--rotation", choices=("varimax",), default=None, help="rotate the loadings")
    return {"ppca": cmd_ppca, "fa": cmd_fa}


def _load(args):
    import numpy as np

    from workbench.data import load_dataset
    from workbench.data.datasets import has_split

    if args.max_rows is not None and args.max_rows < 2:
        raise InputError("max_rows", "at least 2", args.max_rows)
    if has_split(args.data):
        train = load_dataset(args.data, split="train", data_dir=args.data_dir)
        test = load_dataset(args.data, split="test", data_dir=args.data_dir)
    else:
        train, test = load_dataset(args.data, data_dir=args.data_dir), None
    if args.max_rows is not None:
        rows = slice(0, args.max_rows)
        train = train._replace(X=train.X[rows], y=None if train.y is None else train.y[rows])
    X = np.asarray(train.X, dtype=np.float64)
    return train, X, None if test is None else np.asarray(test.X, dtype=np.float64)


def run_fit(args, kind):
    """Fit ``kind`` ("ppca" or "fa") as the command line asks; returns (payload, text, model)."""
    import numpy as np

    from workbench.linear import PPCA, FactorAnalysis

    train, X, X_test = _load(args)
    keep = np.ones(X.shape[1], dtype=bool)
    if kind == "fa":
        keep = X.std(axis=0) > 0
        X = X[:, keep]
        X_test = None if X_test is None else X_test[:, keep]
    settings = {"method": args.method, "draws": args.draws, "tune": args.tune,
                "chains": args.chains, "random_state": args.seed}  # fmt: skip
    if kind == "ppca":
        model = PPCA(args.q, **settings)
    else:
        model = FactorAnalysis(args.q, rotation=args.rotation, **settings)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X)
    seconds = time.perf_counter() - start
    noise = np.asarray(model.noise_variance_)
    payload = {
        "model": kind,
        "method": args.method,
        "data": train.name,
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "n_components": int(model.n_components_),
        "log_likelihood": model.log_likelihood_,
        "noise_variance": float(noise) if noise.ndim == 0 else noise.tolist(),
        "test_log_likelihood": None if X_test is None else model.score(X_test),
        "fit_seconds": round(seconds, 3),
        "seed": args.seed,
    }
    if kind == "ppca":
        payload["explained_variance"] = model.explained_variance_.tolist()
    else:
        signal = np.linalg.eigvalsh(model.components_ @ model.components_.T)[::-1]
        payload["explained_variance"] = (signal + noise.mean()).tolist()
        payload["constant_columns_dropped"] = int((~keep).sum())
        payload["rotation"] = args.rotation
    if hasattr(model, "effective_dimension_"):
        payload["effective_dimension"] = model.effective_dimension_
    if getattr(model, "rhat_max_", None) is not None:
        payload["rhat_max"] = model.rhat_max_
    if hasattr(model, "n_iter_"):
        payload["n_iter"] = model.n_iter_
    payload["warnings"] = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    if args.out:
        payload["files"] = _save(args.out, kind, model, train, X, keep, payload, args.seed)
    lines = [f"{kind} ({args.method}) on {train.name}: {X.shape[0]} x {X.shape[1]}, q = {args.q}"]
    for key in ("log_likelihood", "test_log_likelihood", "noise_variance", "effective_dimension",
                "rhat_max", "n_iter", "fit_seconds"):  # fmt: skip
        value = payload.get(key)
        if value is None:
            continue
        if isinstance(value, list):
            value = f"mean {np.mean(value):.4g} (min {min(value):.4g}, max {max(value):.4g})"
        elif isinstance(value, float):
            value = f"{value:.6g}"
        lines.append(f"  {key:<22}{value}")
    shown = ", ".join(f"{v:.4g}" for v in payload["explained_variance"][:8])
    lines.append(f"  {'explained_variance':<22}{shown}{' ...' if args.q > 8 else ''}")
    if args.out:
        lines.append("wrote: " + ", ".join(payload["files"].values()))
    return payload, "\n".join(lines), model


def _save(out, kind, model, data, X, keep, payload, seed):
    import numpy as np

    from workbench.linear import plots

    out = Path(out)
    figures = {}
    if kind == "ppca" and hasattr(model, "eigenvalues_"):
        figures["spectrum"] = plots.plot_spectrum(model)
    figures["latent"] = plots.plot_latent(model, X, data.y, data.classes, seed=seed)
    if data.image_shape is not None:
        shown = X[:8]
        recon = np.array(data.X[:8], dtype=float)  # constant columns dropped by fa stay
        recon[:, keep] = model.inverse_transform(model.transform(shown))
        figures["reconstructions"] = plots.plot_reconstructions(data.X[:8], recon, data.image_shape)
    files = {
        name: str(save_figure(fig, out / f"{kind}_{name}.png")) for name, fig in figures.items()
    }
    if getattr(model, "posterior_", None) is not None:
        files["posterior"] = str(write_netcdf(model.posterior_, out / f"{kind}_posterior.nc"))
    files["result"] = str(out / f"{kind}_result.json")
    write_json(files["result"], {**payload, "files": files})
    return files


def _run(args, kind):
    payload, text, _ = run_fit(args, kind)
    for note in payload["warnings"]:
        print(f"workbench: warning: {note}", file=sys.stderr)
    emit(args, payload, text)


def cmd_ppca(args):
    _run(args, "ppca")


def cmd_fa(args):
    _run(args, "fa")
