"""NUTS runs for the workbench: nutpie by default, PyMC's own NUTS on request.

A :class:`NutsRunner` compiles its model once; later runs may swap ``pm.Data`` values without
recompiling (the risk study and the CM-ML, which samples the CM's model with the prior weight
at 0, rely on this).

nutpie runs its Rust NUTS on one of two backends of the same PyTensor log-density:

- ``"numba"``: nutpie's own, a Numba C callback. The fastest per gradient, but nutpie compiles
  the callback anew in every process (2.5-6 s warm, more for a matrix product): it cannot be
  cached.
- ``"python"``: the log-density compiled by PyTensor's Numba linker, whose machine code is
  cached on disk (``~/.pytensor``), called from nutpie through Python (a few microseconds per
  gradient more). Nothing to compile on a warm cache; for small models, where a run takes a
  few thousand gradients, this is the faster end to end.

``backend="auto"`` picks ``"python"`` for models with at most :data:`SMALL_MODEL` unconstrained
coordinates.
"""

import threading
from functools import wraps

import numpy as np
import pymc as pm

from workbench.output import progress_bars

__all__ = ["BACKENDS", "SAMPLERS", "SMALL_MODEL", "NutsRunner", "model_size"]

SAMPLERS = ("nutpie", "pymc")
BACKENDS = ("auto", "numba", "python")
SMALL_MODEL = 10  # unconstrained coordinates up to which nutpie calls PyTensor through Python


def model_size(model):
    """Number of unconstrained coordinates of ``model`` (the dimension NUTS moves in)."""
    point = model.initial_point()
    return int(sum(np.size(point[v.name]) for v in model.value_vars))


class NutsRunner:
    """Draw from ``model``'s posterior with NUTS; returns an ArviZ DataTree."""

    def __init__(self, model, sampler="nutpie", backend="auto"):
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler: expected one of {', '.join(SAMPLERS)}, got {sampler!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
        if backend == "auto":
            backend = "python" if model_size(model) <= SMALL_MODEL else "numba"
        self.model, self.sampler, self.backend = model, sampler, backend
        self._compiled = None

    def compile(self):
        if self.sampler == "nutpie" and self._compiled is None:
            import nutpie

            if self.backend == "python":
                self._compiled = _compile_python(self.model)
            else:
                self._compiled = nutpie.compile_pymc_model(self.model)
        return self

    def _typed(self, data):
        """``data`` as C arrays of the dtypes of the compiled functions' shared variables
        (nutpie's Numba backend converts by itself)."""
        if self.backend != "python":
            return data
        dtypes = {key: value.dtype for key, value in self._compiled._shared_data.items()}
        return {k: np.array(v, dtype=dtypes.get(k), order="C") for k, v in data.items()}

    def __call__(self, *, draws, tune, chains, seed, data=None, progressbar=None):
        """Sample; ``data`` maps ``pm.Data`` names to new values for this run only."""
        if progressbar is None:
            progressbar = progress_bars()
        seed = int(np.random.SeedSequence(seed).generate_state(1)[0])
        if self.sampler == "nutpie":
            import nutpie

            compiled = self.compile()._compiled
            if data:
                compiled = compiled.with_data(**self._typed(data))
            return nutpie.sample(
                compiled,
                draws=draws,
                tune=tune,
                chains=chains,
                seed=seed,
                progress_bar=progressbar,
                save_warmup=False,
            )
        if data:  # names the model does not hold are its parent's pm.Data, already set
            pm.set_data({k: v for k, v in data.items() if k in self.model.named_vars}, self.model)
        return pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=min(chains, 2),
            random_seed=seed,
            progressbar=progressbar,
            model=self.model,
            nuts_sampler="pymc",
            compute_convergence_checks=False,
        )


def _locked(func):
    lock = threading.Lock()

    @wraps(func)
    def wrapper(*args, **kwargs):
        with lock:
            return func(*args, **kwargs)

    return wrapper


def _compile_python(model):
    """nutpie's model of ``model`` whose log-density and gradient are PyTensor's cached Numba
    functions called from Python (nutpie's ``from_pyfunc``, as its JAX backend does).

    The same functions, initial points (support point, jittered) and ``pm.Data`` handling as
    ``nutpie.compile_pymc_model``; only the uncacheable C callback is left out. The jitted
    functions are pure, so nutpie's chain threads may call them at once.
    """
    from nutpie.compile_pymc import _make_functions, _prepare_dims_and_coords
    from nutpie.compiled_pyfunc import from_pyfunc
    from pymc.initial_point import make_initial_point_fn

    start = _locked(
        make_initial_point_fn(model=model, jitter_rvs=set(model.free_RVs), return_transformed=True)
    )
    n_dim, _, logp_pt, expand_pt, initial_point, shape_info, reparameterized = _make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=False,
        pymc_initial_point_fn=start,
    )
    logp_jit, expand_jit = logp_pt.vm.jit_fn, expand_pt.vm.jit_fn
    logp_keys = [var.name for var in logp_pt.get_shared()]
    expand_keys = [var.name for var in expand_pt.get_shared()]
    shared = {
        var.name: np.array(var.get_value(), order="C", copy=True)
        for var in [*logp_pt.get_shared(), *expand_pt.get_shared()]
    }
    names, _, shapes = shape_info

    def make_logp():
        def logp(x, **data):
            value, grad = logp_jit(x, *(data[key] for key in logp_keys))
            return float(value), np.asarray(grad, dtype="float64", order="C")

        return logp

    def make_expand(_seed1, _seed2, _chain):
        def expand(x, **data):
            values = expand_jit(x, *(data[key] for key in expand_keys))
            return {
                name: np.asarray(value, dtype="float64", order="C").reshape(shape)
                for name, value, shape in zip(names, values, shapes, strict=True)
            }

        return expand

    dims, coords = _prepare_dims_and_coords(model, shape_info, reparameterized)
    return from_pyfunc(
        ndim=n_dim,
        make_logp_fn=make_logp,
        make_expand_fn=make_expand,
        make_initial_point_fn=initial_point,
        expanded_dtypes=[np.dtype("float64")] * len(names),
        expanded_shapes=shapes,
        expanded_names=names,
        shared_data=shared,
        dims=dims,
        coords=coords,
        reparameterized_names=reparameterized,
    )
