"""MAP and ML that say when they failed: several seeded starts, no MAP for unbounded densities.

Checked against what is known in closed form: the centred eight-schools density grows like
tau^-J as tau -> 0 with every theta_j = mu (no maximum); the non-centred one is bounded; the
posterior of mu with y ~ N(mu^2, 0.5), y = 4 has two equally high modes at mu = +-2 and a
stationary minimum at mu = 0, the model's initial point.
"""

import json

import numpy as np
import pymc as pm
import pytest

import models
from workbench.bayes import Estimator
from workbench.bayes.modes import ModeFinder

SEED = 20261205


@pytest.fixture(scope="module")
def centred():
    return Estimator(models.build("eight-schools"), methods=("map", "ml")).run(seed=SEED)


def test_centred_eight_schools_has_no_map(centred):
    assert np.all(np.isnan(centred.point["map"]["tau"]))
    report = centred.method_diagnostics["map"]
    assert report["exists"] is False and report["starts"] == 4
    assert any(w.startswith("MAP: no MAP") and "tau" in w for w in centred.warnings)
    out = centred.to_dict()
    json.dumps(out, allow_nan=False)
    assert out["estimates"]["tau"]["map"] is None
    assert out["estimates"]["theta"]["map"] == [None] * 8
    assert out["diagnostics"]["map"]["exists"] is False
    assert "no MAP" in centred.table()
    assert centred.plot().axes  # NaN estimates are left out of the figure


def test_centred_ml_flat_directions_are_flagged(centred):
    # the likelihood depends on theta alone: theta = y, mu and tau are not identified
    np.testing.assert_allclose(centred.point["ml"]["theta"], models.EIGHT_SCHOOLS[:, 0], atol=1e-4)
    report = centred.method_diagnostics["ml"]
    assert report["exists"] and not report["agree"] and report["log_density_range"] < 1e-8
    assert any(w.startswith("ML: the 4 starts reached different optima") for w in centred.warnings)


def test_non_centred_eight_schools_has_a_map():
    model = models.build("eight-schools", parametrisation="non-centred")
    result = Estimator(model, methods=("map",)).run(seed=SEED)
    report = result.method_diagnostics["map"]
    assert report["exists"] and report["agree"] and report["converged_starts"] == 4
    assert report["gradient_norm"] < 1e-4 and result.warnings == []
    assert np.isfinite(result.point["map"]["mu"])


@pytest.fixture(scope="module")
def two_modes():
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 3.0)
        pm.Normal("y", mu**2, 0.5, observed=4.0)
    return model


def test_symmetric_start_is_not_returned_as_the_mode(two_modes):
    run = ModeFinder(two_modes)()  # from the initial point mu = 0: zero gradient, a minimum
    assert float(run.values["mu"]) == 0.0 and not run.converged
    assert any("not a maximum" in w for w in run.warnings)
    result = Estimator(two_modes, methods=("map",), n_starts=6).run(seed=SEED)
    assert abs(float(result.point["map"]["mu"])) == pytest.approx(2.0, abs=0.05)


def test_disagreeing_starts_are_flagged(two_modes):
    result = Estimator(two_modes, methods=("map",), n_starts=6).run(seed=SEED)
    report = result.method_diagnostics["map"]
    assert not report["agree"] and report["spread"] > 1.0
    assert report["converged_starts"] < report["starts"]  # the start at mu = 0
    assert any("different optima" in w for w in result.warnings)
    assert any("did not converge" in w for w in result.warnings)


def test_bounded_supremum_at_the_edge_is_not_unbounded():
    # no heads: the likelihood rises to its supremum 1 as p -> 0, which is never attained
    model = models.build("beta-binomial", heads=0)
    result = Estimator(model, methods=("ml",)).run(seed=SEED)
    assert result.method_diagnostics["ml"]["exists"] is True
    assert float(result.point["ml"]["p"]) < 1e-5
    finder = ModeFinder(model, model.observed_RVs, "ML")
    assert not finder._unbounded(np.array([-35.0]))  # logit p at the edge: bounded
    centred = ModeFinder(models.build("eight-schools"))
    x = centred.search(1).runs[0].x
    assert centred.at_edge(x).any() and centred._unbounded(x)  # tau^-8: unbounded


def test_same_seed_same_starts(two_modes):
    a = Estimator(two_modes, methods=("map",), n_starts=5).run(seed=SEED)
    b = Estimator(two_modes, methods=("map",), n_starts=5).run(seed=SEED)
    assert a.method_diagnostics["map"]["runs"] == b.method_diagnostics["map"]["runs"]
