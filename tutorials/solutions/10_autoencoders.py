# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Solutions to the exercises of tutorial 10

# %%
import numpy as np
import torch
from scipy.linalg import subspace_angles
from scipy.special import logsumexp
from scipy.stats import norm

from workbench.data import load_dataset
from workbench.nn import Autoencoder
from workbench.nn.autoencoder import AutoencoderNet
from workbench.sizes import run_size

torch.set_num_threads(1)

# %% [markdown]
# **1.** The posterior mean E[x | x̃] = ∫ x p(x) N(x̃; x, σ²) dx / ∫ p(x) N(x̃; x, σ²) dx, by
# the trapezoid rule on a fine grid of x; Tweedie: x̃ + σ² (log p_σ)'(x̃), with p_σ the mixture
# whose variances are s² + σ². Its derivative comes in closed form from the responsibilities.

# %%
weights, means, sds, sigma = np.array([0.5, 0.5]), np.array([-1.0, 1.5]), np.array([0.2, 0.4]), 0.5


def mixture_pdf(x, extra_variance=0.0):
    scale = np.sqrt(sds**2 + extra_variance)
    return (weights * norm.pdf(x[..., None], means, scale)).sum(-1)


def blurred_score(x):
    """d/dx log p_sigma(x): responsibilities times each component's score."""
    variance = sds**2 + sigma**2
    log_parts = np.log(weights) + norm.logpdf(x[:, None], means, np.sqrt(variance))
    resp = np.exp(log_parts - logsumexp(log_parts, axis=1, keepdims=True))
    return (resp * (means - x[:, None]) / variance).sum(1)


x = np.linspace(-5.0, 6.0, 20001)
noisy = np.linspace(-2.5, 3.5, 61)
kernel = mixture_pdf(x)[None, :] * norm.pdf(noisy[:, None], x[None, :], sigma)  # (61, 20001)
posterior_mean = np.trapezoid(kernel * x, x, axis=1) / np.trapezoid(kernel, x, axis=1)
tweedie = noisy + sigma**2 * blurred_score(noisy)
print(f"largest |E[x | x~] - Tweedie| on the grid: {np.abs(posterior_mean - tweedie).max():.1e}")
assert np.allclose(posterior_mean, tweedie, atol=1e-6)

# %% [markdown]
# **2.** With a₁ = W₁x + b₁, h₁ = σ(a₁), h₂ = σ(W₂h₁ + b₂), the chain rule gives
# ∂h₂/∂x = diag(h₂ ⊙ (1 - h₂)) W₂ diag(h₁ ⊙ (1 - h₁)) W₁, shape (k₂, d). With one layer the
# Jacobian is a diagonal times W, so its squared Frobenius norm splits into a sum over rows of
# W, each scaled once; with two layers the inner diagonal sits between W₂ and W₁ and mixes the
# rows, so there is no such shortcut: the product has to be formed per example.

# %%
digits = load_dataset("digits", split="train").X
net = AutoencoderNet((64, 32, 8)).double()
x = torch.from_numpy(digits[:20])
first, second = net.encoder[0], net.encoder[1]
with torch.no_grad():
    h1 = torch.sigmoid(first(x))  # (20, 32)
    h2 = torch.sigmoid(second(h1))  # (20, 8)
    jac = (h2 * (1 - h2))[:, :, None] * second.weight[None]  # (20, 8, 32)
    jac = jac * (h1 * (1 - h1))[:, None, :] @ first.weight  # (20, 8, 64)
by_hand = jac.pow(2).sum().item()
autograd = torch.func.vmap(torch.func.jacrev(net.encode))(x).pow(2).sum().item()
print(f"product of the two factors: {by_hand:.10f}   autograd: {autograd:.10f}")
assert abs(by_hand - autograd) < 1e-10 * autograd

# %% [markdown]
# **3.** The relative gaps of the spectrum, the k with the smallest one, and a linear
# autoencoder at that k and at k = 4 (the tutorial's gap), trained alike.

# %%
eigenvalues, vectors = np.linalg.eigh(np.cov(digits.T, bias=True))
eigenvalues, vectors = eigenvalues[::-1], vectors[:, ::-1]
ks = np.arange(2, 11)
gaps = (eigenvalues[ks - 1] - eigenvalues[ks]) / eigenvalues[ks - 1]
flat_k = int(ks[np.argmin(gaps)])
print("relative gaps:", dict(zip(ks.tolist(), np.round(gaps, 3).tolist(), strict=True)))
results = {}
for k in (4, flat_k):
    ae = Autoencoder(k, kind="linear", n_epochs=run_size(30, quick=10), batch_size=64,
                     learning_rate=5e-2, random_state=0).fit(digits)  # fmt: skip
    decoder = ae.network_.decoder[-1].weight.detach().numpy()
    angle = np.degrees(subspace_angles(decoder, vectors[:, :k])).max()
    optimum = eigenvalues[k:].sum()
    results[k] = (ae.reconstruction_error(digits) / optimum - 1, angle)
    print(f"k = {k}: error {100 * results[k][0]:.2f} % above the PCA optimum, "
          f"largest principal angle {angle:.1f} degrees")  # fmt: skip
assert flat_k != 4 and gaps[ks == 4][0] > 3 * gaps.min()
assert results[4][1] < results[flat_k][1]  # the subspace is pinned down only where a gap is

# %% [markdown]
# At both code sizes the error ends within a few per cent of the optimum (0.03 % at k = 4,
# 1.5 % at k = 8 with 30 epochs), but without a gap the largest principal angle stays large
# (2.5 against 70 degrees): directions with nearly equal eigenvalues cost almost the same
# to drop, so the loss barely cares which of them the code keeps, and gradient descent drifts
# among them slowly. The error converges; the subspace, there, does not need to.
