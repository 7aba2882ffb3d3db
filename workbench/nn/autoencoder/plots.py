"""Figures for autoencoders: reconstructions, the code space, first-layer filters, and the
denoising field r(x) - x against a score field. Image grids come from
:mod:`workbench.nn.rbm.plots`. Every function returns a matplotlib Figure (no pyplot)."""

import numpy as np

from workbench.nn.rbm.plots import plot_filters, plot_image_rows
from workbench.output import new_figure

__all__ = ["plot_code_scatter", "plot_filters", "plot_reconstructions", "plot_score_field"]


def plot_reconstructions(X, reconstructions, image_shape=None, *, n_images=10):
    """Data (top row) over their reconstructions (bottom row); rows (n, n_features)."""
    return plot_image_rows({"data": X, "reconstruction": reconstructions}, image_shape,
                           n_images=n_images)  # fmt: skip


def plot_code_scatter(codes, labels=None, *, title="code space"):
    """The first two code units of each row (codes (n, k), k >= 2), or the codes' two leading
    principal components when k > 2; coloured by ``labels`` (n,) when given."""
    codes = np.asarray(codes, dtype=float)
    axes_names = ("code 1", "code 2")
    if codes.shape[1] > 2:
        centred = codes - codes.mean(0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        codes, axes_names = centred @ vt[:2].T, ("code PC 1", "code PC 2")
    elif codes.shape[1] == 1:
        codes = np.column_stack([codes[:, 0], np.zeros(len(codes))])
    fig = new_figure(5.2, 4.4)
    ax = fig.subplots()
    points = ax.scatter(codes[:, 0], codes[:, 1], c=labels, s=6, cmap="tab10", alpha=0.8)
    if labels is not None:
        fig.colorbar(points, ax=ax, label="label")
    ax.set(xlabel=axes_names[0], ylabel=axes_names[1], title=title)
    return fig


def plot_score_field(points, field, score, *, data=None, title=None):
    """Arrows of the denoising field ``field`` = r(x) - x and of ``score`` (e.g. noise^2 grad
    log p) at ``points`` (n, 2), with the training ``data`` (m, 2) behind them."""
    fig = new_figure(6.0, 5.0)
    ax = fig.subplots()
    if data is not None:
        ax.scatter(data[:, 0], data[:, 1], s=2, color="0.75", label="data")
    x, y = points[:, 0], points[:, 1]
    ax.quiver(x, y, field[:, 0], field[:, 1], color="C0", angles="xy", scale_units="xy",
              scale=1, width=0.004, label="r(x) - x")  # fmt: skip
    ax.quiver(x, y, score[:, 0], score[:, 1], color="C3", angles="xy", scale_units="xy",
              scale=1, width=0.002, alpha=0.8, label="noise² ∇ log p")  # fmt: skip
    ax.set(aspect="equal", title=title or "denoising field against the score")
    ax.legend(loc="upper right", fontsize=8)
    return fig
