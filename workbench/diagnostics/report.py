"""Convergence reports: ArviZ's diagnostics, a verdict per variable, and problems in plain words.

>>> from workbench.diagnostics import diagnose
>>> report = diagnose(draws)                 # DataTree, path, array (chains, draws, ...), tensor
>>> report.converged, report.to_dict()["variables"]["x"]["r_hat"]
>>> print(report.table())

Every number comes from ``arviz_stats`` (rank-normalised split R-hat, bulk and tail ESS, MCSE of
the mean and of the sd, E-BFMI) and the verdict from the one rule in
:mod:`workbench.diagnostics.convergence`; this module adds the explanations.
"""

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import xarray as xr

from workbench.diagnostics.convergence import (
    Problem,
    Thresholds,
    entry_converged,
    sampler_stats,
    statistics,
)
from workbench.diagnostics.convert import to_datatree

__all__ = ["DiagnosticsReport", "diagnose"]


@dataclass
class VariableDiagnostics:
    """Diagnostics of one variable; arrays have the variable's shape (scalars: shape ())."""

    r_hat: np.ndarray
    ess_bulk: np.ndarray
    ess_tail: np.ndarray
    mcse_mean: np.ndarray
    mcse_sd: np.ndarray
    converged: bool
    problems: list = field(default_factory=list)


def _plain(value):
    """JSON-ready float or nested list; NaN becomes None."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        value = float(arr)
        return None if math.isnan(value) else value
    return [_plain(v) for v in arr]


def _label(name, index):
    return name if index == () else f"{name}[{','.join(map(str, index))}]"


@dataclass
class DiagnosticsReport:
    """Diagnostics of one set of draws. ``converged`` is the overall verdict; ``variables`` maps
    each name to a :class:`VariableDiagnostics`; ``problems`` holds sampler-level problems
    (divergences, low BFMI, a single chain); ``tree`` is the diagnosed DataTree."""

    converged: bool
    variables: dict
    divergences: int | None
    bfmi: np.ndarray | None
    thresholds: Thresholds
    problems: list
    chains: int
    draws: int
    acceptance_rate: np.ndarray | None
    tree: xr.DataTree = field(repr=False)
    group: str = "posterior"

    def to_dict(self):
        """``{"converged", "r_hat_max", "ess_bulk_min", "ess_tail_min", "variables": {name:
        {"r_hat", "ess_bulk", "ess_tail", "mcse_mean", "mcse_sd", "converged", "problems"}},
        "divergences", "bfmi", "thresholds", "problems", "sampling"}``; problems are
        ``{"kind", "message", "cause", "remedy"}`` records; NaN is None."""
        variables = {
            name: {
                "r_hat": _plain(v.r_hat),
                "ess_bulk": _plain(v.ess_bulk),
                "ess_tail": _plain(v.ess_tail),
                "mcse_mean": _plain(v.mcse_mean),
                "mcse_sd": _plain(v.mcse_sd),
                "converged": v.converged,
                "problems": [asdict(p) for p in v.problems],
            }
            for name, v in self.variables.items()
        }
        return {
            "converged": self.converged,
            **self.extremes(),
            "variables": variables,
            "divergences": self.divergences,
            "bfmi": None if self.bfmi is None else _plain(self.bfmi),
            "thresholds": asdict(self.thresholds),
            "problems": [asdict(p) for p in self.problems],
            "sampling": {
                "chains": self.chains,
                "draws": self.draws,
                "acceptance_rate": None
                if self.acceptance_rate is None
                else _plain(self.acceptance_rate),
            },
        }

    def table(self, max_components=8):
        """Text table: one row per scalar (vectors: up to ``max_components`` worst entries)."""
        return self.as_table(max_components).text()

    def as_table(self, max_components=8):
        """The diagnostics as a :class:`~workbench.report.Table` (rows as in :meth:`table`;
        the thresholds as its title; sampler statistics, verdict and problems as notes)."""
        from workbench.report import Table

        rows, notes = [], []
        for name, v in self.variables.items():
            shape = np.shape(v.r_hat)
            indices = list(np.ndindex(shape))
            if len(indices) > max_components:
                rhat = np.where(np.isnan(v.r_hat), np.inf, v.r_hat).ravel()
                ess = np.minimum(v.ess_bulk, v.ess_tail).ravel()
                order = np.lexsort((ess, -rhat))[:max_components]
                indices = [np.unravel_index(i, shape) for i in sorted(order)]
            for index in indices:
                values = (v.r_hat, v.ess_bulk, v.ess_tail, v.mcse_mean, v.mcse_sd)
                rows.append(
                    [_label(name, tuple(map(int, index)))]
                    + [float(np.asarray(a)[index]) for a in values]
                    + ["ok" if self._component_ok(v, index) else "FAIL"]
                )
            hidden = int(np.prod(shape)) - len(indices)
            if hidden:
                notes.append(f"... {hidden} more entries of {name} (worst shown)")
        stats = []
        if self.divergences is not None:
            stats.append(f"divergences {self.divergences}")
        if self.bfmi is not None:
            stats.append("E-BFMI " + " ".join(f"{b:.2f}" for b in np.ravel(self.bfmi)))
        if self.acceptance_rate is not None:
            stats.append(
                "acceptance " + " ".join(f"{a:.2f}" for a in np.ravel(self.acceptance_rate))
            )
        if stats:
            notes.append("sampler: " + "; ".join(stats))
        notes.append("verdict: " + ("converged" if self.converged else "NOT converged"))
        for name, v in self.variables.items():
            notes += [f"problem ({name}): {p}" for p in v.problems]
        notes += [f"problem: {p}" for p in self.problems]
        title = (
            f"{self.chains} chains x {self.draws} draws; converged means R-hat < "
            f"{self.thresholds.r_hat:g}, bulk and tail ESS >= "
            f"{self.thresholds.ess_per_chain * self.chains:g}, divergences <= "
            f"{self.thresholds.max_divergences}, E-BFMI >= {self.thresholds.bfmi:g}"
        )
        columns = ["variable", "r_hat", "ess_bulk", "ess_tail", "mcse_mean", "mcse_sd", "verdict"]
        formats = {"r_hat": ".3f", "ess_bulk": ".0f", "ess_tail": ".0f"}
        formats |= {"mcse_mean": ".4f", "mcse_sd": ".4f"}
        return Table(columns, rows, formats=formats, title=title, notes=notes)

    def _component_ok(self, v, index):
        ok = entry_converged(v.r_hat, v.ess_bulk, v.ess_tail, self.chains, self.thresholds)
        return bool(np.asarray(ok)[index])

    def extremes(self):
        """``{"r_hat_max", "ess_bulk_min", "ess_tail_min"}`` over every entry of every
        variable (NaN entries skipped; None when there is no number, e.g. R-hat of one chain)."""
        out = {}
        for key, pick in (("r_hat", np.nanmax), ("ess_bulk", np.nanmin), ("ess_tail", np.nanmin)):
            values = np.concatenate(
                [np.ravel(np.asarray(getattr(v, key), float)) for v in self.variables.values()]
            )
            values = values[np.isfinite(values)]
            suffix = "max" if pick is np.nanmax else "min"
            out[f"{key}_{suffix}"] = float(pick(values)) if values.size else None
        return out

    def reasons(self):
        """Short reasons for a negative verdict (empty when converged), e.g.
        ``["R-hat 1.034 >= 1.01", "tail ESS 150 < 400"]``."""
        t, need, ext = self.thresholds, self.thresholds.ess_per_chain * self.chains, self.extremes()
        out = []
        if self.chains < 2:
            out.append("one chain (R-hat needs several)")
        elif ext["r_hat_max"] is None or not ext["r_hat_max"] < t.r_hat:
            r = ext["r_hat_max"]
            out.append(f"R-hat {'undefined' if r is None else f'{r:.3f}'} >= {t.r_hat:g}")
        for key, label in (("ess_bulk_min", "bulk"), ("ess_tail_min", "tail")):
            if ext[key] is None or ext[key] < need:
                value = "undefined" if ext[key] is None else f"{ext[key]:.0f}"
                out.append(f"{label} ESS {value} < {need:g}")
        if any(p.kind == "constant" for v in self.variables.values() for p in v.problems):
            out.append("constant draws")
        out += [p.message for p in self.problems if p.kind != "single_chain"]
        return out if not self.converged else []

    def plot(self, kind="trace", *, var_names=None, max_components=4, backend="matplotlib"):
        """One arviz_plots figure: ``kind`` in trace, rank, autocorr, ess, energy.

        Vector variables show their ``max_components`` worst entries. Returns the
        ``PlotCollection`` (save with ``.savefig(path)``).
        """
        from workbench.diagnostics.plots import plot_diagnostics

        return plot_diagnostics(
            self, kind, var_names=var_names, max_components=max_components, backend=backend
        )

    def save(self, out_dir, kinds=None):
        """Write ``diagnostics.json`` and one PNG per figure kind under ``out_dir`` (atomically);
        returns ``{name: path}``."""
        from workbench.diagnostics.plots import save_report

        return save_report(self, out_dir, kinds=kinds)


def diagnose(data, *, var_names=None, group="posterior", thresholds=None, allow_single_chain=False):
    """Diagnose MCMC draws: R-hat, ESS, MCSE, divergences, E-BFMI, verdicts and problems.

    Parameters
    ----------
    data : DataTree, path, ndarray, dict of ndarray, or torch tensor
        Draws shaped (chains, draws, *variable_shape); see :func:`to_datatree`.
    var_names : list of str, optional
        Variables to diagnose (default: all in ``group``).
    group : str, default "posterior"
    thresholds : Thresholds or dict, optional
        Overrides of the defaults (R-hat < 1.01, ESS >= 100 per chain, no divergences,
        E-BFMI >= 0.3).
    allow_single_chain : bool, default False
        Accept one chain: ESS and MCSE are reported, R-hat is not, and the run is never called
        converged (one chain cannot show that independent starts agree).

    Returns
    -------
    DiagnosticsReport
    """
    thresholds = Thresholds.coerce(thresholds)
    tree = to_datatree(data, group=group, allow_single_chain=allow_single_chain)
    posterior = tree[group].to_dataset()
    posterior = posterior[[n for n, v in posterior.data_vars.items() if v.dtype.kind in "biuf"]]
    if var_names is not None:
        var_names = [var_names] if isinstance(var_names, str) else list(var_names)
        missing = [n for n in var_names if n not in posterior.data_vars]
        if missing:
            raise ValueError(
                f"var_names: no variable(s) {missing} in group {group!r}; "
                f"available: {', '.join(map(str, posterior.data_vars))}"
            )
        posterior = posterior[var_names]
    posterior = posterior.astype(float).transpose("chain", "draw", ...)
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]

    stats = statistics(posterior)
    variables = {}
    for name, da in posterior.data_vars.items():
        values = {
            key: (
                np.full(da.shape[2:], np.nan)
                if ds is None
                else np.asarray(ds[name].transpose(..., *da.dims[2:]).values, dtype=float)
            )
            for key, ds in stats.items()
        }
        variables[str(name)] = _judge(str(name), da.values, values, thresholds)

    problems = []
    if chains == 1:
        problems.append(
            Problem(
                "single_chain",
                "Only one chain: R-hat is not reported and convergence cannot be established; "
                "bulk/tail ESS and MCSE are still reported.",
                "R-hat compares chains that started in different places; one chain cannot show "
                "that it has not settled in one region of the distribution.",
                "Run several chains (4 is usual) from dispersed starting points.",
            )
        )
    divergences, bfmi, acceptance = sampler_stats(tree, thresholds, problems)
    converged = chains > 1 and not problems and all(v.converged for v in variables.values())
    return DiagnosticsReport(
        converged=bool(converged),
        variables=variables,
        divergences=divergences,
        bfmi=bfmi,
        thresholds=thresholds,
        problems=problems,
        chains=int(chains),
        draws=int(draws),
        acceptance_rate=acceptance,
        tree=tree,
        group=group,
    )


def _judge(name, draws, values, t):
    """Verdict and problems of one variable; ``draws`` is (chains, draws, *shape)."""
    chains, n_draws = draws.shape[:2]
    need = t.ess_per_chain * chains
    chain_sd = draws.std(axis=1)  # (chains, *shape)
    chain_mean = draws.mean(axis=1)
    typical_sd = np.median(chain_sd, axis=0)
    constant = np.ptp(draws.reshape(chains * n_draws, -1), axis=0).reshape(draws.shape[2:]) == 0
    chain_ess = values.pop("chain_ess")  # (chains, *shape): ESS of each chain on its own
    r_hat = values["r_hat"]
    for key in ("ess_bulk", "ess_tail", "mcse_mean", "mcse_sd"):  # a constant has no ESS
        values[key] = np.where(constant, np.nan, values[key])
    ess_bulk, ess_tail = values["ess_bulk"], values["ess_tail"]

    high_rhat = np.isfinite(r_hat) & (r_hat >= t.r_hat) & ~constant
    stuck = (chain_sd < t.stuck_sd_ratio * typical_sd) | ((chain_sd == 0) & (typical_sd > 0))
    low_bulk = ~(ess_bulk >= need) & ~constant
    low_tail = ~(ess_tail >= need) & ~constant
    ok = entry_converged(r_hat, ess_bulk, ess_tail, chains, t)
    converged = bool(np.all(ok)) and chains > 1

    problems = []
    size = int(np.prod(draws.shape[2:]))

    def where(mask):
        idx = [tuple(map(int, i)) for i in np.argwhere(mask)]
        text = ", ".join(_label(name, i) for i in idx[:3]) + (" ..." if len(idx) > 3 else "")
        return f"{len(idx)} of {size} entries ({text})" if size > 1 else name

    if constant.any():
        problems.append(
            Problem(
                "constant",
                f"{where(constant)}: every draw is identical, so no diagnostic can be computed.",
                "the sampler never moved (every proposal rejected, a zero step size) or the "
                "quantity is fixed by construction.",
                "check the sampler's acceptance rate and step size; leave out quantities that "
                "are constant by design.",
            )
        )
    stuck_any = stuck.any(axis=0) & ~constant
    if stuck_any.any():
        chain_ids = sorted({int(c) for c in np.argwhere(stuck)[:, 0]})
        relative = chain_sd / np.where(typical_sd > 0, typical_sd, np.inf)
        ratio = float(relative[stuck].min())
        problems.append(
            Problem(
                "chain_stuck",
                f"{where(stuck_any)}: chain(s) {chain_ids} barely move (sd down to "
                f"{100 * ratio:.2g}% of a typical chain's).",
                "the sampler rejects almost every proposal there (a step size far too large, "
                "or a narrow region it cannot leave), or the chain got trapped in a mode.",
                "retune the step size (aim for 20-50% acceptance for random-walk Metropolis), "
                "start chains from dispersed points, and rerun; do not use these draws.",
            )
        )
    slow = np.median(chain_ess, axis=0) < t.ess_per_chain  # each chain alone mixes slowly
    disagree = high_rhat & ~stuck_any & ~slow
    if disagree.any():
        spread = np.abs(chain_mean - np.median(chain_mean, axis=0)) / np.where(
            typical_sd > 0, typical_sd, 1.0
        )
        worst = np.unravel_index(np.argmax(np.where(disagree, spread.max(axis=0), -1)), r_hat.shape)
        column = spread[(slice(None), *worst)]
        chain = int(np.argmax(column))
        problems.append(
            Problem(
                "chains_disagree",
                f"{where(disagree)}: R-hat up to {np.nanmax(r_hat[disagree]):.3f} (threshold "
                f"{t.r_hat:g}); chain {chain}'s mean is {column[chain]:.1f} within-chain sds "
                f"from the others' median at {_label(name, tuple(map(int, worst)))}.",
                "the chains have not forgotten their starting points or sit in different modes "
                "(multimodal or poorly identified posterior).",
                "run longer warm-up and more draws; if the gap stays, the posterior is "
                "multimodal or non-identified: reparametrise or add prior information.",
            )
        )
    low = ((low_bulk | low_tail) | (high_rhat & slow)) & ~stuck_any & (slow | ~high_rhat)
    if n_draws * chains < need and (low_bulk | low_tail).any():
        problems.append(
            Problem(
                "too_few_draws",
                f"{chains} chains x {n_draws} draws: fewer draws than the ESS target of {need:g}, "
                "which even independent draws could not reach.",
                "the run is too short for the required precision.",
                f"draw at least {math.ceil(need / chains)} per chain (more if draws are "
                "autocorrelated).",
            )
        )
    elif low.any():
        worst = float(np.nanmin(np.minimum(ess_bulk, ess_tail)[low]))
        tail_only = not (low & low_bulk).any()
        rhat_note = ""
        if (low & high_rhat).any():
            rhat_note = (
                f" R-hat is up to {np.nanmax(r_hat[low & high_rhat]):.3f}: the chains move too "
                "slowly to have explored the same region yet."
            )
        problems.append(
            Problem(
                "high_autocorrelation",
                f"{where(low)}: {'tail ' if tail_only else ''}ESS down to {worst:.0f} of "
                f"{chains * n_draws} draws ({100 * worst / (chains * n_draws):.1f}% efficiency; "
                f"target {need:g})." + rhat_note,
                "successive draws are strongly correlated (steps too small, acceptance too "
                "low, or strongly correlated parameters)"
                + ("; the tails are visited rarely" if tail_only else "")
                + ".",
                "run more draws, tune the proposal (step size, scale matched to the posterior), "
                "or reparametrise; thinning does not add information.",
            )
        )
    return VariableDiagnostics(**values, converged=converged, problems=problems)
