"""The workbench samplers reach their targets: Metropolis and Gibbs on a correlated Gaussian
(mean and covariance within Monte Carlo error), single-spin Metropolis on a 4x4 Ising model
against the exact magnetisation distribution from all 2^16 states, a Hopfield energy given as a
plain callable, and a PyMC model's compiled log-density against its closed-form posterior."""

import arviz_stats as azs
import numpy as np
import pytest
import xarray as xr
from scipy.special import logsumexp

import models
from workbench.diagnostics import diagnose
from workbench.errors import InputError
from workbench.samplers import PyMCTarget, gibbs, metropolis, spins

MEAN = np.array([1.0, -2.0])
COV = np.array([[1.0, 0.8], [0.8, 2.0]])
PRECISION = np.linalg.inv(COV)


def gaussian_logdensity(x):
    d = x - MEAN
    return -0.5 * np.einsum("ci,ij,cj->c", d, PRECISION, d)


def mcse_of_mean(values):
    """MCSE (arviz_stats) of the mean of ``values`` shaped (chains, draws)."""
    return float(azs.mcse(xr.DataArray(values, dims=("chain", "draw"))).values)


def assert_moments_within_mcse(draws, k=4.0):
    """Mean and each covariance entry within k MCSE; draws (chains, draws, 2)."""
    for i in range(2):
        z = (draws[..., i].mean() - MEAN[i]) / mcse_of_mean(draws[..., i])
        assert abs(z) < k, f"mean[{i}]: {z:.2f} MCSE off"
        for j in range(i, 2):
            # E[(x_i - m_i)(x_j - m_j)] = cov_ij exactly, so its sample mean has an MCSE
            product = (draws[..., i] - MEAN[i]) * (draws[..., j] - MEAN[j])
            z = (product.mean() - COV[i, j]) / mcse_of_mean(product)
            assert abs(z) < k, f"cov[{i},{j}]: {z:.2f} MCSE off"


@pytest.fixture(scope="module")
def rwm_tree():
    return metropolis.sample(
        gaussian_logdensity, np.full((4, 2), 3.0), draws=5000, warmup=1000, seed=11
    )


def test_metropolis_recovers_gaussian_moments(rwm_tree):
    assert diagnose(rwm_tree).converged
    assert_moments_within_mcse(rwm_tree["posterior"]["x"].values)


def test_metropolis_tunes_step_size_and_reports_acceptance(rwm_tree):
    stats = rwm_tree["sample_stats"]
    assert set(stats.data_vars) >= {"acceptance_rate", "accepted", "step_size"}
    assert abs(rwm_tree["posterior"].attrs["warmup_acceptance"] - 0.234) < 0.08
    assert abs(float(stats["accepted"].mean()) - 0.234) < 0.08
    report = diagnose(rwm_tree)  # per chain: the mean Metropolis acceptance probability
    np.testing.assert_allclose(report.acceptance_rate, stats["acceptance_rate"].mean("draw"))
    # step size is constant after warm-up (a fixed kernel keeps detailed balance)
    step = stats["step_size"].values
    assert np.all(step == step[:, :1])


def test_metropolis_is_reproducible_and_validates():
    a = metropolis.sample(gaussian_logdensity, np.zeros((2, 2)), draws=50, warmup=10, seed=3)
    b = metropolis.sample(gaussian_logdensity, np.zeros((2, 2)), draws=50, warmup=10, seed=3)
    np.testing.assert_array_equal(a["posterior"]["x"].values, b["posterior"]["x"].values)
    with pytest.raises(InputError, match="position: expected an array shaped"):
        metropolis.sample(gaussian_logdensity, np.zeros(2))
    with pytest.raises(InputError, match="not finite at the start"):
        metropolis.sample(lambda x: np.where(x[:, 0] > 0, 0.0, -np.inf), -np.ones((2, 1)))
    with pytest.raises(InputError, match="rule"):
        metropolis.sample(gaussian_logdensity, np.zeros((2, 2)), rule="greedy")
    with pytest.raises(InputError, match="draws"):
        metropolis.sample(gaussian_logdensity, np.zeros((2, 2)), draws=0)


def test_gibbs_recovers_gaussian_moments():
    tree = gibbs.sample(
        gibbs.gaussian_conditionals(MEAN, COV), np.full((4, 2), -3.0), draws=4000, seed=12
    )
    assert diagnose(tree).converged
    assert_moments_within_mcse(tree["posterior"]["x"].values)
    assert float(tree["sample_stats"]["acceptance_rate"].min()) == 1.0
    with pytest.raises(InputError, match="positive-definite"):
        gibbs.gaussian_conditionals(MEAN, -COV)


def exact_distribution(energy, beta, values, sites):
    """Boltzmann probabilities of all 2^sites configurations, by enumeration."""
    bits = (np.arange(2**sites)[:, None] >> np.arange(sites)) & 1
    states = np.where(bits == 1, values[1], values[0]).astype(float)
    logw = -beta * energy(states)
    return states, np.exp(logw - logsumexp(logw))


def test_ising_4x4_matches_exact_magnetisation():
    """Periodic 4x4 lattice, J = 1, beta = 0.3: the distribution of the total magnetisation
    M = sum of spins (17 values) from all 65,536 states vs 16 chains x 2000 sweeps; each bin's
    frequency within 4.5 MCSE (arviz_stats, from the bin indicator's ESS)."""
    energy, beta = spins.ising_energy(4, periodic=True), 0.3
    states, probs = exact_distribution(energy, beta, (-1, 1), 16)
    levels = np.arange(-16, 17, 2)
    exact = np.array([probs[states.sum(1) == m].sum() for m in levels])
    tree = spins.sample(energy, chains=16, draws=2000, warmup=100, beta=beta, seed=13)
    magnetisation = np.rint(16 * tree["posterior"]["magnetisation"].values)
    assert diagnose(tree, var_names=["energy", "magnetisation"]).converged
    for m, p in zip(levels, exact, strict=True):
        indicator = (magnetisation == m).astype(float)
        floor = np.sqrt(p * (1 - p) / indicator.size)  # a bin never visited has no MCSE
        error = max(mcse_of_mean(indicator), floor)
        assert abs(indicator.mean() - p) < 4.5 * error, (m, indicator.mean(), p, error)
    np.testing.assert_allclose(
        tree["posterior"]["energy"].values,
        energy(tree["posterior"]["spins"].values.reshape(-1, 16)).reshape(16, 2000),
    )


@pytest.mark.parametrize("update", ["metropolis", "gibbs"])
def test_hopfield_callable_energy_with_binary_units(update):
    """A 6-unit Hopfield energy on {0, 1} units given as a plain function (no local fields),
    Metropolis or heat-bath updates: each unit's mean activity and the mean energy match
    enumeration of the 64 states within 4 MCSE."""
    rng = np.random.default_rng(14)
    couplings = rng.normal(scale=0.8, size=(6, 6))
    couplings = np.triu(couplings, 1) + np.triu(couplings, 1).T
    quadratic = spins.QuadraticEnergy(couplings, rng.normal(scale=0.5, size=6))

    def energy(x):  # a callable only: the kernel evaluates it per proposed flip
        return quadratic(x)

    states, probs = exact_distribution(quadratic, 1.0, (0, 1), 6)
    tree = spins.sample(
        energy,
        draws=2000,
        warmup=50,
        values=(0, 1),
        update=update,
        initial=rng.integers(0, 2, size=(8, 6)),
        seed=15,
    )
    units = tree["posterior"]["spins"].values.astype(float)  # (chains, draws, sites)
    assert set(np.unique(units)) <= {0.0, 1.0}
    for i, expected in enumerate(probs @ states):
        z = (units[..., i].mean() - expected) / mcse_of_mean(units[..., i])
        assert abs(z) < 4, (i, z)
    energies = tree["posterior"]["energy"].values
    z = (energies.mean() - probs @ quadratic(states)) / mcse_of_mean(energies)
    assert abs(z) < 4, z


def test_spin_inputs_validated():
    with pytest.raises(InputError, match="symmetric"):
        spins.QuadraticEnergy(np.array([[0.0, 1.0], [0.0, 0.0]]))
    with pytest.raises(InputError, match="initial"):
        spins.sample(lambda s: s.sum(1), chains=2, draws=5)
    with pytest.raises(InputError, match="update"):
        spins.build_kernel(update="wolff")


def test_metropolis_on_pymc_model_matches_beta_posterior():
    """Beta(2, 2) prior, 3 heads in 10: the posterior mean of p is 5/14 (closed form)."""
    target = PyMCTarget(models.build("beta-binomial"))
    tree = metropolis.sample(
        target.logdensity,
        target.initial_positions(4, seed=16),
        draws=3000,
        warmup=500,
        transform=target.posterior,
        seed=16,
    )
    p = tree["posterior"]["p"].values
    assert diagnose(tree).converged
    assert abs(p.mean() - 5 / 14) < 4 * mcse_of_mean(p)
    assert np.all((p > 0) & (p < 1))
