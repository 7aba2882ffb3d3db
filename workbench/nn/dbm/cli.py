"""``workbench dbm train | sample | eval``: deep Boltzmann machines from the command line.

``train`` picks per-dataset defaults (:data:`DATASET_DEFAULTS`); every flag overrides them.
Artefacts (checkpoint ``dbm.pt``, figures, ``metrics.json``) go under ``--out``; ``--json``
prints ``{"final": {...}, "history": [...], "checkpoint": ...}`` (and ``files``) on stdout.
The common options and the ending come from :mod:`workbench.nn.runtime.command`.
"""

from pathlib import Path

__all__ = ["DATASET_DEFAULTS", "register"]

DATASET_DEFAULTS = {
    "bars-stripes": {"layers": (12, 6), "epochs": 400, "lr": 0.05, "batch_size": 2},
    "bars": {"layers": (16, 8), "epochs": 40, "lr": 0.05, "batch_size": 20},
    "digits": {"layers": (64, 32), "epochs": 20, "lr": 0.01, "batch_size": 20},
    "mnist5k": {"layers": (256, 64), "epochs": 20, "lr": 0.005, "batch_size": 50},
    "file": {"layers": (64, 32), "epochs": 20, "lr": 0.01, "batch_size": 32},
}
EXACT_UNITS = 20  # enumerate for the final metrics up to 2^20 states
FLAG_NAMES = {"X": "--data", "X_val": "--data", "n_epochs": "--epochs", "learning_rate": "--lr",
              "n_chains": "--chains", "random_state": "--seed", "n_runs": "--ais-runs",
              "n_betas": "--ais-betas", "n_samples": "--n", "n_steps": "--steps",
              "pretrain_epochs": "--pretrain-epochs", "checkpoint": "--resume"}  # fmt: skip


# `--resume`: option -> the estimator parameter the checkpoint saved (a typed value must match)
RESUME_OPTIONS = {dest: f"state.params.{param}" for dest, param in {
    "layers": "layers", "lr": "learning_rate", "batch_size": "batch_size", "chains": "n_chains",
    "mean_field_steps": "mean_field_steps", "seed": "random_state"}.items()}  # fmt: skip


def _defaults(name):
    from workbench.nn.runtime.command import dataset_defaults

    return dataset_defaults(name, DATASET_DEFAULTS)


def _ais_options(p):
    p.add_argument("--ais", action="store_true", help="AIS log Z (and log-likelihood) at the end")
    p.add_argument("--ais-runs", type=int, default=100, help="AIS runs")
    p.add_argument("--ais-betas", type=int, default=2000, help="AIS inverse temperatures")


def register(sub):
    from workbench.nn.runtime.command import add_resume_option, add_run_options, int_list

    parser = sub.add_parser("dbm", help="train, sample and evaluate deep Boltzmann machines")
    dbm_sub = parser.add_subparsers(dest="dbm_command", required=True, metavar="ACTION")

    p = dbm_sub.add_parser("train", help="pre-train and train a DBM on a data set")
    p.add_argument("--data", required=True, help="data set name or file (binarised at 0.5)")
    p.add_argument("--layers", type=int_list, default=None, help="hidden units, e.g. 16,8")
    p.add_argument("--epochs", type=int, default=None, help="joint training epochs")
    p.add_argument("--pretrain-epochs", type=int, default=None,
                   help="epochs per pre-training RBM (default --epochs)")  # fmt: skip
    p.add_argument("--no-pretrain", action="store_true", help="start from small random weights")
    p.add_argument("--lr", type=float, default=None, help="learning rate")
    p.add_argument("--batch-size", type=int, default=None,
                   help="rows per update (default per data set)")  # fmt: skip
    p.add_argument("--chains", type=int, default=100, help="persistent chains")
    p.add_argument("--mean-field-steps", type=int, default=10,
                   help="mean-field updates of the posterior per batch")  # fmt: skip
    add_resume_option(p, "dbm.pt")
    _ais_options(p)
    add_run_options(p, out="workbench-dbm")
    p.set_defaults(flag_names=FLAG_NAMES)

    p = dbm_sub.add_parser("sample", help="generate samples by long Gibbs runs")
    p.add_argument("checkpoint")
    p.add_argument("--n", type=int, default=64, help="number of samples")
    p.add_argument("--steps", type=int, default=1000, help="Gibbs sweeps per sample")
    add_run_options(p, out="workbench-dbm")
    p.set_defaults(flag_names={**FLAG_NAMES, "checkpoint": "checkpoint"})

    p = dbm_sub.add_parser("eval", help="log-likelihood, bound and samples on a data set")
    p.add_argument("checkpoint")
    p.add_argument("--data", required=True, help="data set name or file to evaluate on")
    _ais_options(p)
    add_run_options(p, out="workbench-dbm")
    p.set_defaults(flag_names={**FLAG_NAMES, "checkpoint": "checkpoint"})
    return {"dbm": run}


def run(args):
    from workbench.nn.runtime import set_process_threads

    set_process_threads(args.threads)
    return {"train": _train, "sample": _sample, "eval": _eval}[args.dbm_command](args)


def final_metrics(dbm, X, *, ais=False, n_runs=100, n_betas=2000, seed=0):
    """Mean per-row metrics of ``dbm`` on the rows ``X``: exact log-likelihood and mean-field
    bound when enumerable, AIS log Z with its error and the log-likelihood (or bound) under it."""
    import numpy as np

    from workbench.nn.dbm.inference import enumeration_plan

    units = [dbm.n_features_in_, *dbm.layers]
    cost = [sum(units[j] for j in enumeration_plan(units, clamp)[0]) for clamp in (False, True)]
    final = {"log_likelihood_exact": None, "lower_bound_exact": None, "log_z_exact": None,
             "log_likelihood_ais": None, "lower_bound_ais": None, "log_z_ais": None}  # fmt: skip
    if cost[0] <= EXACT_UNITS:
        log_z = dbm.log_partition("exact")
        final["log_z_exact"] = log_z.value
        final["lower_bound_exact"] = float(np.mean(dbm.lower_bound(X, log_z)))
        if cost[1] <= EXACT_UNITS:
            final["log_likelihood_exact"] = float(np.mean(dbm.log_likelihood(X, log_z=log_z)))
    if ais:
        log_z = dbm.log_partition("ais", n_runs=n_runs, n_betas=n_betas, random_state=seed)
        final["log_z_ais"] = {"estimate": log_z.value, "stderr": log_z.se}
        final["lower_bound_ais"] = {"estimate": float(np.mean(dbm.lower_bound(X, log_z))),
                                    "stderr": log_z.se}  # fmt: skip
        if cost[1] <= EXACT_UNITS:
            mean = float(np.mean(dbm.log_likelihood(X, log_z=log_z)))
            final["log_likelihood_ais"] = {"estimate": mean, "stderr": log_z.se}
    return final


def _train(args):
    from workbench.nn.dbm.model import DBM
    from workbench.nn.rbm.plots import plot_filters, plot_images, plot_learning_curves
    from workbench.nn.runtime.command import finish_run, load_split, resume_checkpoint, verbose

    settings = _defaults(args.data)
    overrides = {"layers": args.layers, "epochs": args.epochs, "lr": args.lr,
                 "batch_size": args.batch_size}  # fmt: skip
    settings.update({k: v for k, v in overrides.items() if v is not None})
    train, test = load_split(args.data, binarize=True)
    out = Path(args.out)
    checkpoint = out / "dbm.pt"
    X_val = None if test is None else test.X
    if resume_checkpoint(args, out, "dbm.pt", "dbm", RESUME_OPTIONS, epochs=settings["epochs"]):
        dbm = DBM.load(checkpoint, device=args.device)
        dbm.set_params(n_epochs=settings["epochs"], checkpoint=str(checkpoint),
                       verbose=verbose(args))  # fmt: skip
        dbm.fit(train.X, X_val=X_val, resume=True)
        settings.update(layers=list(dbm.layers), lr=dbm.learning_rate, batch_size=dbm.batch_size)
    else:
        dbm = DBM(tuple(settings["layers"]), n_epochs=settings["epochs"],
                  learning_rate=settings["lr"], batch_size=settings["batch_size"],
                  n_chains=args.chains, mean_field_steps=args.mean_field_steps,
                  pretrain=not args.no_pretrain, pretrain_epochs=args.pretrain_epochs,
                  rbm_params={"method": "pcd", "learning_rate": 2 * settings["lr"]},
                  weight_decay=0.0, checkpoint=str(checkpoint), device=args.device,
                  random_state=args.seed, verbose=verbose(args))  # fmt: skip
        dbm.fit(train.X, X_val=X_val)
    data = test if test is not None else train
    final = final_metrics(dbm, data.X, ais=args.ais, n_runs=args.ais_runs,
                          n_betas=args.ais_betas, seed=args.seed)  # fmt: skip
    final["evaluated_on"] = "test" if test is not None else "train"
    figures = {
        "learning_curves": plot_learning_curves(dbm.history_),
        "filters": plot_filters(dbm.weights_[0], train.image_shape),
        "samples": plot_images(dbm.sample(32, n_steps=1000, random_state=args.seed),
                               train.image_shape, title="samples"),
    }  # fmt: skip
    payload = {"data": args.data,
               "settings": {**settings, "layers": list(dbm.layers), "seed": dbm.random_state,
                            "chains": dbm.n_chains, "mean_field_steps": dbm.mean_field_steps,
                            "pretrain": dbm.pretrain, "device": args.device},
               "final": final, "history": dbm.history_, "checkpoint": str(checkpoint)}  # fmt: skip
    finish_run(args, out, payload, figures, _table)


def _table(payload):
    final = payload["final"]
    lines = [f"DBM on {payload['data']} (evaluated on {final.get('evaluated_on', 'data')})"]
    for key in ("log_likelihood_exact", "lower_bound_exact", "log_z_exact"):
        value = final.get(key)
        lines.append(f"  {key:<24}{'-' if value is None else f'{value:.4f}'}")
    for key in ("log_z_ais", "log_likelihood_ais", "lower_bound_ais"):
        if final.get(key):
            lines.append(f"  {key:<24}{final[key]['estimate']:.4f} +- {final[key]['stderr']:.4f}")
    if payload.get("checkpoint"):
        lines.append(f"checkpoint: {payload['checkpoint']}")
    lines.extend(f"{k}: {v}" for k, v in payload.get("files", {}).items())
    return "\n".join(lines)


def _sample(args):
    from workbench.nn.dbm.model import DBM
    from workbench.nn.runtime.command import finish_samples

    dbm = DBM.load(args.checkpoint, device=args.device)
    samples = dbm.sample(args.n, n_steps=args.steps, random_state=args.seed)
    finish_samples(args, samples, f"{args.steps} Gibbs sweeps", steps=args.steps)


def _eval(args):
    from workbench.errors import InputError
    from workbench.nn.dbm.model import DBM
    from workbench.nn.rbm.plots import plot_images, plot_learning_curves
    from workbench.nn.runtime.command import finish_run, load_split

    dbm = DBM.load(args.checkpoint, device=args.device)
    train, test = load_split(args.data, binarize=True)
    data = test if test is not None else train
    if data.X.shape[1] != dbm.n_features_in_:
        raise InputError("X", f"{dbm.n_features_in_} features (as trained)", data.X.shape[1])
    final = final_metrics(dbm, data.X, ais=args.ais, n_runs=args.ais_runs,
                          n_betas=args.ais_betas, seed=args.seed)  # fmt: skip
    final["evaluated_on"] = "test" if test is not None else "train"
    figures = {"samples": plot_images(dbm.sample(32, random_state=args.seed), data.image_shape,
                                      title="samples")}  # fmt: skip
    if dbm.history_:
        figures["learning_curves"] = plot_learning_curves(dbm.history_)
    payload = {"data": args.data, "checkpoint": args.checkpoint, "final": final,
               "history": dbm.history_}  # fmt: skip
    finish_run(args, args.out, payload, figures, _table, metrics="eval.json")
