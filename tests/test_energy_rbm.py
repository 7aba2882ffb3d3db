"""Evidence for workbench.energy.RBM: every quantity against an independent oracle
(brute-force sums over all joint states, numerical quadrature, finite differences, closed
forms, Gibbs frequencies)."""

import itertools

import numpy as np
import pytest
from scipy import stats

from workbench.energy import RBM, Hopfield, binary_states
from workbench.energy import states as states_module
from workbench.energy.gibbs import sweep

LAYER_PAIRS = [(v, h) for v in ("bernoulli", "gaussian") for h in ("bernoulli", "gaussian")]


def random_rbm(n_visible, n_hidden, seed, scale=1.0, visible="bernoulli", hidden="bernoulli"):
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, scale, (n_visible, n_hidden))
    if visible == hidden == "gaussian":
        W *= 0.2  # keep the joint precision matrix positive definite
    return RBM(
        W,
        rng.normal(0.0, 0.5, n_visible),
        rng.normal(0.0, 0.5, n_hidden),
        visible=visible,
        hidden=hidden,
        sigma=rng.uniform(0.6, 1.2, n_visible),
        hidden_sigma=rng.uniform(0.6, 1.2, n_hidden),
    )


def numpy_energy(rbm, V, H):
    """E(v, h) written out in NumPy, independently of the PyTensor graphs."""
    E = -(V @ rbm.visible_bias) - H @ rbm.hidden_bias - np.einsum("ni,ij,nj->n", V, rbm.W, H)
    if rbm.visible == "gaussian":
        E += (V**2 / (2 * rbm.sigma**2)).sum(axis=1)
    if rbm.hidden == "gaussian":
        E += (H**2 / (2 * rbm.hidden_sigma**2)).sum(axis=1)
    return E


def layer_grid(kind, n, scale, points=161, width=9.0):
    """All states of a layer: {0,1}^n, or a tensor grid for quadrature with its cell volume."""
    if kind == "bernoulli":
        return binary_states(n), 1.0
    axes = [np.linspace(-width * s, width * s, points) for s in scale]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, n)
    return grid, float(np.prod([ax[1] - ax[0] for ax in axes]))


def brute_log_z(rbm):
    """log of the sum (integral on a grid) of exp(-E) over every joint state (v, h)."""
    V, dv = layer_grid(rbm.visible, rbm.n_visible, rbm.sigma * 2)
    H, dh = layer_grid(rbm.hidden, rbm.n_hidden, rbm.hidden_sigma * 2)
    iv, ih = np.meshgrid(np.arange(len(V)), np.arange(len(H)), indexing="ij")
    E = numpy_energy(rbm, V[iv.ravel()], H[ih.ravel()])
    return float(np.logaddexp.reduce(-E) + np.log(dv * dh))


# ---------------------------------------------------------------- energies and free energies
@pytest.mark.parametrize(("visible", "hidden"), LAYER_PAIRS)
def test_energy_matches_numpy(visible, hidden):
    rbm = random_rbm(3, 2, 0, visible=visible, hidden=hidden)
    rng = np.random.default_rng(1)
    V = binary_states(3) if visible == "bernoulli" else rng.normal(size=(8, 3))
    H = (
        binary_states(2)[rng.integers(0, 4, len(V))]
        if hidden == "bernoulli"
        else rng.normal(size=(len(V), 2))
    )
    np.testing.assert_allclose(rbm.energy(V, H), numpy_energy(rbm, V, H), rtol=1e-12)


@pytest.mark.parametrize(("visible", "hidden"), LAYER_PAIRS)
def test_free_energy_sums_or_integrates_the_hidden_layer(visible, hidden):
    rbm = random_rbm(2, 2, 3, visible=visible, hidden=hidden)
    V = binary_states(2) if visible == "bernoulli" else np.random.default_rng(0).normal(size=(4, 2))
    H, dh = layer_grid(hidden, 2, rbm.hidden_sigma * 2)
    brute = [
        -(np.logaddexp.reduce(-numpy_energy(rbm, np.repeat(v[None], len(H), 0), H)) + np.log(dh))
        for v in V
    ]
    np.testing.assert_allclose(rbm.free_energy(V), brute, rtol=1e-9, atol=1e-9)
    Hs = binary_states(2) if hidden == "bernoulli" else np.random.default_rng(0).normal(size=(4, 2))
    Vg, dv = layer_grid(visible, 2, rbm.sigma * 2)
    brute_h = [
        -(np.logaddexp.reduce(-numpy_energy(rbm, Vg, np.repeat(h[None], len(Vg), 0))) + np.log(dv))
        for h in Hs
    ]
    np.testing.assert_allclose(rbm.hidden_free_energy(Hs), brute_h, rtol=1e-9, atol=1e-9)


def test_free_energy_is_stable_for_huge_fields():
    rbm = RBM(np.array([[800.0, -800.0]]), [0.0], [0.0, 0.0])
    F = rbm.free_energy([[1.0], [0.0]])
    np.testing.assert_allclose(F, [-800.0, -2 * np.log(2.0)], rtol=1e-12)
    # Z = exp(-F(1)) + exp(-F(0)) = e^800 + 4: no overflow, to the last digit.
    assert rbm.log_partition().value == pytest.approx(np.logaddexp(800.0, np.log(4.0)), rel=1e-14)


@pytest.mark.parametrize("hidden", ["bernoulli", "gaussian"])
def test_pytensor_grad_of_free_energy_equals_analytic(hidden):
    rbm = random_rbm(6, 4, 5, hidden=hidden)
    V = (np.random.default_rng(2).random((7, 6)) < 0.5).astype(float)
    mean_f, grad = rbm.free_energy_gradient(V)
    field = V @ rbm.W + rbm.hidden_bias
    # dF/dfield: -sigmoid(field) for Bernoulli hidden units, -tau^2 field for Gaussian ones
    expect_h = 1 / (1 + np.exp(-field)) if hidden == "bernoulli" else rbm.hidden_sigma**2 * field
    np.testing.assert_allclose(mean_f, rbm.free_energy(V).mean(), rtol=1e-12)
    np.testing.assert_allclose(grad["W"], -V.T @ expect_h / len(V), rtol=1e-10)
    np.testing.assert_allclose(grad["visible_bias"], -V.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(grad["hidden_bias"], -expect_h.mean(axis=0), rtol=1e-10)


# ---------------------------------------------------------------- partition function
@pytest.mark.parametrize(("visible", "hidden"), LAYER_PAIRS)
def test_exact_log_z_equals_brute_force_over_joint_states(visible, hidden):
    shape = (3, 4) if visible == hidden == "bernoulli" else (2, 2)
    if "gaussian" in (visible, hidden) and visible != hidden:
        shape = (2, 2)
    if visible == hidden == "gaussian":
        shape = (1, 1)
    rbm = random_rbm(*shape, 7, visible=visible, hidden=hidden)
    np.testing.assert_allclose(rbm.log_partition().value, brute_log_z(rbm), rtol=1e-7)


def test_exact_log_z_larger_model_and_chunking(monkeypatch):
    rbm = random_rbm(9, 7, 11)
    V, H = binary_states(9), binary_states(7)
    iv, ih = np.meshgrid(np.arange(len(V)), np.arange(len(H)), indexing="ij")
    brute = np.logaddexp.reduce(-numpy_energy(rbm, V[iv.ravel()], H[ih.ravel()]))
    np.testing.assert_allclose(rbm.log_partition().value, brute, rtol=1e-12)
    monkeypatch.setattr(states_module, "CHUNK_ELEMENTS", 50)  # 5 states per chunk
    fresh = RBM(rbm.W, rbm.visible_bias, rbm.hidden_bias)
    np.testing.assert_allclose(fresh.log_partition().value, brute, rtol=1e-12)
    np.testing.assert_allclose(fresh.exact_gradient(V[:5])["W"], rbm.exact_gradient(V[:5])["W"])


def test_log_prob_normalises_and_matches_joint_table():
    rbm = random_rbm(4, 3, 2)
    V = binary_states(4)
    p = np.exp(rbm.log_prob(V))
    np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-12)
    table = rbm.joint_table()
    np.testing.assert_allclose(table.marginal, p, rtol=1e-10)
    np.testing.assert_allclose(table.probability.sum(), 1.0)
    np.testing.assert_allclose(table.energy, numpy_energy(rbm, table.visible, table.hidden))
    assert rbm.log_likelihood(V[:3]) == pytest.approx(np.log(p[:3]).mean())
    assert "log Z" in str(table) and len(str(table).splitlines()) == 2**7 + 4  # +head, rule, notes


# ---------------------------------------------------------------- exact gradient
@pytest.mark.parametrize(
    ("visible", "hidden"),
    [
        ("bernoulli", "bernoulli"),
        ("gaussian", "bernoulli"),
        ("bernoulli", "gaussian"),
        ("gaussian", "gaussian"),
    ],
)
def test_exact_gradient_equals_finite_differences(visible, hidden):
    rbm = random_rbm(4, 3, 13, visible=visible, hidden=hidden)
    rng = np.random.default_rng(3)
    V = (
        (rng.random((9, 4)) < 0.4).astype(float)
        if visible == "bernoulli"
        else rng.normal(size=(9, 4))
    )
    grad = rbm.exact_gradient(V)
    params = {"W": rbm.W, "visible_bias": rbm.visible_bias, "hidden_bias": rbm.hidden_bias}
    kinds = dict(visible=visible, hidden=hidden, sigma=rbm.sigma, hidden_sigma=rbm.hidden_sigma)
    step = 1e-5
    for name, value in params.items():
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            shifted = []
            for sign in (1, -1):
                new = {k: np.array(v) for k, v in params.items()}
                new[name][index] += sign * step
                shifted.append(
                    RBM(new["W"], new["visible_bias"], new["hidden_bias"], **kinds).log_likelihood(
                        V
                    )
                )
            numeric[index] = (shifted[0] - shifted[1]) / (2 * step)
        np.testing.assert_allclose(grad[name], numeric, rtol=1e-5, atol=1e-7, err_msg=name)


def test_one_gradient_step_raises_the_likelihood():
    rbm = random_rbm(4, 3, 21)
    V = np.array([[1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 0, 0]], dtype=float)
    grad = rbm.exact_gradient(V)
    lr = 0.1
    stepped = RBM(
        rbm.W + lr * grad["W"],
        rbm.visible_bias + lr * grad["visible_bias"],
        rbm.hidden_bias + lr * grad["hidden_bias"],
    )
    assert stepped.log_likelihood(V) > rbm.log_likelihood(V)


# ---------------------------------------------------------------- conditionals
def test_conditionals_equal_ratios_of_the_joint_table():
    rbm = random_rbm(3, 2, 4)
    table = rbm.joint_table()
    p = table.probability.reshape(8, 4)  # (v state, h state)
    H = binary_states(2)
    from_table = (p @ H) / p.sum(axis=1, keepdims=True)  # p(h_j = 1 | v)
    np.testing.assert_allclose(rbm.hidden_given_visible(binary_states(3)), from_table, rtol=1e-10)
    V = binary_states(3)
    from_table_v = (p.T @ V) / p.sum(axis=0)[:, None]
    np.testing.assert_allclose(rbm.visible_given_hidden(H), from_table_v, rtol=1e-10)


def test_gibbs_frequencies_match_the_joint_distribution():
    rbm = random_rbm(3, 2, 4)
    V, H = rbm.sample(20000, n_steps=25, seed=5)
    codes = (np.hstack([V, H]) @ (2 ** np.arange(4, -1, -1))).astype(int)
    counts = np.bincount(codes, minlength=32)
    expected = rbm.joint_table().probability * len(codes)
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert stats.chi2.sf(chi2, df=31) > 1e-3, chi2
    same = rbm.sample(50, n_steps=5, seed=5)[0], rbm.sample(50, n_steps=5, seed=5)[0]
    np.testing.assert_array_equal(*same)


def test_gaussian_hidden_conditional_moments_from_gibbs():
    rbm = random_rbm(3, 2, 6, hidden="gaussian")
    v = np.array([1.0, 0.0, 1.0])
    mean, var = rbm.hidden_given_visible(v)
    _, H = sweep(rbm, np.repeat(v[None], 40000, 0), 1.0, np.zeros(3), np.random.default_rng(0))
    se = np.sqrt(var / 40000)
    assert np.all(np.abs(H.mean(axis=0) - mean) < 4 * se)
    np.testing.assert_allclose(H.var(axis=0), var, rtol=0.05)


# ---------------------------------------------------------------- Gaussian layers
def test_gaussian_gaussian_rbm_is_a_multivariate_normal():
    rbm = random_rbm(3, 2, 8, visible="gaussian", hidden="gaussian")
    mean, cov = rbm.normal_parameters()
    # the visible marginal through the free energy is N(mean_v, cov_vv)
    V = np.random.default_rng(1).normal(size=(6, 3))
    np.testing.assert_allclose(
        rbm.log_prob(V), stats.multivariate_normal(mean[:3], cov[:3, :3]).logpdf(V), rtol=1e-10
    )
    # and Gibbs sampling with the conditionals reproduces the covariance of (v, h)
    V, H = rbm.sample(20000, n_steps=30, seed=2)
    sample_cov = np.cov(np.hstack([V, H]).T)
    se = np.sqrt((cov**2 + np.outer(np.diag(cov), np.diag(cov))) / 20000)
    assert np.all(np.abs(sample_cov - cov) < 5 * se), (sample_cov, cov)


def test_gaussian_bernoulli_log_prob_is_a_density():
    rbm = random_rbm(2, 3, 9, visible="gaussian")
    grid, cell = layer_grid("gaussian", 2, rbm.sigma * 2, points=201)
    total = np.exp(rbm.log_prob(grid)).sum() * cell
    assert total == pytest.approx(1.0, abs=1e-6)


# ---------------------------------------------------------------- Hopfield
def test_hopfield_energy_and_hubbard_stratonovich_marginal():
    rng = np.random.default_rng(12)
    D = 6
    A = rng.normal(size=(D, D))
    J = (A + A.T) / 2  # indefinite: the diagonal shift of to_rbm is exercised
    bias = rng.normal(size=D)
    net = Hopfield(J, bias)
    X = binary_states(D)
    loops = [
        -sum(bias[i] * x[i] for i in range(D))
        - 0.5 * sum(x[i] * J[i, j] * x[j] for i, j in itertools.product(range(D), repeat=2))
        for x in X
    ]
    np.testing.assert_allclose(net.energy(X), loops, rtol=1e-12)
    rbm = net.to_rbm()
    assert rbm.hidden == "gaussian" and rbm.n_hidden <= D
    np.testing.assert_allclose(rbm.log_prob(X), net.log_prob(X), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.exp(net.log_prob(X)).sum(), 1.0)


def test_hopfield_with_psd_couplings_gives_w_w_transpose():
    W = np.random.default_rng(3).normal(size=(5, 2))
    rbm = Hopfield(W @ W.T, np.zeros(5)).to_rbm()
    assert rbm.n_hidden == 2
    np.testing.assert_allclose(rbm.W @ rbm.W.T, W @ W.T, atol=1e-10)
    np.testing.assert_allclose(rbm.visible_bias, 0.0, atol=1e-12)


# ---------------------------------------------------------------- bad input
def test_bad_input_messages():
    W, a, b = np.zeros((3, 2)), np.zeros(3), np.zeros(2)
    rbm = RBM(W, a, b)
    with pytest.raises(ValueError, match=r"0 or 1.*0\.5.*row 0, column 1"):
        rbm.free_energy([[1, 0.5, 0]])
    with pytest.raises(ValueError, match=r"visible_bias: expected shape \(3,\).*\(3, 2\).*\(4,\)"):
        RBM(W, np.zeros(4), b)
    with pytest.raises(ValueError, match=r"hidden_bias: expected shape \(2,\).*\(3, 2\).*\(3,\)"):
        RBM(W, a, np.zeros(3))
    with pytest.raises(ValueError, match=r"v: expected shape \(n_rows, 3\).*\(3, 2\).*\(2, 4\)"):
        rbm.free_energy(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="sigma: expected standard deviations > 0"):
        RBM(W, a, b, visible="gaussian", sigma=0.0)
    with pytest.raises(ValueError, match="hidden_sigma: expected standard deviations > 0"):
        RBM(W, a, b, hidden="gaussian", hidden_sigma=[1.0, -1.0])
    with pytest.raises(ValueError, match="W: expected finite values, got 1 NaN"):
        RBM(np.array([[np.nan, 0], [0, 0], [0, 0]]), a, b)
    with pytest.raises(ValueError, match="hidden_bias: expected finite"):
        RBM(W, a, [0.0, np.inf])
    with pytest.raises(ValueError, match="visible: expected one of"):
        RBM(W, a, b, visible="binary")
    with pytest.raises(ValueError, match="method: expected one of"):
        rbm.log_partition("bridge")
    with pytest.raises(ValueError, match="positive definite"):
        RBM(3 * np.ones((2, 2)), np.zeros(2), np.zeros(2), visible="gaussian", hidden="gaussian")
    with pytest.raises(ValueError, match="J: expected a symmetric"):
        Hopfield([[0, 1], [0, 0]], [0, 0])


def test_enumeration_too_large_says_limit_and_alternative():
    big = RBM(np.zeros((40, 30)), np.zeros(40), np.zeros(30))
    with pytest.raises(ValueError, match=r"2\^30.*hidden.*max_states.*method='ais'"):
        big.log_partition()
    with pytest.raises(ValueError, match="2\\^30"):
        big.log_prob(np.zeros(40))
    small = RBM(np.zeros((4, 3)), np.zeros(4), np.zeros(3))
    with pytest.raises(ValueError, match=r"2\^3 = 8 states.*max_states = 4"):
        small.log_partition(max_states=4)
    # a zero-weight model has log Z = sum of one-unit terms
    assert small.log_partition().value == pytest.approx(7 * np.log(2.0))
