"""The RBM log-likelihood graph inside PyMC: values and gradients against brute force and the
exact gradient, the model builder, and (slow) the estimators on bars-and-stripes."""

import warnings

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest

from workbench.data.patterns import bars_stripes
from workbench.energy import RBM, binary_states, rbm_log_likelihood, rbm_model


def brute_log_likelihood(W, a, b, V):
    """Sum over rows of log p(v) by summing exp(-E) over every joint state in NumPy."""
    nv, nh = W.shape
    S, H = binary_states(nv), binary_states(nh)
    log_joint = (S @ a)[:, None] + (H @ b)[None, :] + S @ W @ H.T  # (2^nv, 2^nh) = -E
    log_z = np.logaddexp.reduce(log_joint.ravel())
    log_pv = np.logaddexp.reduce((V @ a)[:, None] + (H @ b)[None, :] + V @ W @ H.T, axis=1)
    return float(np.sum(log_pv - log_z))


@pytest.mark.parametrize(("n_visible", "n_hidden"), [(4, 2), (3, 5)])
def test_graph_value_and_gradient(n_visible, n_hidden):
    rng = np.random.default_rng(n_hidden)
    W0, a0, b0 = (
        rng.normal(size=(n_visible, n_hidden)),
        rng.normal(size=n_visible),
        rng.normal(size=n_hidden),
    )
    V = (rng.random((11, n_visible)) < 0.5).astype(float)
    W = pt.matrix("W", shape=(n_visible, n_hidden))
    a, b = pt.vector("a", shape=(n_visible,)), pt.vector("b", shape=(n_hidden,))
    loglik = rbm_log_likelihood(V, W, a, b)
    fn = pytensor.function(
        [W, a, b], [loglik, *pytensor.grad(loglik, [W, a, b])], mode="FAST_COMPILE"
    )
    value, gW, ga, gb = fn(W0, a0, b0)
    assert value == pytest.approx(brute_log_likelihood(W0, a0, b0, V), rel=1e-10)
    exact = RBM(W0, a0, b0).exact_gradient(V)
    np.testing.assert_allclose(gW, len(V) * exact["W"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ga, len(V) * exact["visible_bias"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gb, len(V) * exact["hidden_bias"], rtol=1e-8, atol=1e-10)


def test_model_builder_potential_matches_rbm():
    data = bars_stripes(2)
    model = rbm_model(data, 2, seed=3)
    point = model.initial_point()
    logp = model.compile_logp(vars=model.potentials, jacobian=False, mode="FAST_COMPILE")(point)
    gaps = np.exp(point["hidden_bias_gaps_log__"])
    rbm = RBM(point["W"], point["visible_bias"], -np.cumsum(gaps))
    assert logp == pytest.approx(rbm.log_prob(data).sum(), rel=1e-10)
    assert {rv.name for rv in model.free_RVs} == {"W", "visible_bias", "hidden_bias_gaps"}


def test_bridge_bad_input():
    W = pt.matrix("W", shape=(4, 2))
    a, b = pt.vector("a", shape=(4,)), pt.vector("b", shape=(2,))
    with pytest.raises(ValueError, match="0 or 1"):
        rbm_log_likelihood(np.full((3, 4), 0.5), W, a, b)
    with pytest.raises(ValueError, match=r"data: expected shape \(n_rows, 4\)"):
        rbm_log_likelihood(np.zeros((3, 5)), W, a, b)
    with pytest.raises(ValueError, match="W: needs a static shape"):
        rbm_log_likelihood(np.zeros((3, 4)), pt.matrix("W"), a, b)
    big = pt.matrix("W", shape=(40, 20))
    with pytest.raises(ValueError, match=r"2\^20.*max_states"):
        rbm_log_likelihood(np.zeros((3, 40)), big, pt.vector(shape=(40,)), pt.vector(shape=(20,)))
    with pytest.raises(ValueError, match="n_hidden: expected an integer >= 1"):
        rbm_model(bars_stripes(2), 0)


@pytest.mark.slow
def test_estimators_on_bars_and_stripes():
    import workbench

    data = np.repeat(bars_stripes(2), 5, axis=0)  # the setting of tutorial 05
    model = rbm_model(data, 2, prior_sd=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = workbench.estimate(model, methods=("map", "ml", "cm"), seed=1, progressbar=False)
    assert result.diagnostics["r_hat_max"] < 1.01
    loglik = {
        m: RBM(*(result.point[m][k] for k in ("W", "visible_bias", "hidden_bias"))).log_likelihood(
            data
        )
        for m in ("map", "ml", "cm")
    }
    # the ML maximises the likelihood: no other estimate beats it
    assert loglik["ml"] >= loglik["map"] - 1e-6 and loglik["ml"] >= loglik["cm"]
    assert isinstance(model, pm.Model)
