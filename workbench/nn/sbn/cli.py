"""``workbench sbn train | sample | eval``: sigmoid belief nets (Helmholtz machines) trained by
wake-sleep on the shared data sets from the command line.

``train`` picks per-dataset defaults (:data:`DATASET_DEFAULTS`); every flag overrides them.
Artefacts (checkpoint ``sbn.pt``, figures, ``metrics.json``) go under ``--out``; ``--json``
prints one object ``{"final", "history", "checkpoint", ...}`` on stdout, progress goes to
stderr. The final log-likelihood is exact when the hidden layers can be enumerated, and always
estimated by importance sampling with the recognition net as proposal (with its standard error).
"""

from pathlib import Path

from workbench.nn.runtime.command import (
    add_resume_option,
    add_run_options,
    dataset_defaults,
    finish_run,
    int_list,
    load_split,
    resume_checkpoint,
    verbose,
)

__all__ = ["DATASET_DEFAULTS", "defaults_for", "register"]

DATASET_DEFAULTS = {
    "bars-stripes": {"layers": (10,), "epochs": 3000, "lr": 0.2, "batch_size": 14,
                     "monitor_every": 100},
    "digits": {"layers": (64,), "epochs": 50, "lr": 0.05, "batch_size": 20},
    "mnist5k": {"layers": (200,), "epochs": 20, "lr": 0.05, "batch_size": 50},
    "fashion-mnist": {"layers": (200,), "epochs": 5, "lr": 0.05, "batch_size": 100},
    "file": {"layers": (64,), "epochs": 20, "lr": 0.05, "batch_size": 32},
}  # fmt: skip
COMMON = {"method": "wake-sleep", "n_importance": 5, "monitor_every": 1}
EVAL_SAMPLES = 100  # importance samples per row of the final estimate

# The estimator's argument names (in InputError) -> this CLI's flags; see workbench.cli.flag_for.
FLAG_NAMES = {"X": "--data", "n_epochs": "--epochs", "learning_rate": "--lr",
              "n_importance": "--k", "random_state": "--seed", "n_samples": "--samples",
              "checkpoint": "checkpoint"}  # fmt: skip


# `--resume`: option -> the estimator parameter the checkpoint saved (a typed value must match)
RESUME_OPTIONS = {dest: f"state.params.{param}" for dest, param in {
    "layers": "layers", "method": "method", "k": "n_importance", "lr": "learning_rate",
    "batch_size": "batch_size", "seed": "random_state"}.items()}  # fmt: skip


def defaults_for(name):
    """Training settings for a data set name (``bars-stripes-3``, ``mnist5k``, a file)."""
    return dataset_defaults(name, DATASET_DEFAULTS, COMMON)


def register(sub):
    parser = sub.add_parser("sbn", help="train, sample and evaluate sigmoid belief nets (Torch)")
    sbn_sub = parser.add_subparsers(dest="sbn_command", required=True, metavar="ACTION")

    p = sbn_sub.add_parser("train", help="train a sigmoid belief net by wake-sleep")
    p.add_argument("--data", required=True, help="data set name or file (see workbench.data)")
    p.add_argument(
        "--layers",
        type=int_list,
        default=None,
        help="hidden units per layer, bottom up, e.g. 64,16 (default per data set)",
    )
    p.add_argument(
        "--binarize",
        action="store_true",
        help="threshold a user file at 0.5 (named data sets are binarised anyway)",
    )
    p.add_argument("--method", choices=("wake-sleep", "reweighted"), default=None,
                   help="plain or reweighted wake-sleep (default wake-sleep)")  # fmt: skip
    p.add_argument(
        "--k", type=int, default=None, help="importance samples per row of reweighted wake-sleep"
    )
    p.add_argument("--epochs", type=int, default=None, help="epochs (default per data set)")
    p.add_argument("--lr", type=float, default=None, help="learning rate")
    p.add_argument("--batch-size", type=int, default=None,
                   help="rows per update (default per data set)")  # fmt: skip
    p.add_argument(
        "--samples",
        type=int,
        default=EVAL_SAMPLES,
        help="importance samples per row of the final log-likelihood estimate",
    )
    add_resume_option(p, "sbn.pt")
    add_run_options(p, out="workbench-sbn")
    p.set_defaults(flag_names={**FLAG_NAMES, "checkpoint": "--resume"})

    p = sbn_sub.add_parser("sample", help="ancestral samples, top down")
    p.add_argument("checkpoint")
    p.add_argument("--n", type=int, default=64, help="number of samples")
    p.add_argument("--means", action="store_true", help="p(v = 1 | h_1) instead of binary draws")
    add_run_options(p, out="workbench-sbn")
    p.set_defaults(flag_names={**FLAG_NAMES, "n_samples": "--n"})

    p = sbn_sub.add_parser("eval", help="log-likelihood and figures of a trained net")
    p.add_argument("checkpoint")
    p.add_argument("--data", required=True, help="data set name or file to evaluate on")
    p.add_argument(
        "--samples",
        type=int,
        default=EVAL_SAMPLES,
        help="importance samples per row (default %(default)s)",
    )
    add_run_options(p, out="workbench-sbn")
    p.set_defaults(flag_names=FLAG_NAMES)
    return {"sbn": run}


def run(args):
    from workbench.nn.runtime import set_process_threads

    set_process_threads(args.threads)  # the thread policy: --threads, else cores per process
    return {"train": _train, "sample": _sample, "eval": _eval}[args.sbn_command](args)


def _split(name, binarize=False):
    user_file = Path(name).suffix.lower() in (".npy", ".csv", ".tsv", ".txt")
    return load_split(name, binarize=binarize or not user_file)


def _final_metrics(net, X, n_samples, seed):
    """Mean log-likelihood of the rows ``X``: exact (None when not enumerable) and by
    importance sampling, whose ``stderr`` is the Monte Carlo error of the mean over rows."""
    import numpy as np

    from workbench.errors import InputError

    final = {"rows": int(len(X)), "log_likelihood_exact": None}
    try:
        final["log_likelihood_exact"] = float(net.log_likelihood(X).mean())
    except InputError:  # too many hidden states: the estimate below stands alone
        pass
    value, se = net.log_likelihood(X, "importance", n_samples=n_samples, return_se=True,
                                   random_state=seed)  # fmt: skip
    final["log_likelihood_importance"] = {
        "estimate": float(value.mean()),
        "stderr": float(np.sqrt(np.sum(se**2)) / len(se)),
        "n_samples": n_samples,
    }
    return final


def _figures(net, data, history, seed):
    from workbench.nn.rbm.plots import plot_filters, plot_images
    from workbench.nn.sbn.plots import plot_training

    shape = data.image_shape
    figures = {
        "filters": plot_filters(net.generative_weights_[-1].T, shape),
        "samples": plot_images(net.sample(32, means=True, random_state=seed), shape,
                               title="samples: p(v | h_1)"),
    }  # fmt: skip
    if history:
        figures["learning_curves"] = plot_training(history)
    return figures


def _train(args):
    from workbench.errors import check_count
    from workbench.nn.runtime.command import run_ranks

    check_count("n_samples", args.samples, 2)  # used after training: checked before it
    return run_ranks(args, ("sbn", "train"), _train_process)


def _train_process(args, device):
    from workbench.nn.sbn.model import SigmoidBeliefNet

    settings = defaults_for(args.data)
    overrides = {"layers": args.layers, "method": args.method, "n_importance": args.k,
                 "epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size}  # fmt: skip
    settings.update({k: v for k, v in overrides.items() if v is not None})
    train, test = _split(args.data, args.binarize)
    out = Path(args.out)
    checkpoint = out / "sbn.pt"
    if resume_checkpoint(args, out, "sbn.pt", "sbn", RESUME_OPTIONS, epochs=settings["epochs"]):
        net = SigmoidBeliefNet.load(checkpoint, device=device)
        net.set_params(n_epochs=settings["epochs"], checkpoint=str(checkpoint),
                       verbose=verbose(args))  # fmt: skip
        net.fit(train.X, resume=True)
        settings.update(method=net.method, n_importance=net.n_importance,  # the checkpoint's
                        lr=net.learning_rate, batch_size=net.batch_size)  # fmt: skip
    else:
        net = SigmoidBeliefNet(
            settings["layers"],
            method=settings["method"],
            n_importance=settings["n_importance"],
            learning_rate=settings["lr"],
            n_epochs=settings["epochs"],
            batch_size=settings["batch_size"],
            monitor_every=settings["monitor_every"],
            checkpoint=str(checkpoint),
            device=device,
            random_state=args.seed,
            verbose=verbose(args),
        )
        net.fit(train.X)
    evaluated = test if test is not None else train
    final = _final_metrics(net, evaluated.X, args.samples, args.seed)
    final["evaluated_on"] = "test" if test is not None else "train"
    payload = {
        "data": args.data,
        "settings": {**settings, "layers": list(net.layers), "seed": net.random_state,
                     "device": args.device},
        "final": final,
        "history": net.history_,
        "checkpoint": str(checkpoint),
    }  # fmt: skip
    finish_run(args, out, payload, _figures(net, train, net.history_, args.seed), _table)


def _table(payload):
    final = payload["final"]
    lines = [f"sigmoid belief net on {payload['data']} ({final['rows']} rows, "
             f"{final.get('evaluated_on', 'data')})"]  # fmt: skip
    exact = final.get("log_likelihood_exact")
    lines.append(f"  {'log_likelihood_exact':<28}{'-' if exact is None else f'{exact:.4f}'}")
    imp = final["log_likelihood_importance"]
    lines.append(f"  {'log_likelihood_importance':<28}{imp['estimate']:.4f} +- "
                 f"{imp['stderr']:.4f} (K = {imp['n_samples']})")  # fmt: skip
    if payload.get("checkpoint"):
        lines.append(f"checkpoint: {payload['checkpoint']}")
    lines.extend(f"{k}: {v}" for k, v in payload.get("files", {}).items())
    return "\n".join(lines)


def _sample(args):
    from workbench.nn.runtime.command import finish_samples
    from workbench.nn.sbn.model import SigmoidBeliefNet

    net = SigmoidBeliefNet.load(args.checkpoint, device=args.device)
    samples = net.sample(args.n, means=args.means, random_state=args.seed)
    finish_samples(args, samples, "ancestral samples", means=args.means)


def _eval(args):
    from workbench.errors import InputError
    from workbench.nn.sbn.model import SigmoidBeliefNet

    net = SigmoidBeliefNet.load(args.checkpoint, device=args.device)
    train, test = _split(args.data)
    data = test if test is not None else train
    if data.X.shape[1] != net.n_features_in_:
        raise InputError("X", f"{net.n_features_in_} features (as the checkpoint)",
                         data.X.shape[1])  # fmt: skip
    final = _final_metrics(net, data.X, args.samples, args.seed)
    final["evaluated_on"] = "test" if test is not None else "train"
    payload = {"data": args.data, "checkpoint": args.checkpoint, "final": final,
               "history": net.history_}  # fmt: skip
    finish_run(args, args.out, payload, _figures(net, data, net.history_, args.seed), _table,
               metrics="eval.json")  # fmt: skip
