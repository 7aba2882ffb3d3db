"""Deep Boltzmann machines (workbench.nn.dbm) against brute-force enumeration over every joint
state (v, h1, h2[, h3]), AIS against the exact log Z, the mean-field bound against the exact
log-likelihood, and checkpoint resume against the uninterrupted run."""

import itertools

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from workbench.data import load_dataset
from workbench.errors import InputError
from workbench.nn import DBM
from workbench.nn.rbm import training
from workbench.nn.rbm.model import RBM
from workbench.nn.runtime import torch_threads


def random_dbm(units, scale, seed):
    rng = np.random.default_rng(seed)
    W = [rng.normal(0, scale, (m, n)) for m, n in zip(units, units[1:], strict=False)]
    b = [rng.normal(0, 1, n) for n in units]
    return W, b


def brute_force(W, b):
    """log Z and log p(v) for every visible state, by summing exp(-E) over all joint states."""
    units = [len(x) for x in b]
    states = [np.array(list(itertools.product((0.0, 1.0), repeat=n))) for n in units]
    log_w = np.zeros([len(s) for s in states])
    for index in itertools.product(*(range(len(s)) for s in states)):
        s = [states[j][i] for j, i in enumerate(index)]
        log_w[index] = sum(x @ bias for x, bias in zip(s, b, strict=True)) + sum(
            s[j] @ W[j] @ s[j + 1] for j in range(len(W))
        )
    log_z = logsumexp(log_w)
    marginal = logsumexp(log_w.reshape(len(states[0]), -1), axis=1) - log_z
    return log_z, states[0], marginal


@pytest.mark.parametrize("units", [(3, 2, 4), (2, 3, 2, 2)])
def test_exact_log_partition_and_likelihood_equal_brute_force(units):
    W, b = random_dbm(units, 1.0, seed=len(units))
    dbm = DBM.from_weights(W, b)
    W32 = [w.astype(np.float32).astype(float) for w in W]  # the model holds float32
    b32 = [x.astype(np.float32).astype(float) for x in b]
    log_z, V, log_p = brute_force(W32, b32)
    assert dbm.log_partition("exact").value == pytest.approx(log_z, abs=1e-9)
    np.testing.assert_allclose(dbm.log_likelihood(V), log_p, atol=1e-9)
    assert logsumexp(dbm.log_likelihood(V)) == pytest.approx(0.0, abs=1e-9)  # sums to 1


def test_ais_within_three_standard_errors_of_exact():
    W, b = random_dbm((12, 10, 6), 0.5, seed=3)
    dbm = DBM.from_weights(W, b)
    exact = dbm.log_partition("exact").value
    with torch_threads(1):
        ais = dbm.log_partition("ais", n_runs=100, n_betas=500, random_state=0)
    assert ais.se > 0 and ais.n_betas == 500 and ais.method == "ais"
    assert abs(ais.value - exact) < 3 * ais.se, (ais.value, ais.se, exact)


def test_mean_field_bound_is_below_the_exact_log_likelihood_and_tight_without_coupling():
    W, b = random_dbm((6, 5, 4), 1.0, seed=4)
    dbm = DBM.from_weights(W, b, mean_field_steps=30)
    V = np.array(list(itertools.product((0.0, 1.0), repeat=6)))
    exact = dbm.log_likelihood(V)
    bound = dbm.lower_bound(V)
    assert np.all(bound <= exact + 1e-9) and np.all(exact - bound > 1e-4)
    # W2 = 0: the hidden layers are independent given v, so mean field is the posterior
    loose = DBM.from_weights([W[0], 0 * W[1]], b, mean_field_steps=30)
    np.testing.assert_allclose(loose.lower_bound(V), loose.log_likelihood(V), atol=1e-9)


def test_fit_learns_and_resumed_run_continues_exactly(tmp_path):
    X = load_dataset("bars-stripes-3").X
    settings = dict(layers=(6, 4), batch_size=4, learning_rate=0.05, pretrain_epochs=5,
                    n_chains=20, random_state=7, verbose=False)  # fmt: skip
    with torch_threads(1):
        full = DBM(n_epochs=6, **settings).fit(X)
        path = tmp_path / "dbm.pt"
        DBM(n_epochs=3, checkpoint=path, **settings).fit(X)
        resumed = DBM(n_epochs=6, checkpoint=path, **settings).fit(X, resume=True)
    for a, b in zip(full.weights_ + full.biases_, resumed.weights_ + resumed.biases_, strict=True):
        np.testing.assert_array_equal(a, b)
    loaded = DBM.load(path)
    np.testing.assert_array_equal(loaded.weights_[1], full.weights_[1])
    assert [r["epoch"] for r in loaded.history_] == list(range(1, 7))
    last = full.history_[-1]
    assert last["log_likelihood_exact"] == pytest.approx(full.score(X), abs=1e-6)
    assert last["lower_bound_exact"] <= last["log_likelihood_exact"]
    with pytest.raises(InputError, match="different run"):
        DBM(n_epochs=6, checkpoint=path, **{**settings, "learning_rate": 0.1}).fit(X, resume=True)


def test_sample_shape_range_and_seed():
    W, b = random_dbm((5, 3, 2), 1.0, seed=5)
    dbm = DBM.from_weights(W, b)
    a = dbm.sample(7, n_steps=20, random_state=1)
    assert a.shape == (7, 5) and np.all((a > 0) & (a < 1))
    np.testing.assert_array_equal(a, dbm.sample(7, n_steps=20, random_state=1))
    assert dbm.transform(np.eye(5)).shape == (5, 2)


def test_bad_input_names_the_argument():
    W, b = random_dbm((3, 2, 2), 1.0, seed=6)
    with pytest.raises(InputError, match="weights"):
        DBM.from_weights([W[0]], b[:2])
    with pytest.raises(InputError, match="weights"):
        DBM.from_weights([W[0].T, W[1]], b)
    with pytest.raises(InputError, match="layers"):
        DBM((4,)).fit(np.eye(3))
    with pytest.raises(InputError, match="binarise"):
        DBM((2, 2), batch_size=2).fit(np.full((3, 3), 0.5))
    dbm = DBM.from_weights(W, b)
    with pytest.raises(InputError, match="method"):
        dbm.log_partition("mcmc")
    with pytest.raises(InputError, match="max_states"):
        dbm.log_partition("exact", max_states=2)


def test_rbm_doubling_update_equals_its_closed_form():
    """One CD-1 step of RBM(doubling=...) against the hand-written update with the same noise:
    p(h | v) = sigmoid(b + 2 v W) ("visible") or p(v | h) = sigmoid(a + 2 W h) ("hidden")."""
    X = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    for doubling, (up, down) in (("visible", (2.0, 1.0)), ("hidden", (1.0, 2.0))):
        rbm = RBM(2, method="cd", doubling=doubling, momentum=0.0, weight_decay=0.0,
                  learning_rate=0.1)  # fmt: skip
        settings = training.Settings.of(rbm)
        gen = torch.Generator().manual_seed(0)
        W = torch.tensor([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2]])
        a, b = torch.tensor([0.1, -0.1, 0.0]), torch.tensor([0.2, -0.3])
        state = {"W": W.clone(), "a": a.clone(), "b": b.clone(), "step": 0}
        state.update({"d" + k: torch.zeros_like(state[k]) for k in "Wab"})
        training.update(state, X, settings, 0.1, 0.0, gen)
        gen = torch.Generator().manual_seed(0)
        ph0 = torch.sigmoid(b + up * X @ W)
        h0 = (torch.rand(ph0.shape, generator=gen) < ph0).float()
        pv = torch.sigmoid(a + down * h0 @ W.T)
        v1 = (torch.rand(pv.shape, generator=gen) < pv).float()
        ph1 = torch.sigmoid(b + up * v1 @ W)
        expected = W + 0.1 * (X.T @ ph0 - v1.T @ ph1) / 2
        torch.testing.assert_close(state["W"], expected)
    with pytest.raises(InputError, match="doubling"):
        RBM(2, doubling="both").fit(X.numpy())
