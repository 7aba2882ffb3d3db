"""Bayesian point and interval estimates of PyMC models (MAP, ML, CM, CM-ML; on request Laplace,
ADVI, Pathfinder) and risk studies."""

from workbench.bayes.estimators import (
    ALL_METHODS,
    METHODS,
    EstimateResult,
    Estimator,
    FlatPriorChecks,
    estimate,
)
from workbench.bayes.flat import flat_prior_model
from workbench.bayes.modes import ModeFinder, likelihood_terms

__all__ = [
    "ALL_METHODS",
    "METHODS",
    "EstimateResult",
    "Estimator",
    "FlatPriorChecks",
    "ModeFinder",
    "estimate",
    "flat_prior_model",
    "likelihood_terms",
]
