"""Autoencoders with the scikit-learn contract, trained on the runtime's training loop.

Kinds (``kind``):

- ``linear``: identity activations and squared error; at its optimum the code spans the
  principal subspace of the data (the PCA optimum of the reconstruction error);
- ``sigmoid``: logistic code units (under-complete for n_components < n_features,
  over-complete above);
- ``sparse``: sigmoid plus an L1 penalty on the code (weight ``sparsity``);
- ``denoising``: sigmoid, trained to reconstruct clean rows from corrupted ones (``corruption``
  "masking" or "gaussian", level ``noise``); r(x) - x then estimates noise^2 * grad log p(x);
- ``contractive``: one sigmoid layer plus the squared Frobenius norm of its Jacobian (weight
  ``contraction``), in closed form;
- ``deep``: sigmoid layers ``hidden_layers`` then the code, optionally pre-trained as a stack
  of RBMs (``pretrain="rbm"``, through :class:`workbench.nn.dbn.DBN`), unrolled (the decoder
  starts from the transposed weights) and fine-tuned with untied weights.

Reconstruction error (:meth:`Autoencoder.reconstruction_error`): the mean over rows of the
summed squared error per row, on the data's own scale (pixels in [0, 1]).

Usage::

    ae = Autoencoder(30, kind="deep", hidden_layers=(1000, 500, 250), pretrain="rbm",
                     code_activation="linear", n_epochs=60, batch_size=100,
                     weight_decay=0.1, random_state=0).fit(X)   # mnist5k: 2.16x below PCA
    ae.transform(X)            # codes (n, 30)
    ae.reconstruction_error(X_test)
"""

from pathlib import Path

import numpy as np
import torch
from scipy.special import expit
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from workbench.errors import InputError, check_count, check_layers
from workbench.nn.autoencoder import KINDS, PRETRAIN
from workbench.nn.autoencoder.network import CORRUPTIONS, LOSSES, AutoencoderLoss, AutoencoderNet
from workbench.nn.runtime import (
    derive_seed,
    distributed_context,
    resolve_device,
    resolve_seed,
    torch_seeded,
)
from workbench.nn.runtime.classifier import TrainConfig, train_classifier
from workbench.validation import check_data, expected_failures

__all__ = ["CODE_LEARNING_RATE", "Autoencoder"]

# RBM pre-training of a linear (Gaussian-hidden) code layer. Hinton & Salakhutdinov used 1e-3
# with 600 updates per epoch; on mnist5k's 40, 10 epochs reach a reconstruction error per pixel
# of 0.068 at 1e-3, 0.026 at 5e-3 (a binary top layer: 0.037).
CODE_LEARNING_RATE = 5e-3


class Autoencoder(TransformerMixin, BaseEstimator):
    """Autoencoder of ``kind`` (see the module docstring) with a code of ``n_components`` units.

    Parameters
    ----------
    n_components : int, default=2
        Code units.
    kind : str, default="sigmoid"
    hidden_layers : tuple of int, default=()
        Encoder layers between the data and the code (required for kind "deep"; the decoder
        mirrors them).
    pretrain : {"none", "rbm"}, default="none"
        "rbm": greedy RBM stack (Bernoulli visible units on data in [0, 1], taken as
        probabilities; Gaussian visible units otherwise, so standardise real data), unrolled.
    pretrain_epochs : int, default=30
        RBM epochs per layer (on mnist5k, with weight decay 0.1, 30 give a held-out error of
        8.56 where 10 give 9.16; docs/benchmarks.md).
    rbm_params : dict or None
        Further :class:`~workbench.nn.rbm.RBM` settings for pre-training (default CD-1).
    code_activation : {"auto", "sigmoid", "linear"}, default="auto"
        Activation of the code layer; "auto": the hidden activation. "linear" gives Hinton &
        Salakhutdinov's linear code units: with ``pretrain="rbm"`` the top RBM then has
        Gaussian hidden units (p(h | v) = N(b + v W, 1), learning rate
        ``CODE_LEARNING_RATE``) and the code is its E[h | v] (docs/benchmarks.md).
    corruption : {"masking", "gaussian"}, default="masking"
        Denoising only.
    noise : float, default=0.3
        Masking probability, or the standard deviation of the Gaussian corruption.
    sparsity : float, default=1e-3
        L1 weight on the code (kind "sparse").
    contraction : float, default=0.1
        Weight of the Jacobian penalty (kind "contractive").
    loss : {"auto", "squared", "cross-entropy"}, default="auto"
        "auto": cross-entropy for sigmoid outputs (data in [0, 1]), squared error otherwise.
    n_epochs : int, default=50
    batch_size : int, default=64
    learning_rate : float, default=3e-3
        Peak AdamW learning rate; cosine decay to 5% of it over the run, no warm-up.
    weight_decay : float, default=0.0
        AdamW's decoupled weight decay (0.1 helps the deep net a little on small data sets).
    device : str, default="cpu"
    random_state : int or None
        Seeds the initial weights, pre-training, batch order and corruption.
    checkpoint : path or None
        Checkpoint of the fine-tuning run (kind "autoencoder"), every epoch and on Ctrl-C.
    resume : bool, default=False
        Continue from ``checkpoint`` when it exists (pre-training is then skipped).
    verbose : bool, default=False

    Attributes
    ----------
    network_ : AutoencoderNet
    output_ : "sigmoid" or "linear"
    loss_ : the loss used
    history_ : list of dict, one per epoch (train_loss: the mean summed loss per row)
    pretrainer_ : DBN, with ``pretrain="rbm"`` (None for a linear code without hidden layers)
    code_rbm_ : RBM with Gaussian hidden units, with ``pretrain="rbm"`` and a linear code
    seed_, device_, checkpoint_, n_features_in_
    """

    def __init__(self, n_components=2, *, kind="sigmoid", hidden_layers=(), pretrain="none",
                 pretrain_epochs=30, rbm_params=None, code_activation="auto",
                 corruption="masking", noise=0.3, sparsity=1e-3, contraction=0.1, loss="auto",
                 n_epochs=50, batch_size=64, learning_rate=3e-3, weight_decay=0.0, device="cpu",
                 random_state=None, checkpoint=None, resume=False, verbose=False):  # fmt: skip
        self.n_components = n_components
        self.kind = kind
        self.hidden_layers = hidden_layers
        self.pretrain = pretrain
        self.pretrain_epochs = pretrain_epochs
        self.rbm_params = rbm_params
        self.code_activation = code_activation
        self.corruption = corruption
        self.noise = noise
        self.sparsity = sparsity
        self.contraction = contraction
        self.loss = loss
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.device = device
        self.random_state = random_state
        self.checkpoint = checkpoint
        self.resume = resume
        self.verbose = verbose

    def _check_params(self):
        for name in ("n_components", "n_epochs", "batch_size", "pretrain_epochs"):
            check_count(name, getattr(self, name), 1)
        choices = {"kind": KINDS, "pretrain": PRETRAIN, "corruption": CORRUPTIONS,
                   "loss": ("auto", *LOSSES),
                   "code_activation": ("auto", "sigmoid", "linear")}  # fmt: skip
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise InputError(name, f"one of {', '.join(allowed)}", repr(getattr(self, name)))
        hidden = tuple(self.hidden_layers or ())
        for n in hidden:
            check_count("hidden_layers", n, 1)
        if self.kind == "deep" and not hidden:
            raise InputError("hidden_layers", "at least one layer for kind 'deep'", "()")
        if self.kind == "contractive" and hidden:
            raise InputError("hidden_layers", "() for kind 'contractive' (one sigmoid layer)",
                             repr(hidden))  # fmt: skip
        if self.pretrain == "rbm" and self.kind not in ("deep", "sigmoid", "denoising"):
            raise InputError("pretrain", f"'none' for kind {self.kind!r}", "'rbm'")
        for name in ("noise", "sparsity", "contraction", "learning_rate", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise InputError(name, "a number >= 0", repr(value))
        if self.corruption == "masking" and self.noise >= 1:
            raise InputError("noise", "a masking probability below 1", repr(self.noise))
        return hidden

    def _rows(self, X, name="X", reset=False):
        return check_data(self, X, reset=reset, name=name, writable=True)

    def _expected_failed_checks(self):
        """{check_estimator check: why this estimator fails it} (see workbench.validation)."""
        return expected_failures(self)

    def fit(self, X, y=None, *, X_val=None):
        """Train on rows X (n, n_features); ``X_val`` adds ``val_reconstruction_error`` to every
        epoch of ``history_``. Returns self."""
        hidden = self._check_params()
        X = self._rows(X, reset=True)
        if X_val is not None:
            X_val = self._rows(X_val, "X_val")
        self.seed_ = seed = resolve_seed(self.random_state, "random_state")
        self.device_ = device = resolve_device(self.device, distributed_context().local_rank)
        pixels = bool(X.min() >= 0 and X.max() <= 1)
        self.output_ = "sigmoid" if pixels and self.kind != "linear" else "linear"
        self.loss_ = self.loss
        if self.loss == "auto":
            self.loss_ = "cross-entropy" if self.output_ == "sigmoid" else "squared"
        if self.loss_ == "cross-entropy" and not pixels:
            raise InputError("loss", "'squared' for data outside [0, 1]", "'cross-entropy'")
        sizes = (self.n_features_in_, *hidden, self.n_components)
        check_layers("hidden_layers", sizes, bytes_per_weight=2 * 16)  # encoder and decoder
        activation = "linear" if self.kind == "linear" else "sigmoid"
        self.code_activation_ = self.code_activation
        if self.code_activation == "auto":
            self.code_activation_ = activation
        with torch_seeded(seed, "init"):
            net = AutoencoderNet(sizes, activation=activation, output=self.output_,
                                 code=self.code_activation_)  # fmt: skip
        resuming = self.resume and self.checkpoint is not None and Path(self.checkpoint).exists()
        if self.pretrain == "rbm" and not resuming:
            self._pretrain(net, X, pixels)
        self.network_ = net.to(device)
        loss = AutoencoderLoss(
            loss=self.loss_,
            corruption=self.corruption if self.kind == "denoising" else None,
            noise=float(self.noise),
            sparsity=float(self.sparsity) if self.kind == "sparse" else 0.0,
            contraction=float(self.contraction) if self.kind == "contractive" else 0.0,
            seed=seed,
        )
        checkpoint = None if self.checkpoint is None else str(self.checkpoint)
        cfg = TrainConfig(n_epochs=self.n_epochs, batch_size=self.batch_size,
                          learning_rate=float(self.learning_rate), warmup_steps=0,
                          weight_decay=float(self.weight_decay), patience=None, seed=seed,
                          progress=self.verbose, resume=self.resume,
                          checkpoint=checkpoint)  # fmt: skip

        def monitor(model):
            if X_val is None:
                return {}
            return {"val_reconstruction_error": self.reconstruction_error(X_val)}

        data = torch.from_numpy(X).to(device)
        args = {"sizes": list(sizes), "kind": self.kind, "output": self.output_,
                "loss": self.loss_, "pretrain": self.pretrain, "code": self.code_activation_,
                "noise": float(self.noise),
                "corruption": self.corruption, "sparsity": float(self.sparsity),
                "contraction": float(self.contraction)}  # fmt: skip
        result = train_classifier(net, (data, data), None, cfg, model_args=args,
                                  kind="autoencoder", loss=loss, monitor=monitor)  # fmt: skip
        self.history_, self.checkpoint_ = result.history, result.checkpoint
        self.n_iter_ = len(result.history)
        return self

    def _pretrain(self, net, X, pixels):
        """Greedy RBM stack on X (one RBM per encoder layer), unrolled into ``net``. A linear
        code gets a top RBM with Gaussian hidden units (:meth:`_code_rbm`)."""
        from workbench.nn.dbn.model import DBN

        params = {"method": "cd", "batch_size": min(self.batch_size, len(X)),
                  **(self.rbm_params or {})}  # fmt: skip
        seed = derive_seed(self.seed_, "pretrain")
        linear = self.code_activation_ == "linear"
        layers = net.sizes[1:-1] if linear else net.sizes[1:]
        if linear and not pixels and not layers:
            raise InputError("code_activation", "'sigmoid' to pre-train one layer on data "
                             "outside [0, 1]", "'linear'")  # fmt: skip
        self.pretrainer_, rbms, inputs = None, [], X
        if layers:
            dbn = DBN(layers, visible="bernoulli" if pixels else "gaussian",
                      rbm_params=params, n_epochs=self.pretrain_epochs,
                      device=str(self.device_), random_state=seed,
                      verbose=self.verbose)  # fmt: skip
            self.pretrainer_ = dbn.fit(X)  # pixels in [0, 1]: probabilities
            rbms, inputs = list(dbn.rbms_), X
            for rbm in rbms if linear else ():  # the up-pass of probabilities
                inputs = expit(inputs @ rbm.weights_ + rbm.hidden_bias_)
        if linear:
            rbms.append(self._code_rbm(inputs, params, derive_seed(self.seed_, "pretrain-code")))
        net.unroll(rbms)

    def _code_rbm(self, inputs, params, seed):
        """The top RBM of a linear code: Gaussian hidden units (p(h | v) = N(b + v W, 1)) on
        the layer below's probabilities ``inputs`` (n, n_in), at learning rate
        ``CODE_LEARNING_RATE`` (an unbounded unit needs a smaller one than binary units)."""
        from workbench.nn.rbm.model import RBM

        params = {**params, "learning_rate": CODE_LEARNING_RATE}
        rbm = RBM(self.n_components, hidden="gaussian", n_epochs=self.pretrain_epochs,
                  device=str(self.device_), random_state=seed, verbose=self.verbose,
                  monitor=False, **params)  # fmt: skip
        self.code_rbm_ = rbm.fit(inputs)  # probabilities of the layer below
        return rbm

    @torch.no_grad()
    def _apply(self, fn, X, batch_size=2000):
        check_is_fitted(self, "network_")
        self.network_.eval()
        parts = [fn(torch.from_numpy(part).to(self.device_)).cpu().numpy()
                 for part in np.array_split(X, max(1, -(-len(X) // batch_size)))]  # fmt: skip
        self.network_.train()
        return np.concatenate(parts).astype(np.float64)

    def transform(self, X):
        """Codes (n, n_components) of rows X (n, n_features)."""
        check_is_fitted(self, "network_")
        return self._apply(self.network_.encode, self._rows(X))

    def inverse_transform(self, codes):
        """Reconstructions (n, n_features) from codes (n, n_components)."""
        check_is_fitted(self, "network_")
        codes = np.asarray(codes, dtype=np.float32)
        if codes.ndim != 2 or codes.shape[1] != self.n_components:
            raise InputError("codes", f"rows of {self.n_components} code units", codes.shape)
        return self._apply(self.network_.decode, codes)

    def reconstruct(self, X):
        """decode(encode(X)), (n, n_features), without corruption."""
        check_is_fitted(self, "network_")
        net = self.network_
        return self._apply(lambda x: net.decode(net.encode(x)), self._rows(X))

    def reconstruction_error(self, X):
        """Mean over rows of the summed squared error per row (float)."""
        X = self._rows(X)
        return float(np.mean(np.sum((self.reconstruct(X) - X) ** 2, axis=1)))

    def score(self, X, y=None):
        """Minus :meth:`reconstruction_error` (higher is better, as scikit-learn expects)."""
        return -self.reconstruction_error(X)
