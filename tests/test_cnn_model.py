"""workbench.nn: size arithmetic against Torch, the estimator's accuracy targets, seeding,
checkpoints (Ctrl-C, resume, corrupt and foreign files), input errors, figures, RBM baseline."""

import os
import signal
import threading
import time

import numpy as np
import pytest
import torch

from workbench.data import load_dataset
from workbench.nn import (
    CNNClassifier,
    CNNConfig,
    ConvLayer,
    TrainConfig,
    build_network,
    conv_output_size,
    layer_table,
    learning_rate_at,
)
from workbench.nn.cnn.plots import confusion_matrix
from workbench.nn.runtime import torch_threads


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with torch_threads(1):  # 2 shared cores: one thread is faster than two under load
        yield


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", split="train"), load_dataset("digits", split="test")


@pytest.fixture(scope="module")
def digits_fit(digits):
    train, _ = digits
    return CNNClassifier(random_state=0, progress=False).fit(train.X, train.y)


# --- architecture ------------------------------------------------------------------------


@pytest.mark.parametrize("size", [5, 8, 12, 28])
@pytest.mark.parametrize("kernel,padding,stride", [(1, 0, 1), (3, 1, 1), (5, 0, 1), (5, 2, 1),
                                                   (3, 0, 2), (2, 0, 2), (4, 1, 3)])  # fmt: skip
def test_conv_arithmetic_matches_torch(size, kernel, padding, stride):
    conv = torch.nn.Conv2d(1, 1, kernel, stride, padding)
    if size + 2 * padding < kernel:
        with pytest.raises(ValueError, match="does not fit"):
            conv_output_size(size, kernel, padding, stride)
        return
    torch_size = conv(torch.zeros(1, 1, size, size)).shape[-1]
    if (size - kernel + 2 * padding) % stride:
        with pytest.raises(ValueError, match="not a whole number"):
            conv_output_size(size, kernel, padding, stride, layer="convX")
    else:
        assert conv_output_size(size, kernel, padding, stride) == torch_size


def test_course_net_shapes_and_parameter_counts():
    config = CNNConfig()  # the course's 28x28 digit net
    rows = layer_table(config)
    shapes = [r.output_shape for r in rows]
    assert shapes == [(6, 24, 24), (6, 12, 12), (16, 8, 8), (16, 4, 4), (120,), (10,)]
    net = build_network(config)
    x, seen = torch.zeros(2, 1, 28, 28), []
    for module in net:
        x = module(x)
        if isinstance(module, torch.nn.Conv2d | torch.nn.MaxPool2d | torch.nn.Linear):
            seen.append(tuple(x.shape[1:]))
    assert seen == shapes
    assert sum(r.params for r in rows) == sum(p.numel() for p in net.parameters())
    # dense equivalent of conv1: every one of 784 inputs (+bias) to each of 24*24*6 outputs
    assert rows[0].dense_params == (784 + 1) * 24 * 24 * 6


def test_small_images_get_the_padded_variant_and_bad_sizes_name_the_layer():
    assert CNNConfig.for_input((1, 8, 8)).conv[0] == ConvLayer(6, 5, padding=2)
    assert CNNConfig.for_input((1, 28, 28)).conv[0] == ConvLayer(6, 5)
    with pytest.raises(ValueError, match=r"pool1 \(height\).*3.5"):
        CNNConfig.for_input((1, 7, 7))
    bad = CNNConfig((1, 10, 10), (ConvLayer(6, 5), ConvLayer(16, 5)))
    with pytest.raises(ValueError, match="conv2"):
        layer_table(bad)


def test_learning_rate_schedule():
    cfg = TrainConfig(learning_rate=1e-2, warmup_steps=10, min_lr_ratio=0.1)
    lrs = np.array([learning_rate_at(s, 100, cfg) for s in range(100)])
    assert np.all(np.diff(lrs[:11]) > 0) and np.isclose(lrs[10], 1e-2)
    assert np.all(np.diff(lrs[10:]) <= 0)
    assert np.isclose(learning_rate_at(100, 100, cfg), 1e-3)  # cosine ends at lr * min_lr_ratio
    mid = 10 + 45  # half-way through the decay: the mean of peak and floor
    assert np.isclose(lrs[mid], (1e-2 + 1e-3) / 2)


# --- estimator ---------------------------------------------------------------------------


def test_digits_default_settings_reach_097(digits, digits_fit):
    _, test = digits
    assert digits_fit.score(test.X, test.y) >= 0.97
    proba = digits_fit.predict_proba(test.X)
    assert proba.shape == (360, 10) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert np.array_equal(proba.argmax(1), digits_fit.predict(test.X))
    scores = [(h["val_accuracy"], -h["val_loss"]) for h in digits_fit.history_]
    assert digits_fit.best_epoch_ == scores.index(max(scores)) + 1  # kept: best validation


def test_same_seed_same_result_and_other_seed_differs(digits):
    train, test = digits
    fits = [
        CNNClassifier(n_epochs=2, random_state=s, progress=False).fit(train.X, train.y)
        for s in (3, 3, 4)
    ]
    probs = [f.predict_proba(test.X) for f in fits]
    assert np.array_equal(probs[0], probs[1])
    assert not np.allclose(probs[0], probs[2])


def test_random_state_none_draws_a_fresh_seed_that_repeats_the_run(digits):
    train, test = digits
    kwargs = {"n_epochs": 1, "progress": False}
    X, y = train.X[:300], train.y[:300]
    fresh = [CNNClassifier(random_state=None, **kwargs).fit(X, y) for _ in range(2)]
    assert fresh[0].seed_ != fresh[1].seed_
    again = CNNClassifier(random_state=fresh[0].seed_, **kwargs).fit(X, y)
    assert np.array_equal(again.predict_proba(test.X), fresh[0].predict_proba(test.X))


def test_input_layouts_are_equivalent(digits):
    train, test = digits
    kwargs = {"n_epochs": 1, "random_state": 1, "progress": False}
    flat = CNNClassifier(**kwargs).fit(train.X[:300], train.y[:300])
    square = CNNClassifier(**kwargs).fit(train.X[:300].reshape(-1, 8, 8), train.y[:300])
    # equal up to float rounding (the pixel mean is summed in another order)
    np.testing.assert_allclose(flat.predict_proba(test.X), square.predict_proba(test.X), atol=1e-6)


@pytest.mark.parametrize(
    "X,y,kwargs,match",
    [
        (np.zeros((0, 64)), np.zeros(0), {}, "non-empty"),
        (np.zeros((5, 63)), np.zeros(5), {}, "not square"),
        (np.full((5, 64), np.nan), np.zeros(5), {}, "NaN"),
        (np.zeros((5, 64)), np.arange(5) + 8, {"n_classes": 10}, r"0\.\.9.*\[10, 11, 12\]"),
        (np.zeros((5, 64)), -np.ones(5), {}, "labels must lie"),
        (np.zeros((5, 64)), np.zeros(4), {}, "expected 5 labels"),
        (np.zeros((5, 64)), np.full(5, 0.5), {}, "integer class labels"),
        (np.zeros((5, 49)), np.arange(5) % 2, {}, r"pool1 \(height\)"),
        (np.zeros((5, 64)), np.zeros(5), {}, "n_classes: expected at least 2"),
        (np.zeros((5, 64)), np.zeros(5), {"architecture": CNNConfig()}, "input_shape"),
    ],
)
def test_bad_input_is_a_clear_value_error(X, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        CNNClassifier(progress=False, **kwargs).fit(X, y)


def test_invalid_hyper_parameter_is_named():
    with pytest.raises(ValueError, match="batch_size"):
        CNNClassifier(batch_size=0).fit(np.zeros((4, 64)), np.arange(4))


# --- checkpoints -------------------------------------------------------------------------


def test_ctrl_c_saves_checkpoint_and_resume_matches_uninterrupted_run(digits, tmp_path):
    train, test = digits
    settings = {
        "n_epochs": 6,
        "batch_size": 16,
        "random_state": 2,
        "progress": False,
        "patience": None,
    }
    full = CNNClassifier(**settings).fit(train.X, train.y)

    path = tmp_path / "ckpt.pt"
    interrupted = CNNClassifier(checkpoint=path, **settings)

    def press_ctrl_c():  # after the first epoch's checkpoint appears
        deadline = time.time() + 60
        while not path.exists() and time.time() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=press_ctrl_c, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(train.X, train.y)
    state = torch.load(path, weights_only=True)["state"]["loop"]
    assert 0 < state["step"] < 6 * 81 and not state["finished"]

    resumed = CNNClassifier(checkpoint=path, resume=True, **settings).fit(train.X, train.y)
    assert len(resumed.history_) == 6
    np.testing.assert_allclose(
        resumed.predict_proba(test.X), full.predict_proba(test.X), rtol=0, atol=1e-5
    )
    assert resumed.score(test.X, test.y) == full.score(test.X, test.y)
    np.testing.assert_allclose(
        [h["val_loss"] for h in resumed.history_], [h["val_loss"] for h in full.history_], 1e-5
    )

    with pytest.raises(
        ValueError, match=r"different run.*train.batch_size: checkpoint 16, this run 32"
    ):
        CNNClassifier(checkpoint=path, resume=True, **{**settings, "batch_size": 32}).fit(
            train.X, train.y
        )
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        CNNClassifier(checkpoint=path, resume=True, **settings).fit(train.X, train.y)


# --- figures and the generative baseline --------------------------------------------------


def test_confusion_matrix_matches_sklearn():
    from sklearn.metrics import confusion_matrix as sk_confusion

    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    assert np.array_equal(confusion_matrix(y_true, y_pred, 10), sk_confusion(y_true, y_pred))


def test_figures(digits, digits_fit):
    import matplotlib.pyplot as plt

    from workbench.nn.cnn import plots

    _, test = digits
    figs = [
        plots.plot_learning_curves(digits_fit.history_),
        plots.plot_confusion(test.y, digits_fit.predict(test.X), test.classes),
        plots.plot_filters(digits_fit.network_),
        plots.plot_feature_maps(digits_fit, test.X[0]),
    ]
    assert len(figs[2].axes) == 6  # one panel per first-layer filter
    maps = dict((i, a.shape) for i, (_, a) in enumerate(digits_fit.feature_maps(test.X[0])))
    assert maps[2] == (6, 8, 8) and maps[3] == (6, 4, 4)  # ReLU(conv1), pool1
    for fig in figs:
        plt.close(fig)


def test_rbm_features_baseline_beats_chance(digits):
    from threadpoolctl import threadpool_limits

    from workbench.nn.rbm.baselines import rbm_logistic_baseline

    train, test = digits
    with threadpool_limits(1):  # BLAS threads fight over 2 shared cores otherwise
        result = rbm_logistic_baseline(train.X, train.y, test.X, test.y, n_components=64, n_iter=10)
    assert result.test_accuracy > 0.8 and result.pixel_accuracy > 0.9


@pytest.mark.slow
def test_mnist5k_default_settings_reach_097():
    train, test = load_dataset("mnist5k", split="train"), load_dataset("mnist5k", split="test")
    clf = CNNClassifier(random_state=0, progress=False).fit(train.X, train.y)
    assert clf.score(test.X, test.y) >= 0.97


@pytest.mark.slow
@pytest.mark.requires_fashion_mnist
def test_fashion_mnist_default_settings_reach_090_within_15_epochs():
    kw = {"dtype": np.float32}
    train = load_dataset("fashion-mnist", split="train", **kw)
    test = load_dataset("fashion-mnist", split="test", **kw)
    clf = CNNClassifier(random_state=0, progress=False).fit(train.X, train.y)
    assert clf.n_iter_ <= 15 and clf.score(test.X, test.y) >= 0.90


def test_random_shift_matches_roll_with_zero_fill():
    from workbench.nn.runtime.classifier import random_shift

    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.random((20, 2, 9, 7), dtype=np.float32))
    offsets = torch.from_numpy(rng.integers(-2, 3, (20, 2)))
    shifted = random_shift(images, offsets, 2)
    for img, (dy, dx), out in zip(images, offsets.tolist(), shifted, strict=True):
        expected = torch.roll(img, (dy, dx), dims=(1, 2))
        if dy > 0:
            expected[:, :dy] = 0
        elif dy < 0:
            expected[:, dy:] = 0
        if dx > 0:
            expected[:, :, :dx] = 0
        elif dx < 0:
            expected[:, :, dx:] = 0
        assert torch.equal(out, expected)


def test_default_shift_is_two_pixels_for_small_28x28_sets_only(tmp_path, monkeypatch):
    from workbench.nn.cnn import estimator

    X28, y = np.zeros((40, 784)), np.arange(40) % 10
    for X, want in ((X28, 2), (np.zeros((40, 64)), 0)):
        path = tmp_path / f"{X.shape[1]}.pt"
        CNNClassifier(n_epochs=1, progress=False, checkpoint=path).fit(X, y)
        assert torch.load(path, weights_only=True)["config"]["train"]["shift"] == want
    monkeypatch.setattr(estimator, "SMALL_TRAINING_SET", 30)  # 40 images: now a "large" set
    CNNClassifier(n_epochs=1, progress=False, checkpoint=tmp_path / "big.pt").fit(X28, y)
    assert torch.load(tmp_path / "big.pt", weights_only=True)["config"]["train"]["shift"] == 0
