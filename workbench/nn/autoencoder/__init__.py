"""Autoencoders: linear (PCA), sigmoid, sparse, denoising, contractive, and deep ones
pre-trained as RBM stacks; see :mod:`workbench.nn.autoencoder.estimator`. The model names
load on first use, so that ``workbench ae --help`` does not import Torch."""

from workbench.lazy import lazy_exports

KINDS = ("linear", "sigmoid", "sparse", "denoising", "contractive", "deep")
PRETRAIN = ("none", "rbm")

_HOMES = {
    "Autoencoder": "estimator",
    "AutoencoderNet": "network",
    "contractive_penalty": "network",
}

__all__ = ["KINDS", "PRETRAIN", *sorted(_HOMES)]
__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
