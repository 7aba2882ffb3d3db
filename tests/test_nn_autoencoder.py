"""Autoencoders against independent answers: PCA's optimum and subspace (eigendecomposition),
the contractive penalty against autograd's Jacobian, the denoising field against the closed-form
score of a Gaussian mixture, deep nets against PCA; checkpoints, resume, bad input."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch
from scipy.linalg import subspace_angles
from scipy.special import logsumexp

from workbench.data import load_dataset
from workbench.errors import InputError
from workbench.nn.autoencoder import Autoencoder, AutoencoderNet, contractive_penalty
from workbench.nn.runtime import torch_threads


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", split="train").X, load_dataset("digits", split="test").X


def pca_error(X_train, X_eval, k):
    """Mean summed squared error of the k-D PCA reconstruction of X_eval (fit on X_train)."""
    mean = X_train.mean(0)
    _, V = np.linalg.eigh(np.cov(X_train.T, bias=True))
    V = V[:, ::-1][:, :k]
    R = (X_eval - mean) @ V @ V.T + mean
    return float(np.mean(np.sum((R - X_eval) ** 2, axis=1)))


# --- linear autoencoder = PCA ------------------------------------------------------------


def test_linear_autoencoder_reaches_the_pca_optimum_and_spans_its_subspace(digits):
    X, _ = digits
    k = 4  # eigenvalues 0.397 and 0.273 on either side of the cut: a well-defined subspace
    eigenvalues, vectors = np.linalg.eigh(np.cov(X.T, bias=True))
    eigenvalues, vectors = eigenvalues[::-1], vectors[:, ::-1]
    optimum = eigenvalues[k:].sum()  # PCA's mean summed squared error on its own data
    ae = Autoencoder(k, kind="linear", n_epochs=30, batch_size=64, learning_rate=5e-2,
                     random_state=0).fit(X)  # fmt: skip
    error = ae.reconstruction_error(X)
    assert optimum <= error * (1 + 1e-4)  # nothing beats the optimum
    assert error < 1.01 * optimum
    decoder = ae.network_.decoder[-1].weight.detach().numpy()  # (64, k): spans the output
    assert np.degrees(subspace_angles(decoder, vectors[:, :k]).max()) < 5
    codes = ae.transform(X)
    np.testing.assert_allclose(ae.inverse_transform(codes), ae.reconstruct(X), atol=1e-6)


# --- contractive penalty -----------------------------------------------------------------


@pytest.mark.parametrize("activation", ["sigmoid", "linear"])
def test_contractive_closed_form_equals_autograd_jacobian(activation):
    gen = torch.Generator().manual_seed(0)
    net = AutoencoderNet((7, 5), activation=activation, output="linear").double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    x = torch.randn(6, 7, generator=gen, dtype=torch.float64)
    jacobians = torch.func.vmap(torch.func.jacrev(net.encode))(x)  # (6, 5, 7)
    expected = jacobians.pow(2).sum()
    closed = contractive_penalty(net.encode(x), net.encoder[0].weight, activation)
    torch.testing.assert_close(closed, expected, rtol=1e-12, atol=0)


def test_contractive_autoencoder_is_flatter_than_the_plain_one(digits):
    """The penalty does what it says: a smaller Jacobian norm at the data than without it."""
    X, _ = digits
    settings = {"n_epochs": 5, "batch_size": 64, "learning_rate": 1e-2, "random_state": 0}
    norms = {}
    for kind in ("sigmoid", "contractive"):
        ae = Autoencoder(16, kind=kind, contraction=1.0, **settings).fit(X)
        x = torch.from_numpy(X[:200].astype(np.float32))
        with torch.no_grad():
            code = ae.network_.encode(x)
            norms[kind] = float(contractive_penalty(code, ae.network_.encoder[0].weight))
    assert norms["contractive"] < 0.5 * norms["sigmoid"]


# --- denoising autoencoder: a score field ------------------------------------------------

MEANS = np.array([[-1.5, 0.0], [1.5, 0.0], [0.0, 1.8]])
SPREAD = 0.35  # standard deviation of each component


def mixture_score(x, variance):
    """grad log p(x) of the equal-weight mixture of N(MEANS[c], variance I): (n, 2)."""
    d = x[:, None, :] - MEANS[None]  # (n, 3, 2)
    log_w = -0.5 * (d**2).sum(-1) / variance
    w = np.exp(log_w - logsumexp(log_w, axis=1, keepdims=True))
    return -(w[:, :, None] * d).sum(1) / variance


def test_denoising_reconstruction_points_along_the_score():
    """r(x~) - x~ estimates sigma^2 grad log p_sigma(x~), p_sigma the data density smoothed by
    the corruption (here a mixture again, with variance SPREAD^2 + sigma^2)."""
    rng = np.random.default_rng(0)
    sigma = 0.3
    X = MEANS[rng.integers(0, 3, 1500)] + SPREAD * rng.standard_normal((1500, 2))
    ae = Autoencoder(64, kind="denoising", corruption="gaussian", noise=sigma, n_epochs=60,
                     batch_size=64, learning_rate=1e-2, random_state=0).fit(X)  # fmt: skip
    near = X[:500] + sigma * rng.standard_normal((500, 2))
    field = ae.reconstruct(near) - near
    score = mixture_score(near, SPREAD**2 + sigma**2)
    cosine = (field * score).sum(1) / np.linalg.norm(field, axis=1) / np.linalg.norm(score, axis=1)
    assert cosine.mean() > 0.9


# --- deep autoencoders: RBM pre-training -------------------------------------------------


def test_unrolled_rbm_stack_is_the_dbn_up_pass_and_its_mean_field_down_pass(digits):
    from scipy.special import expit

    from workbench.nn.dbn.model import DBN

    X = (digits[0] > 0.5).astype(np.float64)
    dbn = DBN((16, 4), n_epochs=1, random_state=0, verbose=False).fit(X)
    net = AutoencoderNet((64, 16, 4)).double()
    net.unroll(dbn.rbms_)
    with torch.no_grad():
        codes = net.encode(torch.from_numpy(X)).numpy()
        np.testing.assert_allclose(codes, dbn.transform(X), rtol=0, atol=1e-5)
        down = codes
        for rbm in reversed(dbn.rbms_):  # p(v = 1 | h) of each RBM, top down
            down = expit(down @ rbm.weights_.T + rbm.visible_bias_)
        np.testing.assert_allclose(net.decode(torch.from_numpy(codes)).numpy(), down, atol=1e-5)
        linear = AutoencoderNet((64, 16, 4), code="linear").double()  # Hinton's linear code
        linear.unroll(dbn.rbms_)
        logits = linear.encode(torch.from_numpy(X)).numpy()
        np.testing.assert_allclose(expit(logits), dbn.transform(X), rtol=0, atol=1e-5)


def test_rbm_pretraining_beats_random_initialisation_at_equal_fine_tuning(digits):
    """Hinton & Salakhutdinov's claim on a small scale: the unrolled RBM stack starts
    fine-tuning near a good solution, a random start of the same net does not (held-out
    error, same epochs, same optimiser)."""
    X, X_test = digits
    settings = {"kind": "deep", "hidden_layers": (128, 32), "n_epochs": 5, "batch_size": 32,
                "pretrain_epochs": 10, "random_state": 0}  # fmt: skip
    errors = {pretrain: Autoencoder(4, pretrain=pretrain, **settings).fit(X)
              .reconstruction_error(X_test) for pretrain in ("rbm", "none")}  # fmt: skip
    assert errors["rbm"] < 0.9 * errors["none"]  # measured: 3.77 against 4.74


# --- checkpoints, input errors, command line ---------------------------------------------


def test_ctrl_c_saves_checkpoint_and_resume_matches_uninterrupted_run(digits, tmp_path):
    X, X_test = digits
    settings = {"kind": "denoising", "n_epochs": 6, "batch_size": 16, "random_state": 2}
    full = Autoencoder(8, **settings).fit(X)
    path = tmp_path / "ae.pt"
    interrupted = Autoencoder(8, checkpoint=path, **settings)

    def press_ctrl_c():  # after the first epoch's checkpoint appears
        deadline = time.time() + 60
        while not path.exists() and time.time() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=press_ctrl_c, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(X)
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["kind"] == "autoencoder"
    assert 0 < ckpt["state"]["loop"]["step"] < 6 * 90 and not ckpt["state"]["loop"]["finished"]
    resumed = Autoencoder(8, checkpoint=path, resume=True, **settings).fit(X)
    assert len(resumed.history_) == 6
    np.testing.assert_array_equal(resumed.transform(X_test), full.transform(X_test))
    with pytest.raises(ValueError, match="noise"):  # a different run: refused
        Autoencoder(8, checkpoint=path, resume=True, noise=0.5, **settings).fit(X)


@pytest.mark.parametrize(
    ("params", "argument"),
    [
        ({"kind": "convolutional"}, "kind"),
        ({"kind": "deep"}, "hidden_layers"),
        ({"kind": "contractive", "hidden_layers": (8,)}, "hidden_layers"),
        ({"kind": "denoising", "noise": 1.0}, "noise"),
        ({"n_components": 0}, "n_components"),
        ({"pretrain": "rbm", "kind": "linear"}, "pretrain"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_settings_name_their_argument(digits, params, argument):
    with pytest.raises(InputError) as err:
        Autoencoder(**params).fit(digits[0][:500])
    assert err.value.argument == argument


def test_cli_json_matches_the_estimator_and_pca(capsys, tmp_path):
    from workbench.cli import main

    argv = ["ae", "train", "--data", "digits", "--kind", "sigmoid", "--code", "6",
            "--epochs", "3", "--lr", "0.01", "--threads", "1", "--device", "cpu",
            "--out", str(tmp_path), "--json"]  # fmt: skip
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    train, test = (load_dataset("digits", split=s).X for s in ("train", "test"))
    ae = Autoencoder(6, n_epochs=3, learning_rate=0.01, random_state=0).fit(train)
    assert out["test_reconstruction_error"] == pytest.approx(ae.reconstruction_error(test), 1e-6)
    assert out["pca_test_reconstruction_error"] == pytest.approx(pca_error(train, test, 6), 1e-6)
    assert [h["epoch"] for h in out["history"]] == [1, 2, 3]
    assert torch.load(out["checkpoint"], weights_only=True)["kind"] == "autoencoder"
    for name in ("reconstructions", "code_scatter", "filters"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    bad = ["ae", "train", "--data", "digits", "--code", "0", "--out", str(tmp_path / "bad")]
    assert main(bad) == 2
    assert "--code" in capsys.readouterr().err


@pytest.mark.slow  # two torchrun workers start up: keeps the default tier within its budget
def test_cli_nproc_2_matches_one_process(tmp_path):
    """Two torchrun ranks (gloo) share each global batch and its corruption noise: the same
    training run as one process, to float rounding."""
    argv = ["ae", "train", "--data", "digits", "--kind", "denoising", "--code", "8",
            "--epochs", "1", "--batch-size", "32", "--lr", "0.01", "--threads", "1",
            "--device", "cpu", "--nproc", "2", "--out", str(tmp_path), "--json"]  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", *argv], capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = json.loads(proc.stdout)  # rank 0 alone printed
    assert two["settings"]["world_size"] == 2
    train, test = (load_dataset("digits", split=s).X for s in ("train", "test"))
    one = Autoencoder(8, kind="denoising", n_epochs=1, batch_size=32, learning_rate=0.01,
                      random_state=0).fit(train)  # fmt: skip
    assert two["test_reconstruction_error"] == pytest.approx(one.reconstruction_error(test), 1e-6)
    weights = torch.load(two["checkpoint"], weights_only=True)["state"]["model"]
    for name, value in one.network_.state_dict().items():
        torch.testing.assert_close(weights[name], value, rtol=1e-5, atol=1e-6)
