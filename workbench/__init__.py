"""workbench: a Bayesian inference workbench on PyMC, ArviZ, PyTensor and Torch."""

from workbench.bayes import estimate

__all__ = ["__version__", "estimate"]
__version__ = "0.1.0"
