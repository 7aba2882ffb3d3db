"""Risk study against the exact Bayes risk of the Beta-Binomial, found by enumerating k."""

import json
import warnings

import matplotlib
import numpy as np
import pytest
from scipy.special import betaln, comb

from workbench.bayes.risk import risk_study

N, A, B = 10, 2.0, 2.0


def exact_bayes_risk(estimator):
    """sum_k P(k) E[(e(k) - p)^2 | k] = sum_k P(k) (Var(p | k) + (e(k) - E[p | k])^2)."""
    k = np.arange(N + 1)
    marginal = comb(N, k) * np.exp(betaln(A + k, B + N - k) - betaln(A, B))
    a, b = A + k, B + N - k
    mean, var = a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))
    return float(np.sum(marginal * (var + (estimator(k) - mean) ** 2)))


EXACT = {
    "map": exact_bayes_risk(lambda k: (A + k - 1) / (A + B + N - 2)),
    "ml": exact_bayes_risk(lambda k: k / N),
    "cm": exact_bayes_risk(lambda k: (A + k) / (A + B + N)),
    "cm_ml": exact_bayes_risk(lambda k: (k + 1) / (N + 2)),
}


@pytest.fixture(scope="module")
def study():
    return risk_study("beta-binomial", replicates=60, seed=7, n_workers=2, draws=500, chains=2)


def test_exact_risk_is_smallest_for_the_posterior_mean():
    assert min(EXACT, key=EXACT.get) == "cm"


def test_simulated_risk_matches_exact_risk(study):
    summary = study.summary()
    for method, exact in EXACT.items():
        row = summary[method]
        assert row["n"] == 60
        assert abs(row["mse"] - exact) < 4 * row["mse_mcse"], (method, row["mse"], exact)


def test_replicates_apply_each_estimator_to_its_own_data(study):
    truth = study.truth["p"]
    assert truth.shape == (60,) and 0 < truth.min() and truth.max() < 1
    heads = np.rint(study.estimates["ml"]["p"] * N)  # ML = k / n recovers each simulated k
    np.testing.assert_allclose(study.estimates["ml"]["p"], heads / N, atol=1e-6)
    np.testing.assert_allclose(
        study.estimates["map"]["p"], (A + heads - 1) / (A + B + N - 2), atol=1e-6
    )


def test_ml_pays_a_clear_paired_excess_over_cm(study):
    ml = study.summary()["ml"]
    assert ml["excess_over_cm"] > 2 * ml["excess_mcse"]


def test_non_converged_replicates_are_counted_and_can_be_left_out(study):
    assert study.converged.shape == (60,)
    k = study.not_converged
    assert study.to_dict()["not_converged"] == k
    assert f"NUTS did not converge in {k} of 60 replicates (included" in study.table()
    assert study.summary()["cm"]["n"] == 60
    original = study.converged.copy()
    study.converged[:5] = False  # as if five replicates had failed
    try:
        study.converged_only = True
        kept = int(study.converged.sum())
        assert study.summary()["cm"]["n"] == study.summary()["ml"]["n"] == kept
        assert "(excluded (converged_only))" in study.table()
    finally:
        study.converged_only, study.converged = False, original


def test_same_seed_same_truths(tmp_path):
    first = risk_study("beta-binomial", replicates=3, seed=11, n_workers=1, methods=("map", "ml"))
    files = first.save(tmp_path / "first")
    # libraries add warning filters when first imported; after that a study changes none
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # a front filter that a global "ignore" would displace
        filters, backend = list(warnings.filters), matplotlib.get_backend()
        second = risk_study(
            "beta-binomial", replicates=3, seed=11, n_workers=1, methods=("map", "ml")
        )
        second.save(tmp_path / "second")  # the figure is drawn outside pyplot
        assert warnings.filters == filters and matplotlib.get_backend() == backend
    assert first.converged is None and len(first.warnings) == 3
    np.testing.assert_array_equal(first.truth["p"], second.truth["p"])
    np.testing.assert_array_equal(first.estimates["ml"]["p"], second.estimates["ml"]["p"])
    assert open(files["figure"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    saved = json.loads(open(files["json"]).read())
    assert saved["risk"] == first.summary() and saved["not_converged"] is None
