"""Configurations of the 2-D Ising model by Metropolis sampling, and its exact distribution for
tiny lattices.

Spins s_i in {-1, +1} on an L x L periodic lattice, coupling J = 1, no field, energy
E(s) = -sum over nearest-neighbour pairs of s_i s_j, p(s) proportional to exp(-E(s) / T).
Configurations are returned as {0, 1} rows (spin +1 -> 1), row-major.

Many independent chains run side by side (one per returned configuration). Even L uses
checkerboard sweeps (all sites of one colour at once: they share no bond); odd L, where the
periodic lattice cannot be two-coloured, updates one site at a time (in random order) across
all chains.
"""

import numpy as np

from workbench.energy.states import binary_states
from workbench.errors import InputError

__all__ = ["ising_energy", "ising_exact", "ising_metropolis"]

EXACT_MAX_SITES = 16


def _check(L, T):
    if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 2:
        raise InputError("L", "an integer lattice size >= 2", repr(L))
    if not (isinstance(T, (int, float, np.number)) and np.isfinite(T) and T > 0):
        raise InputError("T", "a temperature > 0", repr(T))


def ising_energy(spins):
    """E(s) = -sum_<ij> s_i s_j (periodic) for spins of shape (..., L, L) in {-1, +1}."""
    spins = np.asarray(spins, dtype=float)
    right = np.roll(spins, -1, axis=-1)
    down = np.roll(spins, -1, axis=-2)
    return -(spins * (right + down)).sum(axis=(-2, -1))


def _neighbour_sum(spins):
    return sum(np.roll(spins, shift, axis) for shift in (1, -1) for axis in (-2, -1))


def ising_metropolis(L, T, n_samples, *, n_sweeps=500, seed=None):
    """``n_samples`` independent configurations, each the end of its own Metropolis chain of
    ``n_sweeps`` sweeps from a uniformly random start: (n_samples, L * L) in {0, 1}.
    ``seed`` (int or None: fresh entropy) fixes the draws."""
    _check(L, T)
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise InputError("n_samples", "an integer >= 1", repr(n_samples))
    rng = np.random.default_rng(seed)
    spins = rng.choice(np.array([-1, 1], dtype=np.int8), size=(n_samples, L, L))
    if L % 2 == 0:
        colour = (np.add.outer(np.arange(L), np.arange(L)) % 2).astype(bool)
        masks = (colour, ~colour)
    for _ in range(n_sweeps):
        if L % 2 == 0:
            for mask in masks:
                delta = 2.0 * spins * _neighbour_sum(spins)  # energy change of a flip
                flip = mask & (rng.random(spins.shape) < np.exp(-delta / T))
                spins = np.where(flip, -spins, spins)
        else:
            # a random site order each sweep: a fixed scan can cycle forever between a
            # frustrated state and its mirror image (every flip accepted), never mixing
            for site in rng.permutation(L * L):
                i, j = divmod(int(site), L)
                field = (spins[:, (i - 1) % L, j] + spins[:, (i + 1) % L, j]
                         + spins[:, i, (j - 1) % L] + spins[:, i, (j + 1) % L])  # fmt: skip
                delta = 2.0 * spins[:, i, j] * field
                flip = rng.random(n_samples) < np.exp(-delta / T)
                spins[flip, i, j] *= -1
    return (spins.reshape(n_samples, L * L) > 0).astype(np.float64)


def ising_exact(L, T):
    """Every configuration of a tiny lattice (L * L <= 16) and its exact probability:
    ``(states (2^(L*L), L*L) in {0, 1}, probabilities (2^(L*L),))``, the states in the order
    of :func:`workbench.energy.states.binary_states` (site 0 the most significant bit)."""
    _check(L, T)
    if L * L > EXACT_MAX_SITES:
        raise InputError("L", f"L * L <= {EXACT_MAX_SITES} for exact enumeration", L)
    n = L * L
    states = binary_states(n)
    log_weight = -ising_energy((2 * states - 1).reshape(-1, L, L)) / T
    weight = np.exp(log_weight - log_weight.max())
    return states, weight / weight.sum()
