"""Figures for sparse coding: atoms, training curves, MAP against posterior mean.

Every function returns a matplotlib Figure (Agg canvas, no pyplot)."""

import numpy as np

from workbench.nn.rbm.plots import plot_images
from workbench.output import new_figure

__all__ = ["plot_atoms", "plot_map_and_mean", "plot_training"]


def plot_atoms(atoms, image_shape=None, *, n_atoms=64, ncols=8):
    """The first ``n_atoms`` rows of ``atoms`` (n_atoms, n_features) as images (red > 0)."""
    atoms = np.asarray(atoms)[:n_atoms]
    return plot_images(atoms, image_shape, ncols=ncols, cmap="RdBu_r", symmetric=True,
                       title="dictionary atoms")  # fmt: skip


def plot_training(history):
    """Objective (batches as coded, and the monitor rows after each epoch) and the fraction of
    nonzero codes per epoch, from ``DictionaryLearning.history_``."""
    epochs = [h["epoch"] for h in history]
    fig = new_figure(8.0, 3.0)
    left, right = fig.subplots(1, 2)
    left.plot(epochs, [h.get("train_loss") for h in history], "o-", label="mini-batches")
    left.plot(epochs, [h["objective"] for h in history], "s-", label="monitor rows, after")
    left.set(xlabel="epoch", ylabel="0.5|x - hD|^2 + alpha|h|_1 per row", title="objective")
    left.legend()
    right.plot(epochs, [h["nonzero"] for h in history], "o-")
    right.set(xlabel="epoch", ylabel="fraction of nonzero codes", title="sparsity")
    return fig


def plot_map_and_mean(h_map, h_cm, interval=None):
    """Per atom: the MAP (the lasso code) and the posterior mean, with an optional interval
    ``(low, high)`` for the posterior."""
    h_map, h_cm = np.ravel(h_map), np.ravel(h_cm)
    k = np.arange(h_map.size)
    fig = new_figure(7.0, 3.0)
    ax = fig.subplots()
    if interval is not None:
        low, high = (np.ravel(v) for v in interval)
        ax.vlines(k + 0.15, low, high, color="C1", alpha=0.5, lw=4, label="90% HDI")
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.plot(k - 0.15, h_map, "o", color="C0", label="MAP (lasso code)")
    ax.plot(k + 0.15, h_cm, "s", color="C1", label="posterior mean")
    ax.set(xlabel="atom", ylabel="code", xticks=k)
    ax.legend(fontsize="small")
    return fig
