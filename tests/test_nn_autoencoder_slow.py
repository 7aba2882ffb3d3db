"""Deep autoencoders at full size (slow): the 784-1000-500-250-30 net, pre-trained as an RBM
stack and fine-tuned, against 30-D PCA (computed here by scikit-learn) and against the same
net from random weights, on held-out images. Measured figures: docs/benchmarks.md.

Measured on mnist5k (4,000 training images, seed 0): test error 9.28 pre-trained, 40.19
from random weights (still at the mean image after 30 epochs), 14.17 for PCA. The deep net
beats PCA by 1.53x, short of the 2x that Hinton & Salakhutdinov's 60,000 images and long
training give (3.00 against 13.87). On the first 4,000 Fashion-MNIST images: 12.67
pre-trained, 35.54 from random weights, 12.37 for PCA: no gain over PCA at this size. The
assertions check what these settings reach (``BEATS_PCA_BY``: None where they do not).
"""

import numpy as np
import pytest

from workbench.data import load_dataset
from workbench.nn.autoencoder import Autoencoder
from workbench.nn.autoencoder.cli import pca_error
from workbench.nn.runtime import torch_threads

SETTINGS = {"kind": "deep", "hidden_layers": (1000, 500, 250), "pretrain_epochs": 10,
            "n_epochs": 30, "batch_size": 100, "learning_rate": 3e-3,
            "random_state": 0}  # fmt: skip
TRAIN_ROWS = 4000  # mnist5k's training split; the first 4,000 of Fashion-MNIST's 60,000
BEATS_PCA_BY = {"mnist5k": 1.4, "fashion-mnist": None}  # measured: 1.53x and 0.98x


def deep_against_pca(name):
    """Held-out reconstruction errors: PCA (30), deep with and without pre-training."""
    X = load_dataset(name, split="train", dtype=np.float32).X[:TRAIN_ROWS]
    X_test = load_dataset(name, split="test", dtype=np.float32).X
    errors = {"pca": pca_error(X, X_test, 30)}
    with torch_threads(1):
        for pretrain in ("rbm", "none"):
            ae = Autoencoder(30, pretrain=pretrain, **SETTINGS).fit(X)
            errors[pretrain] = ae.reconstruction_error(X_test)
    print(name, {k: round(v, 3) for k, v in errors.items()})
    return errors


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["mnist5k", pytest.param("fashion-mnist", marks=pytest.mark.requires_fashion_mnist)]
)
def test_deep_autoencoder_beats_pca_and_pretraining_beats_random_weights(name):
    errors = deep_against_pca(name)
    if BEATS_PCA_BY[name] is not None:  # the target is 2x: not reached
        assert errors["rbm"] < errors["pca"] / BEATS_PCA_BY[name]
    assert errors["rbm"] < errors["none"] / 2  # measured: 4.3x (mnist5k), 2.8x (Fashion)
