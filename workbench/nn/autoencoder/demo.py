"""The autoencoder section of ``workbench demo``: a linear autoencoder finds PCA's optimum."""

import numpy as np

__all__ = ["section_autoencoder"]


def section_autoencoder(report, seed, **_):
    from workbench.data import load_dataset
    from workbench.nn.autoencoder.estimator import Autoencoder
    from workbench.nn.autoencoder.plots import plot_reconstructions
    from workbench.nn.runtime import torch_threads

    train, test = (load_dataset("digits", split=part) for part in ("train", "test"))
    k = 4
    eigenvalues = np.linalg.eigvalsh(np.cov(train.X.T, bias=True))[::-1]
    optimum = eigenvalues[k:].sum()
    with torch_threads(1):  # tiny model: one thread, immune to a busy machine
        ae = Autoencoder(k, kind="linear", n_epochs=20, batch_size=64, learning_rate=5e-2,
                         random_state=seed).fit(train.X)  # fmt: skip
    error = ae.reconstruction_error(train.X)
    report.heading(
        "Autoencoders: a linear one is PCA",
        look="the training error ends just above the PCA optimum, never below it.",
    )
    report.paragraph(
        f"A linear autoencoder with a {k}-unit code, trained by gradient descent on the 8x8 "
        "digits, cannot beat principal component analysis: the smallest mean squared "
        "reconstruction error per image is the sum of the discarded eigenvalues of the data "
        f"covariance, {optimum:.4f}. Training gets to {error:.4f} "
        f"({100 * (error / optimum - 1):.2f}% above it)."
    )
    report.figure(plot_reconstructions(test.X, ae.reconstruct(test.X), test.image_shape),
                  f"Held-out digits and their {k}-unit linear reconstructions.")  # fmt: skip
    return f"autoencoder (digits, linear, code {k}): error {error:.4f}, PCA optimum {optimum:.4f}"
