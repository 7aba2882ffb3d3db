"""``workbench rbm train | sample | eval``: RBMs on the shared data sets from the command line.

``train`` picks per-dataset defaults (:data:`DATASET_DEFAULTS`) so that a plain call gives a
good model; every flag overrides them. Artefacts (checkpoint, figures, ``metrics.json``) go
under ``--out``; ``--json`` prints one object on stdout, progress goes to stderr.

``train --nproc N`` (N > 1) re-runs the command line as typed under ``torchrun --standalone``
with N workers (:func:`workbench.nn.runtime.launch_torchrun`), as ``torchrun --nproc-per-node N
-m workbench.cli rbm train ...`` does directly: the CD statistics are all-reduced (see
:mod:`workbench.nn.rbm.model`) and rank 0 alone writes files. Threads follow the runtime's
policy (:mod:`workbench.nn.runtime.threads`): ``--threads``, else the cores per process.
"""

from pathlib import Path

from workbench.errors import InputError
from workbench.nn.runtime.command import (
    add_resume_option,
    add_run_options,
    add_tensorboard_option,
    dataset_defaults,
    finish_run,
    resume_checkpoint,
    verbose,
)

__all__ = ["DATASET_DEFAULTS", "defaults_for", "register"]

# Chosen by measurement: see docs/design.md, section "RBMs and deep belief nets (Torch)".
DATASET_DEFAULTS = {
    "bars-stripes": {"hidden": 16, "epochs": 4000, "lr": 0.1, "batch_size": 14,
                     "n_chains": 100, "momentum": 0.5, "lr_schedule": "cosine",
                     "weight_decay": 0.0, "monitor_every": 100},
    "ising": {"hidden": 16, "epochs": 60, "lr": 0.05, "batch_size": 50, "monitor_every": 5},
    "digits": {"hidden": 64, "epochs": 30, "lr": 0.05, "batch_size": 20},
    "mnist5k": {"hidden": 256, "epochs": 20, "lr": 0.05, "batch_size": 50},
    "fashion-mnist": {"hidden": 256, "epochs": 5, "lr": 0.05, "batch_size": 100},
    "file": {"hidden": 64, "epochs": 20, "lr": 0.05, "batch_size": 32},
}  # fmt: skip
# Data-parallel CPU runs need this many rows (and chains) of the global batch per process to
# beat one process by 1.6x at 500 hidden units on a quiet 2-core machine: with an all-reduce
# every update (--sync-every 1) 50 rows 1.12x, 250 1.26x, 500 1.18x, 1000 1.68x, and such a
# batch trains far worse per epoch; with local updates averaged every 10 (--sync-every 10) 100
# rows per process 1.6-1.8x, at the one process's quality with --lr 0.15 on Fashion-MNIST
# (docs/benchmarks.md, section 13).
MIN_ROWS_PER_PROCESS = {"synchronous": 1000, "local": 100}
COMMON = {"method": "pcd", "k": 1, "lr_schedule": "linear", "momentum": 0.9,
          "weight_decay": 1e-4, "n_chains": None, "monitor_every": 1}  # fmt: skip


# The estimator's argument names (in InputError) -> this CLI's flags; see workbench.cli.flag_for.
FLAG_NAMES = {"X": "--data", "X_val": "--data", "n_hidden": "--hidden", "n_epochs": "--epochs",
              "learning_rate": "--lr", "n_chains": "--chains", "n_temperatures": "--temperatures",
              "sync_every": "--sync-every", "random_state": "--seed"}  # fmt: skip


# `--resume`: option -> the estimator parameter the checkpoint saved (a typed value must match)
RESUME_OPTIONS = {dest: f"state.params.{param}" for dest, param in {
    "hidden": "n_hidden", "visible": "visible", "method": "method", "k": "k",
    "lr": "learning_rate", "lr_schedule": "lr_schedule", "momentum": "momentum",
    "weight_decay": "weight_decay", "sparsity_target": "sparsity_target",
    "batch_size": "batch_size", "chains": "n_chains", "temperatures": "n_temperatures",
    "sync_every": "sync_every", "seed": "random_state"}.items()}  # fmt: skip
# the reported settings of a resumed run, from the checkpoint's estimator
SETTINGS = {"hidden": "n_hidden", "method": "method", "k": "k", "lr": "learning_rate",
            "lr_schedule": "lr_schedule", "momentum": "momentum", "weight_decay": "weight_decay",
            "batch_size": "batch_size", "n_chains": "n_chains",
            "monitor_every": "monitor_every"}  # fmt: skip


def defaults_for(name):
    """Training settings for a data set name (``bars-stripes-3``, ``ising-4-2.5``, ...)."""
    return dataset_defaults(name, DATASET_DEFAULTS, COMMON)


def register(sub):
    parser = sub.add_parser("rbm", help="train, sample and evaluate RBMs (Torch)")
    rbm_sub = parser.add_subparsers(dest="rbm_command", required=True, metavar="ACTION")

    p = rbm_sub.add_parser("train", help="train an RBM on a data set")
    p.add_argument("--data", required=True, help="data set name or file (see workbench.data)")
    p.add_argument("--hidden", type=int, default=None, help="hidden units (default per data set)")
    p.add_argument("--visible", choices=("bernoulli", "gaussian"), default="bernoulli",
                   help="visible units: binary, or real-valued with unit variance")  # fmt: skip
    p.add_argument("--binarize", action="store_true",
                   help="threshold a user file at 0.5 (named image sets are binarised for "
                        "Bernoulli units anyway)")  # fmt: skip
    p.add_argument("--method", choices=("cd", "pcd"), default=None,
                   help="contrastive divergence or persistent chains (default per data "
                   "set)")  # fmt: skip
    p.add_argument("--k", type=int, default=None, help="Gibbs steps per update")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default per data set)")
    p.add_argument("--lr", type=float, default=None, help="learning rate")
    p.add_argument(
        "--lr-schedule",
        choices=("constant", "linear", "cosine"),
        default=None,
        help="learning-rate decay over the epochs (default per data set)",
    )
    p.add_argument("--momentum", type=float, default=None, help="momentum (default per data set)")
    p.add_argument(
        "--weight-decay",
        type=float,
        default=None,
        help="L2 penalty on the weights (default per data set)",
    )
    p.add_argument(
        "--sparsity-target",
        type=float,
        default=None,
        help="mean hidden activation to aim for (default: no sparsity penalty)",
    )
    p.add_argument("--batch-size", type=int, default=None,
                   help="rows per update (default per data set)")  # fmt: skip
    p.add_argument("--chains", type=int, default=None, help="persistent chains (PCD)")
    p.add_argument("--temperatures", type=int, default=1, help="parallel tempering (PCD)")
    p.add_argument("--ais", action="store_true", help="AIS log-likelihood at the end")
    p.add_argument("--nproc", type=int, default=1, help="data-parallel processes (torchrun)")
    p.add_argument("--sync-every", type=int, default=1,
                   help="with --nproc: average the processes every K updates, each updating on "
                        "its share of the batch in between (local SGD; 1: all-reduce every "
                        "update, the same result as one process)")  # fmt: skip
    add_resume_option(p, "rbm.pt")
    add_run_options(p, out="workbench-rbm")
    add_tensorboard_option(p)
    p.set_defaults(flag_names={**FLAG_NAMES, "checkpoint": "--resume"})

    p = rbm_sub.add_parser("sample", help="generate samples by long Gibbs runs")
    p.add_argument("checkpoint")
    p.add_argument("--n", type=int, default=64, help="number of samples")
    p.add_argument("--steps", type=int, default=1000, help="Gibbs sweeps per sample")
    add_run_options(p, out="workbench-rbm")
    p.set_defaults(flag_names={**FLAG_NAMES, "n_samples": "--n", "n_steps": "--steps",
                               "checkpoint": "checkpoint"})  # fmt: skip

    p = rbm_sub.add_parser("eval", help="metrics and figures of a trained RBM on a data set")
    p.add_argument("checkpoint")
    p.add_argument("--data", required=True, help="data set name or file to evaluate on")
    p.add_argument("--ais", action="store_true", help="AIS log-likelihood with its error")
    p.add_argument("--ais-runs", type=int, default=100, help="AIS runs")
    p.add_argument("--ais-betas", type=int, default=2000,
                   help="AIS inverse temperatures from 0 to 1, both included")  # fmt: skip
    p.set_defaults(flag_names={"n_runs": "--ais-runs", "n_betas": "--ais-betas"})
    add_run_options(p, out="workbench-rbm")
    p.set_defaults(flag_names={**FLAG_NAMES, "n_runs": "--ais-runs", "n_betas": "--ais-betas",
                               "checkpoint": "checkpoint"})  # fmt: skip
    return {"rbm": run}


def run(args):
    from workbench.nn.runtime import set_process_threads

    set_process_threads(args.threads)  # the thread policy: --threads, else cores per process
    return {"train": _train, "sample": _sample, "eval": _eval}[args.rbm_command](args)


def _split(name, visible, binarize=False):
    """Training rows and held-out rows (None when the data set has no split); Bernoulli units
    see named image sets binarised at 0.5, and user files when ``binarize``."""
    from workbench.nn.runtime.command import load_split

    user_file = Path(name).suffix.lower() in (".npy", ".csv", ".tsv", ".txt")
    return load_split(name, binarize=visible == "bernoulli" and (binarize or not user_file))


def _final_metrics(rbm, X, ais, ais_runs=100, ais_betas=2000, seed=0):
    import numpy as np

    final = {
        "log_likelihood_exact": None,
        "log_likelihood_ais": None,
        "reconstruction_error": rbm.reconstruction_error(X),
        "pseudo_log_likelihood": (
            float(rbm.pseudo_log_likelihood(X, random_state=seed).mean())
            if rbm.visible == "bernoulli"
            else None
        ),
    }
    if rbm.exact_likelihood_:
        final["log_likelihood_exact"] = float(np.mean(rbm.score_samples(X, method="exact")))
    if ais:
        log_z = rbm.log_partition("ais", n_runs=ais_runs, n_betas=ais_betas, random_state=seed)
        final["log_likelihood_ais"] = {
            "estimate": float(np.mean(-rbm.free_energy(X))) - log_z.value,
            "stderr": log_z.se,
        }
    return final


def _train(args):
    from workbench.nn.runtime.command import run_ranks
    from workbench.nn.runtime.launch import scaling_limits

    batch = args.batch_size or defaults_for(args.data)["batch_size"]
    limits = scaling_limits(args.sync_every, args.nproc, batch,
                            min_rows=MIN_ROWS_PER_PROCESS["synchronous"],
                            min_local_rows=MIN_ROWS_PER_PROCESS["local"],
                            lr_example="0.15 for Fashion-MNIST")  # fmt: skip
    return run_ranks(args, ("rbm", "train"), _train_process, **limits)


def _train_process(args, device):
    from workbench.nn.rbm.model import RBM
    from workbench.nn.rbm.plots import plot_filters, plot_images, plot_learning_curves
    from workbench.nn.runtime import distributed_context

    settings = defaults_for(args.data)
    overrides = {
        "hidden": args.hidden, "method": args.method, "k": args.k, "epochs": args.epochs,
        "lr": args.lr, "lr_schedule": args.lr_schedule, "momentum": args.momentum,
        "weight_decay": args.weight_decay, "batch_size": args.batch_size,
        "n_chains": args.chains,
    }  # fmt: skip
    settings.update({k: v for k, v in overrides.items() if v is not None})
    out = Path(args.out)
    checkpoint = out / "rbm.pt"
    resumed = resume_checkpoint(args, out, "rbm.pt", "rbm", RESUME_OPTIONS,
                                epochs=settings["epochs"])  # fmt: skip
    rbm = RBM.load(checkpoint, device=device) if resumed else None  # the checkpoint's settings
    visible = rbm.visible if rbm else args.visible
    train, test = _split(args.data, visible, args.binarize)
    if visible == "bernoulli" and not ((train.X == 0) | (train.X == 1)).all():
        raise InputError("X", detail="binary data expected (the final log-likelihoods need "
                         f"them), got values in [{train.X.min():.3g}, {train.X.max():.3g}]; pass "
                         "--binarize (threshold 0.5) or --visible gaussian")  # fmt: skip
    if not resumed and settings["batch_size"] > len(train.X):  # the library: one batch; a typo
        raise InputError("batch_size", detail=f"{settings['batch_size']} is larger than the data "
                         f"({len(train.X)} rows); use at most {len(train.X)}")  # fmt: skip
    if resumed:
        rbm.set_params(n_epochs=settings["epochs"], checkpoint=str(checkpoint),
                       verbose=verbose(args))  # fmt: skip
        rbm.fit(train.X, X_val=None if test is None else test.X, resume=True)
        settings.update({key: rbm.get_params()[param] for key, param in SETTINGS.items()})
    else:
        rbm = RBM(
            settings["hidden"],
            visible=args.visible,
            method=settings["method"],
            k=settings["k"],
            learning_rate=settings["lr"],
            n_epochs=settings["epochs"],
            batch_size=settings["batch_size"],
            lr_schedule=settings["lr_schedule"],
            momentum=settings["momentum"],
            weight_decay=settings["weight_decay"],
            sparsity_target=args.sparsity_target,
            n_chains=settings["n_chains"],
            n_temperatures=args.temperatures,
            sync_every=args.sync_every,
            monitor_every=settings["monitor_every"],
            checkpoint=str(checkpoint),
            device=device,
            random_state=args.seed,
            verbose=verbose(args),
        )
        rbm.fit(train.X, X_val=None if test is None else test.X)
    rank, world, _ = distributed_context()
    if rank != 0:
        return None
    evaluated = test if test is not None else train
    final = _final_metrics(rbm, evaluated.X, args.ais, seed=args.seed)
    final["evaluated_on"] = "test" if test is not None else "train"
    figures = {
        "learning_curves": plot_learning_curves(rbm.history_),
        "filters": plot_filters(rbm.weights_, train.image_shape),
        "samples": plot_images(rbm.sample(32, n_steps=1000, random_state=args.seed),
                               train.image_shape, title="samples"),
    }  # fmt: skip
    payload = {
        "data": args.data,
        "settings": {**settings, "visible": rbm.visible, "seed": rbm.random_state,
                     "temperatures": rbm.n_temperatures, "device": args.device,
                     "world_size": world},
        "final": final,
        "history": rbm.history_,
        "checkpoint": str(checkpoint),
    }  # fmt: skip
    finish_run(args, out, payload, figures, _table)


def _table(payload):
    final = payload["final"]
    lines = [f"RBM on {payload['data']} (evaluated on {final.get('evaluated_on', 'data')})"]
    for key in ("log_likelihood_exact", "reconstruction_error", "pseudo_log_likelihood"):
        value = final.get(key)
        lines.append(f"  {key:<24}{'-' if value is None else f'{value:.4f}'}")
    ais = final.get("log_likelihood_ais")
    if ais:
        lines.append(f"  {'log_likelihood_ais':<24}{ais['estimate']:.4f} +- {ais['stderr']:.4f}")
    if payload.get("history"):
        last = payload["history"][-1]
        rhat = last.get("chain_rhat")
        if rhat is not None:
            lines.append(f"  {'chain R-hat / ESS':<24}{rhat:.3f} / {last['chain_ess']:.0f}")
    if payload.get("checkpoint"):
        lines.append(f"checkpoint: {payload['checkpoint']}")
    lines.extend(f"{k}: {v}" for k, v in payload.get("files", {}).items())
    return "\n".join(lines)


def _sample(args):
    from workbench.nn.rbm.model import RBM
    from workbench.nn.runtime.command import finish_samples

    rbm = RBM.load(args.checkpoint, device=args.device)
    samples = rbm.sample(args.n, n_steps=args.steps, random_state=args.seed)
    finish_samples(args, samples, f"{args.steps} Gibbs sweeps", steps=args.steps)


def _eval(args):
    import numpy as np

    from workbench.nn.rbm.model import RBM
    from workbench.nn.rbm.plots import (
        plot_filters,
        plot_image_rows,
        plot_images,
        plot_learning_curves,
    )

    rbm = RBM.load(args.checkpoint, device=args.device)
    train, test = _split(args.data, rbm.visible)
    data = test if test is not None else train
    if data.X.shape[1] != rbm.n_features_in_:
        raise ValueError(
            f"--data: {args.data} has {data.X.shape[1]} features, the checkpoint was trained "
            f"on {rbm.n_features_in_}"
        )
    final = _final_metrics(rbm, data.X, args.ais, args.ais_runs, args.ais_betas, args.seed)
    final["evaluated_on"] = "test" if test is not None else "train"
    shape = data.image_shape
    rng = np.random.default_rng(args.seed)
    X = data.X[rng.permutation(len(data.X))[:8]]
    noisy = np.abs(X - (rng.random(X.shape) < 0.1)) if rbm.visible == "bernoulli" else (
        X + 0.5 * rng.standard_normal(X.shape))  # fmt: skip
    observed = np.ones_like(X, dtype=bool)
    observed[:, X.shape[1] // 2 :] = False  # the lower half of each image is missing
    figures = {
        "filters": plot_filters(rbm.weights_, shape),
        "samples": plot_images(rbm.sample(32, random_state=args.seed), shape, title="samples"),
        "reconstructions": plot_image_rows({"data": X, "reconstruction": rbm.reconstruct(X)},
                                           shape),
        "denoising": plot_image_rows(
            {"data": X, "noisy": noisy,
             "denoised": rbm.denoise(noisy.astype(np.float32), random_state=args.seed)}, shape),
        "inpainting": plot_image_rows(
            {"data": X, "observed": np.where(observed, X, 0.5),
             "filled in": rbm.inpaint(X, observed, random_state=args.seed)}, shape),
    }  # fmt: skip
    if rbm.history_:
        figures["learning_curves"] = plot_learning_curves(rbm.history_)
    payload = {"data": args.data, "checkpoint": args.checkpoint, "final": final}
    finish_run(args, args.out, payload, figures, _table, metrics="eval.json")
