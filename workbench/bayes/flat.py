"""The flat-prior twin of a PyMC model: same likelihood, priors replaced by a flat density.

Sampling the twin gives the likelihood normalised over the parameters, whose mean is the
``cm_ml`` estimate. Each free variable becomes ``pm.Flat`` with the original variable's
transform, so the flat density lives on the same support (for a positive ``sigma``, flat on
``sigma > 0``, not on ``log sigma``).

With ``prior_weight=True`` the twin also carries the prior, multiplied by the ``pm.Data``
:data:`PRIOR_WEIGHT`: at 1 it is the original posterior, at 0 the flat-prior one, so one
compiled model serves the CM and the CM-ML (a NUTS compile saved per estimate).
"""

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.graph.replace import graph_replace

from workbench.bayes.modes import likelihood_terms

__all__ = ["PRIOR_WEIGHT", "flat_prior_model"]

LIKELIHOOD = "log_likelihood__"
PRIOR = "log_prior__"
PRIOR_WEIGHT = "prior_weight__"


def flat_prior_model(model, prior_weight=False):
    """Return a new ``pm.Model`` with flat priors and ``model``'s likelihood as a Potential.

    Deterministics are rebuilt on the new variables; ``pm.Data`` is shared with ``model``.
    ``prior_weight=True`` adds ``w * log prior`` as a Potential, ``w`` the ``pm.Data``
    :data:`PRIOR_WEIGHT` (default 1: the posterior of ``model``; set it to 0 for flat priors).
    """
    loglik = model.logp(vars=likelihood_terms(model), jacobian=False)
    logprior = model.logp(vars=model.free_RVs, jacobian=False) if prior_weight else None
    start = model.initial_point()
    values_fn = model.compile_fn(
        model.replace_rvs_by_values(model.free_RVs),  # constrained values, not prior draws
        inputs=model.value_vars,
        point_fn=False,
        on_unused_input="ignore",
    )
    start_values = dict(zip([rv.name for rv in model.free_RVs], values_fn(**start), strict=True))
    dims = model.named_vars_to_dims
    with pm.Model(coords=model.coords) as flat:
        value_map, rv_map = {}, {}
        for rv in model.free_RVs:
            initval = np.asarray(start_values[rv.name], dtype=float)
            new_rv = pm.Flat(
                rv.name,
                shape=initval.shape,
                dims=dims.get(rv.name),
                default_transform=model.rvs_to_transforms.get(rv),
                initval=initval,
            )
            value_map[model.rvs_to_values[rv]] = flat.rvs_to_values[new_rv]
            rv_map[rv] = new_rv
        pm.Potential(LIKELIHOOD, graph_replace(loglik, value_map, strict=False))
        if prior_weight:
            weight = pm.Data(PRIOR_WEIGHT, 1.0)
            prior = graph_replace(logprior, value_map, strict=False)
            # the switch keeps 0 * (-inf) from making NaN where a prior vanishes
            pm.Potential(PRIOR, pt.switch(pt.gt(weight, 0), weight * prior, 0.0))
        for det in model.deterministics:
            pm.Deterministic(
                det.name, graph_replace(det, rv_map, strict=False), dims=dims.get(det.name)
            )
    return flat
