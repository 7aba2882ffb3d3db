"""Torch backend: what is too large for symbolic graphs.

One runtime (:mod:`~workbench.nn.runtime`: devices, threads, interrupts, seeds, checkpoints,
torchrun, the training loop) is shared by one folder per model family: :mod:`~workbench.nn.rbm`
(RBMs), :mod:`~workbench.nn.dbn` (deep belief nets), :mod:`~workbench.nn.cnn` (convolutional
classifiers). ``nn`` never imports PyMC.
"""

from workbench.nn.cnn.architecture import (
    CNNConfig,
    ConvLayer,
    build_network,
    conv_output_size,
    format_summary,
    layer_table,
)
from workbench.nn.cnn.estimator import CNNClassifier
from workbench.nn.dbm.model import DBM
from workbench.nn.dbn.model import DBN
from workbench.nn.rbm.model import RBM
from workbench.nn.runtime.checkpoint import load_checkpoint
from workbench.nn.runtime.classifier import TrainConfig, learning_rate_at, train_classifier

__all__ = [
    "CNNClassifier",
    "CNNConfig",
    "ConvLayer",
    "DBM",
    "DBN",
    "RBM",
    "TrainConfig",
    "build_network",
    "conv_output_size",
    "format_summary",
    "layer_table",
    "learning_rate_at",
    "load_checkpoint",
    "train_classifier",
]
