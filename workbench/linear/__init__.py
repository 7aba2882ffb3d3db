"""Linear factor models: probabilistic PCA and factor analysis (closed form, EM, ARD, PyMC).

>>> from workbench.linear import PPCA, FactorAnalysis
>>> PPCA(2).fit(X).score(X)
"""

from workbench.lazy import lazy_exports

_HOMES = {
    "METHODS": "estimators",
    "PPCA": "estimators",
    "FactorAnalysis": "estimators",
    "Moments": "gaussian",
    "canonical_loadings": "gaussian",
    "moments": "gaussian",
    "varimax": "gaussian",
}

__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
