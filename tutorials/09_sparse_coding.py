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
# # 09 — Sparse coding: the lasso as a MAP estimate
#
# Sparse coding (Olshausen and Field, 1996) describes a signal x as a combination h D of a few
# atoms, the rows of a dictionary D, by minimising
#
#     0.5 |x - h D|^2 + alpha |h|_1.
#
# The L1 penalty makes most codes exactly zero. Read as a probability model, the squared error
# is a Gaussian likelihood with noise sigma and the penalty is a Laplace(0, b) prior on each
# code, with alpha = sigma^2 / b: the sparse code is the posterior *mode*. This tutorial checks
# that reading, shows what the posterior *mean* looks like instead, and then learns a
# dictionary on handwritten digits.

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch

import models
import workbench
from models.builders import dct_dictionary
from workbench.data import load_dataset
from workbench.nn.rbm.plots import plot_images
from workbench.sizes import run_size
from workbench.sparse import DictionaryLearning, alpha_max, lasso_objective, sparse_code
from workbench.sparse.plots import plot_atoms, plot_map_and_mean, plot_training

SEED = 0
torch.set_num_threads(1)  # small problems: one thread is as fast and immune to a busy machine
rng = np.random.default_rng(SEED)

# %% [markdown]
# ## Soft thresholding
#
# When the atoms are orthonormal the problem splits into one scalar problem per atom, and the
# solution is soft thresholding of the correlations z = x D^T: each z_k is moved towards zero by
# alpha, and set to zero if it was within alpha of it. `sparse_code` (FISTA by default) gives
# exactly that.

# %%
Q, _ = np.linalg.qr(rng.normal(size=(16, 16)))
x = rng.normal(size=16)
z = Q @ x
for alpha in (0.2, 0.8):
    code = sparse_code(x, Q, alpha).codes[0]
    soft = np.sign(z) * np.maximum(np.abs(z) - alpha, 0)
    print(f"alpha {alpha}: {np.sum(code == 0)} of 16 codes zero, "
          f"largest difference to soft thresholding {np.abs(code - soft).max():.1e}")  # fmt: skip

# %% [markdown]
# ## The lasso path
#
# For a general, overcomplete dictionary there is no closed form, but two facts remain. Above
# alpha_max = max_k |(D x)_k| the code is exactly zero (zero is optimal when no atom's
# correlation with x exceeds the penalty). Below it atoms enter one by one as alpha shrinks;
# each code traces a piecewise-linear path.

# %%
D = dct_dictionary(12, 8)  # 12 cosine atoms for signals of 8 samples
y = models.default_data("sparse-coding")
top = float(alpha_max(y[None], D)[0])
alphas = top * np.geomspace(1.0, 1e-3, run_size(40, 15))
codes = np.array([sparse_code(y, D, a, max_iter=20_000, tol=1e-10).codes[0] for a in alphas])
print(f"alpha_max = {top:.3f}; codes at alpha_max: {np.abs(codes[0]).max():.1e}")
fig, ax = plt.subplots(figsize=(6.5, 3.2))
ax.semilogx(alphas, codes)
ax.axvline(0.2**2 / 0.5, color="0.5", ls="--", label="alpha = sigma^2/b of the model below")
ax.set(xlabel="alpha", ylabel="code h_k", title="lasso path of one signal, 12 atoms")
ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# ## The same code as a Bayesian estimate
#
# The catalogue model `sparse-coding` is this problem with a prior: y = h D + N(0, sigma^2),
# h_k ~ Laplace(0, b), sigma = 0.2, b = 0.5, so alpha = 0.08. `workbench estimate` computes the
# MAP by optimisation and the posterior mean (CM) by NUTS. The MAP agrees with FISTA; the
# posterior mean has no zeros at all.

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    result = workbench.estimate(models.build("sparse-coding"), methods=("map", "cm"), seed=SEED,
                                draws=run_size(1000, 500), tune=run_size(1000, 500),
                                chains=run_size(4, 2))  # fmt: skip
h_map, h_cm = np.ravel(result.point["map"]["h"]), np.ravel(result.point["cm"]["h"])
h_fista = sparse_code(y, D, 0.2**2 / 0.5, max_iter=100_000, tol=1e-12).codes[0]
print(f"MAP vs FISTA: largest difference {np.abs(h_map - h_fista).max():.1e}")
print(f"zeros: FISTA {np.sum(h_fista == 0)}, MAP {np.sum(np.abs(h_map) < 1e-6)}, "
      f"CM {np.sum(np.abs(h_cm) < 1e-6)} (smallest |CM| {np.abs(h_cm).min():.3f})")  # fmt: skip
print(result.table())

# %%
plot_map_and_mean(h_map, h_cm, result.hdi["h"])

# %% [markdown]
# Where the MAP is exactly zero, the posterior still spreads over positive and negative codes:
# the overcomplete dictionary offers several ways to explain the same signal, and the mean
# averages them. Sparsity is a property of the mode under a Laplace prior, not of the
# posterior. (A prior with a point mass at zero, spike and slab, would give posterior
# probabilities of exact zeros instead.)
#
# ## FISTA against ISTA
#
# Both take a gradient step on the squared error and then soft-threshold; FISTA adds Nesterov
# momentum, and its error after k iterations falls like 1/k^2 instead of 1/k. On a dictionary
# of correlated atoms the difference is large:

# %%
atoms = 0.6 * rng.normal(size=(1, 20)) + rng.normal(size=(20, 20))
atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
signals = rng.normal(size=(8, 20))
best = sparse_code(signals, atoms, 0.1, max_iter=100_000, tol=1e-13).objective
steps = np.unique(np.geomspace(1, 500, run_size(15, 8)).astype(int))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the short runs stop before convergence on purpose
    excess = {m: [np.mean(sparse_code(signals, atoms, 0.1, method=m, max_iter=int(k),
                                      tol=0.0).objective - best) for k in steps]
              for m in ("ista", "fista")}  # fmt: skip
fig, ax = plt.subplots(figsize=(5.5, 3.2))
for method, values in excess.items():
    ax.loglog(steps, values, "o-", label=method.upper())
ax.set(xlabel="iterations k", ylabel="objective - optimum", title="lasso, 20 correlated atoms")
ax.legend()
plt.show()

# %% [markdown]
# ## Learning the dictionary
#
# With the dictionary unknown, alternate: code a mini-batch under the current atoms, then move
# the atoms to reduce the error of those codes (keeping each at unit norm, so the penalty
# cannot be dodged by scaling). `DictionaryLearning` does this online, and re-draws from the
# data any atom that no code uses. On the 8x8 digits the atoms become strokes and blobs.

# %%
train = load_dataset("digits", split="train")
test = load_dataset("digits", split="test")
dl = DictionaryLearning(64, alpha=0.3, batch_size=64, n_epochs=run_size(10, 2),
                        random_state=SEED).fit(train.X)  # fmt: skip
plot_atoms(dl.components_, (8, 8))

# %%
plot_training(dl.history_)

# %%
test_codes = dl.transform(test.X)
recon = test_codes @ dl.components_
print(f"held-out digits: {np.mean(test_codes != 0):.1%} of codes nonzero "
      f"({np.mean((test_codes != 0).sum(1)):.1f} atoms per image), squared error per image "
      f"{np.mean(((test.X - recon) ** 2).sum(1)):.3f}, objective "
      f"{lasso_objective(test.X, dl.components_, test_codes, 0.3).mean():.3f}")  # fmt: skip
plot_images(np.concatenate([test.X[:8], recon[:8]]), (8, 8), title="held-out digits (top) "
            "and their sparse reconstructions (bottom)")  # fmt: skip

# %% [markdown]
# ## Summary
#
# - The sparse code is the MAP under a Laplace prior with alpha = sigma^2 / b; FISTA computes it
#   for many signals at once and stops each when its duality gap is small.
# - Above alpha_max every code is zero; for orthonormal atoms the code is soft thresholding.
# - The posterior mean under the same prior is not sparse.
# - scikit-learn's `Lasso` uses alpha / n_features for the same problem (its squared error is
#   averaged over samples); `SparseCoder` takes our alpha as it is.
#
# From the command line: `workbench sparse learn --data digits --atoms 64 --alpha 0.3`,
# `workbench sparse code --data digits --dictionary workbench-sparse/dictionary.pt`, and
# `workbench estimate sparse-coding`.

# %% [markdown]
# ## Exercises
#
# Solutions: `tutorials/solutions/09_sparse_coding.py`.
#
# 1. Solve the problem of the lasso path at one alpha with scikit-learn's `Lasso` (no
#    intercept, the atoms as the columns of the design) and find the alpha it needs to give
#    the same code. Compare the objectives.
# 2. Check the optimality (KKT) conditions of a FISTA code: the correlation of the residual
#    with each atom equals alpha times the sign of the code where the code is nonzero, and lies
#    within [-alpha, alpha] where it is zero.
# 3. In the model of `sparse-coding`, alpha = sigma^2 / b. Halve and double the prior scale b
#    and count the zeros of the MAP. Which way does a wider prior move the mode, and why?
