"""Energy-based models in PyTensor: RBMs with Bernoulli/Gaussian layers, Hopfield networks,
exact and annealed partition functions, exact log-likelihood gradients, and an RBM
log-likelihood usable inside PyMC models. This package is the one evaluator of RBMs: the
Torch RBM (:mod:`workbench.nn.rbm`) evaluates log Z and log-likelihoods through it.

>>> from workbench.energy import RBM, Hopfield
>>> rbm = RBM(W, visible_bias, hidden_bias)          # NumPy arrays in
>>> rbm.log_partition("exact"), rbm.log_partition("ais", seed=1)   # LogPartition; float() works
>>> rbm.log_likelihood(V), rbm.exact_gradient(V)     # NumPy arrays out

Binary states are enumerated in one order (:func:`binary_states`: unit 0 is the most significant
bit). Names are imported on first use, so ``workbench.energy.states`` (NumPy only) does not
import PyTensor, and nothing here imports PyMC until the bridge (``rbm_log_likelihood``,
``rbm_model``, in :mod:`workbench.energy.bayesian`) is asked for.
"""

from workbench.lazy import lazy_exports

_HOMES = {
    "MAX_STATES": "states",
    "JointTable": "states",
    "LogPartition": "states",
    "binary_states": "states",
    "RBM": "rbm",
    "Hopfield": "hopfield",
    "compile_mode": "graphs",
    "set_compile_mode": "graphs",
    "rbm_log_likelihood": "bayesian",
    "rbm_model": "bayesian",
}

__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
