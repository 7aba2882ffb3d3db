"""RBM likelihoods inside PyMC: the exact log-likelihood as a PyTensor graph of the weights.

For a small RBM the partition function is a sum over the 2^n states of the smaller binary
layer, so log p(data | W, a, b) = -sum_n F(v_n) - N log Z can be written symbolically, with
gradients for NUTS, and added to a model with ``pm.Potential``:

>>> with pm.Model() as model:
...     W = pm.Normal("W", 0, 1, shape=(4, 2))
...     a = pm.Normal("visible_bias", 0, 1, shape=4)
...     b = pm.Normal("hidden_bias", 0, 1, shape=2)
...     pm.Potential("rbm", rbm_log_likelihood(data, W, a, b))

:func:`rbm_model` builds such a model with a parametrisation that removes the RBM's
hidden-unit symmetries, so that MCMC chains agree when the posterior itself is unimodal.
"""

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from workbench.energy import graphs
from workbench.energy.rbm import RBM
from workbench.energy.states import binary_states
from workbench.errors import InputError

__all__ = ["MAX_GRAPH_STATES", "rbm_log_likelihood", "rbm_model"]

# States enumerated inside a graph that NUTS evaluates thousands of times.
MAX_GRAPH_STATES = 2**16


def _static_size(name, tensor, axis):
    size = pt.as_tensor_variable(tensor).type.shape[axis]
    if size is None:
        raise InputError(
            name,
            detail=f"needs a static shape (give the PyMC variable shape= or dims=), got "
            f"{pt.as_tensor_variable(tensor).type}",
        )
    return size


def rbm_log_likelihood(
    data,
    W,
    visible_bias,
    hidden_bias,
    *,
    visible="bernoulli",
    hidden="bernoulli",
    sigma=1.0,
    hidden_sigma=1.0,
    max_states=MAX_GRAPH_STATES,
):
    """Symbolic sum over the rows of ``data`` of log p(v): a scalar PyTensor variable.

    ``data`` is a NumPy array (N, n_visible) checked like :class:`~workbench.energy.RBM` input;
    ``W``, ``visible_bias``, ``hidden_bias`` are tensors (PyMC variables) with static shapes;
    log Z enumerates the smaller binary layer inside the graph (at most ``max_states``
    states). Repeated rows are counted once and weighted.
    """
    n_visible = _static_size("W", W, 0)
    n_hidden = _static_size("W", W, 1)
    # validate data, layer names and sigmas with the NumPy model's boundary checks
    probe = RBM(
        np.zeros((n_visible, n_hidden)),
        np.zeros(n_visible),
        np.zeros(n_hidden),
        visible=visible,
        hidden=hidden,
        sigma=sigma,
        hidden_sigma=hidden_sigma,
    )
    if visible == hidden == "gaussian":
        raise InputError(
            "visible, hidden", detail="a Gaussian-Gaussian RBM is a normal model; use pm.MvNormal"
        )
    V, _ = probe._rows("data", data, "visible")
    rows, counts = np.unique(V, axis=0, return_counts=True)
    layer, n = probe._enumerated_layer(max_states)
    W, a, b = (pt.as_tensor_variable(x) for x in (W, visible_bias, hidden_bias))
    params = (W, a, b, pt.as_tensor(probe.sigma), pt.as_tensor(probe.hidden_sigma))
    kinds = {"visible": visible, "hidden": hidden, "dot": graphs.small_dot}
    states = pt.as_tensor(binary_states(n))
    if layer == "visible":
        log_weights = -graphs.free_energy(states, *params, **kinds)
    else:
        log_weights = -graphs.hidden_free_energy(states, *params, **kinds)
    log_z = graphs.logsumexp(log_weights, axis=0)
    free = graphs.free_energy(pt.as_tensor(rows), *params, **kinds)
    return -pt.sum(pt.as_tensor(counts.astype(float)) * free) - float(counts.sum()) * log_z


def rbm_model(data, n_hidden=2, *, prior_sd=1.0, identified=True, seed=0):
    """A PyMC model of a Bernoulli RBM for binary ``data`` (N, n_visible), Normal(0, prior_sd)
    priors on W and the visible bias.

    W = 0 is a stationary point of every RBM likelihood whose hidden units start alike, so
    the optimisers would stay there: W starts at small Normal(0, 0.5) values drawn with
    ``seed`` instead.

    The RBM likelihood is unchanged when two hidden units swap, and when one hidden unit j is
    flipped (h_j -> 1 - h_j maps W_j -> -W_j, b_j -> -b_j, a -> a + W_j). With
    ``identified=True`` the hidden biases are written ``b = -cumsum(gaps)``, gaps > 0
    (HalfNormal(prior_sd)): all negative and decreasing, one representative of each
    symmetric copy. With ``identified=False`` they get Normal priors like the rest, and
    chains may settle in different copies.
    """
    V = np.asarray(data, dtype=float)
    if V.ndim != 2:
        raise InputError("data", detail=f"expected a 2-D array (rows, pixels), got shape {V.shape}")
    if isinstance(n_hidden, bool) or not isinstance(n_hidden, int | np.integer) or n_hidden < 1:
        raise InputError("n_hidden", detail=f"expected an integer >= 1, got {n_hidden!r}")
    if not prior_sd > 0:
        raise InputError("prior_sd", detail=f"expected a positive number, got {prior_sd!r}")
    coords = {"pixel": np.arange(V.shape[1]), "hidden": np.arange(n_hidden)}
    with pm.Model(coords=coords) as model:
        # shape= as well as dims=: the likelihood graph needs the sizes statically
        nv = V.shape[1]
        start = np.random.default_rng(seed).normal(0.0, 0.5, (nv, n_hidden))
        W = pm.Normal(
            "W", 0.0, prior_sd, dims=("pixel", "hidden"), shape=(nv, n_hidden), initval=start
        )
        a = pm.Normal("visible_bias", 0.0, prior_sd, dims="pixel", shape=nv)
        if identified:
            gaps = pm.HalfNormal("hidden_bias_gaps", prior_sd, dims="hidden", shape=n_hidden)
            b = pm.Deterministic("hidden_bias", -pt.cumsum(gaps), dims="hidden")
        else:
            b = pm.Normal("hidden_bias", 0.0, prior_sd, dims="hidden", shape=n_hidden)
        pm.Potential("rbm_log_likelihood", rbm_log_likelihood(V, W, a, b))
    return model
