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
# # Solutions to the exercises of tutorial 09

# %%
import numpy as np
from sklearn.linear_model import Lasso

import models
from models.builders import dct_dictionary
from workbench.sparse import lasso_objective, sparse_code

D = dct_dictionary(12, 8)
y = models.default_data("sparse-coding")

# %% [markdown]
# **1.** `Lasso` minimises (1 / 2n) |y - X w|^2 + a |w|_1 over the n rows of its design. With
# the signal's 8 samples as rows and the atoms as columns (X = D^T), multiplying by n shows
# that a = alpha / n gives our problem. The two codes agree to the solvers' tolerance.

# %%
alpha = 0.08
ours = sparse_code(y, D, alpha, max_iter=100_000, tol=1e-12).codes[0]
lasso = Lasso(alpha=alpha / D.shape[1], fit_intercept=False, tol=1e-12, max_iter=1_000_000)
theirs = lasso.fit(D.T, y).coef_
objectives = lasso_objective(y[None], D, np.stack([ours, theirs]), alpha)
print(
    f"objective: ours {objectives[0]:.10f}, Lasso {objectives[1]:.10f}; "
    f"largest code difference {np.abs(ours - theirs).max():.1e}"
)
assert abs(objectives[0] - objectives[1]) < 1e-8

# %% [markdown]
# **2.** The subgradient of the objective at h is -D r + alpha sign(h), with r = y - h D; zero
# must be in it. Where h_k is nonzero, (D r)_k = alpha sign(h_k); where it is zero,
# |(D r)_k| <= alpha.

# %%
correlation = D @ (y - ours @ D)
active = ours != 0
print(
    f"{active.sum()} active atoms; largest violation on them "
    f"{np.abs(correlation[active] - alpha * np.sign(ours[active])).max():.1e}; "
    f"largest |correlation| off them {np.abs(correlation[~active]).max():.4f} <= {alpha}"
)
assert np.allclose(correlation[active], alpha * np.sign(ours[active]), atol=1e-6)
assert np.all(np.abs(correlation[~active]) <= alpha + 1e-6)

# %% [markdown]
# **3.** A wider prior (larger b) penalises less (alpha = sigma^2 / b falls), so more atoms enter
# the mode; a narrower one pushes more codes to exactly zero. The counts fall as b grows.

# %%
sigma = 0.2
zeros = {}
for b in (0.25, 0.5, 1.0):
    code = sparse_code(y, D, sigma**2 / b, max_iter=100_000, tol=1e-12).codes[0]
    zeros[b] = int(np.sum(code == 0))
    print(f"b = {b}: alpha = {sigma**2 / b:.3f}, {zeros[b]} of 12 codes zero")
assert zeros[0.25] >= zeros[0.5] >= zeros[1.0] and zeros[0.25] > zeros[1.0]
