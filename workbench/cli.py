"""The ``workbench`` command.

Every sub-command prints a human table by default and one JSON object with ``--json``; with
``--json`` standard output carries only the JSON, while progress bars and logs go to standard
error. Bad input ends with one line on standard error and exit code 2: a library
:class:`~workbench.errors.InputError` names its Python argument, which :func:`flag_for` turns
into the sub-command's flag.

The logging and warning settings of a run are made in :func:`main` only, and undone when it
returns, so that ``main([...])`` called from Python (a test, a notebook) leaves no trace.
"""

import argparse
import importlib
import logging
import re
import sys
import warnings
from contextlib import contextmanager

from workbench.errors import InputError
from workbench.output import emit

__all__ = ["flag_for", "main"]

# Sub-command groups that live beside their capability. Each module defines
# ``register(sub) -> {command name: function(args)}``; ``sub`` is the argparse sub-parser set.
COMMAND_MODULES = (
    "workbench.diagnostics.cli",
    "workbench.energy.cli",
    "workbench.linear.cli",
    "workbench.nn.cnn.cli",
    "workbench.nn.dbm.cli",
    "workbench.nn.rbm.cli",
    "workbench.nn.autoencoder.cli",
    "workbench.nn.sbn.cli",
    "workbench.sparse.cli",
)


def _add_run_options(parser, *, draws=1000, chains=4):
    parser.add_argument("--draws", type=int, default=draws, help="NUTS draws per chain")
    parser.add_argument("--tune", type=int, default=1000, help="NUTS warm-up steps per chain")
    parser.add_argument("--chains", type=int, default=chains, help="number of chains")
    parser.add_argument("--sampler", choices=("nutpie", "pymc"), default="nutpie")
    parser.add_argument(
        "--seed", type=int, default=None, help="random seed (same seed, same result)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--out", default=None, help="folder for figures, draws and JSON")
    # library argument -> flag; each setting KEY of the chosen model maps to "--set KEY" too
    parser.set_defaults(
        flag_names={"name": "model", "model_name": "model", "pairs": "--set",
                    "settings": "--set", "path": "--data", "data": "--data", "y": "--data"}
    )  # fmt: skip


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``workbench rbm train: error: ...``, exit code 2): the
    usage it would print first is what ``--help`` shows."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = _Parser(
        prog="workbench",
        description="Bayesian inference workbench: compare MAP, ML, CM and CM-ML estimates.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("estimate", help="estimate a catalogue model's parameters")
    p.add_argument("model", help="catalogue model name (see `workbench models`)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model setting, repeatable (e.g. --set heads=3)",
    )
    p.add_argument("--data", default=None, help="data file (.npy, .csv, .tsv, .txt)")
    p.add_argument(
        "--methods",
        nargs="+",
        default=["map", "ml", "cm", "cm_ml"],
        metavar="METHOD",
        help="subset of: map ml cm cm_ml (default: these four) laplace advi fullrank_advi "
        "pathfinder (Gaussian approximations with a k-hat check)",
    )
    p.add_argument("--hdi-prob", type=float, default=0.9, help="HDI probability (default 0.9)")
    _add_run_options(p)

    p = sub.add_parser("models", help="list the model catalogue with settings and defaults")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("risk", help="frequentist risk of each estimator over prior draws")
    p.add_argument("model")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--data", default=None, help="data file fixing the design (size, covariates)")
    p.add_argument("--replicates", type=int, default=100)
    p.add_argument("--jobs", type=int, default=2, help="worker processes")
    p.add_argument("--methods", nargs="+", default=["map", "ml", "cm", "cm_ml"], metavar="METHOD")
    p.add_argument(
        "--converged-only",
        action="store_true",
        help="average over replicates whose NUTS run converged (default: all, counted)",
    )
    _add_run_options(p, draws=500, chains=2)

    p = sub.add_parser("demo", help="the main job: the estimator comparison report")
    p.add_argument("--out", default="workbench-demo", help="output folder (default workbench-demo)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--replicates", type=int, default=60, help="risk-study replicates")
    p.add_argument("--json", action="store_true")

    for module_name in COMMAND_MODULES:
        COMMANDS.update(importlib.import_module(module_name).register(sub))
    _record_flags(parser)
    return parser


# Library argument names (in InputError and scikit-learn's parameter errors) -> the argparse
# dest a command gives them, when it has that option; a command's own flag_names come first.
LIBRARY_NAMES = {"n_epochs": "epochs", "learning_rate": "lr", "random_state": "seed",
                 "n_hidden": "hidden", "n_classes": "classes", "n_samples": "n",
                 "n_steps": "steps", "n_runs": "ais_runs", "n_betas": "ais_betas",
                 "n_components": "q", "n_chains": "chains", "X": "data",
                 "name": "data"}  # fmt: skip


def _record_flags(parser):
    """Give every leaf sub-parser the default ``option_flags``: argparse dest -> the option as
    typed (its long form, ``--batch-size``; a positional keeps its name)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for action in subs:
        for child in action.choices.values():
            _record_flags(child)
    if not subs:
        flags = {a.dest: max(a.option_strings, key=len) if a.option_strings else a.dest
                 for a in parser._actions if a.dest != "help"}  # fmt: skip
        parser.set_defaults(option_flags=flags)


def flag_for(args, argument):
    """The command-line spelling of a library argument named in an :class:`InputError`.

    In order: the sub-command's renamings (``parser.set_defaults(flag_names={"X": "--data"})``),
    then the option whose argparse dest is the argument or its :data:`LIBRARY_NAMES` alias
    (``n_hidden`` -> ``--hidden``), spelled as the user types it; else the argument itself.
    """
    name, _, key = argument.partition("[")
    flag = getattr(args, "flag_names", {}).get(name)
    if flag is None:
        options = getattr(args, "option_flags", {})
        dest = name if name in options else LIBRARY_NAMES.get(name)
        if dest in options:
            flag = options[dest]
        else:
            flag = f"--{name.replace('_', '-')}" if hasattr(args, name) else name
    return f"{flag}[{key}" if key else flag


_SKLEARN_PARAMETER = re.compile(r"The '(\w+)' parameter of \w+ must be (.+?)\. Got (.+) instead\.",
                                re.DOTALL)  # fmt: skip


def _as_input_error(err):
    """scikit-learn's "The 'lr' parameter of X must be ..." as the InputError it stands for
    (so that the CLI names the flag); any other error unchanged."""
    match = _SKLEARN_PARAMETER.fullmatch(str(err)) if isinstance(err, ValueError) else None
    return InputError(*match.groups()) if match else err


def cmd_models(args):
    from models import CATALOGUE

    payload = {
        name: {
            "summary": s.summary,
            "settings": s.settings,
            "data": s.data,
            "choices": {k: list(v) for k, v in s.choices.items()},
        }
        for name, s in CATALOGUE.items()
    }
    lines = []
    for name, s in CATALOGUE.items():
        settings = " ".join(f"{k}={v}" for k, v in s.settings.items())
        lines.append(f"{name:<18} {s.summary}")
        lines.append(f"{'':<18}   settings: {settings}")
        if s.data:
            lines.append(f"{'':<18}   data:     {s.data} (built-in data when --data is omitted)")
    emit(args, payload, "\n".join(lines))


def _inputs(args):
    """Validated catalogue entry, typed settings and data (None: built-in) of a command."""
    import models
    from workbench.data import load_array

    spec = models.get_spec(args.model)
    args.flag_names = {**{key: f"--set {key}" for key in spec.settings}, **args.flag_names}
    settings = models.parse_settings(args.model, args.set)
    data = None if args.data is None else load_array(args.data)
    return spec, settings, data


def cmd_estimate(args):
    import models
    from workbench.bayes import Estimator

    spec, settings, data = _inputs(args)
    model = models.build(args.model, data=data, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        estimator = Estimator(
            model,
            methods=args.methods,
            hdi_prob=args.hdi_prob,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            var_names=spec.var_names,
            sampler=args.sampler,
            name=args.model,
        )
        result = estimator.run(seed=args.seed)
    payload = result.to_dict()
    payload["settings"].update(settings)
    if args.out:
        payload["files"] = result.save(args.out)
    for note in result.warnings:
        print(f"workbench: warning: {note}", file=sys.stderr)
    text = result.table() + (f"\nwrote: {', '.join(payload['files'].values())}" if args.out else "")
    emit(args, payload, text)


def cmd_risk(args):
    from workbench.bayes.risk import risk_study

    _, settings, data = _inputs(args)
    study = risk_study(
        args.model,
        replicates=args.replicates,
        settings=settings,
        data=data,
        methods=args.methods,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        sampler=args.sampler,
        seed=args.seed,
        jobs=args.jobs,
        converged_only=args.converged_only,
    )
    payload = study.to_dict()
    if args.out:
        payload["files"] = study.save(args.out)
    emit(args, payload, study.table())


def cmd_demo(args):
    from workbench.demo import run_demo

    summary = run_demo(
        out_dir=args.out, seed=args.seed, replicates=args.replicates, echo=not args.json
    )
    if args.json:
        emit(args, summary, "")


COMMANDS = {"estimate": cmd_estimate, "models": cmd_models, "risk": cmd_risk, "demo": cmd_demo}


@contextmanager
def _cli_logging():
    """Warnings and above on standard error, PyMC's chatter at ERROR, PyTensor's BLAS notice
    hidden; every change undone on exit."""
    root, pymc_logger = logging.getLogger(), logging.getLogger("pymc")
    handler = None if root.handlers else logging.StreamHandler(sys.stderr)
    saved = root.level, pymc_logger.level
    if handler is not None:
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
    pymc_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
            yield
    finally:
        if handler is not None:
            root.removeHandler(handler)
        root.setLevel(saved[0])
        pymc_logger.setLevel(saved[1])


def main(argv=None):
    args = build_parser().parse_args(argv)
    with _cli_logging():
        return _run(args)


def _run(args):
    try:
        COMMANDS[args.command](args)
    except BrokenPipeError:  # `workbench ... | head`: the reader left, nothing to report
        return 0
    except (ValueError, OSError) as err:
        err = _as_input_error(err)
        text = err.for_flag(flag_for(args, err.argument)) if isinstance(err, InputError) else err
        print(f"workbench: error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
