"""Deep belief nets: RBMs stacked greedily, sampled top-down, optionally fine-tuned as a classifier.

Layer 1 is an RBM on the data; layer l + 1 is an RBM on the hidden probabilities of layer l.
The generative model is the top RBM (an undirected associative memory) over directed sigmoid
layers: a sample is a long Gibbs run in the top RBM, then one pass down through p(v | h) of
each lower layer. Fine-tuning turns the up-pass into a feed-forward net (the RBM weights
initialise sigmoid layers, a softmax layer is added) trained by back-propagation.

Usage::

    dbn = DBN((256, 64), n_epochs=10, random_state=0).fit(X)
    dbn.sample(16, random_state=1)       # images from the top down
    dbn.fine_tune(X, y).predict(X_test)  # classifier (trained by workbench.nn.runtime's loop)
"""

import numpy as np
import torch
from scipy.special import expit
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from workbench.errors import InputError
from workbench.nn.rbm import training as rbm_training
from workbench.nn.rbm.model import RBM
from workbench.nn.runtime import (
    numpy_rng,
    resolve_device,
    resolve_seed,
    seed_sequence,
    torch_seeded,
)
from workbench.nn.runtime.classifier import TrainConfig, train_classifier
from workbench.validation import check_data, expected_failures, torch_tags

__all__ = ["DBN"]


def _fine_tuned(dbn):
    """predict, predict_proba and score exist once :meth:`DBN.fine_tune` has run."""
    return hasattr(dbn, "classifier_")


class DBN(TransformerMixin, BaseEstimator):
    """Greedy layer-wise stack of RBMs with binary hidden units.

    Parameters
    ----------
    layers : tuple of int, default=(256, 64)
        Hidden units per layer, bottom up.
    visible : {"bernoulli", "gaussian"}, default="bernoulli"
        Units of the bottom (data) layer; higher layers see probabilities in [0, 1].
    binarize : float or None, default=None
        Threshold of the bottom layer (see :class:`~workbench.nn.rbm.RBM`): None takes
        Bernoulli data as values in [0, 1] (grey pixels as probabilities).
    rbm_params : dict or None, default=None
        Further :class:`~workbench.nn.rbm.RBM` settings for every layer (method, k,
        learning_rate, batch_size, ...).
    n_epochs : int, default=10
        Epochs per layer.
    device : str, default="cpu"
        "auto", "cpu", "cuda" or "cuda:N".
    random_state : int or None, default=None
        Seeds every layer (one stream each, derived through ``numpy.random.SeedSequence``);
        None: fresh entropy, recorded in ``seed_``.
    verbose : bool, default=True

    Attributes
    ----------
    rbms_ : list of RBM, bottom up
    seed_ : int, the seed used
    classifier_ : torch.nn.Sequential, after :meth:`fine_tune`
    classes_ : ndarray of labels, after :meth:`fine_tune`
    fine_tune_loss_ : list of float, mean training cross-entropy per fine-tuning epoch
    """

    def __init__(
        self,
        layers=(256, 64),
        *,
        visible="bernoulli",
        binarize=None,
        rbm_params=None,
        n_epochs=10,
        device="cpu",
        random_state=None,
        verbose=True,
    ):
        self.layers = layers
        self.visible = visible
        self.binarize = binarize
        self.rbm_params = rbm_params
        self.n_epochs = n_epochs
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        return torch_tags(tags, positive_only=self.visible == "bernoulli" and self.binarize is None)

    def _expected_failed_checks(self):
        """{check_estimator check: why this estimator fails it} (see workbench.validation)."""
        return expected_failures(self)

    def fit(self, X, y=None):
        """Train the layers one after another; each on the hidden probabilities of the last.
        The bottom layer takes X as :meth:`RBM.fit <workbench.nn.rbm.RBM.fit>` does (Bernoulli
        units: values in [0, 1], or any values with ``binarize``).

        Higher layers are Bernoulli RBMs trained on probabilities (not binary samples), as in
        Hinton, Osindero & Teh (2006).
        """
        layers = tuple(self.layers)
        if not layers or any(
            isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 for n in layers
        ):
            raise InputError("layers", "a non-empty tuple of integers >= 1", repr(layers))
        self.device_ = resolve_device(self.device)
        self.seed_ = resolve_seed(self.random_state, "random_state")
        self.rbms_, inputs = [], check_data(self, X, reset=True)
        for depth, n_hidden in enumerate(layers):
            layer_seed = int(seed_sequence(self.seed_, "layer", depth).generate_state(1)[0])
            rbm = RBM(
                n_hidden,
                **{
                    "visible": self.visible if depth == 0 else "bernoulli",
                    "binarize": self.binarize if depth == 0 else None,
                    "n_epochs": self.n_epochs,
                    "device": str(self.device_),
                    "random_state": layer_seed,
                    "verbose": self.verbose,
                    "monitor": False,
                    **(self.rbm_params or {}),
                },
            )
            rbm.fit(inputs)  # above the bottom: the last layer's p(h | v), the mean-field choice
            inputs = rbm.transform(inputs) if depth == 0 else _up(rbm, inputs)
            self.rbms_.append(rbm)
        return self

    def transform(self, X):
        """Top-layer hidden probabilities after the deterministic up-pass: (n, layers[-1])."""
        check_is_fitted(self, "rbms_")
        features = self.rbms_[0].transform(check_data(self, X, reset=False))
        for rbm in self.rbms_[1:]:
            features = _up(rbm, features)
        return features

    def sample(self, n_samples=16, *, n_steps=1000, random_state=None):
        """Gibbs run of ``n_steps`` in the top RBM from random starts, then one top-down pass of
        p(v | h) (binary draws between layers, probabilities at the bottom): (n, n_features).
        ``random_state`` None: fresh entropy."""
        check_is_fitted(self, "rbms_")
        seed = resolve_seed(random_state, "random_state")
        top_seed = int(seed_sequence(seed, "top-gibbs").generate_state(1)[0])
        state = self.rbms_[-1].sample(n_samples, n_steps=n_steps, random_state=top_seed)
        rng = numpy_rng(seed, "top-down")
        for depth, rbm in enumerate(reversed(self.rbms_[:-1])):
            h = (rng.random(state.shape) < state).astype(np.float32) if depth == 0 else state
            field = h @ rbm.weights_.T + rbm.visible_bias_  # (n, units below)
            last = depth == len(self.rbms_) - 2
            if last and rbm.visible == "gaussian":
                state = rbm.sigma**2 * field
            else:
                mean = expit(field)
                state = mean if last else (rng.random(mean.shape) < mean).astype(np.float32)
        return state

    def fine_tune(self, X, y, *, n_epochs=10, learning_rate=1e-3, batch_size=64,
                  random_state=None):  # fmt: skip
        """Back-propagation through the up-pass plus a softmax layer (Adam at a constant
        ``learning_rate``, cross-entropy) on :func:`workbench.nn.runtime.train_classifier`.

        The sigmoid layers start from the RBM weights and hidden biases; the softmax layer's
        initial weights and the batch order come from ``random_state`` (None: fresh entropy).
        Returns self.
        """
        check_is_fitted(self, "rbms_")
        X = self._rows(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise InputError("y", f"{len(X)} labels (one per row of X)", f"shape {y.shape}")
        self.classes_, codes = np.unique(y, return_inverse=True)
        seed = resolve_seed(random_state, "random_state")
        modules = []
        with torch_seeded(seed, "init"):
            for rbm in self.rbms_:
                linear = torch.nn.Linear(rbm.n_features_in_, rbm.n_hidden)
                with torch.no_grad():
                    linear.weight.copy_(torch.from_numpy(rbm.weights_.T))
                    linear.bias.copy_(torch.from_numpy(rbm.hidden_bias_))
                modules += [linear, torch.nn.Sigmoid()]
            modules.append(torch.nn.Linear(self.rbms_[-1].n_hidden, len(self.classes_)))
        net = torch.nn.Sequential(*modules).to(self.device_)
        cfg = TrainConfig(n_epochs=n_epochs, batch_size=batch_size, learning_rate=learning_rate,
                          min_lr_ratio=1.0, warmup_steps=0, weight_decay=0.0, patience=None,
                          seed=seed, progress=self.verbose)  # fmt: skip
        targets = torch.from_numpy(codes).to(self.device_)
        result = train_classifier(net, (X, targets), None, cfg, kind="dbn-classifier",
                                  model_args={"layers": list(self.layers),
                                              "n_classes": len(self.classes_)})  # fmt: skip
        self.fine_tune_loss_ = [record["train_loss"] for record in result.history]
        self.classifier_ = net.eval()
        return self

    def _rows(self, X):
        """X checked as the bottom layer takes it: a float32 tensor (n, n_features_in_)."""
        return rbm_training.check_X(self.rbms_[0], check_data(self, X, reset=False), reset=False)

    @available_if(_fine_tuned)
    @torch.no_grad()
    def predict_proba(self, X):
        """Class probabilities (n, n_classes) from the fine-tuned net."""
        check_is_fitted(self, "classifier_")
        return torch.softmax(self.classifier_(self._rows(X)), -1).cpu().numpy()

    @available_if(_fine_tuned)
    def predict(self, X):
        """Most probable class per row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    @available_if(_fine_tuned)
    def score(self, X, y):
        """Accuracy of :meth:`predict`."""
        return float(np.mean(self.predict(X) == np.asarray(y)))


def _up(rbm, P):
    """p(h = 1 | v) of ``rbm`` for visible probabilities ``P`` (n, n_visible): (n, n_hidden)."""
    return expit(np.asarray(P, dtype=np.float32) @ rbm.weights_ + rbm.hidden_bias_)
