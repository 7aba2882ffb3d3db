"""Random-walk Metropolis for continuous targets, vectorised over chains.

A Gaussian step ``x' = x + step_size * z`` is accepted with probability
``min(1, p(x') / p(x))``. During warm-up each chain tunes its own step size towards a target
acceptance rate (0.44 in one dimension; 0.234, the optimum's limit as the dimension grows,
otherwise, although about 0.35 is better in two: Roberts, Gelman & Gilks 1997);
afterwards the step size is fixed, so the draws form a proper Markov chain.

>>> from workbench.samplers import metropolis
>>> tree = metropolis.sample(logdensity, np.zeros((4, 2)), draws=2000, warmup=1000, seed=1)
>>> tree["sample_stats"]["acceptance_rate"].mean()
"""

from typing import NamedTuple

import numpy as np

from workbench.errors import InputError, check_count
from workbench.samplers.base import (
    SamplingAlgorithm,
    check_positions,
    make_rng,
    sample_chains,
    to_datatree,
)

__all__ = ["RULES", "RWInfo", "RWState", "build_kernel", "init", "random_walk", "sample"]

# "metropolis" is correct. "half-log-ratio" is a deliberate bug kept for teaching calibration:
# a stray factor 1/2 on the log ratio makes the chain sample p(x)^(1/2), a wider distribution.
# Its chains mix well and pass R-hat and ESS; only a calibration check (SBC) catches it.
RULES = ("metropolis", "half-log-ratio")


class RWState(NamedTuple):
    """position: (chains, dim); logdensity: (chains,)."""

    position: np.ndarray
    logdensity: np.ndarray


class RWInfo(NamedTuple):
    """acceptance_rate: min(1, p(x')/p(x)) per chain; is_accepted: bool per chain."""

    acceptance_rate: np.ndarray
    is_accepted: np.ndarray


def init(position, logdensity_fn):
    """State at ``position`` (chains, dim); ``logdensity_fn`` maps (chains, dim) -> (chains,)."""
    position = check_positions(position)
    logdensity = np.asarray(logdensity_fn(position), dtype=float)
    if logdensity.shape != position.shape[:1]:
        raise InputError(
            "logdensity_fn",
            f"{position.shape[0]} values (one per chain) for positions shaped {position.shape}",
            f"shape {logdensity.shape}",
        )
    if not np.all(np.isfinite(logdensity)):
        bad = np.flatnonzero(~np.isfinite(logdensity)).tolist()
        raise InputError(
            "position",
            detail=f"the log-density is not finite at the start of chain(s) {bad}; "
            "start inside the support",
        )
    return RWState(position, logdensity)


def build_kernel(rule="metropolis"):
    """``kernel(rng, state, logdensity_fn, step_size) -> (state, info)``; ``step_size`` is a
    scalar or one value per chain."""
    if rule not in RULES:
        raise InputError("rule", f"one of {', '.join(RULES)}", repr(rule))

    def kernel(rng, state, logdensity_fn, step_size):
        chains = state.position.shape[0]
        scale = np.broadcast_to(np.asarray(step_size, dtype=float), (chains,))
        proposal = state.position + scale[:, None] * rng.standard_normal(state.position.shape)
        proposed = np.asarray(logdensity_fn(proposal), dtype=float)
        log_ratio = np.where(np.isnan(proposed), -np.inf, proposed - state.logdensity)
        u = rng.random(chains)
        if rule == "half-log-ratio":
            log_ratio = 0.5 * log_ratio
        accept = np.log(u) < log_ratio
        position = np.where(accept[:, None], proposal, state.position)
        logdensity = np.where(accept, proposed, state.logdensity)
        rate = np.exp(np.minimum(log_ratio, 0.0))
        return RWState(position, logdensity), RWInfo(rate, accept)

    return kernel


def random_walk(logdensity_fn, step_size, rule="metropolis"):
    """A :class:`SamplingAlgorithm` with ``logdensity_fn`` and ``step_size`` fixed."""
    kernel = build_kernel(rule)

    def step(rng, state):
        return kernel(rng, state, logdensity_fn, step_size)

    return SamplingAlgorithm(lambda position: init(position, logdensity_fn), step)


def sample(
    logdensity_fn,
    initial_position,
    *,
    draws=1000,
    warmup=1000,
    step_size=1.0,
    target_acceptance=None,
    rule="metropolis",
    var_name="x",
    seed=None,
    transform=None,
):
    """Tune the step size during ``warmup``, then draw; returns an ArviZ DataTree.

    Parameters
    ----------
    logdensity_fn : callable
        (chains, dim) -> (chains,) unnormalised log-density (see :class:`PyMCTarget` for PyMC).
    initial_position : ndarray of shape (chains, dim)
    draws, warmup : int
        Kept draws and tuning steps per chain (warm-up draws are discarded).
    step_size : float or ndarray of shape (chains,)
        Starting step size.
    target_acceptance : float, optional
        Warm-up target; default 0.44 for dim 1, else 0.234.
    rule : {"metropolis", "half-log-ratio"}
        Acceptance rule; "half-log-ratio" is deliberately wrong (for calibration demos).
    var_name : str
        Name of the position variable in ``posterior`` (dims ``chain, draw, <var>_dim_0``).
    seed : int, Generator or None
    transform : callable, optional
        Maps positions (chains, draws, dim) to a dict of named draws for ``posterior``
        (used by :class:`PyMCTarget` to report constrained model variables).

    Returns
    -------
    DataTree
        ``posterior[var_name]`` (chains, draws, dim); ``sample_stats``: ``acceptance_rate``,
        ``accepted``, ``step_size`` and ``logdensity``; attrs hold the warm-up acceptance.
    """
    draws, warmup = check_count("draws", draws, 1), check_count("warmup", warmup, 0)
    rng = make_rng(seed)
    state = init(initial_position, logdensity_fn)
    chains, dim = state.position.shape
    if target_acceptance is None:
        target_acceptance = 0.44 if dim == 1 else 0.234
    if not 0 < target_acceptance < 1:
        raise InputError("target_acceptance", "a value in (0, 1)", target_acceptance)
    log_step = np.log(np.broadcast_to(np.asarray(step_size, dtype=float), (chains,))).copy()
    if not np.all(np.isfinite(log_step)):
        raise InputError("step_size", "positive values", repr(step_size))
    kernel = build_kernel(rule)
    warmup_accepted = np.zeros(chains)
    for t in range(warmup):  # Robbins-Monro on log(step size), per chain
        state, info = kernel(rng, state, logdensity_fn, np.exp(log_step))
        log_step += (info.acceptance_rate - target_acceptance) / (t + 1) ** 0.6
        warmup_accepted += info.is_accepted
    step = np.exp(log_step)
    algorithm = random_walk(logdensity_fn, step, rule)
    _, states, infos = sample_chains(algorithm.step, state, draws, rng)
    posterior = (
        {var_name: states["position"]} if transform is None else transform(states["position"])
    )
    stats = {
        "acceptance_rate": infos["acceptance_rate"],
        "accepted": infos["is_accepted"],
        "logdensity": states["logdensity"],
        "step_size": np.repeat(step[:, None], draws, axis=1),
    }
    attrs = {
        "sampler": f"random-walk Metropolis ({rule})",
        "warmup": warmup,
        "target_acceptance": target_acceptance,
    }
    if warmup:
        attrs["warmup_acceptance"] = float(warmup_accepted.mean() / warmup)
    return to_datatree(posterior, stats, attrs)
