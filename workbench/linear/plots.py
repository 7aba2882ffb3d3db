"""Figures for linear factor models: eigen-spectrum with the noise level, 2-D latent
projection coloured by label, image reconstructions, and choosing q. Each returns a
``matplotlib.figure.Figure``; pyplot and its backend are left alone."""

import numpy as np

from workbench.output import new_figure

__all__ = ["plot_choose_q", "plot_latent", "plot_reconstructions", "plot_spectrum"]


def plot_spectrum(model, max_shown=100):
    """Eigenvalues of the sample covariance (log scale) with the fitted PPCA noise variance."""
    eig = model.eigenvalues_[:max_shown]
    fig = new_figure(6.5, 3.8)
    ax = fig.subplots()
    ax.semilogy(np.arange(1, eig.size + 1), np.maximum(eig, 1e-12), "o-", ms=3, lw=1,
                label="sample covariance eigenvalues")  # fmt: skip
    ax.axhline(model.noise_variance_, color="tab:red", ls="--",
               label=f"noise variance s² = {model.noise_variance_:.3g}")  # fmt: skip
    ax.axvline(model.n_components_ + 0.5, color="0.4", ls=":", label=f"q = {model.n_components_}")
    ax.set_xlabel("index")
    ax.set_ylabel("eigenvalue")
    ax.set_title("Eigen-spectrum: PPCA keeps the top q, averages the rest into s²")
    ax.legend(fontsize=8)
    return fig


def plot_latent(model, X, y=None, classes=None, max_points=5000, seed=None):
    """First two coordinates of E[h | x], coloured by label when ``y`` is given; at most
    ``max_points`` rows, drawn at random with ``seed`` (None: fresh entropy) when X has more."""
    rows = np.arange(len(X))
    if len(X) > max_points:
        rows = np.random.default_rng(seed).choice(len(X), max_points, replace=False)
    H = model.transform(X[rows])
    fig = new_figure(5.5, 5)
    ax = fig.subplots()
    second = H[:, 1] if H.shape[1] > 1 else np.zeros(len(H))
    if y is None:
        ax.scatter(H[:, 0], second, s=4, alpha=0.5)
    else:
        labels = np.asarray(y)[rows]
        scatter = ax.scatter(H[:, 0], second, c=labels, cmap="tab10", s=4, alpha=0.6)
        names = [classes[i] if classes else str(i) for i in np.unique(labels)]
        handles = scatter.legend_elements()[0]
        ax.legend(handles, names, fontsize=7, markerscale=0.8, loc="best")
    ax.set_xlabel("E[h₁ | x]")
    ax.set_ylabel("E[h₂ | x]")
    ax.set_title("Latent projection (posterior means)")
    return fig


def plot_reconstructions(originals, reconstructions, image_shape, n_shown=8):
    """Top row: images; bottom row: their reconstructions W E[h | x] + b."""
    n_shown = min(n_shown, len(originals))
    fig = new_figure(1.3 * n_shown, 2.8)
    axes = fig.subplots(2, n_shown, squeeze=False)
    for j in range(n_shown):
        for row, images in enumerate((originals, reconstructions)):
            ax = axes[row, j]
            ax.imshow(np.asarray(images[j]).reshape(image_shape), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("data")
    axes[1, 0].set_ylabel("recon.")
    return fig


def plot_choose_q(selection):
    """Held-out log-likelihood against q, with the ARD effective dimension marked."""
    fig = new_figure(6.5, 3.8)
    ax = fig.subplots()
    qs, ll = selection["q"], selection["held_out_log_likelihood"]
    ax.errorbar(qs, ll, yerr=selection.get("held_out_se"), fmt="o-", capsize=2,
                label="held-out log-likelihood per sample (PPCA, ML) ± SE")  # fmt: skip
    ax.axvline(selection["best_q"], color="tab:green", ls="--",
               label=f"held-out choice (1-SE rule) q = {selection['best_q']}")  # fmt: skip
    ax.axvline(selection["ard_dimension"], color="tab:red", ls=":",
               label=f"ARD effective dimension = {selection['ard_dimension']}")  # fmt: skip
    if selection.get("true_q") is not None:
        ax.axvline(
            selection["true_q"], color="0.3", lw=0.8, label=f"true q = {selection['true_q']}"
        )
    ax.set_xlabel("q (number of components)")
    ax.set_ylabel("mean log-likelihood")
    ax.set_title("Choosing q")
    ax.legend(fontsize=8)
    return fig
