"""The Torch RBM evaluates through workbench.energy: its exact log Z and log-likelihood equal an
independent NumPy sum over every joint state, its AIS lands within a few standard errors of
that, it returns the one result type (LogPartition), and parameters round-trip."""

import itertools

import numpy as np
import pytest
from scipy.special import logsumexp

from workbench.data import load_dataset
from workbench.energy import RBM as EnergyRBM
from workbench.energy import LogPartition
from workbench.errors import InputError
from workbench.nn.rbm.model import RBM


def torch_rbm(n_visible, n_hidden, scale, seed, **params):
    """A fitted-state Torch RBM holding random float32 parameters (via from_energy)."""
    rng = np.random.default_rng(seed)
    W = scale * rng.standard_normal((n_visible, n_hidden))
    a, b = rng.normal(0.0, 0.5, n_visible), rng.normal(0.0, 0.5, n_hidden)
    return RBM.from_energy(EnergyRBM(W, a, b), verbose=False, **params)


def brute_force(rbm):
    """Every v, log Z and log p(v): exp(-E(v, h)) summed over all (v, h) pairs in NumPy, the
    states listed by itertools (independent of workbench.energy.binary_states)."""
    W, a, b = (x.astype(np.float64) for x in (rbm.weights_, rbm.visible_bias_, rbm.hidden_bias_))
    V = np.array(list(itertools.product((0.0, 1.0), repeat=W.shape[0])))
    H = np.array(list(itertools.product((0.0, 1.0), repeat=W.shape[1])))
    neg_energy = (V @ a)[:, None] + (H @ b)[None, :] + V @ W @ H.T  # (2^nv, 2^nh)
    log_z = logsumexp(neg_energy)
    return V, log_z, logsumexp(neg_energy, axis=1) - log_z


@pytest.mark.parametrize("shape", [(7, 5), (4, 9)])  # energy enumerates hidden, then visible
def test_exact_log_z_and_log_likelihood_equal_brute_force(shape):
    rbm = torch_rbm(*shape, scale=1.0, seed=4)
    V, log_z, log_p = brute_force(rbm)
    result = rbm.log_partition("exact")
    assert isinstance(result, LogPartition) and (result.method, result.se) == ("exact", 0.0)
    assert float(result) == pytest.approx(log_z, abs=1e-9)
    np.testing.assert_allclose(rbm.score_samples(V, method="exact"), log_p, atol=1e-9)
    assert rbm.score(V) == pytest.approx(log_p.mean(), abs=1e-9)  # auto: exact at this size
    # F(v) = -log sum_h exp(-E(v, h)) = -(log p(v) + log Z)
    np.testing.assert_allclose(rbm.free_energy(V), -(log_p + log_z), atol=1e-9)


@pytest.mark.parametrize("method", ["ais", "reverse_ais"])
def test_ais_within_three_standard_errors_of_brute_force(method):
    rbm = torch_rbm(10, 8, scale=0.8, seed=6)
    _, log_z, _ = brute_force(rbm)
    est = rbm.log_partition(method, n_runs=100, n_betas=1000, random_state=2)
    assert est.method == method and (est.n_runs, est.n_betas) == (100, 1000)
    assert 0 < est.se < 0.1
    assert abs(float(est) - log_z) <= 3 * est.se, (float(est), est.se, log_z)
    again = rbm.log_partition(method, n_runs=100, n_betas=1000, random_state=2)
    assert again.value == est.value  # the seed fixes the estimate


def test_auto_switches_to_ais_above_exact_max_units():
    rbm = torch_rbm(10, 8, scale=0.8, seed=6, exact_max_units=7)
    _, log_z, _ = brute_force(rbm)
    est = rbm.log_partition(n_runs=50, n_betas=500, random_state=0)
    assert est.method == "ais" and abs(est.value - log_z) <= 4 * est.se


def test_bad_evaluation_settings_name_the_argument():
    rbm = torch_rbm(4, 3, scale=0.5, seed=0)
    with pytest.raises(InputError, match="method: expected one of auto, exact, ais, reverse_ais"):
        rbm.log_partition("bridge")
    with pytest.raises(InputError, match="n_runs: expected an integer >= 2, got 1") as err:
        rbm.log_partition("ais", n_runs=1)
    assert err.value.argument == "n_runs"
    with pytest.raises(InputError, match="n_betas: expected an integer >= 2"):
        rbm.log_partition("ais", n_betas=True)


@pytest.fixture(scope="module")
def trained():
    X = load_dataset("bars-stripes-3").X
    return X, RBM(12, n_epochs=200, batch_size=14, learning_rate=0.1, random_state=0,
                  verbose=False).fit(X)  # fmt: skip


def test_exact_log_likelihood_agrees_with_energy_module(trained):
    X, rbm = trained
    other = rbm.to_energy()
    assert float(other.log_partition(method="exact")) == pytest.approx(
        float(rbm.log_partition("exact")), abs=1e-9
    )
    ours = rbm.score_samples(X, method="exact")
    assert other.log_likelihood(X) == pytest.approx(ours.mean(), abs=1e-9)
    # the monitors' exact log-likelihood is the same number
    assert rbm.history_[-1]["log_likelihood_exact"] == pytest.approx(ours.mean(), abs=1e-6)


def test_gaussian_visible_log_z_equals_enumerated_integral():
    """Gaussian visible units: sum over h of the Gaussian integral over v, in closed form."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 5))
    rbm = RBM(4, visible="gaussian", sigma=0.7, n_epochs=20, batch_size=10, learning_rate=0.01,
              random_state=0, verbose=False).fit(X)  # fmt: skip
    W, a, b = (x.astype(np.float64) for x in (rbm.weights_, rbm.visible_bias_, rbm.hidden_bias_))
    H = np.array(list(itertools.product((0.0, 1.0), repeat=4)))
    s2 = 0.7**2
    field = H @ W.T + a  # v | h ~ N(s2 field, s2)
    log_terms = H @ b + 0.5 * s2 * (field**2).sum(1) + 0.5 * 5 * np.log(2 * np.pi * s2)
    assert float(rbm.log_partition("exact")) == pytest.approx(logsumexp(log_terms), abs=1e-9)


def test_round_trip(trained):
    _, rbm = trained
    back = RBM.from_energy(rbm.to_energy(), verbose=False)
    np.testing.assert_array_equal(back.weights_, rbm.weights_)
    np.testing.assert_array_equal(back.visible_bias_, rbm.visible_bias_)
    np.testing.assert_array_equal(back.hidden_bias_, rbm.hidden_bias_)
