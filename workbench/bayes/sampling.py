"""NUTS runs for the workbench: nutpie by default, PyMC's own NUTS on request.

A :class:`NutsRunner` compiles its model once; later runs may swap ``pm.Data`` values without
recompiling (the risk study relies on this).
"""

import numpy as np
import pymc as pm

from workbench.output import progress_bars

__all__ = ["SAMPLERS", "NutsRunner"]

SAMPLERS = ("nutpie", "pymc")


class NutsRunner:
    """Draw from ``model``'s posterior with NUTS; returns an ArviZ DataTree."""

    def __init__(self, model, sampler="nutpie"):
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler: expected one of {', '.join(SAMPLERS)}, got {sampler!r}")
        self.model, self.sampler = model, sampler
        self._compiled = None

    def compile(self):
        if self.sampler == "nutpie" and self._compiled is None:
            import nutpie

            self._compiled = nutpie.compile_pymc_model(self.model)
        return self

    def __call__(self, *, draws, tune, chains, seed, data=None, progressbar=None):
        """Sample; ``data`` maps ``pm.Data`` names to new values for this run only."""
        if progressbar is None:
            progressbar = progress_bars()
        seed = int(np.random.SeedSequence(seed).generate_state(1)[0])
        if self.sampler == "nutpie":
            import nutpie

            compiled = self.compile()._compiled
            if data:
                compiled = compiled.with_data(**data)
            return nutpie.sample(
                compiled,
                draws=draws,
                tune=tune,
                chains=chains,
                seed=seed,
                progress_bar=progressbar,
                save_warmup=False,
            )
        if data:
            pm.set_data(data, model=self.model)
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
