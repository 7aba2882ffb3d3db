"""workbench: a Bayesian inference workbench on PyMC, ArviZ, PyTensor and Torch.

Sub-packages load on demand, so ``import workbench.nn`` (Torch) does not import PyMC.
"""

__all__ = ["__version__", "estimate"]
__version__ = "0.1.0"


def __getattr__(name):
    if name == "estimate":
        from workbench.bayes import estimate

        return estimate
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
