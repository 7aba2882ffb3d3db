"""Deep belief nets: RBMs stacked greedily, sampled top-down, optionally fine-tuned as a classifier.

Layer 1 is an RBM on the data; layer l + 1 is an RBM on the hidden probabilities of layer l.
The generative model is the top RBM (an undirected associative memory) over directed sigmoid
layers: a sample is a long Gibbs run in the top RBM, then one pass down through p(v | h) of
each lower layer. Fine-tuning turns the up-pass into a feed-forward net (the RBM weights
initialise sigmoid layers, a softmax layer is added) trained by back-propagation.

Usage::

    dbn = DBN((256, 64), n_epochs=10, random_state=0).fit(X)
    dbn.sample(16)                       # images from the top down
    dbn.fine_tune(X, y).predict(X_test)  # classifier
"""

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from workbench.nn.rbm.model import RBM
from workbench.nn.runtime import resolve_device

__all__ = ["DBN"]


class DBN(BaseEstimator):
    """Greedy layer-wise stack of RBMs with binary hidden units.

    Parameters
    ----------
    layers : tuple of int, default=(256, 64)
        Hidden units per layer, bottom up.
    visible : {"bernoulli", "gaussian"}, default="bernoulli"
        Units of the bottom (data) layer; higher layers see probabilities in [0, 1].
    rbm_params : dict or None, default=None
        Further :class:`~workbench.nn.rbm.RBM` settings for every layer (method, k,
        learning_rate, batch_size, ...).
    n_epochs : int, default=10
        Epochs per layer.
    device : str, default="cpu"
    random_state : int or None, default=None
    verbose : bool, default=True

    Attributes
    ----------
    rbms_ : list of RBM, bottom up
    classifier_ : torch.nn.Sequential, after :meth:`fine_tune`
    classes_ : ndarray of labels, after :meth:`fine_tune`
    """

    def __init__(
        self,
        layers=(256, 64),
        *,
        visible="bernoulli",
        rbm_params=None,
        n_epochs=10,
        device="cpu",
        random_state=None,
        verbose=True,
    ):
        self.layers = layers
        self.visible = visible
        self.rbm_params = rbm_params
        self.n_epochs = n_epochs
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y=None):
        """Train the layers one after another; each on the hidden probabilities of the last.

        Higher layers are Bernoulli RBMs trained on probabilities (not binary samples), as in
        Hinton, Osindero & Teh (2006); their inputs therefore skip the binary-data check.
        """
        layers = tuple(self.layers)
        if not layers or any(
            isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 for n in layers
        ):
            raise ValueError(f"layers: expected a non-empty tuple of integers >= 1, got {layers!r}")
        device = str(resolve_device(self.device))
        seed = 0 if self.random_state is None else int(self.random_state)
        self.rbms_, inputs = [], X
        for depth, n_hidden in enumerate(layers):
            rbm = RBM(
                n_hidden,
                **{
                    "visible": self.visible if depth == 0 else "bernoulli",
                    "n_epochs": self.n_epochs,
                    "device": device,
                    "random_state": seed + depth,
                    "verbose": self.verbose,
                    "monitor": False,
                    **(self.rbm_params or {}),
                },
            )
            if depth == 0:
                rbm.fit(inputs)
            else:
                _fit_on_probabilities(rbm, inputs)
            self.rbms_.append(rbm)
            inputs = rbm.transform(inputs) if depth == 0 else _up(rbm, inputs)
        self.n_features_in_ = self.rbms_[0].n_features_in_
        return self

    def transform(self, X):
        """Top-layer hidden probabilities after the deterministic up-pass: (n, layers[-1])."""
        check_is_fitted(self, "rbms_")
        features = self.rbms_[0].transform(X)
        for rbm in self.rbms_[1:]:
            features = _up(rbm, features)
        return features

    @torch.no_grad()
    def sample(self, n_samples=16, *, n_steps=1000, random_state=None):
        """Gibbs run of ``n_steps`` in the top RBM from random starts, then one top-down pass of
        p(v | h) (binary draws between layers, probabilities at the bottom): (n, n_features)."""
        check_is_fitted(self, "rbms_")
        seed = int(random_state if random_state is not None else self.random_state or 0)
        top = self.rbms_[-1]
        h = top.sample(n_samples, n_steps=n_steps, random_state=seed)
        generator = torch.Generator(device=top._state["W"].device).manual_seed(seed + 1)
        state = torch.from_numpy(h.astype(np.float32)).to(top._state["W"].device)
        for depth, rbm in enumerate(reversed(self.rbms_[:-1])):
            state = RBM._bernoulli(state, generator) if depth == 0 else state
            mean = rbm._visible_mean(state)
            last = depth == len(self.rbms_) - 2
            state = mean if last else RBM._bernoulli(mean, generator)
        return state.cpu().numpy()

    def fine_tune(self, X, y, *, n_epochs=10, learning_rate=1e-3, batch_size=64,
                  random_state=None):  # fmt: skip
        """Back-propagation through the up-pass plus a softmax layer (Adam, cross-entropy).

        The sigmoid layers start from the RBM weights and hidden biases. Returns self.
        """
        check_is_fitted(self, "rbms_")
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(f"y: expected {len(X)} labels (one per row of X), got {y.shape}")
        X = self.rbms_[0]._check_X(X, reset=False)
        self.classes_, codes = np.unique(y, return_inverse=True)
        seed = int(random_state if random_state is not None else self.random_state or 0)
        torch.manual_seed(seed)
        modules = []
        for rbm in self.rbms_:
            linear = torch.nn.Linear(rbm.n_features_in_, rbm.n_hidden)
            with torch.no_grad():
                linear.weight.copy_(rbm._state["W"].T)
                linear.bias.copy_(rbm._state["b"])
            modules += [linear, torch.nn.Sigmoid()]
        modules.append(torch.nn.Linear(self.rbms_[-1].n_hidden, len(self.classes_)))
        net = torch.nn.Sequential(*modules).to(X.device)
        targets = torch.from_numpy(codes).to(X.device)
        optimiser = torch.optim.Adam(net.parameters(), lr=learning_rate)
        generator = torch.Generator(device=X.device).manual_seed(seed)
        self.fine_tune_loss_ = []
        for _ in range(n_epochs):
            order = torch.randperm(len(X), generator=generator, device=X.device)
            total = 0.0
            for start in range(0, len(X), batch_size):
                rows = order[start : start + batch_size]
                loss = torch.nn.functional.cross_entropy(net(X[rows]), targets[rows])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * len(rows)
            self.fine_tune_loss_.append(total / len(X))
        self.classifier_ = net.eval()
        return self

    @torch.no_grad()
    def predict_proba(self, X):
        """Class probabilities (n, n_classes) from the fine-tuned net."""
        check_is_fitted(self, "classifier_")
        X = self.rbms_[0]._check_X(X, reset=False)
        return torch.softmax(self.classifier_(X), -1).cpu().numpy()

    def predict(self, X):
        """Most probable class per row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def score(self, X, y):
        """Accuracy of :meth:`predict`."""
        return float(np.mean(self.predict(X) == np.asarray(y)))


def _fit_on_probabilities(rbm, P):
    """Fit a Bernoulli RBM on probabilities in [0, 1]: the previous layer's p(h | v), a standard
    mean-field choice (the {0, 1} check is for user data)."""
    rbm._fit_checked(rbm._check_X(P, reset=True, probabilities=True), None, False)


@torch.no_grad()
def _up(rbm, P):
    P = torch.from_numpy(np.asarray(P, dtype=np.float32)).to(rbm._state["W"].device)
    return rbm._hidden_probs(P).cpu().numpy()
