"""Linear factor models: probabilistic PCA and factor analysis (closed form, EM, ARD, PyMC).

>>> from workbench.linear import PPCA, FactorAnalysis
>>> PPCA(2).fit(X).score(X)
"""

from workbench.linear.estimators import METHODS, PPCA, FactorAnalysis
from workbench.linear.gaussian import Moments, canonical_loadings, moments, varimax

__all__ = [
    "METHODS",
    "PPCA",
    "FactorAnalysis",
    "Moments",
    "canonical_loadings",
    "moments",
    "varimax",
]
