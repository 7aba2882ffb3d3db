"""Hopfield networks on {0, 1}^D and the Hubbard-Stratonovich road to RBMs.

``E(x) = -bias.x - x^T J x / 2`` (the double sum over all i, j, diagonal included), with the
Boltzmann distribution p(x) = exp(-E(x)) / Z. Writing J = W W^T and introducing one standard
normal variable per column of W turns the all-to-all couplings into a bipartite model:

    integral dh exp(-h^2/2 + h.(W^T x)) = (2 pi)^(m/2) exp(x^T W W^T x / 2),

so an RBM with Bernoulli visible units, Gaussian hidden units (sigma 1, bias 0) and weights W
has exactly the Hopfield distribution as its visible marginal (:meth:`Hopfield.to_rbm`).
"""

import numpy as np

from workbench.energy.rbm import RBM
from workbench.energy.states import MAX_STATES, LogPartition, finite_array, log_sum_over_states
from workbench.errors import InputError

__all__ = ["Hopfield"]


class Hopfield:
    """A Hopfield network (fully visible Boltzmann machine) on {0, 1}^D.

    Parameters
    ----------
    J : array of shape (D, D), symmetric couplings
    bias : array of shape (D,)
    """

    def __init__(self, J, bias):
        J = finite_array("J", J, 2)
        bias = finite_array("bias", bias, 1)
        if J.shape[0] != J.shape[1]:
            raise InputError("J", detail=f"expected a square matrix, got shape {J.shape}")
        if bias.shape != (J.shape[0],):
            raise InputError(
                "bias",
                detail=f"expected shape ({J.shape[0]},) to match J of shape {J.shape}, "
                f"got shape {bias.shape}",
            )
        if not np.allclose(J, J.T, rtol=1e-10, atol=1e-12):
            raise InputError(
                "J",
                "a symmetric matrix",
                f"max |J - J^T| = {np.abs(J - J.T).max():.3g}",
            )
        self.J, self.bias = J, bias
        for arr in (self.J, self.bias):
            arr.setflags(write=False)

    @property
    def n_units(self):
        return len(self.bias)

    def _states(self, x):
        arr = np.array(x, dtype=float)
        single = arr.ndim == 1
        arr = arr[None, :] if single else arr
        if arr.ndim != 2 or arr.shape[1] != self.n_units:
            raise InputError(
                "x",
                detail=f"expected shape (n_rows, {self.n_units}) or ({self.n_units},), "
                f"got shape {np.shape(x)}",
            )
        if np.any((arr != 0) & (arr != 1)):
            raise InputError("x", detail="Hopfield units are binary: expected values 0 or 1")
        return arr, single

    def energy(self, x):
        """E(x) per row: (N, D) -> (N,)."""
        X, single = self._states(x)
        E = self._energy(X)
        return E[0] if single else E

    def _energy(self, X):
        return -X @ self.bias - 0.5 * np.einsum("ni,ij,nj->n", X, self.J, X)

    def log_partition(self, max_states=MAX_STATES):
        """Exact log Z, summing exp(-E) over all 2^D states (refused beyond ``max_states``):
        a :class:`~workbench.energy.states.LogPartition`."""
        value = log_sum_over_states(
            lambda X: -self._energy(X), self.n_units, max_states=max_states, what="the units"
        )
        return LogPartition(value, 0.0, "exact")

    def log_prob(self, x):
        """log p(x) per row."""
        return -self.energy(x) - self.log_partition().value

    def to_rbm(self):
        """The Hubbard-Stratonovich RBM: Bernoulli visible, Gaussian hidden (sigma 1, bias 0),
        W with W W^T = J + c I, where c >= 0 lifts J to positive semi-definite; since
        x_i^2 = x_i on {0, 1}, the visible bias becomes ``bias - c / 2`` and the visible
        marginal is unchanged. One hidden unit per non-zero eigenvalue of J + c I."""
        eigval, eigvec = np.linalg.eigh(self.J)
        shift = max(0.0, -eigval[0])
        eigval = eigval + shift
        keep = eigval > 1e-12 * max(1.0, eigval.max())
        if not keep.any():  # J = 0: one decoupled hidden unit keeps the RBM well formed
            W = np.zeros((self.n_units, 1))
        else:
            W = eigvec[:, keep] * np.sqrt(eigval[keep])
        return RBM(
            W,
            self.bias - shift / 2.0,
            np.zeros(W.shape[1]),
            visible="bernoulli",
            hidden="gaussian",
            hidden_sigma=1.0,
        )
