"""Figures for CNN runs: learning curves, confusion matrix, first-layer filters, feature maps.

Each function returns a matplotlib Figure (save it with ``fig.savefig`` or put it in an
:class:`~workbench.report.HtmlReport`).
"""

import numpy as np

from workbench.output import new_figure

__all__ = [
    "confusion_matrix",
    "plot_confusion",
    "plot_feature_maps",
    "plot_filters",
    "plot_learning_curves",
]


def _figure(nrows=1, ncols=1, *, figsize, squeeze=True):
    """(fig, axes) outside pyplot, as ``plt.subplots`` would give them."""
    fig = new_figure(*figsize)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def confusion_matrix(y_true, y_pred, n_classes):
    """Counts C[i, j] of images of class i predicted as j, shape (n_classes, n_classes)."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    flat = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def plot_learning_curves(history):
    """Training and validation loss, and validation accuracy, per epoch."""
    fig, (ax_loss, ax_acc) = _figure(1, 2, figsize=(9, 3.4))
    epochs = [h["epoch"] for h in history]
    ax_loss.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    if history and "val_loss" in history[0]:
        ax_loss.plot(epochs, [h["val_loss"] for h in history], "s-", label="validation")
        ax_acc.plot(epochs, [h["val_accuracy"] for h in history], "s-", color="C1")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_loss.legend()
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="validation accuracy")
    return fig


def plot_confusion(y_true, y_pred, classes):
    """Row-normalised confusion matrix with counts in the cells."""
    n = len(classes)
    counts = confusion_matrix(y_true, y_pred, n)
    rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    fig, ax = _figure(figsize=(6.5, 5.5))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i, j in np.ndindex(counts.shape):
        if counts[i, j]:
            ax.text(
                j,
                i,
                counts[i, j],
                ha="center",
                va="center",
                fontsize=7,
                color="white" if rates[i, j] > 0.5 else "black",
            )
    ax.set_xticks(range(n), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), classes, fontsize=8)
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set(xlabel="predicted", ylabel="true", title=f"confusion matrix (accuracy {accuracy:.4f})")
    fig.colorbar(image, ax=ax, label="share of the true class")
    return fig


def _first_conv(network):
    from torch import nn

    return next(m for m in network.modules() if isinstance(m, nn.Conv2d))


def plot_filters(network):
    """The first convolution's filters (input channel 0), each on its own symmetric scale."""
    weights = _first_conv(network).weight.detach().cpu().numpy()[:, 0]  # (filters, F, F)
    fig, axes = _figure(1, len(weights), figsize=(1.4 * len(weights), 1.7), squeeze=False)
    for k, (ax, w) in enumerate(zip(axes[0], weights, strict=True)):
        limit = np.abs(w).max() or 1.0
        ax.imshow(w, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"filter {k + 1}", fontsize=8)
        ax.axis("off")
    fig.suptitle("first-layer filters (red +, blue -)", fontsize=9)
    return fig


def plot_feature_maps(classifier, image):
    """One input image and the feature maps after each convolution (ReLU) and pooling."""
    maps = [(name, a) for name, a in classifier.feature_maps(image) if a.ndim == 3]
    keep = [(n, a) for n, a in maps if n in ("ReLU", "MaxPool2d")]
    rows = 1 + len(keep)
    cols = max(a.shape[0] for _, a in keep)
    fig, axes = _figure(rows, cols, figsize=(1.1 * cols, 1.2 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].imshow(maps[0][1][0], cmap="gray_r")
    axes[0, 0].set_title("input", fontsize=8)
    for r, (name, act) in enumerate(keep, start=1):
        for c, channel in enumerate(act):
            axes[r, c].imshow(channel, cmap="viridis")
        label = "conv + ReLU" if name == "ReLU" else "max-pool"
        axes[r, 0].set_title(f"{label} {act.shape[1]}x{act.shape[2]}", fontsize=7, loc="left")
    return fig
