"""``CNNClassifier``: a scikit-learn-style estimator around the training loop.

Example::

    from workbench.data import load_dataset
    from workbench.nn import CNNClassifier

    train, test = load_dataset("digits", split="train"), load_dataset("digits", split="test")
    clf = CNNClassifier(n_epochs=10, random_state=0).fit(train.X, train.y)  # 8x8: small net
    clf.score(test.X, test.y)
"""

import os
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from workbench.errors import InputError
from workbench.nn.cnn.architecture import CNNConfig, build_network, layer_table
from workbench.nn.runtime import (
    distributed_context,
    numpy_rng,
    resolve_device,
    resolve_seed,
    torch_seeded,
)
from workbench.nn.runtime.classifier import TrainConfig, train_classifier
from workbench.validation import check_data, check_labels, expected_failures

__all__ = ["CNNClassifier", "as_images"]

SMALL_TRAINING_SET = 10_000  # below this, shift=None means random translations


def as_images(X, image_shape=None, *, name="X"):
    """``X`` as a float32 array of shape (n, C, H, W).

    Accepts (n, C, H, W), (n, H, W), or flat rows (n, H*W) with ``image_shape=(H, W)`` (square
    images are recognised without it). Raises ValueError for empty, non-finite or ill-shaped X.
    """
    X = np.asarray(X)
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise TypeError(f"{name}: expected numeric pixel values, got dtype {X.dtype}")
    X = X.astype(np.float32, copy=False)
    if X.ndim < 2 or X.shape[0] == 0:
        raise ValueError(
            f"{name}: expected a non-empty array of images (n_samples, ...), got shape {X.shape}"
        )
    if X.ndim == 2:
        n, d = X.shape
        if image_shape is None:
            side = int(round(np.sqrt(d)))
            if side * side != d:
                raise ValueError(
                    f"{name}: rows of {d} pixels are not square images; pass "
                    "image_shape=(height, width)"
                )
            image_shape = (side, side)
        image_shape = tuple(int(s) for s in image_shape)
        if len(image_shape) == 2:
            image_shape = (1, *image_shape)
        if int(np.prod(image_shape)) != d:
            raise ValueError(f"{name}: rows of {d} pixels do not match image_shape {image_shape}")
        X = X.reshape(n, *image_shape)
    elif X.ndim == 3:
        X = X[:, None]
    elif X.ndim != 4:
        raise ValueError(
            f"{name}: expected (n, H*W), (n, H, W) or (n, C, H, W), got shape {X.shape}"
        )
    if not np.isfinite(X).all():
        raise ValueError(f"{name}: {int((~np.isfinite(X)).sum())} NaN/inf pixel values")
    return X


def _check_labels(y, n_samples, n_classes):
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n_samples:
        raise ValueError(f"y: expected {n_samples} labels (one per image), got shape {y.shape}")
    if not (np.issubdtype(y.dtype, np.integer) or np.all(np.mod(y, 1) == 0)):
        raise ValueError("y: expected integer class labels 0, 1, ..., n_classes - 1")
    y = y.astype(np.int64)
    top = n_classes if n_classes is not None else int(y.max()) + 1
    bad = (y < 0) | (y >= top)
    if bad.any():
        raise ValueError(
            f"y: labels must lie in 0..{top - 1} (n_classes={top}); got "
            f"{np.unique(y[bad])[:5].tolist()} ({int(bad.sum())} labels)"
        )
    return y, top


class CNNClassifier(ClassifierMixin, BaseEstimator):
    """Convolutional image classifier trained with :func:`workbench.nn.train_classifier`.

    Parameters
    ----------
    architecture : CNNConfig or None, default=None
        None: the course's LeNet for the input size (:meth:`CNNConfig.for_input`: 5x5
        convolutions where they fit, else 3x3 with padding 1, as for 8x8 digits).
        ``input_shape`` and ``n_classes`` of a given config are checked against the data.
    image_shape : (height, width) or None, default=None
        Shape of flat rows of X (square rows are recognised without it).
    n_classes : int or None, default=None
        Labels must lie in 0..n_classes-1; None: max label + 1.
    n_epochs, batch_size, learning_rate, min_lr_ratio, warmup_steps, weight_decay, patience :
        see :class:`workbench.nn.TrainConfig` (defaults 15, 64, 3e-3, 0.05, 20, 1e-4, 5).
    shift : int or None, default=None
        Augmentation: each training image is translated by a random (dy, dx) with
        |dy|, |dx| <= shift pixels, zero-filled. None: min(height, width) // 14 pixels when
        there are fewer than 10,000 training images, else 0. So mnist5k gets 2 pixels (test
        accuracy about 0.967 -> 0.973-0.98); the 8x8 digits, which fill their frame, get none
        (2 pixels cost them 10 points); Fashion-MNIST's 60,000 get none (within 15 epochs the
        augmented problem is not yet fitted: 0.898 with 2 pixels against >= 0.90 without).
    sync_every : int, default=1
        Data-parallel runs only: 1 averages the gradients at every step (DDP; N processes
        follow one); K > 1 lets each process step on its share alone and averages weights and
        AdamW moments every K steps and at each epoch's end (local SGD, another trajectory).
    validation_fraction : float in [0, 1), default=0.1
        Share of the training rows held out for early stopping and model selection.
    device : str, default="auto"
        "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
    random_state : int or None, default=0
        Seeds the weights, the validation split, the batch order and the augmentation (one
        stream each, derived through ``numpy.random.SeedSequence``); None: fresh entropy,
        recorded in ``seed_`` (pass it back to repeat the run or to resume it).
    checkpoint : path or None, default=None
        Checkpoint file, written atomically after every epoch and on Ctrl-C.
    resume : bool, default=False
        Continue from ``checkpoint`` when it exists (same settings and data required).
    progress : bool, default=True
        tqdm bar and one line per epoch on stderr.

    Attributes
    ----------
    network_ : torch.nn.Module (in eval mode, on ``device_``)
    config_ : CNNConfig
    classes_ : ndarray of shape (n_classes,)
    history_ : list of dict, one per epoch (train_loss, val_loss, val_accuracy, lr, seconds)
    best_epoch_ : int or None
    n_iter_ : int, epochs run
    seed_ : int, the seed used (``random_state``, or the fresh one drawn for None)
    """

    _parameter_constraints = {
        "architecture": [CNNConfig, None],
        "image_shape": [tuple, list, None],
        "n_classes": [Interval(Integral, 2, None, closed="left"), None],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "min_lr_ratio": [Interval(Real, 0, 1, closed="both")],
        "warmup_steps": [Interval(Integral, 0, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "shift": [Interval(Integral, 0, None, closed="left"), None],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "sync_every": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "device": [str],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
        "checkpoint": [str, os.PathLike, None],
        "resume": ["boolean"],
        "progress": ["boolean"],
    }

    def __init__(
        self,
        architecture=None,
        *,
        image_shape=None,
        n_classes=None,
        n_epochs=15,
        batch_size=64,
        learning_rate=3e-3,
        min_lr_ratio=0.05,
        warmup_steps=20,
        weight_decay=1e-4,
        shift=None,
        patience=5,
        sync_every=1,
        validation_fraction=0.1,
        device="auto",
        random_state=0,
        checkpoint=None,
        resume=False,
        progress=True,
    ):
        self.architecture = architecture
        self.image_shape = image_shape
        self.n_classes = n_classes
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.min_lr_ratio = min_lr_ratio
        self.warmup_steps = warmup_steps
        self.weight_decay = weight_decay
        self.shift = shift
        self.patience = patience
        self.sync_every = sync_every
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state
        self.checkpoint = checkpoint
        self.resume = resume
        self.progress = progress

    def _train_config(self, image_side, n_train, seed):
        shift = self.shift
        if shift is None:  # augment where data are scarce; see the class docstring
            shift = image_side // 14 if n_train < SMALL_TRAINING_SET else 0
        return TrainConfig(
            n_epochs=self.n_epochs,
            batch_size=self.batch_size,
            learning_rate=float(self.learning_rate),
            min_lr_ratio=float(self.min_lr_ratio),
            warmup_steps=self.warmup_steps,
            weight_decay=float(self.weight_decay),
            shift=shift,
            patience=self.patience,
            sync_every=self.sync_every,
            seed=seed,
            progress=self.progress,
            checkpoint=None if self.checkpoint is None else str(self.checkpoint),
            resume=self.resume,
        )

    def _network_config(self, X, n_classes):
        input_shape = X.shape[1:]
        if self.architecture is None:
            return CNNConfig.for_input(input_shape, n_classes)
        config = self.architecture
        if tuple(config.input_shape) != tuple(input_shape):
            raise ValueError(
                f"X: images of shape {tuple(input_shape)} (C, H, W), but "
                f"architecture.input_shape is {tuple(config.input_shape)}"
            )
        if config.n_classes != n_classes:
            raise ValueError(
                f"architecture.n_classes is {config.n_classes}, but the labels "
                f"need {n_classes} classes"
            )
        layer_table(config)
        return config

    def _expected_failed_checks(self):
        """{check_estimator check: why this estimator fails it} (see workbench.validation)."""
        return expected_failures(self)

    def _pixels(self, X, reset):
        """X checked by :func:`workbench.validation.check_data` as rows of pixels (so
        ``n_features_in_`` counts pixels whatever the layout), returned in its own layout."""
        shape = np.shape(X)
        if len(shape) <= 2:
            return check_data(self, X, reset=reset)
        return check_data(self, np.reshape(X, (shape[0], -1)), reset=reset).reshape(shape)

    def fit(self, X, y):
        """Train on images X (see :func:`as_images`) and labels y of shape (n,): any labels
        (``classes_`` their sorted unique values), or integers 0..n_classes-1 with ``n_classes``."""
        import torch

        self._validate_params()
        X = self._pixels(X, reset=True)  # scikit-learn's checks first
        y = check_labels(y, len(X))
        if self.n_classes is None:
            self.classes_, y = np.unique(y, return_inverse=True)
            n_classes = len(self.classes_)
        else:
            y, n_classes = _check_labels(y, len(X), self.n_classes)
            self.classes_ = np.arange(n_classes)
        if n_classes < 2:
            raise InputError("y", detail=f"2 or more classes needed, got 1 class: {self.classes_}")
        X = as_images(X, self.image_shape)
        y = y.astype(np.int64)
        config = self._network_config(X, n_classes)
        side = min(X.shape[2:])
        if self.shift is not None and self.shift >= side:
            raise InputError("shift", f"a shift below the image side ({side} pixels)",
                             repr(self.shift))  # fmt: skip
        seed = resolve_seed(self.random_state, "random_state")
        cfg = self._train_config(min(X.shape[2:]), len(X), seed)
        device = resolve_device(self.device, distributed_context().local_rank)

        order = numpy_rng(seed, "validation-split").permutation(len(X))
        n_val = int(round(self.validation_fraction * len(X)))
        if self.validation_fraction > 0 and not 0 < n_val < len(X):
            raise ValueError(
                f"validation_fraction={self.validation_fraction} of {len(X)} "
                f"images leaves {n_val} for validation; use more data or 0"
            )
        train_rows, val_rows = order[: len(X) - n_val], order[len(X) - n_val :]

        def tensors(rows):
            return (torch.from_numpy(X[rows]).to(device), torch.from_numpy(y[rows]).to(device))

        pixels = X[train_rows]
        with torch_seeded(seed, "init"):
            network = build_network(config, pixels.mean(), pixels.std() or 1.0).to(device)
        result = train_classifier(
            network,
            tensors(train_rows),
            tensors(val_rows) if n_val else None,
            cfg,
            model_args=config.to_dict(),
        )
        self.network_, self.config_, self.device_, self.seed_ = network, config, device, seed
        self.history_, self.best_epoch_ = result.history, result.best_epoch
        self.stopped_early_, self.checkpoint_ = result.stopped_early, result.checkpoint
        self.n_iter_ = len(result.history)
        return self

    def _logits(self, X, batch_size=1000):
        import torch

        check_is_fitted(self)
        X = as_images(self._pixels(X, reset=False), self.image_shape)
        if X.shape[1:] != tuple(self.config_.input_shape):
            raise ValueError(
                f"X: images of shape {X.shape[1:]} (C, H, W), but the network was "
                f"trained on {tuple(self.config_.input_shape)}"
            )
        self.network_.eval()
        with torch.no_grad():
            chunks = [
                self.network_(torch.from_numpy(part).to(self.device_))
                for part in np.array_split(X, max(1, -(-len(X) // batch_size)))
            ]
        return torch.cat(chunks)

    def predict_proba(self, X):
        """Class probabilities, ndarray of shape (n_samples, n_classes)."""
        return self._logits(X).softmax(1).cpu().numpy()

    def predict(self, X):
        """Predicted labels, ndarray of shape (n_samples,)."""
        codes = self._logits(X).argmax(1).cpu().numpy()
        return self.classes_[codes]

    def feature_maps(self, image):
        """Activations of every layer for one image: list of (layer name, ndarray)."""
        import torch

        check_is_fitted(self)
        x = torch.from_numpy(as_images(np.asarray(image)[None], self.image_shape))
        x = x.to(self.device_)
        names, out = [], []
        with torch.no_grad():
            for module in self.network_:
                x = module(x)
                names.append(type(module).__name__)
                out.append(x[0].cpu().numpy())
        return list(zip(names, out, strict=True))
