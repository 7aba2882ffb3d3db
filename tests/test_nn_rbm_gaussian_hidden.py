"""RBMs with Gaussian hidden units (hidden="gaussian": p(h | v) = N(b + v W, 1)) against
quadrature over h and enumeration over v: the free energy, log Z and log p(v), the CD-1 update;
training on bars-and-stripes; the linear code layer of a pre-trained deep autoencoder."""

import itertools

import numpy as np
import pytest
import torch
from scipy.special import expit, logsumexp

from workbench.data import load_dataset
from workbench.errors import InputError
from workbench.nn.rbm import sampling, training
from workbench.nn.rbm.model import RBM

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest


def all_binary(n):
    return np.array(list(itertools.product((0.0, 1.0), repeat=n)))


def gaussian_rbm(n_visible, n_hidden, scale, seed, **params):
    """A fitted RBM (one epoch on random bits) with its parameters replaced by N(0, scale^2)."""
    rng = np.random.default_rng(seed)
    X = (rng.random((8, n_visible)) < 0.5).astype(float)
    rbm = RBM(n_hidden, hidden="gaussian", n_epochs=1, batch_size=8, learning_rate=1e-3,
              verbose=False, random_state=seed, **params).fit(X)  # fmt: skip
    for name, shape in (("W", (n_visible, n_hidden)), ("a", (n_visible,)), ("b", (n_hidden,))):
        values = scale * rng.standard_normal(shape).astype(np.float32)
        rbm._state[name].copy_(torch.from_numpy(values))
    return rbm


def hermite_grid(n_hidden, n_nodes=40):
    """Nodes (m, n_hidden) and weights (m,) of Gauss-Hermite quadrature for E over N(0, I)."""
    x, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    nodes = np.array(list(itertools.product(x, repeat=n_hidden)))
    weights = np.prod(np.array(list(itertools.product(w, repeat=n_hidden))), axis=1)
    return nodes, weights / np.sqrt(2 * np.pi) ** n_hidden


def test_free_energy_and_likelihood_match_quadrature():
    """F(v) = -log of the integral of exp(-E(v, h)) over h, by a trapezoid grid in h; log Z by
    summing exp(-F) over all v; the estimator (Torch) and workbench.energy (exact) agree."""
    rbm = gaussian_rbm(5, 2, scale=0.7, seed=3)
    W, a, b = (x.astype(float) for x in (rbm.weights_, rbm.visible_bias_, rbm.hidden_bias_))
    V = all_binary(5)
    grid = np.linspace(-12, 12, 601)
    H = np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)
    neg_energy = (V @ a)[:, None] + (H @ b)[None] + V @ W @ H.T - 0.5 * (H**2).sum(1)[None]
    free = -(logsumexp(neg_energy, axis=1) + 2 * np.log(grid[1] - grid[0]))
    torch_free = sampling.free_energy(rbm, torch.from_numpy(V), tuple(p.double() for p in
                                                                      rbm._params))  # fmt: skip
    np.testing.assert_allclose(torch_free.numpy(), free, atol=1e-8)
    np.testing.assert_allclose(rbm.free_energy(V), free, atol=1e-8)
    log_z = logsumexp(-free)
    assert float(rbm.log_partition("exact")) == pytest.approx(log_z, abs=1e-8)
    np.testing.assert_allclose(rbm.score_samples(V), -free - log_z, atol=1e-6)
    np.testing.assert_allclose(rbm.transform(V), V @ W + b, atol=1e-5)  # E[h | v]


def test_cd1_update_equals_quadrature_statistics():
    """With lr = 1, no momentum or decay, one CD-1 step on many copies of v0 moves W by
    v0 (b + v0 W) - E[v1 (b + v1 W)], v1 ~ the integral of p(h | v0) p(v1 | h) over h
    (Gauss-Hermite quadrature over h ~ N(b + v0 W, I), enumeration over v1)."""
    rbm = gaussian_rbm(4, 2, scale=0.8, seed=11, method="cd")
    W, a, b = (x.astype(float) for x in (rbm.weights_, rbm.visible_bias_, rbm.hidden_bias_))
    v0 = np.array([1.0, 0.0, 1.0, 1.0])
    nodes, weights = hermite_grid(2)
    H = v0 @ W + b + nodes  # h ~ N(b + v0 W, I)
    V = all_binary(4)
    pv = expit(H @ W.T + a)  # (m, 4)
    p_v_given_h = np.prod(np.where(V[None] == 1, pv[:, None], 1 - pv[:, None]), -1)
    p_v1 = weights @ p_v_given_h  # (16,)
    assert p_v1.sum() == pytest.approx(1.0, abs=1e-10)
    terms = V[:, :, None] * (V @ W + b)[:, None, :]  # (16, 4, 2): v1 E[h | v1]
    mean = np.einsum("s,sij->ij", p_v1, terms)
    sd = np.sqrt(np.einsum("s,sij->ij", p_v1, terms**2) - mean**2)
    expected = np.outer(v0, v0 @ W + b) - mean

    n = 40000
    batch = torch.from_numpy(np.tile(v0, (n, 1)).astype(np.float32))
    rbm.set_params(weight_decay=0.0)
    before = rbm._state["W"].clone()
    settings = training.Settings.of(rbm)
    training.update(rbm._state, batch, settings, 1.0, 0.0, torch.Generator().manual_seed(0))
    step = (rbm._state["W"] - before).double().numpy()
    assert np.all(np.abs(step - expected) < 4 * sd / np.sqrt(n) + 1e-6), (step, expected)


def test_gaussian_hidden_draws_have_unit_variance():
    mean = torch.linspace(-3, 3, 7).repeat(50000, 1)
    draws = training.sample_hidden(mean, "gaussian", torch.Generator().manual_seed(1))
    np.testing.assert_allclose(draws.mean(0).numpy(), mean[0].numpy(), atol=0.03)
    np.testing.assert_allclose(draws.var(0).numpy(), 1.0, atol=0.03)


def test_training_on_bars_and_stripes_beats_independent_pixels():
    """CD-1 with 6 Gaussian hidden units (a low-rank pairwise model of the pixels) learns the
    correlations of bars-and-stripes: exact log-likelihood above the independent-pixel model's."""
    X = load_dataset("bars-stripes-3").X
    p = X.mean(0).clip(1e-3, 1 - 1e-3)
    independent = float(np.mean(X @ np.log(p) + (1 - X) @ np.log(1 - p)))
    rbm = RBM(6, hidden="gaussian", method="cd", learning_rate=0.01, n_epochs=300,
              batch_size=14, init_scale=0.1, weight_decay=0.0, monitor=False,
              verbose=False, random_state=0).fit(X)  # fmt: skip
    assert rbm.score(X) > independent + 0.5, (rbm.score(X), independent)


@pytest.mark.parametrize(
    "params",
    [
        {"visible": "gaussian"},
        {"n_temperatures": 2, "method": "pcd"},
        {"doubling": "hidden"},
        {"sparsity_target": 0.1},
    ],  # fmt: skip
)
def test_unsupported_combinations_name_hidden(params):
    X = np.zeros((4, 3))
    with pytest.raises(InputError, match="hidden"):
        RBM(2, hidden="gaussian", verbose=False, **params).fit(X)


def test_deep_autoencoder_linear_code_unrolls_a_gaussian_top_rbm():
    """code_activation="linear" with pre-training: the code layer is a Gaussian-hidden RBM on
    the layer below's probabilities, and before fine-tuning (learning rate 0) the encoder's
    code equals that RBM's E[h | v] of the DBN's up-pass."""
    from workbench.nn.autoencoder import Autoencoder
    from workbench.nn.autoencoder.estimator import CODE_LEARNING_RATE

    X = load_dataset("digits").X[:200].astype(np.float32)
    ae = Autoencoder(4, kind="deep", hidden_layers=(16,), pretrain="rbm", pretrain_epochs=2,
                     code_activation="linear", n_epochs=1, learning_rate=0.0, batch_size=50,
                     random_state=0).fit(X)  # fmt: skip
    assert ae.code_rbm_.hidden == "gaussian" and ae.code_rbm_.learning_rate == CODE_LEARNING_RATE
    (low,) = ae.pretrainer_.rbms_
    top = ae.code_rbm_
    expected = expit(X @ low.weights_ + low.hidden_bias_) @ top.weights_ + top.hidden_bias_
    np.testing.assert_allclose(ae.transform(X), expected, atol=1e-4)
