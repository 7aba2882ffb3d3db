"""The model comparison (workbench.nn.dbm.compare): the bars data set's distribution and entropy
against a plain enumeration of the bars, the DBN's exact likelihood against a brute-force sum
over both hidden layers, and every model's exact NLL at or above the entropy floor."""

import itertools
from collections import defaultdict

import numpy as np
import pytest
from scipy.special import expit, logsumexp

from workbench.data import load_dataset
from workbench.data.patterns import bars_distribution
from workbench.energy.states import binary_states
from workbench.nn import DBN
from workbench.nn.dbm.compare import compare, comparison_figure, dbn_log_likelihood, format_table


def enumerate_bars(n, p):
    """{image bytes: probability} by looping over every set of on bars."""
    table = defaultdict(float)
    for on in itertools.product((0, 1), repeat=2 * n):
        image = np.zeros((n, n))
        for i in range(n):
            if on[i]:
                image[i, :] = 1
            if on[n + i]:
                image[:, i] = 1
        k = sum(on)
        table[image.ravel().tobytes()] += p**k * (1 - p) ** (2 * n - k)
    return table


@pytest.mark.parametrize(("n", "p"), [(5, 0.5), (3, 0.3)])
def test_bars_distribution_and_entropy_by_enumeration(n, p):
    patterns, probabilities = bars_distribution(n, p)
    table = enumerate_bars(n, p)
    assert len(table) == len(patterns)
    for image, prob in zip(patterns, probabilities, strict=True):
        assert prob == pytest.approx(table[image.astype(float).tobytes()], rel=1e-12)
    entropy = -sum(q * np.log(q) for q in table.values())
    assert float(-(probabilities * np.log(probabilities)).sum()) == pytest.approx(entropy)
    assert entropy < 2 * n * -(p * np.log(p) + (1 - p) * np.log(1 - p))  # images collide
    data = load_dataset(f"bars-{n}" + ("" if p == 0.5 else f"-{p}"), split="train")
    assert data.X.shape == (2000, n * n) and data.image_shape == (n, n)
    assert all(row.tobytes() in table for row in data.X[:200])
    assert data.X.mean() == pytest.approx(1 - (1 - p) ** 2, abs=0.02)


def test_dbn_exact_likelihood_equals_brute_force_and_normalises():
    X = load_dataset("bars-stripes-3").X
    dbn = DBN((4, 3), n_epochs=5, rbm_params={"batch_size": 7}, random_state=0, verbose=False)
    dbn.fit(X)
    V = binary_states(9)
    log_p = dbn_log_likelihood(dbn, V)
    assert logsumexp(log_p) == pytest.approx(0.0, abs=1e-9)
    bottom, top = dbn.rbms_
    H1, H2 = binary_states(4), binary_states(3)
    W2, a2, b2 = (x.astype(float) for x in (top.weights_, top.visible_bias_, top.hidden_bias_))
    log_joint = (H1 @ a2)[:, None] + (H2 @ b2)[None, :] + H1 @ W2 @ H2.T  # (16, 8)
    log_top = logsumexp(log_joint, axis=1) - logsumexp(log_joint)
    mean = expit(H1 @ bottom.weights_.astype(float).T + bottom.visible_bias_)  # (16, 9)
    cond = np.prod(np.where(V[:, None, :] == 1, mean[None], 1 - mean[None]), axis=2)  # (512, 16)
    np.testing.assert_allclose(log_p, np.log(cond @ np.exp(log_top)), atol=1e-9)


def test_every_model_is_at_or_above_the_entropy_floor():
    rows = compare(("bars-stripes-3",), seed=0, quick=True)
    assert [r["model"] for r in rows] == ["rbm", "dbn", "dbm", "sbn"]
    for r in rows:
        assert r["entropy"] == pytest.approx(np.log(14))
        assert r["entropy"] <= r["nll"] < 9 * np.log(2), r  # above the floor, below uniform
        assert 150 < r["parameters"] < 250
    assert "floor" in format_table(rows)
    assert len(comparison_figure(rows).axes) == 1


@pytest.mark.slow
def test_comparison_full_budget():
    rows = compare(seed=0, quick=False)
    for r in rows:
        assert r["nll"] >= r["entropy"]
    print(format_table(rows))


@pytest.mark.slow
def test_heldout_mnist5k_has_standard_errors():
    from workbench.nn.dbm.compare import compare_heldout

    rows = compare_heldout(n_epochs=2, n_betas=1000, n_importance=100)
    assert [r["model"] for r in rows] == ["rbm", "dbn", "dbm", "sbn"]
    for r in rows:
        assert -300 < r["log_likelihood"] < -60 and 0 < r["stderr"] < 5, r
    assert max(r["parameters"] for r in rows) < 1.02 * min(r["parameters"] for r in rows)
