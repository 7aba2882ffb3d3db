"""The driver shared by every sampler: run a kernel over many chains, stack into a DataTree.

A kernel is ``step(rng, state) -> (state, info)`` where ``state`` and ``info`` are NamedTuples
of arrays whose first axis is the chain; :func:`sample_chains` calls it ``draws`` times and
stacks each field to (chains, draws, ...). :func:`to_datatree` puts positions in ``posterior``
and infos in ``sample_stats``.
"""

from typing import NamedTuple

import numpy as np
import xarray as xr

from workbench.errors import InputError

__all__ = [
    "SamplingAlgorithm",
    "check_positions",
    "make_rng",
    "sample_chains",
    "to_datatree",
]


class SamplingAlgorithm(NamedTuple):
    """``init(position) -> state`` and ``step(rng, state) -> (state, info)`` with fixed settings."""

    init: object
    step: object


def make_rng(seed):
    """A NumPy Generator from an int, None, a SeedSequence or a Generator (passed through)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def check_positions(position):
    """``position`` as a float array shaped (chains, dim), or a ValueError naming it."""
    position = np.asarray(position, dtype=float)
    if position.ndim != 2:
        raise InputError("position", "an array shaped (chains, dim)", f"shape {position.shape}")
    return position


def sample_chains(step, state, draws, rng):
    """Run ``step`` ``draws`` times; returns (final state, states, infos) where ``states``
    and ``infos`` map each NamedTuple field to an array shaped (chains, draws, ...)."""
    states, infos = [], []
    for _ in range(draws):
        state, info = step(rng, state)
        states.append(state)
        infos.append(info)

    def stack(items):
        return {k: np.stack([getattr(i, k) for i in items], axis=1) for k in items[0]._fields}

    return state, stack(states), stack(infos)


def to_datatree(posterior, sample_stats=None, attrs=None):
    """DataTree from dicts of arrays shaped (chains, draws, ...), with named dims."""

    def dataset(arrays):
        data = {}
        for name, arr in arrays.items():
            arr = np.asarray(arr)
            dims = ["chain", "draw"] + [f"{name}_dim_{i}" for i in range(arr.ndim - 2)]
            data[name] = (dims, arr)
        first = next(iter(arrays.values()))
        coords = {"chain": np.arange(first.shape[0]), "draw": np.arange(first.shape[1])}
        return xr.Dataset(data, coords=coords, attrs=dict(attrs or {}))

    groups = {"posterior": dataset(posterior)}
    if sample_stats:
        groups["sample_stats"] = dataset(sample_stats)
    return xr.DataTree.from_dict(groups)
