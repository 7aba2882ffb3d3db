"""Autoencoders: linear (PCA), sigmoid, sparse, denoising, contractive, and deep ones
pre-trained as RBM stacks; see :mod:`workbench.nn.autoencoder.estimator`."""

from workbench.nn.autoencoder.estimator import KINDS, PRETRAIN, Autoencoder
from workbench.nn.autoencoder.network import AutoencoderNet, contractive_penalty

__all__ = ["KINDS", "PRETRAIN", "Autoencoder", "AutoencoderNet", "contractive_penalty"]
