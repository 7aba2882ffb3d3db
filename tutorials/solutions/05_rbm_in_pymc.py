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
# # Solutions to the exercises of tutorial 05

# %%
import numpy as np

from workbench.data.patterns import bars_stripes
from workbench.energy import RBM, rbm_model

data = np.repeat(bars_stripes(2), 5, axis=0)
rng = np.random.default_rng(5)
W, a, b = rng.normal(size=(4, 2)), rng.normal(size=4), rng.normal(size=2)
flipped_W = W * [-1, 1]
flipped_a, flipped_b = a + W[:, 0], b * [-1, 1]

# %% [markdown]
# **1.** The flip leaves the likelihood alone and, since a Normal(0, sd²) density depends on
# its argument's square, leaves the log prior of W and b alone too. Only a moves, so the log
# posterior changes by −(|a + W_{:j}|² − |a|²) / (2 sd²).

# %%
sd = 2.0
log_post = rbm_model(data, n_hidden=2, prior_sd=sd, identified=False).compile_logp()


def at(W_, a_, b_):
    return float(log_post({"W": W_, "visible_bias": a_, "hidden_bias": b_}))


change = at(flipped_W, flipped_a, flipped_b) - at(W, a, b)
formula = -(np.sum((a + W[:, 0]) ** 2) - np.sum(a**2)) / (2 * sd**2)
print(f"change of the log posterior {change:.6f};  formula {formula:.6f}")
assert np.isclose(change, formula)

# %% [markdown]
# **2.** A prior on a that is invariant under every shift a → a + W_{:j} must be flat
# (improper). With a flat prior on a, and any sign-symmetric prior on W and b, the flip is an
# exact symmetry. Check with the likelihood plus Normal log priors on W and b only.


# %%
def log_post_flat_a(W_, a_, b_):
    prior = -(np.sum(W_**2) + np.sum(b_**2)) / (2 * sd**2)
    return len(data) * RBM(W_, a_, b_).log_likelihood(data) + prior


gap = log_post_flat_a(flipped_W, flipped_a, flipped_b) - log_post_flat_a(W, a, b)
print("change with a flat prior on a:", gap)
assert abs(gap) < 1e-9
