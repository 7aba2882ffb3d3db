"""The PPCA section of ``workbench demo``: ML vs EM on a known model, choosing q, digits."""

import numpy as np

__all__ = ["section_ppca"]


def section_ppca(report, seed, **_):
    """Closed form vs EM vs ARD on synthetic data with q = 3, then PPCA on the digits."""
    from workbench.data import linear_factor_data, load_dataset
    from workbench.linear import PPCA
    from workbench.linear.plots import plot_choose_q, plot_latent, plot_spectrum
    from workbench.linear.selection import choose_q

    truth = linear_factor_data(5000, 12, 3, seed=seed)
    train, test = truth.X[:3000], truth.X[3000:]
    closed = PPCA(3).fit(train)
    em = PPCA(3, method="em", random_state=seed).fit(train)
    selection = choose_q(train, test, range(1, 10), ard_max=11, true_q=3, seed=seed)
    ww = truth.W @ truth.W.T
    err = np.linalg.norm(closed.components_.T @ closed.components_ - ww) / np.linalg.norm(ww)
    from workbench.report import Table

    report.heading(
        "Probabilistic PCA: closed form, EM, and choosing q",
        look="closed form and EM reach the same log-likelihood; the held-out curve peaks at "
        "q = 3 and ARD agrees.",
    )
    report.paragraph(
        "3,000 draws (and 2,000 held out) of x = W h + b + e with 12 features, 3 latent "
        "factors and noise variance "
        f"{truth.noise_variance[0]:.3g}. The closed form (eigen-decomposition of the sample "
        "covariance) and EM reach the same likelihood; EM needs many iterations to get there. "
        "Held-out log-likelihood against q and Bayesian PCA's ARD prior both point at 3."
    )
    rows = [
        ["closed form", closed.log_likelihood_, closed.noise_variance_, None],
        ["EM", em.log_likelihood_, em.noise_variance_, em.n_iter_],
        ["truth", None, float(truth.noise_variance[0]), None],
    ]
    columns = ["fit", "mean log-lik", "noise variance", "iterations"]
    formats = {"mean log-lik": ".6f", "noise variance": ".5f"}
    notes = [f"relative error of W W^T (closed form): {err:.3f}"]
    report.table(Table(columns, rows, formats=formats, notes=notes))
    report.figure(plot_choose_q(selection), "Held-out log-likelihood against q; ARD's answer.")
    digits = load_dataset("digits", split="train")
    model = PPCA(10).fit(digits.X)
    report.figure(plot_spectrum(model), "Digits: covariance eigenvalues and the PPCA noise level.")
    report.figure(
        plot_latent(model, digits.X, digits.y, digits.classes, seed=seed),
        "Digits: first two latent coordinates E[h | x], coloured by digit.",
    )
    return (
        f"ppca: closed {closed.log_likelihood_:.5f} vs EM {em.log_likelihood_:.5f} "
        f"({em.n_iter_} its); best held-out q {selection['best_q']}, ARD "
        f"{selection['ard_dimension']} (true 3)"
    )
