"""Gibbs sampling for models whose full conditionals can be drawn exactly.

A conditional is ``draw(rng, position) -> values`` for a block of coordinates, given all the
others, vectorised over chains. A sweep updates the blocks in order (systematic scan); every
update is accepted, so ``sample_stats.acceptance_rate`` is 1.

>>> conditionals = gaussian_conditionals(mean, cov)
>>> tree = sample(conditionals, np.zeros((4, 2)), draws=2000, warmup=200, seed=1)
"""

from typing import NamedTuple

import numpy as np

from workbench.errors import InputError, check_count
from workbench.samplers.base import (
    check_positions,
    make_rng,
    sample_chains,
    to_datatree,
)

__all__ = ["GibbsInfo", "GibbsState", "build_kernel", "gaussian_conditionals", "init", "sample"]


class GibbsState(NamedTuple):
    """position: (chains, dim)."""

    position: np.ndarray


class GibbsInfo(NamedTuple):
    """acceptance_rate: 1 for every chain (exact conditionals are always accepted)."""

    acceptance_rate: np.ndarray


def init(position):
    return GibbsState(check_positions(position))


def build_kernel(conditionals):
    """``kernel(rng, state) -> (state, info)``: one sweep over ``conditionals``, a list of
    ``(indices, draw)`` pairs with ``draw(rng, position) -> (chains, len(indices))``."""
    conditionals = [(np.atleast_1d(np.asarray(i, dtype=int)), f) for i, f in conditionals]
    if not conditionals:
        raise InputError("conditionals", "at least one (indices, draw) pair", "none")

    def kernel(rng, state):
        position = state.position.copy()
        for indices, draw in conditionals:
            position[:, indices] = np.asarray(draw(rng, position)).reshape(
                position.shape[0], indices.size
            )
        return GibbsState(position), GibbsInfo(np.ones(position.shape[0]))

    return kernel


def gaussian_conditionals(mean, cov):
    """One-coordinate conditionals of N(``mean``, ``cov``): for coordinate i, given the rest,
    x_i ~ N(mean_i - (P_i,-i . (x_-i - mean_-i)) / P_ii, 1 / P_ii), with P the precision."""
    mean = np.asarray(mean, dtype=float)
    cov = np.asarray(cov, dtype=float)
    if cov.shape != (mean.size, mean.size):
        raise InputError("cov", f"shape ({mean.size}, {mean.size})", cov.shape)
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise InputError(
            "cov", "a symmetric positive-definite matrix", "a matrix without a Cholesky factor"
        ) from None
    precision = np.linalg.inv(cov)

    def make(i):
        others = np.arange(mean.size) != i
        weights = precision[i, others] / precision[i, i]
        sd = 1.0 / np.sqrt(precision[i, i])

        def draw(rng, position):
            centre = mean[i] - (position[:, others] - mean[others]) @ weights
            return centre + sd * rng.standard_normal(position.shape[0])

        return (i, draw)

    return [make(i) for i in range(mean.size)]


def sample(conditionals, initial_position, *, draws=1000, warmup=100, var_name="x", seed=None):
    """Gibbs sweeps from ``initial_position`` (chains, dim); returns an ArviZ DataTree with
    ``posterior[var_name]`` (chain, draw, dim) and ``sample_stats.acceptance_rate``."""
    draws, warmup = check_count("draws", draws, 1), check_count("warmup", warmup, 0)
    rng = make_rng(seed)
    kernel = build_kernel(conditionals)
    state = init(initial_position)
    for _ in range(warmup):
        state, _ = kernel(rng, state)
    _, states, infos = sample_chains(kernel, state, draws, rng)
    attrs = {"sampler": "Gibbs (systematic scan)", "warmup": warmup}
    return to_datatree({var_name: states["position"]}, dict(infos), attrs)
