"""Restricted Boltzmann machines with exact and annealed partition functions.

NumPy arrays in, NumPy arrays out. Energies, free energies, conditionals and exact sums run
through the PyTensor graphs of :mod:`workbench.energy.graphs`, compiled once per layer types
and cached; Gibbs sweeps and AIS steps are NumPy (:mod:`workbench.energy.gibbs`).

>>> import numpy as np
>>> from workbench.energy import RBM
>>> rbm = RBM(np.array([[1.0, -1.0], [0.5, 2.0]]), [0.1, -0.2], [0.0, 0.3])
>>> rbm.log_partition().value        # exact: enumerates the 4 hidden states
>>> rbm.log_prob([[1, 0], [0, 1]])   # log p(v) per row
"""

import numpy as np

from workbench.energy import graphs
from workbench.energy.gibbs import sweep
from workbench.energy.graphs import LAYERS
from workbench.energy.states import (
    MAX_STATES,
    JointTable,
    LogPartition,
    binary_states,
    check_enumerable,
    finite_array,
    log_sum_over_states,
    state_chunks,
)
from workbench.errors import InputError, check_count, check_memory

__all__ = ["RBM"]

_LOG_2PI = np.log(2.0 * np.pi)


def _scale(name, value, n, layer):
    arr = np.array(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise InputError(
            name, detail=f"expected a scalar or shape ({n},) for the {layer} layer, got {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise InputError(name, detail=f"expected standard deviations > 0, got {value!r}")
    return arr


class RBM:
    """A restricted Boltzmann machine with Bernoulli or Gaussian layers.

    Energy: ``E(v, h) = -a.v - b.h - v W h + [v^2 / (2 sigma^2)] + [h^2 / (2 hidden_sigma^2)]``,
    the bracketed terms summed over units of a Gaussian layer only.

    Parameters
    ----------
    W : array of shape (n_visible, n_hidden)
    visible_bias : array of shape (n_visible,)  (``a``)
    hidden_bias : array of shape (n_hidden,)  (``b``)
    visible, hidden : {"bernoulli", "gaussian"}, default "bernoulli"
    sigma : float or array of shape (n_visible,), default 1.0
        Standard deviation scale of a Gaussian visible layer (ignored for Bernoulli).
    hidden_sigma : float or array of shape (n_hidden,), default 1.0
        The same for a Gaussian hidden layer.

    The parameters are copied and made read-only; a new set of weights is a new ``RBM``.
    """

    def __init__(
        self,
        W,
        visible_bias,
        hidden_bias,
        *,
        visible="bernoulli",
        hidden="bernoulli",
        sigma=1.0,
        hidden_sigma=1.0,
    ):
        for name, layer in (("visible", visible), ("hidden", hidden)):
            if layer not in LAYERS:
                raise InputError(name, detail=f"expected one of {LAYERS}, got {layer!r}")
        W = finite_array("W", W, 2)
        n_visible, n_hidden = W.shape
        if n_visible == 0 or n_hidden == 0:
            raise InputError(
                "W", detail=f"expected at least one visible and one hidden unit, got {W.shape}"
            )
        a = finite_array("visible_bias", visible_bias, 1)
        b = finite_array("hidden_bias", hidden_bias, 1)
        for name, vec, n, axis in (
            ("visible_bias", a, n_visible, 0),
            ("hidden_bias", b, n_hidden, 1),
        ):
            if vec.shape != (n,):
                raise InputError(
                    name,
                    detail=f"expected shape ({n},) to match axis {axis} of W of shape {W.shape}, "
                    f"got shape {vec.shape}",
                )
        self.visible, self.hidden = visible, hidden
        self.W, self.visible_bias, self.hidden_bias = W, a, b
        self.sigma = _scale("sigma", sigma, n_visible, "visible")
        self.hidden_sigma = _scale("hidden_sigma", hidden_sigma, n_hidden, "hidden")
        for arr in (self.W, self.visible_bias, self.hidden_bias, self.sigma, self.hidden_sigma):
            arr.setflags(write=False)
        if visible == hidden == "gaussian":
            self._check_normalisable()
        self._exact = {}

    # ------------------------------------------------------------------ basics
    @property
    def n_visible(self):
        return self.W.shape[0]

    @property
    def n_hidden(self):
        return self.W.shape[1]

    @property
    def _params(self):
        return (self.W, self.visible_bias, self.hidden_bias, self.sigma, self.hidden_sigma)

    def __repr__(self):
        return (
            f"RBM(n_visible={self.n_visible}, n_hidden={self.n_hidden}, "
            f"visible={self.visible!r}, hidden={self.hidden!r})"
        )

    def _fn(self, name):
        return graphs.compiled(name, self.visible, self.hidden)

    def _rows(self, name, x, layer):
        """``x`` as a (N, n) float array checked against ``layer`` ("visible" or "hidden");
        also whether it was a single row."""
        n = self.n_visible if layer == "visible" else self.n_hidden
        kind = self.visible if layer == "visible" else self.hidden
        try:
            arr = np.array(x, dtype=float)
        except (TypeError, ValueError):
            raise InputError(
                name, detail=f"expected a numeric array, got {type(x).__name__}"
            ) from None
        single = arr.ndim == 1
        if single:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != n:
            raise InputError(
                name,
                detail=f"expected shape (n_rows, {n}) or ({n},) for the {n} {layer} units of "
                f"this RBM (W has shape {self.W.shape}), got shape {np.shape(x)}",
            )
        bad = ~np.isfinite(arr)
        if bad.any():
            raise InputError(
                name, detail=f"expected finite values, got {int(bad.sum())} NaN/inf entries"
            )
        if kind == "bernoulli":
            off = (arr != 0) & (arr != 1)
            if off.any():
                row, col = np.argwhere(off)[0]
                raise InputError(
                    name,
                    detail=f"the {layer} layer is Bernoulli, so values must be 0 or 1; got "
                    f"{arr[row, col]!r} at row {row}, column {col} ({int(off.sum())} such "
                    "entries). Binarise the data first, or use a Gaussian layer.",
                )
        return arr, single

    @staticmethod
    def _out(values, single):
        return values[0] if single else values

    # ------------------------------------------------------------------ energies
    def energy(self, v, h):
        """E(v, h): rows of ``v`` (N, n_visible) paired with rows of ``h`` (N, n_hidden) -> (N,)."""
        V, single = self._rows("v", v, "visible")
        H, _ = self._rows("h", h, "hidden")
        if len(V) != len(H):
            raise InputError(
                "v, h", detail=f"expected the same number of rows, got {V.shape} and {H.shape}"
            )
        return self._out(self._fn("energy")(V, H, *self._params), single)

    def free_energy(self, v):
        """F(v) = -log sum_h exp(-E(v, h)) (an integral for a Gaussian hidden layer): (N,)."""
        V, single = self._rows("v", v, "visible")
        return self._out(self._fn("free_energy")(V, *self._params), single)

    def hidden_free_energy(self, h):
        """F(h) = -log sum_v exp(-E(v, h)): (N,)."""
        H, single = self._rows("h", h, "hidden")
        return self._out(self._fn("hidden_free_energy")(H, *self._params), single)

    def free_energy_gradient(self, v):
        """Mean free energy over the rows of ``v`` and its gradient by ``pytensor.grad``:
        ``(mean F, {"W": (n_visible, n_hidden), "visible_bias": ..., "hidden_bias": ...})``."""
        V, _ = self._rows("v", v, "visible")
        mean_f, gW, ga, gb = self._fn("free_energy_grad")(V, *self._params)
        return float(mean_f), {"W": gW, "visible_bias": ga, "hidden_bias": gb}

    # ------------------------------------------------------------------ conditionals
    def hidden_given_visible(self, v):
        """p(h_j = 1 | v) for a Bernoulli hidden layer, (N, n_hidden); for a Gaussian one the
        pair (mean, variance) of h_j | v, each (N, n_hidden)."""
        V, single = self._rows("v", v, "visible")
        mean = self._fn("hidden_given_visible")(V, self.W, self.hidden_bias, self.hidden_sigma)
        if self.hidden == "bernoulli":
            return self._out(mean, single)
        var = np.broadcast_to(self.hidden_sigma**2, mean.shape).copy()
        return self._out(mean, single), self._out(var, single)

    def visible_given_hidden(self, h):
        """p(v_i = 1 | h) for a Bernoulli visible layer, (N, n_visible); for a Gaussian one the
        pair (mean, variance) of v_i | h."""
        H, single = self._rows("h", h, "hidden")
        mean = self._fn("visible_given_hidden")(H, self.W, self.visible_bias, self.sigma)
        if self.visible == "bernoulli":
            return self._out(mean, single)
        var = np.broadcast_to(self.sigma**2, mean.shape).copy()
        return self._out(mean, single), self._out(var, single)

    # ------------------------------------------------------------------ exact
    def _enumerated_layer(self, max_states):
        """The binary layer to enumerate (the smaller one), refusing beyond ``max_states``."""
        sizes = {
            layer: n
            for layer, n, kind in (
                ("visible", self.n_visible, self.visible),
                ("hidden", self.n_hidden, self.hidden),
            )
            if kind == "bernoulli"
        }
        layer = min(sizes, key=lambda k: (sizes[k], k != "hidden"))
        n = sizes[layer]
        check_enumerable(n, max_states, f"the {layer} layer (the smaller binary one)")
        return layer, n

    def _exact_log_z(self, max_states):
        """log Z alone (cheaper than the moments: no conditional means), cached."""
        if "moments" in self._exact:
            return self._exact["moments"][0]
        if "log_z" not in self._exact:
            if self.visible == self.hidden == "gaussian":
                self._exact["log_z"] = self._gaussian_moments()[0]
            else:
                layer, n = self._enumerated_layer(max_states)
                name = "free_energy" if layer == "visible" else "hidden_free_energy"
                fn = self._fn(name)
                other = self.n_hidden if layer == "visible" else self.n_visible
                self._exact["log_z"] = log_sum_over_states(
                    lambda states: -fn(states, *self._params),
                    n,
                    max_states=max_states,
                    width=other,
                )
        return self._exact["log_z"]

    def _exact_moments(self, max_states):
        """log Z and the model means <v>, <h>, <v h^T>, exactly (cached)."""
        if "moments" in self._exact:
            return self._exact["moments"]
        if self.visible == self.hidden == "gaussian":
            result = self._gaussian_moments()
        else:
            layer, n = self._enumerated_layer(max_states)
            fn = self._fn(f"enumerate_{layer}")
            other = self.n_hidden if layer == "visible" else self.n_visible
            parts = [fn(states, *self._params) for states in state_chunks(n, other)]
            lse = np.array([p[0] for p in parts])
            log_z = float(np.logaddexp.reduce(lse))
            share = np.exp(lse - log_z)
            means = [sum(s * p[k] for s, p in zip(share, parts, strict=True)) for k in (1, 2, 3)]
            result = (log_z, *means)
        self._exact["moments"] = result
        return result

    def _gaussian_joint(self):
        """Precision matrix and linear term of the Gaussian-Gaussian joint density."""
        nv = self.n_visible
        precision = np.diag(np.concatenate([1.0 / self.sigma**2, 1.0 / self.hidden_sigma**2]))
        precision[:nv, nv:] = -self.W
        precision[nv:, :nv] = -self.W.T
        return precision, np.concatenate([self.visible_bias, self.hidden_bias])

    def _check_normalisable(self):
        precision, _ = self._gaussian_joint()
        smallest = np.linalg.eigvalsh(precision)[0]
        if smallest <= 0:
            raise InputError(
                "W",
                detail="a Gaussian-Gaussian RBM is normalisable only when the precision matrix "
                "[[diag(1/sigma^2), -W], [-W^T, diag(1/hidden_sigma^2)]] is positive definite; "
                f"its smallest eigenvalue is {smallest:.3g}. Shrink W or the sigmas.",
            )

    def normal_parameters(self):
        """For a Gaussian-Gaussian RBM: mean (n_visible + n_hidden,) and covariance of the
        joint normal distribution of (v, h)."""
        if not self.visible == self.hidden == "gaussian":
            raise InputError(
                "normal_parameters",
                detail=f"only a Gaussian-Gaussian RBM is normal; this one is "
                f"{self.visible}-{self.hidden}",
            )
        precision, linear = self._gaussian_joint()
        cov = np.linalg.inv(precision)
        return cov @ linear, cov

    def _gaussian_moments(self):
        precision, linear = self._gaussian_joint()
        mean, cov = self.normal_parameters()
        n = len(linear)
        _, logdet = np.linalg.slogdet(precision)
        log_z = 0.5 * (n * _LOG_2PI - logdet + linear @ mean)
        nv = self.n_visible
        second = cov[:nv, nv:] + np.outer(mean[:nv], mean[nv:])
        return float(log_z), mean[:nv], mean[nv:], second

    # ------------------------------------------------------------------ log Z
    def log_partition(
        self,
        method="exact",
        *,
        n_runs=100,
        n_betas=1000,
        seed=None,
        data=None,
        base_bias=None,
        max_states=MAX_STATES,
    ):
        """log Z, exactly or by annealed importance sampling (:mod:`workbench.energy.ais`).

        Parameters
        ----------
        method : {"exact", "ais", "reverse_ais"}
            ``exact`` enumerates the smaller binary layer in chunks (logsumexp of -F); refused
            beyond ``max_states`` states. ``ais`` anneals from a factorised base model to this
            one: its log Z-hat is below the truth on average (Jensen). ``reverse_ais`` anneals
            back from draws of this model (exact draws when the binary layer can be
            enumerated, otherwise long Gibbs chains): above the truth on average. Together
            they bracket log Z.
        n_runs, n_betas : int
            AIS runs, and inverse temperatures from 0 to 1 (both included) in each run.
        seed : int, optional
            None draws fresh entropy.
        data : array (N, n_visible), optional
            Visible data whose means set the base model's biases (a better start than zeros).
        base_bias : array (n_visible,), optional
            The base model's visible bias itself (instead of ``data``).

        Returns
        -------
        LogPartition
            ``value`` (also ``float(result)``), ``se`` (0 when exact), ``interval(k)``,
            ``log_weights``.
        """
        methods = ("exact", "ais", "reverse_ais")
        if method not in methods:
            raise InputError("method", f"one of {methods}", repr(method))
        if method == "exact":
            return LogPartition(self._exact_log_z(max_states), 0.0, "exact")
        from workbench.energy.ais import annealed_log_partition

        return annealed_log_partition(
            self,
            reverse=method == "reverse_ais",
            n_runs=n_runs,
            n_betas=n_betas,
            seed=seed,
            data=data,
            base_bias=base_bias,
            max_states=max_states,
        )

    def log_prob(self, v, log_z=None):
        """log p(v) per row (a density for a Gaussian visible layer): (N,). ``log_z`` (a float
        or a LogPartition) defaults to the exact value; pass an AIS estimate for large models."""
        F = self.free_energy(v)
        if log_z is None:
            log_z = self.log_partition()
        return -F - float(log_z)

    def log_likelihood(self, v, log_z=None):
        """Mean of :meth:`log_prob` over the rows of ``v``."""
        return float(np.mean(self.log_prob(v, log_z)))

    def exact_gradient(self, v, *, max_states=MAX_STATES):
        """Exact gradient of the mean log-likelihood of the rows of ``v``: <O>_data - <O>_model
        with O = (v h^T, v, h), the data term averaging h over p(h | v) and the model term
        enumerated exactly. Returns {"W", "visible_bias", "hidden_bias"}."""
        V, _ = self._rows("v", v, "visible")
        H = self.hidden_given_visible(V)
        H = H[0] if isinstance(H, tuple) else H
        _, model_v, model_h, model_vh = self._exact_moments(max_states)
        return {
            "W": V.T @ H / len(V) - model_vh,
            "visible_bias": V.mean(axis=0) - model_v,
            "hidden_bias": H.mean(axis=0) - model_h,
        }

    def joint_table(self, max_units=12):
        """Every joint state of a tiny Bernoulli-Bernoulli RBM: a :class:`JointTable`."""
        if not self.visible == self.hidden == "bernoulli":
            raise InputError("joint_table", detail="needs Bernoulli visible and hidden layers")
        nv, nh = self.n_visible, self.n_hidden
        if nv + nh > max_units:
            raise InputError(
                "joint_table",
                detail=f"{nv} + {nh} units give 2^{nv + nh} rows, over max_units = "
                f"{max_units}; use log_partition() and log_prob() instead",
            )
        states = binary_states(nv + nh)
        V, H = states[:, :nv], states[:, nv:]
        E = self.energy(V, H)
        log_z = float(np.logaddexp.reduce(-E))
        prob = np.exp(-E - log_z)
        marginal = prob.reshape(2**nv, 2**nh).sum(axis=1)
        return JointTable(V, H, E, np.exp(-E), prob, log_z, binary_states(nv), marginal)

    # ------------------------------------------------------------------ sampling
    def sample(self, n_samples, *, n_steps=1000, seed=None, v0=None):
        """Block Gibbs sampling (:func:`workbench.energy.gibbs.sweep`): ``n_samples``
        independent chains, each ``n_steps`` sweeps v -> h -> v from ``v0`` (default: random
        bits, or standard normal values for a Gaussian layer), returning the last (V, H)."""
        n_samples = check_count("n_samples", n_samples, 1)
        n_steps = check_count("n_steps", n_steps, 1)
        units = self.n_visible + self.n_hidden  # about 4 arrays of (n_samples, units) doubles
        check_memory("n_samples", 4 * 8 * n_samples * units,
                     f"{n_samples:,} chains of {units} units")  # fmt: skip
        rng = np.random.default_rng(seed)
        shape = (n_samples, self.n_visible)
        if v0 is None and self.visible == "bernoulli":
            V = (rng.random(shape) < 0.5).astype(float)
        elif v0 is None:
            V = rng.standard_normal(shape)
        else:
            V = np.broadcast_to(self._rows("v0", v0, "visible")[0], shape).copy()
        base = np.zeros(self.n_visible)
        for _ in range(n_steps):
            V, H = sweep(self, V, 1.0, base, rng)
        return V, H
