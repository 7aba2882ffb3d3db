"""Synthetic data from a known linear factor model, for checking that fits recover the truth.

>>> from workbench.data.synthetic import linear_factor_data
>>> data = linear_factor_data(500, 6, 2, seed=0)   # data.X, data.W, data.b, data.noise_variance
"""

from typing import NamedTuple

import numpy as np

from workbench.errors import InputError

__all__ = ["FactorData", "linear_factor_data"]


class FactorData(NamedTuple):
    """Draws x = W h + b + e with the parameters that made them.

    X : ndarray of shape (n_samples, n_features)
    H : ndarray of shape (n_samples, n_components), the latents
    W : ndarray of shape (n_features, n_components), the loadings
    b : ndarray of shape (n_features,)
    noise_variance : ndarray of shape (n_features,) (all equal for ``noise="isotropic"``)
    """

    X: np.ndarray
    H: np.ndarray
    W: np.ndarray
    b: np.ndarray
    noise_variance: np.ndarray

    @property
    def covariance(self):
        """The true marginal covariance W W^T + diag(noise_variance)."""
        return self.W @ self.W.T + np.diag(self.noise_variance)


def linear_factor_data(
    n_samples, n_features, n_components, *, noise="isotropic", noise_scale=0.5, seed=None
):
    """Sample from a PPCA (``noise="isotropic"``) or factor-analysis (``"diagonal"``) model.

    W has independent N(0, 1) entries with column j scaled by (q - j) / q + 0.5 (so the signal
    directions have distinct strengths), b ~ N(0, 1), and the noise standard deviation is
    ``noise_scale`` (isotropic) or uniform on [0.5, 1.5] times ``noise_scale`` per feature.
    """
    for name, value in (("n_samples", n_samples), ("n_features", n_features),
                        ("n_components", n_components)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(name, "a positive int", repr(value))
    if n_components >= n_features:
        raise InputError("n_components", f"< n_features = {n_features}", n_components)
    if noise not in ("isotropic", "diagonal"):
        raise InputError("noise", "'isotropic' or 'diagonal'", repr(noise))
    if not float(noise_scale) > 0:
        raise InputError("noise_scale", "a positive float", repr(noise_scale))
    rng = np.random.default_rng(seed)
    strength = (n_components - np.arange(n_components)) / n_components + 0.5
    W = rng.standard_normal((n_features, n_components)) * strength
    b = rng.standard_normal(n_features)
    sd = np.full(n_features, float(noise_scale))
    if noise == "diagonal":
        sd *= rng.uniform(0.5, 1.5, n_features)
    H = rng.standard_normal((n_samples, n_components))
    X = H @ W.T + b + rng.standard_normal((n_samples, n_features)) * sd
    return FactorData(X, H, W, b, sd**2)
