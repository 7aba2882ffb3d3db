"""The catalogue's built-in data sets: ``make(rng)`` functions named by :class:`models.ModelSpec`.

Kept apart from :mod:`models` so that listing the catalogue imports neither NumPy nor PyMC.
"""

import numpy as np

from models.builders import blur_matrix, dct_dictionary

# Rubin (1981): coaching effects in eight schools, estimate and standard error
EIGHT_SCHOOLS = np.array(
    [[28, 15], [8, 10], [-3, 16], [7, 11], [-1, 9], [1, 11], [18, 10], [12, 18]], dtype=float
)


def normal_sample(rng):
    return 1.0 + 2.0 * rng.normal(size=6)


def counts(rng):
    return rng.poisson(3.5, size=8)


def waiting_times(rng):
    return rng.exponential(1 / 1.5, size=6)


def sparse_spikes(rng, n=30, n_spikes=5, height=3.0, noise=0.5):
    signal = np.zeros(n)
    signal[rng.choice(n, n_spikes, replace=False)] = height * rng.choice([-1.0, 1.0], n_spikes)
    return signal + noise * rng.normal(size=n)


def blurred_steps(rng, n=40, width=2.0, noise=0.05):
    signal = np.zeros(n)
    signal[8:16], signal[22:26], signal[30:34] = 1.0, -0.7, 0.5
    return blur_matrix(n, width) @ signal + noise * rng.normal(size=n)


def coded_signal(rng, n=8, n_atoms=12, noise=0.2):
    """Two atoms of the default dictionary (weights 1.5 and -1) plus noise."""
    atoms = dct_dictionary(n_atoms, n)[[2, 7]]
    return np.array([1.5, -1.0]) @ atoms + noise * rng.normal(size=n)


def regression_table(rng, n=50, beta=(1.5, -0.8), intercept=0.5, sigma=1.0):
    features = rng.normal(size=(n, len(beta)))
    y = intercept + features @ np.asarray(beta) + sigma * rng.normal(size=n)
    return np.column_stack([features, y])


def eight_schools(rng):
    return EIGHT_SCHOOLS.copy()
