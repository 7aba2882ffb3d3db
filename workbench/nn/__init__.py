"""Torch backend: what is too large for symbolic graphs.

One runtime (:mod:`~workbench.nn.runtime`: devices, threads, interrupts, seeds, checkpoints,
torchrun, the training loop) is shared by one folder per model family: :mod:`~workbench.nn.rbm`
(RBMs), :mod:`~workbench.nn.dbn` (deep belief nets), :mod:`~workbench.nn.cnn` (convolutional
classifiers), :mod:`~workbench.nn.autoencoder` (autoencoders). ``nn`` never imports PyMC.
"""

from workbench.lazy import lazy_exports

_HOMES = {
    "CNNConfig": "cnn.architecture",
    "ConvLayer": "cnn.architecture",
    "build_network": "cnn.architecture",
    "conv_output_size": "cnn.architecture",
    "format_summary": "cnn.architecture",
    "layer_table": "cnn.architecture",
    "CNNClassifier": "cnn.estimator",
    "DBN": "dbn.model",
    "RBM": "rbm.model",
    "load_checkpoint": "runtime.checkpoint",
    "TrainConfig": "runtime.classifier",
    "learning_rate_at": "runtime.classifier",
    "train_classifier": "runtime.classifier",
    "SigmoidBeliefNet": "sbn.model",
    "Autoencoder": "autoencoder.estimator",
    "DBM": "dbm.model",
}

__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
