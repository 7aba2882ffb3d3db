"""Torch backend: what is too large for symbolic graphs. RBMs and deep belief nets
(:mod:`~workbench.nn.rbm`, :mod:`~workbench.nn.dbn`), convolutional classifiers, one training
loop, data-parallel runs.

``nn`` never imports PyMC. Modules: :mod:`~workbench.nn.architecture` (size arithmetic, layer
table, network), :mod:`~workbench.nn.training` (the loop, checkpoints, DDP),
:mod:`~workbench.nn.estimator` (``CNNClassifier``), :mod:`~workbench.nn.plots` (figures),
:mod:`~workbench.nn.baselines` (RBM features + logistic regression).
"""

from workbench.nn.architecture import (
    CNNConfig,
    ConvLayer,
    build_network,
    conv_output_size,
    format_summary,
    layer_table,
)
from workbench.nn.estimator import CNNClassifier
from workbench.nn.training import TrainConfig, learning_rate, load_checkpoint, train_classifier

__all__ = [
    "CNNClassifier",
    "CNNConfig",
    "ConvLayer",
    "TrainConfig",
    "build_network",
    "conv_output_size",
    "format_summary",
    "layer_table",
    "learning_rate",
    "load_checkpoint",
    "train_classifier",
]
