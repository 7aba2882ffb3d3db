"""Figures for estimates: each parameter's posterior with MAP, ML, CM, CM-ML and the HDI."""

import numpy as np

__all__ = ["STYLE", "plot_estimates"]

STYLE = {
    "map": {"color": "tab:red", "label": "MAP", "marker": "v", "ls": "-"},
    "ml": {"color": "tab:green", "label": "ML", "marker": "^", "ls": "--"},
    "cm": {"color": "black", "label": "CM", "marker": "o", "ls": "-"},
    "cm_ml": {"color": "tab:purple", "label": "CM-ML", "marker": "s", "ls": ":"},
    "laplace": {"color": "tab:orange", "label": "Laplace", "marker": "D", "ls": "-."},
    "advi": {"color": "tab:brown", "label": "ADVI", "marker": "<", "ls": "-."},
    "fullrank_advi": {"color": "tab:olive", "label": "full-rank ADVI", "marker": ">", "ls": "-."},
    "pathfinder": {"color": "tab:cyan", "label": "Pathfinder", "marker": "P", "ls": "-."},
}


def _density(draws, grid):
    from scipy.stats import gaussian_kde

    if np.ptp(draws) == 0:
        return np.zeros_like(grid)
    return gaussian_kde(draws)(grid)


def plot_estimates(result, var_names=None, max_panels=8):
    """One panel per parameter: a density for scalars, estimates against index for vectors.

    Returns a ``matplotlib.figure.Figure`` (pyplot and its backend are left alone). Estimates
    far off the posterior's scale (a wild ML, say) are drawn at the panel's edge with an arrow
    and their value.
    """
    from matplotlib.figure import Figure

    names = list(var_names or result.var_names)[:max_panels]
    fig = Figure(figsize=(7.5, 2.8 * len(names)), layout="constrained")
    axes = fig.subplots(len(names), 1, squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        estimates = {m: result.point[m].get(name) for m in result.point if result.point[m]}
        estimates = {m: np.asarray(v, float) for m, v in estimates.items() if v is not None}
        estimates = {m: v for m, v in estimates.items() if np.isfinite(v).any()}  # no MAP: NaN
        draws = None
        if result.posterior is not None:
            draws = np.asarray(result.posterior["posterior"][name].values, float)
        shape = next(iter(estimates.values())).shape if estimates else ()
        if not estimates and draws is None:
            ax.text(0.5, 0.5, f"{name}: no estimate", ha="center", transform=ax.transAxes)
        elif shape == ():
            _scalar_panel(ax, name, draws, estimates, result)
        else:
            _vector_panel(ax, name, draws, estimates, result)
    axes[0, 0].set_title(
        f"{result.model_name}: estimates ({int(result.hdi_prob * 100)}% HDI shaded)"
    )
    return fig


def _scalar_panel(ax, name, draws, estimates, result):
    if draws is not None:
        flat = draws.ravel()
        lo, hi = np.quantile(flat, [0.001, 0.999])
        pad = 0.15 * (hi - lo + 1e-12)
        grid = np.linspace(lo - pad, hi + pad, 400)
        ax.plot(grid, _density(flat, grid), color="0.3", lw=1.5, label="posterior")
        if result.flat_posterior is not None and name in result.flat_posterior["posterior"]:
            flat_draws = np.asarray(result.flat_posterior["posterior"][name].values).ravel()
            ax.plot(
                grid,
                _density(flat_draws, grid),
                color="tab:purple",
                lw=1,
                ls=":",
                label="normalised likelihood",
            )
        lo_h, hi_h = result.hdi[name]
        ax.axvspan(float(lo_h), float(hi_h), color="tab:blue", alpha=0.15, label="HDI")
        ax.set_xlim(grid[0], grid[-1])
    left, right = ax.get_xlim()
    for method, value in estimates.items():
        if not np.isfinite(value):
            continue
        style = STYLE[method]
        shown = float(np.clip(value, left, right))
        label = style["label"] + ("" if shown == value else f" = {float(value):.3g} (off scale)")
        ax.axvline(shown, color=style["color"], ls=style["ls"], lw=1.8, label=label)
    ax.set_xlabel(name)
    ax.set_ylabel("density")
    ax.legend(fontsize=8, loc="best")


def _vector_panel(ax, name, draws, estimates, result):
    first = next(iter(estimates.values()))
    index = np.arange(first.size)
    if draws is not None:
        lo_h, hi_h = (np.ravel(b) for b in result.hdi[name])
        ax.fill_between(index, lo_h, hi_h, color="tab:blue", alpha=0.15, step="mid", label="HDI")
        span = hi_h.max() - lo_h.min()
        bottom, top = lo_h.min() - 0.5 * span, hi_h.max() + 0.5 * span
    else:
        stacked = np.concatenate([np.ravel(v) for v in estimates.values()])
        bottom, top = np.nanmin(stacked), np.nanmax(stacked)
    for method, value in estimates.items():
        style = STYLE[method]
        value = np.ravel(value)
        off = (value < bottom) | (value > top)
        label = style["label"] + (f" ({off.sum()} off scale)" if off.any() else "")
        ax.plot(
            index,
            np.clip(value, bottom, top),
            color=style["color"],
            ls=style["ls"],
            marker=style["marker"],
            ms=3.5,
            lw=1.2,
            label=label,
        )
    ax.set_ylim(bottom, top)
    ax.set_xlabel(f"{name} index")
    ax.set_ylabel(name)
    ax.legend(fontsize=8, loc="best", ncols=3)
