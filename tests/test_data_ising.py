"""ising-L-T: Metropolis configurations against the exact distribution of tiny lattices."""

import numpy as np
import pytest
from scipy.stats import chi2

from workbench.data import load_dataset
from workbench.data.ising import ising_energy, ising_exact, ising_metropolis
from workbench.errors import InputError


def energy_histogram_check(L, T, n=None, X=None):
    """Chi-squared statistic of the energy histogram of ``X`` (default: ``n`` fresh
    configurations) against enumeration, and its 0.999 quantile."""
    if X is None:
        X = ising_metropolis(L, T, n, n_sweeps=60, seed=1)
    n = len(X)
    states, probs = ising_exact(L, T)
    energies = ising_energy((2 * states - 1).reshape(-1, L, L))
    levels = np.unique(energies)
    expected = np.array([probs[energies == e].sum() for e in levels]) * n
    observed_energy = ising_energy((2 * X - 1).reshape(-1, L, L))
    observed = np.array([(observed_energy == e).sum() for e in levels])
    keep = expected > 5  # pool the rare levels into one cell
    obs = np.append(observed[keep], observed[~keep].sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    stat = ((obs - exp) ** 2 / np.maximum(exp, 1e-12)).sum()
    return stat, chi2.ppf(0.999, len(obs) - 1)


@pytest.mark.parametrize(("L", "T"), [(3, 2.0), (4, 2.5)])  # site-by-site, checkerboard
def test_metropolis_energy_distribution_matches_exact(L, T):
    stat, limit = energy_histogram_check(L, T, 4000)
    assert stat < limit, (stat, limit)


def test_exact_distribution_is_normalised_and_symmetric():
    states, probs = ising_exact(3, 1.5)
    assert probs.sum() == pytest.approx(1.0)
    flipped = (1 - states) @ (2 ** np.arange(8, -1, -1))  # row k is k in binary, site 0 first
    np.testing.assert_allclose(probs[flipped.astype(int)], probs)  # spin-flip symmetry


def test_dataset_name_split_and_errors():
    full = load_dataset("ising-3-2.0")
    test = load_dataset("ising-3-2.0", split="test")
    assert full.X.shape == (2500, 9) and test.image_shape == (3, 3)
    np.testing.assert_array_equal(test.X, full.X[-500:])  # the last 500 rows are the test set
    stat, limit = energy_histogram_check(3, 2.0, X=full.X)  # the data set is the Ising law
    assert stat < limit, (stat, limit)
    with pytest.raises(InputError, match="T: expected a temperature > 0"):
        ising_metropolis(3, 0.0, 10)
    with pytest.raises(InputError, match="L \\* L <= 16"):
        ising_exact(5, 2.0)
