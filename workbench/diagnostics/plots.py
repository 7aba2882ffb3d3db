"""Diagnostic figures through arviz_plots, and saving a report with its figures.

Kinds: ``trace`` (traces with per-chain densities), ``rank`` (rank ECDF-difference per chain),
``autocorr``, ``ess`` (ESS evolution: bulk and tail ESS as draws accumulate), ``energy`` (marginal
and transition energy with E-BFMI; only for samplers that record energy).
"""

from pathlib import Path

import numpy as np
import xarray as xr

from workbench.output import atomic_path, write_json

__all__ = ["KINDS", "available_kinds", "plot_diagnostics", "save_report"]

KINDS = ("trace", "rank", "autocorr", "ess", "energy")


def _worst_entries(report, name, da, max_components):
    """``da`` (chain, draw, *shape) reduced to its ``max_components`` worst entries, flattened
    to one dim labelled like ``x[2,1]`` (scalars pass through)."""
    shape = da.shape[2:]
    if not shape:
        return da
    diag = report.variables[name]
    rhat = np.where(np.isnan(diag.r_hat), np.inf, diag.r_hat).ravel()
    ess = np.nan_to_num(np.minimum(diag.ess_bulk, diag.ess_tail), nan=-1.0).ravel()
    order = sorted(np.lexsort((ess, -rhat))[:max_components])
    flat = da.values.reshape(da.shape[0], da.shape[1], -1)[:, :, order]
    labels = [",".join(map(str, np.unravel_index(i, shape))) for i in order]
    dim = f"{name}_entry"
    return xr.DataArray(
        flat,
        dims=("chain", "draw", dim),
        coords={"chain": da["chain"].values, "draw": da["draw"].values, dim: labels},
    )


def _plot_tree(report, var_names, limit):
    posterior = report.tree[report.group].to_dataset()
    names = list(var_names or report.variables)
    unknown = [n for n in names if n not in report.variables]
    if unknown:
        raise ValueError(
            f"var_names: {unknown} not diagnosed; available: {', '.join(report.variables)}"
        )
    reduced = xr.Dataset(
        {
            n: _worst_entries(report, n, posterior[n].transpose("chain", "draw", ...), limit)
            for n in names
        }
    ).astype(float)
    groups = {"posterior": reduced}
    if "sample_stats" in report.tree.children:
        groups["sample_stats"] = report.tree["sample_stats"].to_dataset()
    return xr.DataTree.from_dict(groups)


def plot_diagnostics(report, kind, *, var_names=None, max_components=4, backend="matplotlib"):
    """Draw one diagnostic figure of ``report``; returns the arviz_plots ``PlotCollection``."""
    import arviz_plots as azp

    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    tree = _plot_tree(report, var_names, max_components)
    if kind == "energy":
        stats = tree.children.get("sample_stats")
        if stats is None or "energy" not in stats.dataset:
            raise ValueError(
                "kind='energy': these draws record no energy (only Hamiltonian samplers such as "
                "NUTS do); choose one of trace, rank, autocorr, ess"
            )
        return azp.plot_energy(tree, threshold=report.thresholds.bfmi, backend=backend)
    if kind == "trace":
        return azp.plot_trace_dist(tree, backend=backend)
    if kind == "rank":
        return azp.plot_rank(tree, backend=backend)
    if kind == "autocorr":
        return azp.plot_autocorr(tree, backend=backend)
    return azp.plot_ess_evolution(
        tree, min_ess=report.thresholds.ess_per_chain * report.chains, backend=backend
    )


def available_kinds(report):
    """The figure kinds that apply to ``report`` (energy only when energy was recorded)."""
    has_energy = (
        "sample_stats" in report.tree.children and "energy" in report.tree["sample_stats"].dataset
    )
    return [k for k in KINDS if k != "energy" or has_energy]


def save_report(report, out_dir, kinds=None):
    """Write ``diagnostics.json`` and ``<kind>.png`` figures under ``out_dir`` atomically."""
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    paths = {"json": write_json(out / "diagnostics.json", report.to_dict())}
    for kind in kinds or available_kinds(report):
        collection = plot_diagnostics(report, kind)
        with atomic_path(out / f"{kind}.png") as tmp:
            collection.savefig(tmp, dpi=90)
        plt.close(collection.get_viz("figure"))  # only this figure, not the caller's
        paths[kind] = out / f"{kind}.png"
    return {k: str(v) for k, v in paths.items()}
