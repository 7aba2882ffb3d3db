"""RBM checkpoints: resume equals an uninterrupted run, Ctrl-C saves, bad files fail clearly."""

import os
import signal
import threading

import numpy as np
import pytest
import torch

from workbench.data import load_dataset
from workbench.errors import InputError
from workbench.nn.rbm import training
from workbench.nn.rbm.model import RBM

SETTINGS = {"n_hidden": 8, "batch_size": 5, "random_state": 3, "verbose": False}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest


@pytest.fixture(scope="module")
def data():
    return load_dataset("bars-stripes-3").X


@pytest.mark.parametrize("method", ["pcd", "cd"])
def test_resume_reproduces_uninterrupted_run(data, tmp_path, method):
    whole = RBM(**SETTINGS, method=method, n_epochs=6).fit(data, X_val=data[:4])
    path = tmp_path / "rbm.pt"
    RBM(**SETTINGS, method=method, n_epochs=3, checkpoint=path).fit(data, X_val=data[:4])
    resumed = RBM.load(path)
    resumed.set_params(n_epochs=6)
    resumed.fit(data, X_val=data[:4], resume=True)
    for name in ("weights_", "visible_bias_", "hidden_bias_"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(whole, name))
    assert [r["log_likelihood_exact"] for r in resumed.history_] == [
        r["log_likelihood_exact"] for r in whole.history_
    ]
    if method == "pcd":
        assert torch.equal(resumed._state["chains"], whole._state["chains"])
        assert resumed.history_[-1]["chain_rhat"] == whole.history_[-1]["chain_rhat"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_mid_epoch_and_resume_is_exact(data, tmp_path, monkeypatch, signum):
    """Ctrl-C or SIGTERM during fit: a checkpoint after the last whole mini-batch, then
    KeyboardInterrupt; resuming from it ends where the uninterrupted run ends."""
    whole = RBM(**SETTINGS, n_epochs=40, monitor=False).fit(data)
    path = tmp_path / "rbm.pt"
    rbm = RBM(**SETTINGS, n_epochs=40, monitor=False, checkpoint=path, checkpoint_every=1000)
    original = training.update
    calls = []

    def update_then_signal(*args):  # the signal arrives in the middle of epoch 3
        energies = original(*args)
        calls.append(1)
        if len(calls) == 8:
            os.kill(os.getpid(), signum)
        return energies

    assert threading.current_thread() is threading.main_thread()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.setattr(training, "update", update_then_signal)
    with pytest.raises(KeyboardInterrupt):
        rbm.fit(data)
    monkeypatch.undo()
    assert {s: signal.getsignal(s) for s in handlers} == handlers  # handlers restored
    assert torch.load(path, weights_only=True)["state"]["loop"]["step"] == 8  # 3 + 3 + 2
    resumed = RBM.load(path)
    assert resumed._state["epoch"] == 2
    resumed.fit(data, resume=True)
    np.testing.assert_array_equal(resumed.weights_, whole.weights_)


def test_checkpoint_written_atomically(data, tmp_path):
    path = tmp_path / "sub" / "rbm.pt"
    RBM(**SETTINGS, n_epochs=2, checkpoint=path).fit(data)
    assert path.is_file() and not [p for p in path.parent.iterdir() if p.name.startswith(".")]


def test_corrupt_and_incompatible_checkpoints(data, tmp_path):
    """The runtime's one checkpoint format: each way a file can be wrong gets its own message,
    an InputError naming ``checkpoint``."""
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(InputError, match="checkpoint: .* is not a readable checkpoint"):
        RBM.load(bad)
    good = tmp_path / "good.pt"
    RBM(**SETTINGS, n_epochs=1, checkpoint=good).fit(data)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(InputError, match="not a readable checkpoint"):
        RBM.load(truncated)
    other = tmp_path / "other.pt"
    torch.save({"format": "something else"}, other)
    with pytest.raises(InputError, match="not a workbench checkpoint"):
        RBM.load(other)
    payload = torch.load(good, weights_only=True)
    for key, value, message in (
        ("version", 99, "has checkpoint version 99"),
        ("kind", "cnn", "is a 'cnn' checkpoint, not a 'rbm' one"),
    ):
        torch.save({**payload, key: value}, other)
        with pytest.raises(InputError, match=message):
            RBM.load(other)
    state = payload["state"]
    torch.save({**payload, "state": {**state, "rbm": {k: v for k, v in state["rbm"].items()
                                                      if k != "W"}}}, other)  # fmt: skip
    with pytest.raises(InputError, match="incomplete or incompatible"):
        RBM.load(other)
    with pytest.raises(InputError, match="no such checkpoint file"):
        RBM.load(tmp_path / "missing.pt")
    with pytest.raises(InputError, match="X has 5 features, but RBM is expecting 9"):
        RBM.load(good).transform(np.zeros((2, 5)))
