"""Generative features for classification: RBM hidden units + logistic regression.

The RBM is trained without labels (by persistent contrastive divergence in scikit-learn's
``BernoulliRBM``); a logistic regression then reads the labels off the hidden-unit
probabilities p(h = 1 | v). This is the generative counterpart of the CNN: the features model
the images, not the decision. (scikit-learn's trainer, not the workbench's Torch RBM: an
independent reference to compare the workbench's features with.)
"""

from typing import NamedTuple

import numpy as np

__all__ = ["RBMBaseline", "rbm_logistic_baseline"]


class RBMBaseline(NamedTuple):
    test_accuracy: float
    pixel_accuracy: float  # logistic regression on the raw pixels, same split, for reference
    model: object  # fitted sklearn Pipeline (rbm -> logistic)
    seconds: float


def rbm_logistic_baseline(
    X_train, y_train, X_test, y_test, *, n_components=256, n_iter=20, learning_rate=0.05, seed=0
):
    """Fit BernoulliRBM (pixels in [0, 1]) then LogisticRegression on its hidden
    probabilities; returns test accuracy, the raw-pixel logistic accuracy and the pipeline."""
    import time

    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import BernoulliRBM
    from sklearn.pipeline import Pipeline

    X_train, X_test = np.asarray(X_train, float), np.asarray(X_test, float)
    for name, X in (("X_train", X_train), ("X_test", X_test)):
        if X.ndim != 2 or len(X) == 0 or X.min() < 0 or X.max() > 1:
            raise ValueError(f"{name}: expected a non-empty (n, pixels) array in [0, 1], got "
                             f"shape {X.shape}")  # fmt: skip
    tick = time.perf_counter()
    rbm = BernoulliRBM(
        n_components=n_components, learning_rate=learning_rate, n_iter=n_iter, random_state=seed
    )
    model = Pipeline([("rbm", rbm), ("logistic", LogisticRegression(C=10.0, max_iter=2000))])
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - tick
    pixels = LogisticRegression(C=1.0, max_iter=2000).fit(X_train, y_train)
    return RBMBaseline(
        float(model.score(X_test, y_test)), float(pixels.score(X_test, y_test)), model, seconds
    )
