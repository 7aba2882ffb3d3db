"""What :class:`~workbench.bayes.estimators.Estimator` returns: :class:`EstimateResult`, the
estimates of one model with their intervals and diagnostics, as a table, a figure, JSON or
files."""

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["METHODS", "EstimateResult"]

METHODS = ("map", "ml", "cm", "cm_ml")  # the default set


@dataclass
class EstimateResult:
    """Estimates of one model. ``point[method][name]`` holds each point estimate as an array;
    ``sd``, ``mcse``, ``hdi`` (lo, hi), ``r_hat``, ``ess_bulk``, ``ess_tail`` summarise the
    posterior draws in ``posterior`` (an ArviZ DataTree); ``diagnostics`` is the
    :func:`~workbench.diagnostics.diagnose` report of those draws as a dict (what ``workbench
    diagnose posterior.nc --json`` prints); ``flat_posterior`` holds the flat-prior draws.
    ``method_diagnostics[method]`` holds the optimiser report of ``map``/``ml`` (starts,
    status, gradient norm, spread, whether a mode exists) and the k-hat report of each
    approximation, whose sd and interval are in ``approx_sd`` / ``approx_interval`` and whose
    :class:`~workbench.bayes.approx.Approximation` objects are in ``approximations``."""

    model_name: str
    var_names: list
    methods: tuple
    hdi_prob: float
    point: dict
    sd: dict = field(default_factory=dict)
    mcse: dict = field(default_factory=dict)
    hdi: dict = field(default_factory=dict)
    r_hat: dict = field(default_factory=dict)
    ess_bulk: dict = field(default_factory=dict)
    ess_tail: dict = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    posterior: object = None
    flat_posterior: object = None
    settings: dict = field(default_factory=dict)
    method_diagnostics: dict = field(default_factory=dict)
    approx_sd: dict = field(default_factory=dict)
    approx_interval: dict = field(default_factory=dict)
    approximations: dict = field(default_factory=dict)

    def to_dict(self):
        """Plain-JSON summary: ``{"model", "estimates": {name: {...}}, "diagnostics", ...}``."""

        def plain(value):
            if value is None:
                return None
            arr = np.asarray(value, dtype=float)
            out = np.where(np.isfinite(arr), arr, np.nan).tolist()
            return _nan_to_none(out)

        estimates = {}
        for name in self.var_names:
            entry = {method: plain(self.point.get(method, {}).get(name)) for method in METHODS}
            hdi = self.hdi.get(name)
            entry.update(
                sd=plain(self.sd.get(name)),
                mcse=plain(self.mcse.get(name)),
                hdi=None if hdi is None else [plain(hdi[0]), plain(hdi[1])],
                hdi_prob=self.hdi_prob,
                r_hat=plain(self.r_hat.get(name)),
                ess_bulk=plain(self.ess_bulk.get(name)),
                ess_tail=plain(self.ess_tail.get(name)),
            )
            for method in self.approximations:
                lo, hi = self.approx_interval[method][name]
                entry[method] = plain(self.point[method][name])
                entry[f"{method}_sd"] = plain(self.approx_sd[method][name])
                entry[f"{method}_interval"] = [plain(lo), plain(hi)]
            estimates[name] = entry
        return {
            "model": self.model_name,
            "estimates": estimates,
            "diagnostics": {**self.diagnostics, **self.method_diagnostics},
            "warnings": list(self.warnings),
            "settings": self.settings,
        }

    def table(self, max_components=12):
        """A text table: one row per scalar (vector parameters row by row, up to a limit)."""
        from workbench.report import format_table

        return format_table(self, max_components=max_components)

    def plot(self, **kwargs):
        """Posterior densities with the four estimates and the HDI marked; a matplotlib Figure."""
        from workbench.plots import plot_estimates

        return plot_estimates(self, **kwargs)

    def save(self, out_dir):
        """Write ``estimates.json``, ``estimates.png`` and ``posterior.nc`` (and the flat-prior
        draws) under ``out_dir``, atomically; returns the written paths."""
        from workbench.report import save_result

        return save_result(self, out_dir)


def _nan_to_none(value):
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return None if isinstance(value, float) and math.isnan(value) else value
