"""Sparse coding: lasso codes on Torch (:mod:`.coding`) and dictionary learning
(:mod:`.dictionary`) on the runtime's training loop."""

from workbench.sparse.coding import (
    METHODS,
    SparseCodes,
    alpha_max,
    duality_gap,
    lasso_objective,
    sparse_code,
)
from workbench.sparse.dictionary import DictionaryLearning

__all__ = [
    "METHODS",
    "DictionaryLearning",
    "SparseCodes",
    "alpha_max",
    "duality_gap",
    "lasso_objective",
    "sparse_code",
]
