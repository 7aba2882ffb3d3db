"""AIS and reverse AIS against exact log Z (brute-force enumeration of the hidden layer)."""

import numpy as np
import pytest

from workbench.energy import RBM
from workbench.energy.ais import base_log_partition
from workbench.errors import InputError


def rbm_with(n_visible, n_hidden, scale, seed):
    rng = np.random.default_rng(seed)
    return RBM(
        rng.normal(0.0, scale, (n_visible, n_hidden)),
        rng.normal(0.0, 0.5, n_visible),
        rng.normal(0.0, 0.5, n_hidden),
    )


@pytest.mark.parametrize(("n_visible", "n_hidden", "scale"), [(12, 5, 0.8), (10, 20, 0.5)])
@pytest.mark.parametrize("method", ["ais", "reverse_ais"])
def test_ais_within_three_standard_errors(n_visible, n_hidden, scale, method):
    rbm = rbm_with(n_visible, n_hidden, scale, n_hidden)
    exact = rbm.log_partition().value
    est = rbm.log_partition(method, n_runs=100, n_betas=1001, seed=1)
    assert est.method == method and est.se > 0 and est.log_weights.shape == (100,)
    lo, hi = est.interval(3)
    assert lo <= exact <= hi, (est.value, est.se, exact)


def test_forward_below_and_reverse_above_on_average():
    # A hard, short anneal makes the Jensen biases visible: forward AIS estimates Z without
    # bias, so its log is low on average; reverse AIS estimates 1/Z, so its log is high.
    rbm = rbm_with(12, 10, 2.0, 1)
    exact = rbm.log_partition().value
    runs = {
        method: np.array(
            [rbm.log_partition(method, n_runs=10, n_betas=6, seed=s).value for s in range(60)]
        )
        for method in ("ais", "reverse_ais")
    }
    forward, reverse = runs["ais"] - exact, runs["reverse_ais"] - exact
    assert forward.mean() < 0 < reverse.mean(), (forward.mean(), reverse.mean())
    # a single forward run may overshoot: the bias is a property of the average
    assert forward.max() > forward.mean()


def test_ais_is_reproducible_and_uses_data_for_the_base():
    rbm = rbm_with(8, 4, 0.5, 3)
    first = rbm.log_partition("ais", n_runs=20, n_betas=51, seed=7)
    again = rbm.log_partition("ais", n_runs=20, n_betas=51, seed=7)
    assert first.value == again.value
    data = (np.random.default_rng(0).random((30, 8)) < 0.2).astype(float)
    with_data = rbm.log_partition("ais", n_runs=100, n_betas=301, seed=7, data=data)
    exact = rbm.log_partition().value
    assert abs(with_data.value - exact) <= 3 * with_data.se


def test_base_log_partition_is_exact_for_a_decoupled_model():
    # At beta = 0 the model is this zero-weight RBM, whose log Z enumeration checks log Z_0.
    for visible in ("bernoulli", "gaussian"):
        a0 = np.array([0.3, -1.0, 2.0])
        rbm = RBM(np.zeros((3, 4)), a0, np.zeros(4), visible=visible, sigma=0.7)
        assert base_log_partition(rbm, a0) == pytest.approx(rbm.log_partition().value, rel=1e-12)


def test_gaussian_visible_ais():
    rng = np.random.default_rng(4)
    rbm = RBM(
        rng.normal(0, 0.4, (6, 8)), rng.normal(size=6), rng.normal(size=8), visible="gaussian"
    )
    exact = rbm.log_partition().value
    est = rbm.log_partition("ais", n_runs=100, n_betas=501, seed=2)
    assert abs(est.value - exact) <= 3 * est.se


def test_bad_ais_settings():
    rbm = rbm_with(4, 3, 0.5, 0)
    with pytest.raises(InputError, match="n_runs: expected an integer >= 2, got 1"):
        rbm.log_partition("ais", n_runs=1)
    with pytest.raises(InputError, match="n_betas: expected an integer >= 2, got 1"):
        rbm.log_partition("ais", n_betas=1)
    with pytest.raises(InputError, match="base_bias: give data or base_bias, not both"):
        rbm.log_partition("ais", data=np.zeros((2, 4)), base_bias=np.zeros(4))
    gg = RBM(0.1 * np.ones((2, 2)), np.zeros(2), np.zeros(2), visible="gaussian", hidden="gaussian")
    with pytest.raises(ValueError, match="closed-form"):
        gg.log_partition("ais")


def test_ais_on_a_gaussian_hidden_layer():
    # the Hubbard-Stratonovich RBM of a Hopfield network: Bernoulli visible, Gaussian hidden
    from workbench.energy import Hopfield

    rng = np.random.default_rng(5)
    W = rng.normal(0, 0.4, (10, 3))
    rbm = Hopfield(W @ W.T, rng.normal(0, 0.5, 10)).to_rbm()
    exact = rbm.log_partition().value
    est = rbm.log_partition("ais", n_runs=100, n_betas=501, seed=3)
    assert abs(est.value - exact) <= 3 * est.se, (est.value, est.se, exact)
