"""Behaviour of workbench.estimate: seeds, to_dict, input validation, refusals, cheap paths."""

import json
import time

import numpy as np
import pymc as pm
import pytest
from conftest import SEED, cm_ml_value, emitted_warnings

import models
import workbench
from workbench.bayes.sampling import NutsRunner

SMALL = {"draws": 200, "tune": 200, "chains": 2}

# --------------------------------------------------------------------------------------------
# Seeds
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeded_runs():
    """Three runs from freshly built models: seed 11 twice, seed 12 once."""

    def run(seed, methods=("cm", "cm_ml")):
        model = models.build("poisson-gamma")
        return workbench.estimate(model, methods=methods, seed=seed, chains=2)

    return run(11), run(11), run(12, methods=("cm",))


def test_same_seed_gives_identical_cm(seeded_runs):
    first, again, other = seeded_runs
    assert float(first.point["cm"]["lam"]) == float(again.point["cm"]["lam"])
    np.testing.assert_array_equal(
        first.posterior["posterior"]["lam"].values, again.posterior["posterior"]["lam"].values
    )
    assert float(first.point["cm"]["lam"]) != float(other.point["cm"]["lam"])


def test_same_seed_gives_identical_cm_ml(seeded_runs):
    first, again, _ = seeded_runs
    assert float(first.point["cm_ml"]["lam"]) == float(again.point["cm_ml"]["lam"])


# --------------------------------------------------------------------------------------------
# to_dict
# --------------------------------------------------------------------------------------------

ENTRY_KEYS = {"map", "ml", "cm", "cm_ml", "sd", "mcse", "hdi", "hdi_prob"}
DIAGNOSTIC_KEYS = {"converged", "r_hat_max", "ess_bulk_min", "divergences"}


@pytest.fixture(scope="module")
def scalar_result(estimates):
    # shared with the closed-form module (same call, cached for the session)
    return estimates("beta-binomial", heads=3, trials=10, a=2.0, b=2.0)


@pytest.fixture(scope="module")
def vector_result(estimates):
    return estimates("laplace-denoise")


def test_to_dict_keys_and_json(scalar_result):
    result = scalar_result
    out = result.to_dict()
    assert {"model", "estimates", "diagnostics"} <= set(out)
    assert out["model"] == "beta-binomial"
    assert set(out["estimates"]) == {"p"}
    entry = out["estimates"]["p"]
    assert ENTRY_KEYS <= set(entry)
    assert DIAGNOSTIC_KEYS <= set(out["diagnostics"])
    text = json.dumps(out, allow_nan=False)  # strict JSON: no NaN / inf
    assert json.loads(text) == out
    for method in ("map", "ml", "cm", "cm_ml"):
        assert isinstance(entry[method], float)
        assert entry[method] == pytest.approx(float(result.point[method]["p"]), rel=1e-12)
    assert entry["sd"] == pytest.approx(float(result.sd["p"]), rel=1e-12)
    assert entry["mcse"] == pytest.approx(float(result.mcse["p"]), rel=1e-12)
    lo, hi = entry["hdi"]
    assert (lo, hi) == pytest.approx((float(result.hdi["p"][0]), float(result.hdi["p"][1])))
    assert 0 < lo < entry["cm"] < hi < 1
    assert entry["hdi_prob"] == 0.9
    diag = out["diagnostics"]
    assert isinstance(diag["converged"], bool) and isinstance(diag["divergences"], int)
    assert diag["r_hat_max"] == result.diagnostics["r_hat_max"]


def test_to_dict_vector_parameters_are_lists(vector_result):
    result = vector_result
    n = models.default_data("laplace-denoise").size
    out = result.to_dict()
    json.dumps(out, allow_nan=False)
    entry = out["estimates"]["x"]
    for key in ("map", "ml", "cm", "cm_ml", "sd", "mcse"):
        assert isinstance(entry[key], list) and len(entry[key]) == n, key
        assert all(isinstance(v, float) for v in entry[key]), key
    np.testing.assert_allclose(entry["cm"], result.point["cm"]["x"], rtol=1e-12)
    lo, hi = entry["hdi"]
    assert isinstance(lo, list) and isinstance(hi, list) and len(lo) == len(hi) == n
    assert np.all(np.asarray(lo) < np.asarray(hi))


def flat_direction_model():
    """x1 + x2 is observed, x1 - x2 is not: the likelihood is exactly flat along (1, -1)."""
    with pm.Model() as model:
        x = pm.Normal("x", 0.0, 1.0, shape=2)
        pm.Normal("y", mu=x[0] + x[1], sigma=0.1, observed=1.0)
    return model


@pytest.fixture(scope="module")
def flat_direction_result():
    with pytest.warns(UserWarning, match="CM-ML: not reported: the likelihood is flat"):
        return workbench.estimate(
            flat_direction_model(), methods=("ml", "cm_ml"), seed=SEED, **SMALL
        )


def test_flat_likelihood_refuses_cm_ml_before_sampling(flat_direction_result):
    result = flat_direction_result
    assert result.flat_posterior is None
    assert cm_ml_value(result, "x") is None
    np.testing.assert_allclose(np.sum(result.point["ml"]["x"]), 1.0, rtol=1e-6)


def test_to_dict_not_reported_is_null(flat_direction_result):
    out = flat_direction_result.to_dict()
    json.dumps(out, allow_nan=False)
    entry = out["estimates"]["x"]
    assert entry["cm_ml"] is None
    assert entry["cm"] is None and entry["mcse"] is None and entry["hdi"] is None
    assert entry["ml"] == pytest.approx(list(flat_direction_result.point["ml"]["x"]))
    assert out["warnings"] == flat_direction_result.warnings


# --------------------------------------------------------------------------------------------
# Input validation: ValueError naming the argument
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_model():
    return models.build("beta-binomial")


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"methods": ("map", "mode")}, "methods"),
        ({"methods": ()}, "methods"),
        ({"hdi_prob": 1.5}, "hdi_prob"),
        ({"hdi_prob": 0.0}, "hdi_prob"),
        ({"draws": 0}, "draws"),
        ({"chains": 0}, "chains"),
        ({"var_names": ["p", "q"]}, "var_names"),
    ],
)
def test_bad_arguments_raise_value_error(small_model, kwargs, argument):
    with pytest.raises(ValueError, match=rf"^{argument}:"):
        workbench.estimate(small_model, seed=SEED, **kwargs)


def test_unknown_var_name_is_named(small_model):
    with pytest.raises(ValueError, match=r"^var_names:.*'q'"):
        workbench.estimate(small_model, var_names=["q"], seed=SEED)


def test_discrete_free_variable_is_refused():
    with pytest.raises(ValueError, match=r"^model:.*discrete.*'k'"):
        with pm.Model() as model:
            k = pm.Poisson("k", 3.0)
            pm.Normal("y", mu=k, sigma=1.0, observed=2.0)
        workbench.estimate(model, seed=SEED)


def test_nan_in_data_is_refused():
    with pytest.raises(ValueError, match=r"^y:.*NaN"):
        models.build("normal", data=[1.0, np.nan])


# --------------------------------------------------------------------------------------------
# cm_ml refused when the mean under the flat prior does not exist
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def normal_three_points(estimates):
    return estimates("normal", data=[0.3, 1.2, -0.5], methods=("ml", "cm_ml"))


@pytest.mark.parametrize("name", ["sigma", "mu"])
def test_normal_three_points_cm_ml_has_no_mean(normal_three_points, name):
    result = normal_three_points
    assert cm_ml_value(result, name) is None
    # refused either per parameter (heavy tail) or for the whole run (chains disagree)
    assert any(w.startswith("CM-ML:") and "mean" in w for w in result.warnings), result.warnings


def test_normal_three_points_ml_and_emitted_warnings(normal_three_points):
    result = normal_three_points
    y = np.array([0.3, 1.2, -0.5])
    assert float(result.point["ml"]["mu"]) == pytest.approx(y.mean(), rel=1e-5)
    assert float(result.point["ml"]["sigma"]) == pytest.approx(y.std(), rel=1e-5)
    # every note in .warnings was also emitted as a UserWarning
    for note in result.warnings:
        assert note in emitted_warnings(result)


# --------------------------------------------------------------------------------------------
# Cheap paths
# --------------------------------------------------------------------------------------------


def test_modes_only_do_not_sample(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("NUTS was called for methods=('map', 'ml')")

    monkeypatch.setattr(NutsRunner, "__call__", forbidden)
    model = models.build("normal")
    start = time.perf_counter()
    result = workbench.estimate(model, methods=("map", "ml"), seed=SEED)
    elapsed = time.perf_counter() - start
    assert result.posterior is None and result.flat_posterior is None
    assert set(result.point) == {"map", "ml"}
    assert result.mcse == {} and result.hdi == {} and result.diagnostics == {}
    assert elapsed < 10.0  # mode finding only: ~1 s; any NUTS run costs several seconds more
    out = result.to_dict()
    assert out["estimates"]["mu"]["cm"] is None and out["estimates"]["mu"]["hdi"] is None
    json.dumps(out, allow_nan=False)


def test_large_unbounded_ml_is_not_an_edge():
    y = [100.0, 101.0, 103.0, 99.5, 102.0, 98.0]
    result = workbench.estimate(models.build("normal", data=y), methods=("ml",), seed=SEED)
    assert float(result.point["ml"]["mu"]) == pytest.approx(np.mean(y), rel=1e-6)
    assert result.warnings == []
