"""The Torch RBM and the PyTensor workbench.energy.RBM agree: exact log Z and log-likelihood,
and the round trip of the parameters. Skipped until workbench.energy is merged."""

import numpy as np
import pytest

from workbench.data import load_dataset
from workbench.nn.rbm.model import RBM

energy = pytest.importorskip("workbench.energy")


def _scalar(value):
    """log Z from workbench.energy's LogPartition (``.value``)."""
    return float(value.value)


@pytest.fixture(scope="module")
def trained():
    X = load_dataset("bars-stripes-3").X
    return X, RBM(12, n_epochs=200, batch_size=14, learning_rate=0.1, random_state=0,
                  verbose=False).fit(X)  # fmt: skip


def test_exact_log_likelihood_agrees_with_energy_module(trained):
    X, rbm = trained
    other = rbm.to_energy()
    assert _scalar(other.log_partition(method="exact")) == pytest.approx(
        rbm.log_partition("exact")[0], abs=1e-6
    )
    ours = rbm.score_samples(X, method="exact")
    assert other.log_likelihood(X) == pytest.approx(ours.mean(), abs=1e-6)


def test_gaussian_visible_agrees_with_energy_module():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 5))
    rbm = RBM(4, visible="gaussian", sigma=0.7, n_epochs=20, batch_size=10, learning_rate=0.01,
              random_state=0, verbose=False).fit(X)  # fmt: skip
    other = rbm.to_energy()
    assert _scalar(other.log_partition(method="exact")) == pytest.approx(
        rbm.log_partition("exact")[0], abs=1e-5
    )


def test_round_trip(trained):
    _, rbm = trained
    back = RBM.from_energy(rbm.to_energy(), verbose=False)
    np.testing.assert_array_equal(back.weights_, rbm.weights_)
    np.testing.assert_array_equal(back.visible_bias_, rbm.visible_bias_)
    np.testing.assert_array_equal(back.hidden_bias_, rbm.hidden_bias_)
