"""Autoencoders against independent answers: PCA's optimum and subspace (eigendecomposition),
the contractive penalty against autograd's Jacobian, the denoising field against the closed-form
score of a Gaussian mixture, deep nets against PCA; checkpoints, resume, bad input."""

import os
import signal
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
    ae = Autoencoder(k, kind="linear", n_epochs=20, batch_size=64, learning_rate=5e-2,
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
