"""Weights between the Torch RBM (:class:`workbench.nn.rbm.RBM`) and the PyTensor one
(:class:`workbench.energy.RBM`): the same parametrisation, so they move unchanged."""

import numpy as np
import torch

from workbench.nn.runtime import resolve_seed

__all__ = ["from_energy", "to_energy"]


def to_energy(est):
    """The fitted Torch RBM ``est`` as a PyTensor :class:`workbench.energy.RBM` (float64)."""
    from workbench.energy import RBM as EnergyRBM

    return EnergyRBM(
        est.weights_.astype(np.float64),
        est.visible_bias_.astype(np.float64),
        est.hidden_bias_.astype(np.float64),
        visible=est.visible,
        hidden=est.hidden,
        sigma=est.sigma,
    )


def from_energy(cls, rbm, params):
    """An estimator of class ``cls`` holding the parameters of the PyTensor RBM ``rbm`` (binary
    hidden units); ``params``: further hyper-parameters."""
    if getattr(rbm, "hidden", "bernoulli") != "bernoulli":
        raise ValueError(f"rbm: binary hidden units needed, got hidden={rbm.hidden!r}")
    W = np.asarray(_value(rbm.W), dtype=np.float32)
    sigma = np.asarray(_value(getattr(rbm, "sigma", 1.0)), dtype=float)
    if sigma.size > 1 and not np.allclose(sigma, sigma.flat[0]):
        raise ValueError("rbm: a per-unit sigma cannot be represented; one value expected")
    est = cls(W.shape[1], visible=rbm.visible, sigma=float(sigma.flat[0]), **params)
    device = est._check_params()
    est.n_features_in_ = W.shape[0]
    tensors = {
        "W": W,
        "a": np.asarray(_value(rbm.visible_bias), dtype=np.float32),
        "b": np.asarray(_value(rbm.hidden_bias), dtype=np.float32),
    }
    est._state = {k: torch.from_numpy(v.copy()).to(device) for k, v in tensors.items()}
    est._state.update(base_bias=est._state["a"].clone(), epoch=0, step=0)
    est.seed_ = resolve_seed(est.random_state, "random_state")
    est.history_ = []
    return est


def _value(x):
    """A NumPy array from a NumPy array, a PyTensor shared variable or a constant."""
    get = getattr(x, "get_value", None)
    if get is not None:
        return get()
    return getattr(x, "data", x) if not isinstance(x, np.ndarray) else x
