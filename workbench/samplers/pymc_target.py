"""A PyMC model's log-density as a NumPy target for the workbench samplers.

The samplers work on the model's unconstrained value variables (``sigma_log__`` rather than
``sigma``), raveled into one vector, with the log-Jacobian included so that draws follow the
posterior. The log-density is compiled once and vectorised over chains (PyTensor's
``vectorize_graph``); :meth:`PyMCTarget.posterior` maps draws back to the model's variables.

>>> target = PyMCTarget(models.build("normal"))
>>> tree = metropolis.sample(target.logdensity, target.initial_positions(4, seed=1),
...                          transform=target.posterior, seed=1)
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
from pymc.blocking import DictToArrayBijection
from pymc.pytensorf import join_nonshared_inputs
from pytensor.graph.replace import vectorize_graph
from pytensor.graph.traversal import ancestors

from workbench.errors import InputError
from workbench.samplers.base import make_rng

__all__ = ["PyMCTarget", "observed_data_names"]


def observed_data_names(model):
    """{observed variable: name of the one ``pm.Data`` container its values come from}.

    Simulated data sets are swapped in through these containers, so the model compiles once.
    """
    names = {}
    for rv in model.observed_RVs:
        found = [v for v in ancestors([model.rvs_to_values[rv]]) if v in model.data_vars]
        if len(found) != 1:
            raise InputError(
                "model",
                detail=f"observed variable {rv.name!r} must take its values from one pm.Data "
                "container, so that simulated data can be swapped in without recompiling",
            )
        names[rv.name] = found[0].name
    return names


class PyMCTarget:
    """Compiled, chain-vectorised log-density of ``model`` over its raveled value variables.

    Attributes
    ----------
    dim : int
        Length of the raveled unconstrained vector.
    names : list of str
        The model's free variables, reported by :meth:`posterior`.
    """

    def __init__(self, model):
        self.model = model
        point = model.initial_point()
        self._raveled = DictToArrayBijection.map(point)
        self.dim = self._raveled.data.size
        [logp], flat = join_nonshared_inputs(point, [model.logp(jacobian=True)], model.value_vars)
        batch = pt.matrix("positions")
        self._logp = pytensor.function([batch], vectorize_graph(logp, replace={flat: batch}))
        constrained = model.replace_rvs_by_values(model.free_RVs)
        outs, flat2 = join_nonshared_inputs(point, constrained, model.value_vars)
        self._constrain = pytensor.function(
            [batch], [vectorize_graph(o, replace={flat2: batch}) for o in outs]
        )
        self.names = [rv.name for rv in model.free_RVs]

    def logdensity(self, positions):
        """Log-posterior (with log-Jacobian) at positions (chains, dim) -> (chains,)."""
        positions = np.asarray(positions, dtype=float)
        if positions.ndim != 2 or positions.shape[1] != self.dim:
            raise InputError("positions", f"shape (chains, {self.dim})", positions.shape)
        return np.asarray(self._logp(positions), dtype=float)

    def initial_positions(self, chains, *, jitter=1.0, seed=None):
        """(chains, dim) starts: the model's initial point plus uniform(-jitter, jitter)."""
        rng = make_rng(seed)
        return self._raveled.data + rng.uniform(-jitter, jitter, size=(chains, self.dim))

    def posterior(self, positions):
        """Draws (chains, draws, dim) of the raveled values -> {name: (chains, draws, *shape)}
        on the model's own (constrained) scale."""
        chains, draws, _ = positions.shape
        values = self._constrain(np.asarray(positions, dtype=float).reshape(-1, self.dim))
        return {
            name: np.asarray(v).reshape(chains, draws, *np.shape(v)[1:])
            for name, v in zip(self.names, values, strict=True)
        }
