"""The sparse-coding section of ``workbench demo``: the lasso code is a MAP, the posterior mean
under the same Laplace prior is not sparse; and a dictionary learned on digits."""

import warnings

import numpy as np

__all__ = ["section_sparse_coding"]


def section_sparse_coding(report, seed, **_):
    import models
    from models.builders import dct_dictionary
    from workbench.bayes import Estimator
    from workbench.data import load_dataset
    from workbench.nn.runtime import torch_threads
    from workbench.report import estimate_tables
    from workbench.sizes import run_size
    from workbench.sparse import DictionaryLearning, sparse_code
    from workbench.sparse.plots import plot_atoms, plot_map_and_mean

    spec = models.get_spec("sparse-coding")
    y = models.default_data("sparse-coding")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = Estimator(models.build("sparse-coding"), methods=("map", "cm"),
                           var_names=spec.var_names, name=spec.name).run(seed=seed)  # fmt: skip
    s = spec.settings
    alpha = s["sigma"] ** 2 / s["b"]
    with torch_threads(1):
        fista = sparse_code(y, dct_dictionary(s["n_atoms"], y.size), alpha, tol=1e-12,
                            max_iter=100_000).codes[0]  # fmt: skip
    h_map, h_cm = np.ravel(result.point["map"]["h"]), np.ravel(result.point["cm"]["h"])
    zeros = int((fista == 0).sum())
    report.heading(
        "Sparse coding: the lasso code is a MAP, the posterior mean is not sparse",
        look="exact zeros in the MAP column (FISTA's lasso code) and none in the CM column; "
        "the learned atoms look like strokes.",
    )
    report.paragraph(
        f"One signal of {y.size} samples, {s['n_atoms']} cosine atoms, Gaussian noise "
        f"(sigma {s['sigma']}) and a Laplace({s['b']}) prior on each code. The MAP minimises "
        f"0.5|y - hD|^2 + alpha|h|_1 with alpha = sigma^2/b = {alpha:g}: it is the lasso code, "
        f"and FISTA finds the same one (largest difference {np.abs(h_map - fista).max():.1e}), "
        f"with {zeros} of {fista.size} codes exactly zero. The posterior mean by NUTS has none: "
        "the posterior has no point mass at zero, and where the MAP is zero its mean averages "
        "over the codes that explain the signal nearly as well."
    )
    report.table(*estimate_tables(result))
    report.figure(plot_map_and_mean(h_map, h_cm, result.hdi["h"]),
                  "MAP (the lasso code) and posterior mean per atom; 90% HDI.")  # fmt: skip
    X = load_dataset("digits").X
    n_epochs = run_size(10, 2)
    with torch_threads(1):
        dl = DictionaryLearning(64, alpha=0.3, batch_size=64, n_epochs=n_epochs,
                                random_state=seed).fit(X)  # fmt: skip
    last = dl.history_[-1]
    report.paragraph(
        f"A dictionary of 64 atoms learned on the 1,797 8x8 digits by mini-batch updates "
        f"({n_epochs} epochs, alpha 0.3): {last['nonzero']:.1%} of the codes are nonzero, "
        f"squared error {last['reconstruction_error']:.3f} per image (pixels in [0, 1])."
    )
    report.figure(plot_atoms(dl.components_, (8, 8)), "Learned atoms (red > 0, blue < 0).")
    gap = np.abs(h_map - fista).max()
    return (f"sparse-coding: MAP = FISTA to {gap:.1e}, {zeros}/{fista.size} zeros, none in "
            f"the CM; digits dictionary {last['nonzero']:.1%} nonzero")  # fmt: skip
