"""``workbench diagnose PATH [PATH ...]``: convergence report of saved draws (.nc, .zarr, .npy,
.npz, or CmdStan .csv files, one per chain; quoted globs are expanded)."""

import glob
import re

from workbench.errors import InputError
from workbench.output import emit

__all__ = ["register"]


def _threshold_overrides(pairs):
    """``KEY=VALUE`` texts as a dict of typed threshold overrides (ranges are checked by
    :class:`~workbench.diagnostics.Thresholds`)."""
    from workbench.diagnostics import Thresholds

    fields = Thresholds.__dataclass_fields__
    out = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or key not in fields:
            raise InputError("thresholds", f"KEY=VALUE with KEY in {', '.join(fields)}",
                             repr(pair))  # fmt: skip
        try:
            out[key] = int(text) if key == "max_divergences" else float(text)
        except ValueError:
            raise InputError(f"thresholds[{key}]", "a number", repr(text)) from None
    Thresholds(**out)  # range checks, before any file is read
    return out


def _natural(text):
    """Sort key that puts output_2.csv before output_10.csv."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _expand(patterns):
    """Paths named, with glob patterns expanded (in natural order: chain 2 before chain 10)."""
    paths = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            found = sorted(glob.glob(pattern), key=_natural)
            if not found:
                raise ValueError(f"path: no file matches {pattern!r}")
            paths += found
        else:
            paths.append(pattern)
    return paths[0] if len(paths) == 1 else paths


def cmd_diagnose(args):
    from workbench.diagnostics import diagnose

    report = diagnose(
        _expand(args.path),
        var_names=args.var or None,
        group=args.group,
        thresholds=_threshold_overrides(args.threshold),
        allow_single_chain=args.allow_single_chain,
    )
    payload = report.to_dict()
    text = report.table()
    if args.out:
        files = report.save(args.out)
        payload["files"] = files
        text += "\nwrote: " + ", ".join(files.values())
    emit(args, payload, text)
    if args.strict and not report.converged:
        raise SystemExit(1)


def register(sub):
    """Add ``diagnose`` to the ``workbench`` sub-commands."""
    p = sub.add_parser(
        "diagnose",
        help="convergence diagnostics (R-hat, ESS, MCSE, divergences, E-BFMI) of saved draws",
        description=(
            "Diagnose MCMC draws in PATH: a NetCDF (.nc) or Zarr (.zarr) DataTree from PyMC, "
            "nutpie or the workbench samplers, a .npy array shaped (chains, draws[, ...]), a "
            ".npz archive with one such array per variable, or CmdStan CSV output, one file "
            "per chain (several paths, or a quoted glob). Exit code 0 when the report was "
            "made (1 with --strict when not converged), 2 on bad input."
        ),
    )
    p.add_argument(
        "path", nargs="+", help="draws: .nc, .zarr, .npy, .npz, or CmdStan .csv (one per chain)"
    )
    p.add_argument(
        "--var",
        action="extend",
        nargs="+",
        default=[],
        metavar="NAME",
        help="variables to diagnose (default: all)",
    )
    p.add_argument("--group", default="posterior", help="DataTree group (default posterior)")
    p.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a threshold: r_hat=1.01 ess_per_chain=100 max_divergences=0 bfmi=0.3",
    )
    p.add_argument(
        "--allow-single-chain",
        action="store_true",
        help="accept one chain (ESS and MCSE only; never called converged)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--out", default=None, help="folder for diagnostics.json and figures")
    p.add_argument("--strict", action="store_true", help="exit code 1 when not converged")
    p.set_defaults(flag_names={"thresholds": "--threshold"})
    return {"diagnose": cmd_diagnose}
