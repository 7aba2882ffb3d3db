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
# # Solutions to the exercises of tutorial 03

# %%
import numpy as np

from workbench.data import linear_factor_data
from workbench.linear import PPCA

rng = np.random.default_rng(3)

# %% [markdown]
# **1.** (h, x) is jointly Gaussian with Cov(h) = I, Cov(h, x) = Wᵀ, Cov(x) = WWᵀ + s²I.
# Conditioning gives E[h | x] = Wᵀ(WWᵀ + s²I)⁻¹(x − b) and Cov[h | x] = I − Wᵀ(WWᵀ + s²I)⁻¹W.
# The push-through identity Wᵀ(WWᵀ + s²I)⁻¹ = (WᵀW + s²I)⁻¹Wᵀ turns them into M⁻¹Wᵀ(x − b) and
# s²M⁻¹, with M = WᵀW + s²I (a q x q inverse instead of d x d).

# %%
d, q, s2 = 5, 2, 0.3
W, b, x = rng.normal(size=(d, q)), rng.normal(size=d), rng.normal(size=d)
C = W @ W.T + s2 * np.eye(d)
mean_direct = W.T @ np.linalg.solve(C, x - b)
cov_direct = np.eye(q) - W.T @ np.linalg.solve(C, W)
M_inv = np.linalg.inv(W.T @ W + s2 * np.eye(q))
print(np.abs(mean_direct - M_inv @ W.T @ (x - b)).max(), np.abs(cov_direct - s2 * M_inv).max())
assert np.allclose(mean_direct, M_inv @ W.T @ (x - b)) and np.allclose(cov_direct, s2 * M_inv)

# %% [markdown]
# **2.** With rows 0 and 1 proportional, the leading 2 x 2 block has rank 1. Rotate W so that
# row 0 is (r, 0): row 1, proportional to row 0, is then (c r, 0), so the upper triangle is
# zero, and flipping the sign of the second column keeps it zero. Two lower-triangular forms
# with non-negative diagonal, one W Wᵀ; and the second diagonal entry is 0 in both.

# %%
W = np.array([[1.0, 2.0], [0.5, 1.0], [0.3, -1.0], [2.0, 0.1]])
theta = np.arctan2(W[0, 1], W[0, 0])
R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
L1 = W @ R
L2 = L1 * [1, -1]
print(L1.round(3), L2.round(3), sep="\n")
assert np.allclose(np.triu(L1, 1), 0) and np.allclose(np.triu(L2, 1), 0)
assert np.allclose(L1 @ L1.T, W @ W.T) and np.allclose(L2 @ L2.T, W @ W.T)
assert not np.allclose(L1, L2) and abs(L1[1, 1]) < 1e-12

# %% [markdown]
# **3.** At the ML point, W satisfies the correct M-step: W (Σ E[hhᵀ]) = Σ (x − b)E[h]ᵀ. The
# E[h]-only update divides by Σ E[h]E[h]ᵀ, which is smaller by n s²M⁻¹, so it inflates W and
# leaves the ML point: it does not stay there.

# %%
data = linear_factor_data(5000, 6, 2, seed=3)
X = data.X
closed = PPCA(2).fit(X)
W, s2 = closed.components_.T, closed.noise_variance_
Xc = X - X.mean(axis=0)
M_inv = np.linalg.inv(W.T @ W + s2 * np.eye(2))
Eh = Xc @ W @ M_inv
W_full = Xc.T @ Eh @ np.linalg.inv(Eh.T @ Eh + len(X) * s2 * M_inv)
W_plug = Xc.T @ Eh @ np.linalg.inv(Eh.T @ Eh)
print("change of W: full M-step", np.abs(W_full - W).max(), "  E[h]-only", np.abs(W_plug - W).max())
assert np.abs(W_full - W).max() < 1e-6 < 1e-2 < np.abs(W_plug - W).max()
