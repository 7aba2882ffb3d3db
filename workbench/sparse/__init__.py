"""Sparse coding: lasso codes of many signals on Torch (:mod:`.coding`: FISTA, ISTA, coordinate
descent) and dictionary learning on the runtime's training loop (:mod:`.dictionary`). The
Bayesian reading, the code as the MAP under a Laplace prior, is the catalogue's
``sparse-coding`` model."""

from workbench.lazy import lazy_exports

_HOMES = {
    "METHODS": "coding",
    "SparseCodes": "coding",
    "alpha_max": "coding",
    "duality_gap": "coding",
    "lasso_objective": "coding",
    "sparse_code": "coding",
    "DictionaryLearning": "dictionary",
}

__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
