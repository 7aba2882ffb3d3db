"""Figures for RBMs and DBNs: image grids, weight filters, learning curves.

Every function returns a matplotlib Figure (Agg canvas, no display needed).
"""

import math

import numpy as np

from workbench.output import new_figure

__all__ = ["plot_filters", "plot_image_rows", "plot_images", "plot_learning_curves"]

CURVES = (
    ("log_likelihood_exact", "log-likelihood (exact), nats"),
    ("pseudo_log_likelihood", "pseudo-log-likelihood"),
    ("reconstruction_error", "reconstruction error (MSE per pixel)"),
    ("free_energy_gap", "free energy: held-out - training"),
    ("chain_rhat", "R-hat of the chains' free energy"),
    ("chain_ess", "ESS of the chains' free energy"),
)


def _side(n_features, image_shape):
    if image_shape is not None:
        return tuple(image_shape)
    side = math.isqrt(n_features)
    return (side, side) if side * side == n_features else (1, n_features)


def plot_images(images, image_shape=None, *, ncols=8, title=None, cmap="gray", symmetric=False):
    """A grid of rows of ``images`` (n, n_features), each reshaped to ``image_shape``."""
    images = np.asarray(images, dtype=float)
    shape = _side(images.shape[1], image_shape)
    nrows = max(1, -(-len(images) // ncols))
    fig = new_figure(1.1 * min(ncols, len(images)), 1.1 * nrows + (0.3 if title else 0))
    axes = fig.subplots(nrows, min(ncols, len(images)), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, image in zip(axes.ravel(), images, strict=False):
        if symmetric:
            limit = np.abs(image).max() or 1.0
            ax.imshow(image.reshape(shape), cmap=cmap, vmin=-limit, vmax=limit)
        else:
            ax.imshow(image.reshape(shape), cmap=cmap, vmin=min(0.0, image.min()),
                      vmax=max(1.0, image.max()))  # fmt: skip
    if title:
        fig.suptitle(title)
    return fig


def plot_filters(weights, image_shape=None, *, n_filters=64, ncols=8):
    """The weights into each hidden unit as an image: ``weights`` (n_visible, n_hidden)."""
    weights = np.asarray(weights)
    return plot_images(weights.T[:n_filters], image_shape, ncols=ncols, cmap="RdBu_r",
                       symmetric=True, title="filters: weights into each hidden unit")  # fmt: skip


def plot_image_rows(rows, image_shape=None, *, n_images=8):
    """One row of images per entry of ``rows`` ({label: images (n, n_features)})."""
    labels = list(rows)
    n = min(n_images, min(len(v) for v in rows.values()))
    first = np.asarray(rows[labels[0]])
    shape = _side(first.shape[1], image_shape)
    fig = new_figure(1.1 * n + 1.2, 1.15 * len(labels))
    axes = fig.subplots(len(labels), n, squeeze=False)
    for r, label in enumerate(labels):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(np.asarray(rows[label][c], dtype=float).reshape(shape), cmap="gray",
                      vmin=0.0, vmax=1.0)  # fmt: skip
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    return fig


def plot_learning_curves(histories, *, optimum=None):
    """Monitors against epoch. ``histories``: a history list, or {label: history} to compare
    runs. ``optimum``: a horizontal reference line on the log-likelihood panel."""
    if not isinstance(histories, dict):
        histories = {"": histories}
    present = [
        (key, label)
        for key, label in CURVES
        if any(r.get(key) is not None for h in histories.values() for r in h)
    ]
    ncols = min(3, max(1, len(present)))
    nrows = max(1, -(-len(present) // ncols))
    fig = new_figure(4.2 * ncols, 3.0 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(present) :]:
        ax.set_axis_off()
    for ax, (key, label) in zip(axes, present, strict=False):
        for name, history in histories.items():
            points = [(r["epoch"], r[key]) for r in history if r.get(key) is not None]
            if points:
                train_label = name or ("training" if key == "log_likelihood_exact" else None)
                ax.plot(*zip(*points, strict=True), marker=".", label=train_label)
            if key == "log_likelihood_exact":
                val = [(r["epoch"], r["log_likelihood_exact_val"]) for r in history
                       if r.get("log_likelihood_exact_val") is not None]  # fmt: skip
                if val:
                    ax.plot(*zip(*val, strict=True), ls="--", marker=".",
                            label=f"{name} held-out".strip())  # fmt: skip
        if key == "log_likelihood_exact" and optimum is not None:
            ax.axhline(optimum, color="black", lw=0.8, ls=":", label="optimum")
        if key == "chain_rhat":  # the convergence rule's R-hat bound
            from workbench.diagnostics.convergence import Thresholds

            ax.axhline(Thresholds().r_hat, color="black", lw=0.8, ls=":")
        ax.set_xlabel("epoch")
        ax.set_title(label, fontsize=10)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    return fig
