"""Laplace, ADVI and Pathfinder against exact Gaussian posteriors; k-hat where no Gaussian fits.

The Gaussian posterior is a linear regression with known noise and a normal prior: precision
``X'X / sigma^2 + I / s^2``, mean ``cov X'y / sigma^2`` (closed form). Tolerances:

- Laplace: the mode is found to the optimiser's tolerance and the Hessian by central
  differences of the exact gradient, so mean and covariance match to ~1e-6 (relative).
- Pathfinder: the mean is a Newton step from an L-BFGS iterate and the covariance the block
  BFGS estimate from the curvature pairs, both exact on a quadratic once the pairs span the
  space (3 steps here): to rounding, ~1e-8 relative (gradient differences of steps ~1e-8).
- ADVI (slow tier): stochastic optimisation; after the step-size decay the means are within
  0.1 posterior sd and the (co)variances within 10%.
- Reported summaries come from 2000 draws of q mapped back: Monte Carlo error sd / sqrt(2000).
"""

import json
import math

import numpy as np
import pymc as pm
import pytest

import models
from workbench.bayes import Estimator
from workbench.cli import main

SEED = 20261205
N_DRAWS = 2000


@pytest.fixture(scope="module")
def gaussian():
    """(model, exact mean, exact covariance) of a 3-coefficient regression with known noise."""
    rng = np.random.default_rng(1)
    n, sigma, s = 30, 0.7, 2.0
    features = rng.normal(size=(n, 3))
    features[:, 1] += 0.8 * features[:, 0]  # correlated coefficients: a dense covariance
    y = features @ np.array([1.0, -0.5, 0.3]) + sigma * rng.normal(size=n)
    with pm.Model() as model:
        beta = pm.Normal("beta", 0.0, s, shape=3)
        pm.Normal("y", features @ beta, sigma, observed=y)
    precision = features.T @ features / sigma**2 + np.eye(3) / s**2
    cov = np.linalg.inv(precision)
    return model, cov @ features.T @ y / sigma**2, cov


def kl_gaussians(mean_q, cov_q, mean_p, cov_p):
    """KL(q || p) between two Gaussians, in nats."""
    inv_p = np.linalg.inv(cov_p)
    diff = mean_p - mean_q
    return 0.5 * (
        np.trace(inv_p @ cov_q)
        + diff @ inv_p @ diff
        - len(diff)
        + np.linalg.slogdet(cov_p)[1]
        - np.linalg.slogdet(cov_q)[1]
    )


@pytest.fixture(scope="module")
def gaussian_fits(gaussian):
    model, _, _ = gaussian
    estimator = Estimator(model, methods=("laplace", "pathfinder"), approx_draws=N_DRAWS)
    return estimator.run(seed=SEED)


def test_laplace_is_exact_on_a_gaussian_posterior(gaussian, gaussian_fits):
    _, mean, cov = gaussian
    fit = gaussian_fits.approximations["laplace"]
    np.testing.assert_allclose(fit.mean, mean, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fit.cov, cov, rtol=1e-5, atol=1e-9)
    assert fit.khat == -math.inf  # log p - log q constant: q is the posterior
    diag = gaussian_fits.method_diagnostics["laplace"]
    assert diag["khat"] is None and diag["verdict"].startswith("exact") and diag["reliable"]


def test_reported_summaries_are_those_of_the_draws(gaussian, gaussian_fits):
    _, mean, cov = gaussian
    sd = np.sqrt(np.diag(cov))
    reported_mean = gaussian_fits.point["laplace"]["beta"]
    reported_sd = gaussian_fits.approx_sd["laplace"]["beta"]
    assert np.all(np.abs(reported_mean - mean) < 4 * sd / math.sqrt(N_DRAWS))
    np.testing.assert_allclose(reported_sd, sd, rtol=4 / math.sqrt(2 * N_DRAWS))
    lo, hi = gaussian_fits.approx_interval["laplace"]["beta"]
    half = 1.6449 * sd  # the 90% HDI of a normal
    np.testing.assert_allclose(hi - lo, 2 * half, rtol=0.08)


def test_pathfinder_recovers_the_gaussian(gaussian, gaussian_fits):
    _, mean, cov = gaussian
    fit = gaussian_fits.approximations["pathfinder"]
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(fit.mean - mean) < 1e-6 * sd)
    np.testing.assert_allclose(fit.cov, cov, rtol=1e-6, atol=1e-9 * np.max(np.abs(cov)))
    assert kl_gaussians(fit.mean, fit.cov, mean, cov) < 1e-9
    assert fit.khat == -math.inf  # log p - log q constant over the draws: q is the posterior
    assert gaussian_fits.method_diagnostics["pathfinder"]["reliable"]


def test_funnel_khat_flags_the_laplace_approximation():
    result = Estimator(models.build("funnel"), methods=("laplace",)).run(seed=SEED)
    diag = result.method_diagnostics["laplace"]
    assert diag["khat"] > 0.7 and not diag["reliable"] and diag["verdict"].startswith("unreliable")
    assert any(w.startswith("Laplace: k-hat") for w in result.warnings)
    # the truth: v ~ N(0, 3); the Laplace centre sits deep in the funnel's neck
    assert result.point["laplace"]["v"] < -30


@pytest.mark.slow
@pytest.mark.parametrize("method", ["advi", "fullrank_advi"])
def test_advi_on_a_gaussian_posterior(gaussian, method):
    model, mean, cov = gaussian
    result = Estimator(model, methods=(method,), advi_iterations=10000).run(seed=SEED)
    fit = result.approximations[method]
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(fit.mean - mean) < 0.1 * sd)
    if method == "advi":  # mean-field: variances are 1 / precision diagonal, not marginal ones
        target = np.diag(1.0 / np.diag(np.linalg.inv(cov)))
        assert np.all(np.diag(target)[:2] < 0.6 * np.diag(cov)[:2])  # correlated pair: differ
        np.testing.assert_allclose(fit.cov, target, rtol=0.1, atol=0)
    else:
        assert np.max(np.abs(fit.cov - cov)) < 0.1 * np.max(np.abs(cov))
    assert fit.khat < 0.7


@pytest.mark.slow
def test_mean_field_advi_on_the_funnel_is_flagged():
    result = Estimator(models.build("funnel"), methods=("advi",), advi_iterations=5000).run(
        seed=SEED
    )
    assert result.method_diagnostics["advi"]["khat"] > 0.7


def test_cli_json_has_the_new_keys(capsys):
    args = ["estimate", "beta-binomial", "--methods", "map", "laplace", "pathfinder", "--json"]
    assert main([*args, "--seed", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    entry = out["estimates"]["p"]
    for method in ("laplace", "pathfinder"):
        assert 0 < entry[method] < 1 and entry[f"{method}_sd"] > 0
        lo, hi = entry[f"{method}_interval"]
        assert 0 < lo < entry[method] < hi < 1
        assert out["diagnostics"][method]["khat"] < 0.7
    assert "advi" not in entry and entry["cm"] is None
    # Beta(5, 9) posterior: exact mean 5/14; the Laplace fit on logit p is close, not exact
    assert entry["laplace"] == pytest.approx(5 / 14, abs=0.02)
    assert out["diagnostics"]["map"]["agree"] and out["diagnostics"]["map"]["exists"]
