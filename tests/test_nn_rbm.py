"""workbench.nn.RBM against brute-force enumeration in NumPy: log Z, log-likelihood, the CD-1
gradient, AIS; training targets on bars-and-stripes; inference helpers; bad input."""

import itertools

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from workbench.data import load_dataset
from workbench.errors import InputError
from workbench.nn.rbm import sampling, training
from workbench.nn.rbm.cli import defaults_for
from workbench.nn.rbm.model import RBM

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest


def all_binary(n):
    return np.array(list(itertools.product((0.0, 1.0), repeat=n)))


def brute_force(W, a, b):
    """log Z and log p(v) for every v, summing exp(-E(v, h)) over all (v, h) pairs."""
    V, H = all_binary(W.shape[0]), all_binary(W.shape[1])
    neg_energy = (V @ a)[:, None] + (H @ b)[None, :] + V @ W @ H.T  # (2^nv, 2^nh)
    log_z = logsumexp(neg_energy)
    return V, log_z, logsumexp(neg_energy, axis=1) - log_z


def random_rbm(n_visible, n_hidden, scale, seed, **params):
    rng = np.random.default_rng(seed)
    X = (rng.random((8, n_visible)) < 0.5).astype(float)
    rbm = RBM(n_hidden, n_epochs=1, batch_size=8, verbose=False, random_state=seed, **params)
    rbm.fit(X)
    state = rbm._state
    for name, shape in (("W", (n_visible, n_hidden)), ("a", (n_visible,)), ("b", (n_hidden,))):
        state[name].copy_(
            __import__("torch").from_numpy(scale * rng.standard_normal(shape).astype(np.float32))
        )
    return rbm


@pytest.mark.parametrize("shape", [(6, 4), (4, 7)])  # enumerate hidden, then visible
def test_exact_log_likelihood_matches_brute_force(shape):
    rbm = random_rbm(*shape, scale=1.0, seed=3)
    V, log_z, log_p = brute_force(rbm.weights_.astype(float), rbm.visible_bias_.astype(float),
                                  rbm.hidden_bias_.astype(float))  # fmt: skip
    exact = rbm.log_partition("exact")
    assert (float(exact), exact.se) == (pytest.approx(log_z, abs=1e-6), 0.0)
    np.testing.assert_allclose(rbm.score_samples(V), log_p, atol=1e-5)
    assert np.exp(rbm.score_samples(V)).sum() == pytest.approx(1.0, abs=1e-5)


def test_gaussian_visible_log_partition_matches_quadrature():
    """Gaussian visible units: enumerate h, integrate v; check by summing p(v) on a grid."""
    rbm = random_rbm(2, 3, scale=0.5, seed=5, visible="gaussian", sigma=0.8)
    grid = np.linspace(-8, 8, 801)
    V = np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)
    density = np.exp(rbm.score_samples(V))
    assert density.sum() * (grid[1] - grid[0]) ** 2 == pytest.approx(1.0, abs=1e-4)


def test_cd1_update_equals_enumerated_statistics():
    """With lr = 1, no momentum, no decay, one CD-1 step on many copies of one row moves W by
    <v h>_data - E[v_1 p(h | v_1)], the expectation over v_1 ~ sum_h p(h | v0) p(v1 | h)."""
    import torch

    rbm = random_rbm(4, 3, scale=1.0, seed=11, method="cd")
    W, a, b = (x.astype(float) for x in (rbm.weights_, rbm.visible_bias_, rbm.hidden_bias_))
    v0 = np.array([1.0, 0.0, 1.0, 1.0])
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    V, H = all_binary(4), all_binary(3)
    ph0 = sig(v0 @ W + b)
    p_h = np.prod(np.where(H == 1, ph0, 1 - ph0), axis=1)  # p(h | v0) for every h
    pv = sig(H @ W.T + a)  # (2^3, 4)
    p_v_given_h = np.prod(np.where(V[None] == 1, pv[:, None], 1 - pv[:, None]), -1)
    p_v1 = p_h @ p_v_given_h  # (2^4,)
    negative = np.einsum("s,si,sj->ij", p_v1, V, sig(V @ W + b))
    expected = np.outer(v0, ph0) - negative

    n = 40000
    batch = torch.from_numpy(np.tile(v0, (n, 1)).astype(np.float32))
    rbm.set_params(weight_decay=0.0)
    before = rbm._state["W"].clone()
    settings = training.Settings.of(rbm)
    training.update(rbm._state, batch, settings, 1.0, 0.0, torch.Generator().manual_seed(0))
    step = (rbm._state["W"] - before).double().numpy()
    se = np.sqrt(0.25 / n)  # v h terms lie in [0, 1]: sd <= 1/2
    assert np.max(np.abs(step - expected)) < 4 * se, (step, expected)


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_update_returns_the_chains_free_energies_under_the_parameters_that_drew_them(visible):
    """PCD's update returns F(v) of its new cold chains under the parameters before the update
    (computed from the hidden field it needs anyway), as sampling.free_energy evaluates it."""
    X = (np.random.default_rng(0).random((30, 5)) < 0.5).astype(np.float32)
    rbm = RBM(4, visible=visible, method="pcd", n_chains=6, n_epochs=2, batch_size=10,
              monitor=False, verbose=False, random_state=0).fit(X)  # fmt: skip
    before = tuple(t.clone() for t in rbm._params)
    energies = training.update(rbm._state, torch.from_numpy(X[:10]), training.Settings.of(rbm),
                               0.05, 0.5, torch.Generator().manual_seed(1))  # fmt: skip
    expected = sampling.free_energy(rbm, rbm._state["chains"][0], before)
    assert not torch.equal(before[0], rbm._state["W"])  # the parameters moved
    assert energies.shape == (1, 6)  # (updates, chains): one update
    torch.testing.assert_close(energies[0], expected, rtol=1e-6, atol=1e-5)


def test_ais_within_three_standard_errors_of_exact():
    rbm = random_rbm(12, 10, scale=0.7, seed=2)
    exact = rbm.log_partition("exact").value
    ais = rbm.log_partition("ais", n_runs=200, n_betas=1500, random_state=1)
    estimate, stderr = ais.value, ais.se
    assert 0 < stderr < 0.2
    assert abs(estimate - exact) < 3 * stderr + 1e-3, (estimate, exact, stderr)


@pytest.fixture(scope="module")
def bars_stripes_rbm():
    """The CLI's defaults for bars-stripes-3 (16 hidden units, PCD-1)."""
    s = defaults_for("bars-stripes-3")
    X = load_dataset("bars-stripes-3").X
    rbm = RBM(s["hidden"], method=s["method"], k=s["k"], learning_rate=s["lr"],
              n_epochs=s["epochs"], batch_size=s["batch_size"], n_chains=s["n_chains"],
              momentum=s["momentum"], lr_schedule=s["lr_schedule"],
              weight_decay=s["weight_decay"], monitor_every=s["monitor_every"], random_state=0,
              verbose=False)  # fmt: skip
    assert (s["hidden"], s["method"]) == (16, "pcd")
    return X, rbm.fit(X)


def log_p_all_visible(rbm):
    """log p(v) of every binary v in NumPy (hidden units summed in closed form)."""
    W, a, b = (x.astype(float) for x in (rbm.weights_, rbm.visible_bias_, rbm.hidden_bias_))
    V = all_binary(W.shape[0])
    neg_free = V @ a + np.logaddexp(0.0, V @ W + b).sum(1)
    return V, neg_free - logsumexp(neg_free)


def test_bars_stripes_target(bars_stripes_rbm):
    """16 hidden units, PCD with the defaults for bars-stripes-3: mean exact log-likelihood
    within 0.5 nats of the optimum -ln 14 (and the monitor's value is the NumPy one)."""
    X, rbm = bars_stripes_rbm
    _, log_p = log_p_all_visible(rbm)
    rows = (X @ (2 ** np.arange(9)[::-1])).astype(int)
    mean_ll = log_p[rows].mean()
    assert mean_ll > -np.log(14) - 0.5, mean_ll
    assert rbm.history_[-1]["log_likelihood_exact"] == pytest.approx(mean_ll, abs=1e-3)


def test_history_records_the_monitors(bars_stripes_rbm):
    _, rbm = bars_stripes_rbm
    last = rbm.history_[-1]
    assert [r["epoch"] for r in rbm.history_][-2:] == [rbm.n_epochs - 100, rbm.n_epochs]
    for key in ("reconstruction_error", "pseudo_log_likelihood", "chain_rhat", "chain_ess"):
        assert np.isfinite(last[key]), key


def test_chain_diagnostics_of_independent_draws(tmp_path):
    """Zero weights: every Gibbs sweep draws v afresh from the marginals, so the persistent
    chains are independent draws: R-hat near 1, ESS near chains x draws. (The run is resumed
    from its checkpoint with more epochs: the chain window survives.)"""
    X = (np.random.default_rng(0).random((40, 9)) < np.linspace(0.1, 0.9, 9)).astype(float)
    rbm = RBM(4, n_epochs=1, batch_size=40, n_chains=20, init_scale=0.0, learning_rate=1e-9,
              random_state=0, verbose=False, monitor=False, diagnostics_window=50,
              checkpoint=tmp_path / "rbm.pt")  # fmt: skip
    rbm.fit(X)
    rbm.set_params(n_epochs=60)
    rbm.fit(X, resume=True)
    diagnostics = rbm.chain_diagnostics()
    assert diagnostics["chain_draws"] == 50
    assert diagnostics["chain_rhat"] < 1.02
    assert diagnostics["chain_ess"] > 0.6 * 20 * 50


def test_sampling_reproduces_the_patterns(bars_stripes_rbm):
    X, rbm = bars_stripes_rbm
    samples = rbm.sample(200, n_steps=200, random_state=4) > 0.5
    hits = (samples[:, None, :] == X[None].astype(bool)).all(-1).any(-1)
    assert hits.mean() > 0.8
    np.testing.assert_array_equal(rbm.sample(5, n_steps=20, random_state=3),
                                  rbm.sample(5, n_steps=20, random_state=3))  # fmt: skip


def test_inpainting_matches_the_exact_conditional():
    """Clamped Gibbs sampling of the bottom row given the top two rows against the exact
    conditional mean p(missing | observed), enumerated in NumPy. (A briefly trained model: in
    a well-trained one the clamped chains switch between completions too rarely for a test.)"""
    X = load_dataset("bars-stripes-3").X
    rbm = RBM(16, n_epochs=300, batch_size=14, learning_rate=0.1, n_chains=100, momentum=0.5,
              random_state=0, verbose=False, monitor=False).fit(X)  # fmt: skip
    observed = np.zeros_like(X, dtype=bool)
    observed[:, :6] = True
    filled = rbm.inpaint(X, observed, n_steps=2000, burn_in=100, random_state=0)
    np.testing.assert_array_equal(filled[observed], X[observed])
    V, log_p = log_p_all_visible(rbm)
    for row, got in zip(X, filled, strict=True):
        match = (V[:, :6] == row[:6]).all(1)
        weights = np.exp(log_p[match] - log_p[match].max())
        exact = weights @ V[match][:, 6:] / weights.sum()
        np.testing.assert_allclose(got[6:], exact, atol=0.1)


def test_transform_reconstruct_shapes(bars_stripes_rbm):
    X, rbm = bars_stripes_rbm
    assert rbm.transform(X).shape == (14, 16)
    assert rbm.reconstruct(X).shape == X.shape
    assert rbm.denoise(X, n_steps=3, random_state=0).shape == X.shape


def test_same_seed_same_model():
    X = load_dataset("bars-stripes-3").X
    fits = [
        RBM(8, n_epochs=5, batch_size=4, random_state=7, verbose=False).fit(X) for _ in range(2)
    ]
    np.testing.assert_array_equal(fits[0].weights_, fits[1].weights_)
    assert (
        fits[0].history_[-1]["log_likelihood_exact"] == fits[1].history_[-1]["log_likelihood_exact"]
    )


def test_partial_last_batch_with_parallel_tempering():
    """14 rows in batches of 5, 5, 4; the swap rule itself is checked against exact tempered
    marginals in test_nn_rbm_tempering.py."""
    X = load_dataset("bars-stripes-3").X
    rbm = RBM(8, n_epochs=3, batch_size=5, n_temperatures=3, random_state=0, verbose=False)
    rbm.fit(X)
    assert rbm._state["step"] == 9
    assert rbm._state["chains"].shape == (3, 5, 9)  # temperatures, chains (= batch), visible


@pytest.mark.parametrize(
    ("params", "data", "message"),
    [
        ({}, np.full((4, 3), 1.3), "Values above 1 in data"),
        ({}, np.array([[0.0, np.nan], [1.0, 0.0]]), "NaN"),
        ({"k": 0}, np.eye(3), "k: expected an integer >= 1"),
        ({"method": "pdc"}, np.eye(3), "method: expected one of cd, pcd"),
        ({"device": "tpu"}, np.eye(3), "device"),
    ],
)
def test_bad_input(params, data, message):
    with pytest.raises(ValueError, match=message):
        RBM(2, verbose=False, **params).fit(data)


def test_grey_data_as_probabilities_and_binarize():
    """Bernoulli units take values in [0, 1] as probabilities (as BernoulliRBM does): grey rows
    get only the metrics defined for them; ``binarize=t`` trains exactly as on ``X > t``; data
    outside [0, 1] are named (X, X_val); a threshold is refused for Gaussian units."""
    settings = {"n_epochs": 2, "batch_size": 5, "random_state": 3, "verbose": False}
    P = np.random.default_rng(0).random((14, 9))
    record = RBM(4, **settings).fit(P).history_[-1]
    assert record["log_likelihood_exact"] is None and record["pseudo_log_likelihood"] is None
    assert 0 < record["reconstruction_error"] < 1
    binary = (P > 0.3).astype(np.float64)
    assert RBM(4, **settings).fit(binary).history_[-1]["log_likelihood_exact"] is not None
    thresholded = RBM(4, binarize=0.3, **settings).fit(P)
    np.testing.assert_array_equal(thresholded.weights_, RBM(4, **settings).fit(binary).weights_)
    np.testing.assert_array_equal(thresholded.transform(P), thresholded.transform(binary))
    with pytest.raises(InputError, match=r"X: Values above 1 in data \(range \[0.5"):
        RBM(4, **settings).fit(P + 0.5)
    with pytest.raises(InputError, match="X_val: Negative values in data"):
        RBM(4, **settings).fit(P, X_val=P - 0.5)
    with pytest.raises(InputError, match="binarize: expected None for visible='gaussian'"):
        RBM(4, visible="gaussian", binarize=0.5, **settings).fit(P)
    with pytest.raises(InputError, match="binarize: expected None or a finite threshold"):
        RBM(4, binarize="yes", **settings).fit(P)


def test_resume_needs_a_checkpoint_path():
    with pytest.raises(InputError, match="resume: continues from `checkpoint`, which is None"):
        RBM(2, n_epochs=1, batch_size=2, verbose=False).fit(np.eye(3), resume=True)


def test_seed_none_is_fresh_entropy_and_recorded():
    """random_state=None draws a new seed per fit, kept in seed_; refitting with it repeats
    the run exactly."""
    X = load_dataset("bars-stripes-3").X
    settings = {"n_epochs": 3, "batch_size": 5, "monitor": False, "verbose": False}
    first, second = (RBM(4, **settings).fit(X) for _ in range(2))
    assert first.seed_ != second.seed_
    again = RBM(4, random_state=first.seed_, **settings).fit(X)
    np.testing.assert_array_equal(again.weights_, first.weights_)


def test_device_auto_resolves_to_this_machine():
    import torch

    rbm = RBM(2, n_epochs=1, batch_size=3, verbose=False, device="auto").fit(np.eye(3))
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert rbm._state["W"].device.type == expected


def test_wrong_feature_count_after_fit():
    rbm = RBM(2, n_epochs=1, batch_size=2, verbose=False, random_state=0).fit(np.eye(3))
    with pytest.raises(ValueError, match="X has 4 features, but RBM is expecting 3"):
        rbm.transform(np.eye(4))
