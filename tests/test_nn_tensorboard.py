"""`--tensorboard DIR`: the event files, read back with TensorBoard's own reader, hold the
epochs' scalars, weight histograms and filter images of the RBM, the CNN and a DBN's layers."""

import json

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from workbench.cli import main
from workbench.nn.runtime.tensorboard import filter_images, recording


def events(run_dir):
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "histograms": 0, "images": 0})
    acc.Reload()
    return acc


def scalar_steps(acc, tag):
    return [e.step for e in acc.Scalars(tag)]


def run_json(argv, capsys):
    assert main([*argv, "--json", "--threads", "1"]) in (0, None)
    return json.loads(capsys.readouterr().out)


def test_rbm_train_writes_curves_histograms_and_filters(tmp_path, capsys):
    board = tmp_path / "board"
    payload = run_json(["rbm", "train", "--data", "bars-stripes-4", "--epochs", "3",
                        "--method", "pcd", "--out", str(tmp_path / "out"),
                        "--tensorboard", str(board)], capsys)  # fmt: skip
    assert [p.name for p in board.iterdir()] == ["rbm"]  # one run folder
    acc = events(board / "rbm")
    tags = acc.Tags()
    assert scalar_steps(acc, "learning_rate") == [1, 2, 3]
    assert scalar_steps(acc, "seconds") == [1, 2, 3]
    # every number of the last record (monitors, chain diagnostics when computed) as reported
    # (the history's seconds are cumulative, the scalar's per epoch)
    last = payload["history"][-1]
    assert {"reconstruction_error", "pseudo_log_likelihood", "log_likelihood_exact"} <= set(last)
    for tag, value in last.items():
        if tag not in ("epoch", "seconds") and isinstance(value, float) and np.isfinite(value):
            assert scalar_steps(acc, tag)[-1] == 3, tag
            assert acc.Scalars(tag)[-1].value == pytest.approx(value, rel=1e-6), tag
    assert {"W", "visible_bias", "hidden_bias"} <= set(tags["histograms"])
    w = acc.Histograms("W")
    assert [e.step for e in w] == [1, 2, 3]  # 3 epochs: every one is logged
    assert w[0].histogram_value.num == 16 * 16  # 16 hidden x 16 visible weights
    assert tags["images"] == ["filters/W"]
    image = acc.Images("filters/W")[-1]
    # 16 filters of 4 x 4 pixels, tiled 8 per row
    assert (image.width, image.height) == (8 * 4, 2 * 4) and image.step == 3


def test_cnn_train_writes_loss_accuracy_and_conv_filters(tmp_path, capsys):
    board = tmp_path / "board"
    argv = ["cnn", "train", "--data", "digits", "--epochs", "2", "--no-figures",
            "--out", str(tmp_path / "out"), "--tensorboard", str(board)]  # fmt: skip
    payload = run_json(argv, capsys)
    acc = events(board / "cnn")
    for tag in ("train_loss", "val_loss", "val_accuracy", "learning_rate"):
        values = [e.value for e in acc.Scalars(tag)]
        expected = [h[tag] for h in payload["history"]]
        np.testing.assert_allclose(values, expected, rtol=1e-6)
    histograms = acc.Tags()["histograms"]
    assert any(t.endswith("weight") for t in histograms) and len(acc.Histograms(histograms[0])) == 2
    [images] = acc.Tags()["images"]
    assert images.startswith("filters/") and acc.Images(images)[0].width >= 3


SMALL = {"batch_size": 7}


def test_each_dbn_layer_is_its_own_run(tmp_path):
    from workbench.data import load_dataset
    from workbench.nn.dbn.model import DBN

    X = load_dataset("bars-stripes-3", split="all").X  # 14 rows
    with recording(None) as runs:  # off: no writer at all
        DBN((9, 4), n_epochs=1, rbm_params=SMALL, random_state=0, verbose=False).fit(X)
        assert runs == []
    with recording(tmp_path) as runs:
        DBN((9, 4), n_epochs=2, rbm_params=SMALL, random_state=0, verbose=False).fit(X)
    assert runs == ["rbm", "rbm-2"] and sorted(p.name for p in tmp_path.iterdir()) == runs
    first = events(tmp_path / "rbm")
    assert scalar_steps(first, "learning_rate") == [1, 2]
    assert first.Histograms("W")[0].histogram_value.num == 9 * 9
    assert events(tmp_path / "rbm-2").Histograms("W")[0].histogram_value.num == 4 * 9


def test_filter_images_are_scaled_per_filter():
    conv = torch.arange(2 * 3 * 3 * 3, dtype=torch.float32).reshape(2, 3, 3, 3)
    images = filter_images(conv)
    assert images.shape == (2, 1, 3, 3)
    assert torch.allclose(images.amin(dim=(1, 2, 3)), torch.zeros(2))
    assert torch.allclose(images.amax(dim=(1, 2, 3)), torch.ones(2))
    assert filter_images(torch.ones(5, 7)) is None  # 7 pixels: no square picture
    assert filter_images(torch.randn(100, 9)).shape == (64, 1, 3, 3)
