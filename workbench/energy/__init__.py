"""Energy-based models in PyTensor: RBMs with Bernoulli/Gaussian layers, Hopfield networks,
exact and annealed partition functions, exact log-likelihood gradients, and an RBM
log-likelihood usable inside PyMC models.

>>> from workbench.energy import RBM, Hopfield
>>> rbm = RBM(W, visible_bias, hidden_bias)          # NumPy arrays in
>>> rbm.log_partition("exact"), rbm.log_partition("ais", seed=1)
>>> rbm.log_likelihood(V), rbm.exact_gradient(V)     # NumPy arrays out

The PyMC bridge (``rbm_log_likelihood``, ``rbm_model``) lives in
:mod:`workbench.energy.bayesian` and is imported on first use, so importing this package does
not import PyMC.
"""

from workbench.energy.graphs import compile_mode, set_compile_mode
from workbench.energy.hopfield import Hopfield
from workbench.energy.rbm import MAX_STATES, RBM, JointTable, LogPartition, binary_states

__all__ = [
    "MAX_STATES",
    "RBM",
    "Hopfield",
    "JointTable",
    "LogPartition",
    "binary_states",
    "compile_mode",
    "rbm_log_likelihood",
    "rbm_model",
    "set_compile_mode",
]


def __getattr__(name):
    if name in ("rbm_log_likelihood", "rbm_model"):
        from workbench.energy import bayesian

        return getattr(bayesian, name)
    raise AttributeError(f"module 'workbench.energy' has no attribute {name!r}")
