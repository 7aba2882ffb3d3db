"""Choosing the latent dimension q: held-out log-likelihood of ML PPCA against q, and the
dimension Bayesian PCA's ARD prior keeps."""

import numpy as np

from workbench.errors import InputError
from workbench.linear.estimators import PPCA
from workbench.linear.gaussian import check_data

__all__ = ["choose_q"]


def choose_q(X_train, X_test, qs=None, *, ard_max=None, true_q=None, seed=None):
    """Score PPCA(q) fitted on ``X_train`` on ``X_test`` for each q in ``qs``; fit Bayesian PCA
    with ``ard_max`` columns on ``X_train``.

    Past the true dimension the held-out curve is flat up to noise, so its argmax wanders;
    ``best_q`` is the smallest q within one standard error of the maximum (the SE of the
    per-sample paired difference), ``argmax_q`` the plain maximiser.

    Returns a dict: ``q`` (list), ``held_out_log_likelihood`` (mean per test sample, list),
    ``held_out_se`` (standard error of each mean), ``best_q``, ``argmax_q``, ``ard_dimension``,
    ``ard_column_norms`` (|w_j|^2) and ``true_q`` (as given).
    """
    X_train = check_data(X_train, "X_train")
    X_test = check_data(X_test, "X_test", min_samples=1, n_features=X_train.shape[1])
    d = X_train.shape[1]
    qs = list(range(1, min(d - 1, 15) + 1)) if qs is None else [int(q) for q in qs]
    if not qs:
        raise InputError("qs", "at least one q", "none")
    scores = np.array([PPCA(q).fit(X_train).score_samples(X_test) for q in qs])
    held_out = scores.mean(axis=1)
    top = int(np.argmax(held_out))
    diff = scores - scores[top]
    within = diff.mean(axis=1) >= -diff.std(axis=1) / np.sqrt(len(X_test))
    ard = PPCA(ard_max or max(qs), method="ard", random_state=seed).fit(X_train)
    return {
        "q": qs,
        "held_out_log_likelihood": held_out.tolist(),
        "held_out_se": (scores.std(axis=1) / np.sqrt(len(X_test))).tolist(),
        "best_q": int(qs[int(np.argmax(within))]),
        "argmax_q": int(qs[top]),
        "ard_dimension": int(ard.effective_dimension_),
        "ard_column_norms": np.sum(ard.components_**2, axis=1).tolist(),
        "true_q": true_q,
    }
