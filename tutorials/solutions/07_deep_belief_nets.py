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
# # Solutions to the exercises of tutorial 07

# %%
import numpy as np
from scipy.special import expit, log_expit, logsumexp

from workbench.data import load_dataset
from workbench.energy import RBM, binary_states

rng = np.random.default_rng(7)

# %% [markdown]
# **1.** The joint energy −a·v − vWh − b·h is symmetric in the roles of v and h: an RBM with
# weights Wᵀ, visible bias b and hidden bias a has the same joint distribution with the layers
# swapped, so its visible marginal is the first RBM's marginal of h.

# %%
first = RBM(rng.normal(size=(5, 3)), rng.normal(size=5), rng.normal(size=3))
top = RBM(first.W.T, first.hidden_bias, first.visible_bias)
H, V = binary_states(3), binary_states(5)
joint = np.exp(-np.array([[first.energy(v, h) for h in H] for v in V]))
p_h = joint.sum(axis=0) / joint.sum()
print(np.abs(np.exp(top.log_prob(H)) - p_h).max())
assert np.allclose(np.exp(top.log_prob(H)), p_h)

# %% [markdown]
# **2.** The bound is the first RBM's log-likelihood minus a cross-entropy gap: replacing the
# first RBM's prior over h by any p_top changes the bound by Σ Q(h)[log p_top(h) − log p₁(h)].
# A top layer that models Q worse than p₁ does lowers the bound. Under the two conditions the
# top layer starts at p₁ and exact ML only increases Σ Q log p_top, so that cannot happen.

# %%
bars = load_dataset("bars-stripes-3").X.astype(float)
W1 = rng.normal(0, 1.0, (9, 6))
a1, b1 = rng.normal(0, 0.5, 9), rng.normal(0, 0.5, 6)
Hs = binary_states(6)
q_on = expit(bars @ W1 + b1)
q = np.exp(Hs @ np.log(q_on).T + (1 - Hs) @ np.log1p(-q_on).T)
vis = Hs @ W1.T + a1
log_pv = log_expit(vis) @ bars.T + log_expit(-vis) @ (1 - bars).T


def bound(log_top):
    return float(np.mean((q * (log_top[:, None] + log_pv - np.log(q))).sum(axis=0)))


log_lik = RBM(W1, a1, b1).log_likelihood(bars)
own_prior = RBM(W1.T, b1, a1).log_prob(Hs)
U = rng.normal(0, 0.1, (6, 4))
random_top = Hs @ np.zeros(6) + np.logaddexp(0, Hs @ U).sum(axis=1)
random_top -= logsumexp(random_top)
print(
    f"log-likelihood {log_lik:.4f}; bound with the own prior {bound(own_prior):.4f}; "
    f"with a random top layer {bound(random_top):.4f}"
)
assert np.isclose(bound(own_prior), log_lik) and bound(random_top) < log_lik
