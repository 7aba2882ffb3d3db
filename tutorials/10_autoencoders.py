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
# # 10 — Autoencoders: from PCA to deep nets pre-trained with RBMs
#
# An autoencoder is a network trained to give back its input through a bottleneck: an encoder
# maps x to a code h = f(x), a decoder maps the code back to r(x) = g(h), and training lowers
# the reconstruction error ||r(x) - x||². What makes it interesting is what stops it from
# learning the identity: a code smaller than the input (under-complete), a penalty on the code
# (sparse), corrupted inputs (denoising), a penalty on the encoder's sensitivity (contractive).
#
# This notebook checks each idea against something computed independently:
#
# 1. a linear autoencoder ends where PCA is, both in error and in subspace;
# 2. under- and over-complete sigmoid codes, and what the over-complete one needs;
# 3. a denoising autoencoder learns a vector field that points up the density, against the
#    exact score of a Gaussian mixture;
# 4. the contractive penalty in closed form, against autograd's Jacobian;
# 5. a deep autoencoder, pre-trained as a stack of RBMs and unrolled, against the same net from
#    random weights and against PCA.
#
# Every model is `workbench.nn.Autoencoder` (the scikit-learn contract: `fit`, `transform`,
# `inverse_transform`, `reconstruct`, `score`), trained on the workbench's one training loop.
# The reconstruction error is the mean over images of the summed squared error per image,
# with pixels in [0, 1].

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.linalg import subspace_angles
from scipy.special import logsumexp

from workbench.data import load_dataset
from workbench.nn import Autoencoder
from workbench.nn.autoencoder import AutoencoderNet, contractive_penalty
from workbench.nn.autoencoder.cli import pca_error
from workbench.nn.autoencoder.plots import (
    plot_code_scatter,
    plot_reconstructions,
    plot_score_field,
)
from workbench.sizes import run_size

torch.set_num_threads(1)  # small models: one thread is fastest on a shared machine
SEED = 0
train, test = (load_dataset("digits", split=part) for part in ("train", "test"))
X, X_test = train.X, test.X
print(X.shape, X_test.shape)

# %% [markdown]
# ## 1. The linear autoencoder is PCA
#
# With identity activations the reconstruction is r(x) = B A x + c, a map of rank at most k.
# The best rank-k approximation of the centred data in squared error is given by its top k
# principal directions (Eckart–Young), so no linear autoencoder can do better than PCA, whose
# error per row is the sum of the eigenvalues of the data covariance that it throws away.
# Gradient descent from random weights finds that optimum; the weights are not the
# eigenvectors themselves (any invertible mixing of the code gives the same r), but they span
# the same subspace, which principal angles measure.

# %%
k = 4
eigenvalues, vectors = np.linalg.eigh(np.cov(X.T, bias=True))
eigenvalues, vectors = eigenvalues[::-1], vectors[:, ::-1]
optimum = eigenvalues[k:].sum()
linear = Autoencoder(k, kind="linear", n_epochs=30, batch_size=64, learning_rate=5e-2,
                     random_state=SEED).fit(X)  # fmt: skip
decoder = linear.network_.decoder[-1].weight.detach().numpy()  # (64, k)
angles = np.degrees(subspace_angles(decoder, vectors[:, :k]))
print(f"PCA optimum (sum of discarded eigenvalues): {optimum:.4f}")
print(f"linear autoencoder:                         {linear.reconstruction_error(X):.4f}")
print("principal angles to the top-4 eigenvectors (degrees):", np.round(angles, 2))

# %% [markdown]
# The error sits on the optimum and the largest principal angle is a few degrees: the code
# spans the principal subspace. k = 4 is chosen where the spectrum has a gap (eigenvalues 0.40
# and 0.27 on either side); where neighbouring eigenvalues are nearly equal the subspace is
# barely determined and the angles converge much more slowly than the error.
#
# ## 2. Under- and over-complete codes
#
# Sigmoid units make the map non-linear. With fewer code units than pixels the net must
# compress; with more, nothing stops it from copying the input, and a reconstruction error
# alone says little. A denoising criterion (below) or a sparsity penalty makes an
# over-complete code useful: here we compare the held-out error and the share of near-silent
# code units.

# %%
epochs = run_size(40, quick=4)
rows = []
for kind, code in (("sigmoid", 8), ("sigmoid", 32), ("sigmoid", 128), ("sparse", 128),
                   ("denoising", 128)):  # fmt: skip
    ae = Autoencoder(code, kind=kind, sparsity=0.1, noise=0.3, n_epochs=epochs,
                     learning_rate=1e-2, random_state=SEED).fit(X)  # fmt: skip
    codes = ae.transform(X_test)
    rows.append((kind, code, ae.reconstruction_error(X_test), np.mean(codes < 0.05)))
print(f"{'kind':<10}{'code':>6}{'test error':>12}{'silent units':>14}")
for kind, code, err, silent in rows:
    print(f"{kind:<10}{code:>6}{err:>12.3f}{silent:>14.2f}")
print(f"PCA with 8 components: {pca_error(X, X_test, 8):.3f}")

# %% [markdown]
# More code units give smaller errors; the L1 penalty switches most of the over-complete
# code off for any given image (a sparse code, the MAP under a Laplace prior on h), and the
# denoising net pays for its robustness with a larger clean-input error.
#
# ## 3. Denoising: the reconstruction points up the density
#
# Train r to map x̃ = x + σε back to x under squared error. The best r is the posterior mean
# E[x | x̃], and Tweedie's formula says E[x | x̃] - x̃ = σ² ∇ log p_σ(x̃), where p_σ is the
# data density blurred by the noise. So r(x̃) - x̃ is a score field: it points towards the
# regions where the data concentrate. For a mixture of Gaussians p_σ is again a mixture (each
# variance plus σ²), and its score is known in closed form, which lets us check the direction
# of the learnt field everywhere.

# %%
means, spread, sigma = np.array([[-1.5, 0.0], [1.5, 0.0], [0.0, 1.8]]), 0.35, 0.3
rng = np.random.default_rng(SEED)
data = means[rng.integers(0, 3, 1500)] + spread * rng.standard_normal((1500, 2))


def mixture_score(x, variance):
    """grad log p(x) of the equal-weight mixture of N(means[c], variance I)."""
    d = x[:, None, :] - means[None]
    log_w = -0.5 * (d**2).sum(-1) / variance
    w = np.exp(log_w - logsumexp(log_w, axis=1, keepdims=True))
    return -(w[:, :, None] * d).sum(1) / variance


dae = Autoencoder(64, kind="denoising", corruption="gaussian", noise=sigma,
                  n_epochs=run_size(100, quick=20), batch_size=64, learning_rate=1e-2,
                  random_state=SEED).fit(data)  # fmt: skip
near = data[:500] + sigma * rng.standard_normal((500, 2))
field = dae.reconstruct(near) - near
score = sigma**2 * mixture_score(near, spread**2 + sigma**2)
cosine = (field * score).sum(1) / np.linalg.norm(field, axis=1) / np.linalg.norm(score, axis=1)
print(f"mean cosine between r(x~) - x~ and the score, near the data: {cosine.mean():.3f}")
grid = np.stack(np.meshgrid(np.linspace(-2.6, 2.6, 15), np.linspace(-1.2, 2.8, 12)), -1)
grid = grid.reshape(-1, 2)
plot_score_field(grid, dae.reconstruct(grid) - grid,
                 sigma**2 * mixture_score(grid, spread**2 + sigma**2), data=data)  # fmt: skip

# %% [markdown]
# Blue arrows (learnt) and red arrows (exact) agree near the data; far from it the network
# has seen few corrupted points and the two drift apart, as the theory allows.
#
# ## 4. Contractive: the Jacobian penalty in closed form
#
# A contractive autoencoder adds λ ||∂h/∂x||²_F to the loss, so that the code changes
# little when the input moves off the data. For one sigmoid layer h = σ(Wx + b) the Jacobian
# is diag(h ⊙ (1 - h)) W, and its squared Frobenius norm is Σ_j (h_j (1 - h_j))² ||W_j||²: no
# autograd through a Jacobian is needed, and the penalty's gradient is deterministic (unlike
# the sampled corruption of a denoising net). Check the formula against autograd:

# %%
net = AutoencoderNet((64, 16)).double()
x = torch.from_numpy(X[:20])
jacobians = torch.func.vmap(torch.func.jacrev(net.encode))(x)  # (20, 16, 64)
closed = contractive_penalty(net.encode(x), net.encoder[0].weight)
print(f"autograd: {jacobians.pow(2).sum().item():.10f}   closed form: {closed.item():.10f}")

cae = Autoencoder(16, kind="contractive", contraction=1.0, n_epochs=epochs, learning_rate=1e-2,
                  random_state=SEED).fit(X)  # fmt: skip
plain = Autoencoder(16, kind="sigmoid", n_epochs=epochs, learning_rate=1e-2,
                    random_state=SEED).fit(X)  # fmt: skip
for name, model in (("sigmoid", plain), ("contractive", cae)):
    with torch.no_grad():
        xt = torch.from_numpy(X_test.astype(np.float32))
        penalty = contractive_penalty(model.network_.encode(xt), model.network_.encoder[0].weight)
    print(
        f"{name:<12} test error {model.reconstruction_error(X_test):.3f}   "
        f"mean ||dh/dx||^2 {penalty.item() / len(X_test):.3f}"
    )

# %% [markdown]
# ## 5. Deep autoencoders: pre-train with RBMs, unroll, fine-tune
#
# A deep sigmoid autoencoder trained by back-propagation from small random weights tends to
# stall near the mean image: the gradients reaching the lower layers are tiny. Hinton and
# Salakhutdinov (2006) first trained a stack of RBMs, each on the hidden probabilities of the
# one below (here `workbench.nn.DBN`, with the bottom RBM taking grey pixels as
# probabilities), then *unrolled* it: the encoder uses the RBM weights W_l, the decoder their
# transposes, and back-propagation fine-tunes all of them with untied weights. (A *stacked*
# autoencoder follows the same greedy recipe with a shallow autoencoder in place of each RBM.)
# On MNIST their 784-1000-500-250-30 net reached a squared error of 3.00 per test image
# against 13.87 for 30-D PCA. Their code layer is linear, pre-trained as an RBM with Gaussian
# hidden units (`RBM(hidden="gaussian")`); on the 4,000 mnist5k training images that recipe (30
# RBM epochs per layer, 60 fine-tuning epochs, weight decay 0.1) gives 6.56 against 14.17,
# 2.16x, and sigmoid code units 7.56 (`docs/benchmarks.md`): less data than theirs, less gain,
# and the net fits its training images (1.6) far better than new ones.
#
# On the 8x8 digits a small version shows the effect of the starting point: the same net, the
# same optimiser and the same number of fine-tuning epochs, from the unrolled RBMs and from
# random weights. (The command `workbench ae train --data mnist5k --kind deep --layers
# 1000,500,250,30 --pretrain rbm --code-activation linear --epochs 60 --batch-size 100
# --weight-decay 0.1` runs the full-size one.)

# %%
fine_tune, pretrain_epochs = run_size((10, 10), quick=(3, 3))
deep = {}
for pretrain in ("rbm", "none"):
    tick = time.perf_counter()
    deep[pretrain] = Autoencoder(4, kind="deep", hidden_layers=(128, 32), pretrain=pretrain,
                                 pretrain_epochs=pretrain_epochs, n_epochs=fine_tune, batch_size=32,
                                 random_state=SEED).fit(X, X_val=X_test)  # fmt: skip
    print(
        f"pretrain={pretrain:<5} test error {deep[pretrain].reconstruction_error(X_test):.3f} "
        f"({time.perf_counter() - tick:.1f} s)"
    )
print(f"4-D PCA test error {pca_error(X, X_test, 4):.3f}")

fig, ax = plt.subplots(figsize=(5, 3.5))
for pretrain, model in deep.items():
    ax.plot([h["val_reconstruction_error"] for h in model.history_], "o-", label=pretrain)
ax.set(xlabel="fine-tuning epoch", ylabel="test reconstruction error", title="pre-training")
ax.legend(title="pretrain")
plt.show()

# %%
plot_reconstructions(X_test, deep["rbm"].reconstruct(X_test), test.image_shape)

# %%
plot_code_scatter(deep["rbm"].transform(X_test), test.y, title="4-D deep codes (2 PCs)")

# %% [markdown]
# The pre-trained net starts fine-tuning from a code that already carries the digit's shape
# and keeps its lead at equal epochs; from random weights the same net is still close to the
# mean image. On 8x8 digits with a 4-unit code, PCA remains hard to beat: the images are
# small and nearly Gaussian, and the benefit of depth shows on the 28x28 sets.
#
# ## What to remember
#
# * A linear autoencoder *is* PCA at its optimum: same error, same subspace, different basis.
# * Over-complete codes need a constraint: sparsity, corruption or contraction.
# * A denoising autoencoder estimates the score σ² ∇ log p_σ, a link to score matching and
#   diffusion models.
# * The contractive penalty has a closed form for sigmoid layers; its gradient is exact.
# * Deep autoencoders need a good start; an unrolled RBM stack is one.
#
# ## Exercises
#
# Solutions: `tutorials/solutions/10_autoencoders.py`.
#
# 1. Tweedie's formula in one dimension. For the mixture p = 0.5 N(-1, 0.2²) + 0.5 N(1.5, 0.4²)
#    and noise σ = 0.5, compute E[x | x̃] on a grid of x̃ by numerical integration of
#    x p(x) N(x̃; x, σ²) over x, and compare it with x̃ + σ² d/dx̃ log p_σ(x̃), where p_σ is the
#    mixture with each variance increased by σ². This is the function a denoising autoencoder
#    with Gaussian corruption and squared error is trained to approximate.
# 2. The contractive penalty of a two-layer sigmoid encoder h₂ = σ(W₂ σ(W₁ x + b₁) + b₂). Write
#    its Jacobian as a product of two matrices, compute ||∂h₂/∂x||²_F for 20 digits from that
#    product, and check it against `torch.func.jacrev`. Why has the one-layer shortcut of
#    `contractive_penalty` (a sum over code units of squared row norms) no analogue here?
# 3. Choose the code size of a linear autoencoder where the digits' covariance spectrum has no
#    gap: find the k in 2..10 with the smallest relative gap (λ_k - λ_{k+1}) / λ_k, train a
#    linear autoencoder with that k as in section 1, and compare its error with the PCA optimum
#    and its principal angles with those at k = 4. Which of the two converges: the error or the
#    subspace?
