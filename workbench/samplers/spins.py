"""Metropolis on discrete spins: Ising and Hopfield-type energies, and any energy function.

A sweep visits every site once (in a fresh random order per sweep, the same for all chains)
and proposes to flip it; the flip is accepted with probability ``min(1, exp(-beta dE))``
(``update="metropolis"``) or, for single-site Gibbs (heat-bath, Glauber) updates, with
``1 / (1 + exp(beta dE))`` (``update="gibbs"``: the unit is drawn from its exact conditional).
This is how fantasy particles for energy-based models are made.

Energies come in two forms:

* :class:`QuadraticEnergy` ``E(s) = -1/2 s.J.s - h.s`` (Ising, Hopfield; ``J`` symmetric with a
  zero diagonal): a flip costs ``-(s_i' - s_i) (J s + h)_i``, computed from the local field;
* any callable ``energy(spins) -> (chains,)`` on spins shaped (chains, sites), e.g. an RBM's
  free energy of its visible units: each proposal evaluates the energy once.

>>> energy = ising_energy(4, periodic=True)          # 4x4 lattice, J = 1
>>> tree = sample(energy, chains=8, draws=2000, warmup=200, beta=0.3, seed=1)
"""

from typing import NamedTuple

import numpy as np
from scipy.special import expit

from workbench.errors import InputError, check_count
from workbench.samplers.base import make_rng, sample_chains, to_datatree

UPDATES = ("metropolis", "gibbs")

__all__ = [
    "UPDATES",
    "QuadraticEnergy",
    "SpinInfo",
    "SpinState",
    "build_kernel",
    "init",
    "ising_energy",
    "sample",
]


class QuadraticEnergy:
    """``E(s) = -1/2 s.J.s - h.s`` for spins shaped (chains, sites).

    Parameters
    ----------
    couplings : ndarray of shape (sites, sites)
        Symmetric, zero diagonal.
    fields : ndarray of shape (sites,), optional
        External fields ``h`` (default zero).
    """

    def __init__(self, couplings, fields=None):
        J = np.asarray(couplings, dtype=float)
        if J.ndim != 2 or J.shape[0] != J.shape[1]:
            raise InputError("couplings", "a square matrix", f"shape {J.shape}")
        if not np.allclose(J, J.T) or np.any(np.diag(J) != 0):
            raise InputError(
                "couplings", "a symmetric matrix with a zero diagonal", "a matrix that is not"
            )
        h = np.zeros(J.shape[0]) if fields is None else np.asarray(fields, dtype=float)
        if h.shape != (J.shape[0],):
            raise InputError("fields", f"shape ({J.shape[0]},)", h.shape)
        self.couplings, self.fields = J, h

    @property
    def sites(self):
        return self.fields.size

    def __call__(self, spins):
        spins = np.asarray(spins, dtype=float)
        return -0.5 * np.einsum("ci,ij,cj->c", spins, self.couplings, spins) - spins @ self.fields

    def delta(self, spins, site, new_values):
        """Energy change of setting ``spins[:, site]`` to ``new_values`` (chains,)."""
        field = spins @ self.couplings[:, site] + self.fields[site]
        return -(new_values - spins[:, site]) * field


def ising_energy(side, *, coupling=1.0, field=0.0, periodic=True):
    """Ising model on a ``side x side`` square lattice (nearest neighbours, ``coupling`` J).

    ``periodic=True`` wraps the edges (torus); sites are numbered row by row.
    """
    side = check_count("side", side, 2)
    n = side * side
    J = np.zeros((n, n))
    for r in range(side):
        for c in range(side):
            i = r * side + c
            for dr, dc in ((0, 1), (1, 0)):
                rr, cc = r + dr, c + dc
                if periodic:
                    rr, cc = rr % side, cc % side
                elif rr >= side or cc >= side:
                    continue
                j = rr * side + cc
                if j != i:
                    J[i, j] = J[j, i] = coupling
    return QuadraticEnergy(J, np.full(n, float(field)))


class SpinState(NamedTuple):
    """spins: (chains, sites); energy: (chains,)."""

    spins: np.ndarray
    energy: np.ndarray


class SpinInfo(NamedTuple):
    """acceptance_rate: fraction of the sweep's flips accepted, per chain."""

    acceptance_rate: np.ndarray


def init(spins, energy):
    """State of spins shaped (chains, sites)."""
    spins = np.asarray(spins, dtype=float)
    if spins.ndim != 2:
        raise InputError("spins", "an array shaped (chains, sites)", spins.shape)
    return SpinState(spins, np.asarray(energy(spins), dtype=float))


def build_kernel(values=(-1.0, 1.0), update="metropolis"):
    """``kernel(rng, state, energy, beta) -> (state, info)``: one sweep of single-site updates.

    ``values`` are the two states of a unit: (-1, 1) for Ising spins, (0, 1) for binary units.
    ``update`` is "metropolis" (flip with probability min(1, exp(-beta dE))) or "gibbs"
    (flip with probability 1 / (1 + exp(beta dE)), i.e. draw the unit from its conditional).
    """
    low, high = (float(v) for v in values)
    if low == high:
        raise InputError("values", "two different unit states", repr(values))
    if update not in UPDATES:
        raise InputError("update", f"one of {', '.join(UPDATES)}", repr(update))

    def kernel(rng, state, energy, beta=1.0):
        spins, current = state.spins.copy(), state.energy.copy()
        chains, sites = spins.shape
        accepted = np.zeros(chains)
        uniforms = rng.random((sites, chains))
        for k, site in enumerate(rng.permutation(sites)):
            flipped = np.where(spins[:, site] == high, low, high)
            if hasattr(energy, "delta"):
                delta = energy.delta(spins, site, flipped)
            else:
                proposal = spins.copy()
                proposal[:, site] = flipped
                delta = np.asarray(energy(proposal), dtype=float) - current
            if update == "metropolis":
                accept = np.log(uniforms[k]) < -beta * delta
            else:
                accept = uniforms[k] < expit(-beta * delta)
            spins[:, site] = np.where(accept, flipped, spins[:, site])
            current = current + np.where(accept, delta, 0.0)
            accepted += accept
        return SpinState(spins, current), SpinInfo(accepted / sites)

    return kernel


def sample(
    energy,
    *,
    chains=4,
    draws=1000,
    warmup=100,
    beta=1.0,
    values=(-1.0, 1.0),
    update="metropolis",
    initial=None,
    seed=None,
):
    """Sweeps of single-site updates from random starts; returns an ArviZ DataTree.

    Parameters
    ----------
    energy : QuadraticEnergy or callable
        (chains, sites) -> (chains,); a callable needs ``sites`` via ``initial``.
    chains, draws, warmup : int
        Chains, kept sweeps per chain, discarded sweeps per chain.
    beta : float
        Inverse temperature.
    values : pair of float
        Unit states, (-1, 1) or (0, 1).
    update : {"metropolis", "gibbs"}
        Single-site Metropolis or heat-bath (Gibbs) updates.
    initial : ndarray of shape (chains, sites), optional
        Starting spins (default: uniform random).
    seed : int, Generator or None

    Returns
    -------
    DataTree
        ``posterior``: ``spins`` (chain, draw, site) as int8, ``energy`` and ``magnetisation``
        (mean unit value); ``sample_stats``: ``acceptance_rate`` per sweep.
    """
    chains = check_count("chains", chains, 1)
    draws, warmup = check_count("draws", draws, 1), check_count("warmup", warmup, 0)
    rng = make_rng(seed)
    if initial is None:
        if not hasattr(energy, "sites"):
            raise InputError(
                "initial", "an array (an energy callable does not fix the site count)", None
            )
        initial = rng.choice(np.asarray(values, dtype=float), size=(chains, energy.sites))
    state = init(initial, energy)
    kernel = build_kernel(values, update)

    def step(rng, state):
        return kernel(rng, state, energy, beta)

    for _ in range(warmup):
        state, _ = step(rng, state)
    _, states, infos = sample_chains(step, state, draws, rng)
    posterior = {
        "spins": states["spins"].astype(np.int8),
        "energy": states["energy"],
        "magnetisation": states["spins"].mean(axis=-1),
    }
    attrs = {"sampler": f"single-site {update}", "beta": float(beta), "warmup": warmup}
    return to_datatree(posterior, {"acceptance_rate": infos["acceptance_rate"]}, attrs)
