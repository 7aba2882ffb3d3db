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

from workbench import __version__
from workbench.completion import SHELLS, bash_script
from workbench.errors import InputError
from workbench.output import emit, progress_bars
from workbench.replicates import add_replicate_options, replicate_kwargs
from workbench.signals import Interrupted, exit_code, terminate_as_interrupt

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
    "workbench.diagnostics.sbc_cli",
)


def _add_run_options(parser, *, draws=1000, chains=4):
    parser.add_argument("--draws", type=int, default=draws, help="NUTS draws per chain")
    parser.add_argument("--tune", type=int, default=1000, help="NUTS warm-up steps per chain")
    parser.add_argument("--chains", type=int, default=chains, help="number of chains")
    parser.add_argument("--sampler", choices=("nutpie", "pymc"), default="nutpie",
                        help="NUTS implementation")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same result")
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
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
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
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    p = sub.add_parser("completion", help="print a shell completion script "
                       "(bash: source <(workbench completion bash))")  # fmt: skip
    p.add_argument("shell", choices=SHELLS)

    p = sub.add_parser("risk", help="frequentist risk of each estimator over prior draws")
    p.add_argument("model")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="model setting, repeatable (e.g. --set heads=3)")  # fmt: skip
    p.add_argument("--data", default=None, help="data file fixing the design (size, covariates)")
    p.add_argument("--replicates", type=int, default=100, help="data sets drawn from the prior")
    add_replicate_options(p)
    p.add_argument("--methods", nargs="+", default=["map", "ml", "cm", "cm_ml"], metavar="METHOD",
                   help="estimators compared, a subset of: map ml cm cm_ml")  # fmt: skip
    p.add_argument(
        "--converged-only",
        action="store_true",
        help="average over replicates whose NUTS run converged (default: all, counted)",
    )
    _add_run_options(p, draws=500, chains=2)

    p = sub.add_parser("demo", help="the main job: the estimator comparison report")
    p.add_argument("--section", action="append", dest="sections", metavar="NAME",
                   help="run only this section (repeatable; e.g. energy, ppca, cnn)")  # fmt: skip
    p.set_defaults(flag_names={"sections": "--section"})
    p.add_argument("--out", default="workbench-demo", help="output folder (default workbench-demo)")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same result")
    p.add_argument("--replicates", type=int, default=60, help="risk-study replicates")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")

    for module_name in COMMAND_MODULES:
        COMMANDS.update(importlib.import_module(module_name).register(sub))
    for leaf in _leaf_parsers(parser):
        _common_conventions(leaf)
    _record_flags(parser)  # after --overwrite is added
    return parser


def _leaf_parsers(parser):
    """The parsers of ``parser``'s tree that run a command (no sub-commands below them)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [parser]
    return [leaf for a in subs for child in dict.fromkeys(a.choices.values())
            for leaf in _leaf_parsers(child)]  # fmt: skip


def _common_conventions(p):
    """What every command shares, added in one place: ``--overwrite`` where there is ``--out``
    (see :mod:`workbench.runfolder`), and each option's default shown in its help."""
    options = {s for a in p._actions for s in a.option_strings}
    if "--out" in options and "--overwrite" not in options:
        p.add_argument("--overwrite", action="store_true",
                       help="replace the results an earlier run of this command left in --out "
                       "(deletes the files its manifest.json lists); without it such a folder "
                       "is refused")  # fmt: skip
    for action in p._actions:
        if not action.option_strings or action.help in (None, argparse.SUPPRESS):
            continue
        shown = action.default not in (None, False, argparse.SUPPRESS, [], ())
        if shown and "default" not in action.help:
            action.help += " (default %(default)s)"


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
            progressbar=progress_bars(quiet=args.json),
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
        converged_only=args.converged_only,
        **replicate_kwargs(args),
    )
    payload = study.to_dict()
    if args.out:
        payload["files"] = study.save(args.out)
    emit(args, payload, study.table())


def cmd_demo(args):
    from workbench.demo import run_demo

    summary = run_demo(
        out_dir=args.out,
        seed=args.seed,
        replicates=args.replicates,
        echo=not args.json,
        sections=args.sections,
    )
    if args.json:
        emit(args, summary, "")


def cmd_completion(args):
    print(bash_script(build_parser()), end="")


COMMANDS = {"estimate": cmd_estimate, "models": cmd_models, "risk": cmd_risk, "demo": cmd_demo,
            "completion": cmd_completion}  # fmt: skip


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
    """Run ``workbench <argv>`` (default: the command line); returns the exit code: 0, 1
    (``diagnose --strict`` verdicts), 2 (bad input, one line on stderr), 130 / 143 (stopped by
    SIGINT / SIGTERM, one line on stderr; a training run saves its checkpoint first)."""
    with terminate_as_interrupt() as received:  # from the first line on: Ctrl-C while the
        try:  # libraries import is one line, not a traceback
            argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
            parser = build_parser()
            args = parser.parse_args(argv)
            args.typed_options = typed_options(parser, args, argv)
            with _cli_logging():
                return _run(args, argv)
        except KeyboardInterrupt as err:
            print(f"workbench: {str(err) or 'interrupted (SIGINT)'}", file=sys.stderr)
            return exit_code(err)
        except Exception:
            if received.first is None:
                raise
            # a library turned the interruption into its own error (an ImportError)
            print(f"workbench: interrupted ({received.first})", file=sys.stderr)
            return exit_code(Interrupted(received.first))


def command_name(args):
    """The sub-command of parsed ``args`` as typed: "estimate", "rbm train", ..."""
    words = [args.command]
    words += [str(v) for k, v in vars(args).items() if k.endswith("_command") and v]
    return " ".join(words)


def typed_options(parser, args, argv):
    """The destinations of the options ``argv`` spells out (``--hid 9`` counts for ``--hidden``
    as argparse reads it), as opposed to those left at their defaults: what ``--resume``
    compares with the checkpoint."""
    leaf = parser
    for word in command_name(args).split():
        sub = next(a for a in leaf._actions if isinstance(a, argparse._SubParsersAction))
        leaf = sub.choices[word]
    options = {s: a.dest for a in leaf._actions for s in a.option_strings}
    typed = set()
    for token in argv:
        if token == "--":
            break
        word = token.split("=", 1)[0]
        if not word.startswith("-") or word == "-":
            continue
        matches = [o for o in options if o == word] or [
            o for o in options if word.startswith("--") and o.startswith(word)]  # fmt: skip
        if len({options[o] for o in matches}) == 1:
            typed.add(options[matches[0]])
    return typed


def _run(args, argv):
    from workbench.runfolder import open_run_folder

    try:
        with open_run_folder(getattr(args, "out", None), command=command_name(args), argv=argv,
                             overwrite=getattr(args, "overwrite", False),
                             resume=bool(getattr(args, "resume", None)),
                             resumable=hasattr(args, "resume")):  # fmt: skip
            COMMANDS[args.command](args)
    except BrokenPipeError:  # `workbench ... | head`: the reader left, nothing to report
        return 0
    except (ValueError, OSError) as err:
        err = _as_input_error(err)
        text = err.for_flag(flag_for(args, err.argument)) if isinstance(err, InputError) else err
        print(f"workbench: error: {text}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
