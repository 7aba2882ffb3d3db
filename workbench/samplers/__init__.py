"""Teaching samplers as init/step kernels (the BlackJAX shape), many chains vectorised.

* :mod:`~workbench.samplers.metropolis`: random-walk Metropolis with step-size tuning;
* :mod:`~workbench.samplers.spins`: single-spin Metropolis for Ising / Hopfield / RBM energies;
* :mod:`~workbench.samplers.gibbs`: Gibbs sampling with exact conditionals;
* :class:`PyMCTarget`: a PyMC model's compiled log-density as a target.

Importing this package does not import PyMC (the torch side relies on that): ``PyMCTarget`` is
loaded on first use.

Every ``sample`` function takes an explicit seed and returns an ArviZ DataTree with
``posterior`` and ``sample_stats`` (acceptance), ready for :func:`workbench.diagnostics.diagnose`.
"""

from workbench.samplers import gibbs, metropolis, spins
from workbench.samplers.base import SamplingAlgorithm, sample_chains, to_datatree

__all__ = [
    "PyMCTarget",
    "SamplingAlgorithm",
    "gibbs",
    "metropolis",
    "sample_chains",
    "spins",
    "to_datatree",
]


def __getattr__(name):
    if name == "PyMCTarget":
        from workbench.samplers.pymc_target import PyMCTarget

        return PyMCTarget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
