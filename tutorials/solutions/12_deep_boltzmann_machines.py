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
# # Solutions to the exercises of tutorial 12

# %%
import itertools

import numpy as np
from scipy.special import logsumexp

from workbench.nn import DBM

rng = np.random.default_rng(0)  # the tutorial's model
W = [rng.normal(0, 1.5, (6, 4)), rng.normal(0, 1.5, (4, 3))]
b = [rng.normal(0, 0.5, n) for n in (6, 4, 3)]
V, H1, H2 = (np.array(list(itertools.product((0.0, 1.0), repeat=n))) for n in (6, 4, 3))


def log_weights(W, b):
    """log exp(-E(v, h1, h2)) for every state: (64, 16, 8)."""
    return ((V @ b[0])[:, None, None] + (H1 @ b[1])[None, :, None] + (H2 @ b[2])[None, None, :]
            + (V @ W[0] @ H1.T)[:, :, None] + (H1 @ W[1] @ H2.T)[None, :, :])  # fmt: skip


# %% [markdown]
# **1.** Given h1, the energy is a sum of terms in single v units and single h2 units, so
# sum_v exp(v.(b_v + W1 h1)) = prod_i (1 + e^{a_i}) and likewise for h2: softplus terms.


# %%
def softplus(x):
    return np.logaddexp(0, x)


per_h1 = (H1 @ b[1] + softplus(b[0] + H1 @ W[0].T).sum(1)
          + softplus(b[2] + H1 @ W[1]).sum(1))  # fmt: skip
brute = logsumexp(log_weights(W, b))
print(f"16 terms: {logsumexp(per_h1):.10f}   2^13 terms: {brute:.10f}")
assert abs(logsumexp(per_h1) - brute) < 1e-9

# %% [markdown]
# **2.** log p(v) - bound = KL(q || p(h | v)) exactly, since the bound is E_q[log p(v, h)] + H(q).
# The model stores float32 weights, so agreement is to about 1e-5.

# %%
dbm = DBM.from_weights(W, b, mean_field_steps=50)
v = 37
log_w = log_weights(W, b)[v]
log_post = log_w - logsumexp(log_w)  # (16, 8)
mu1, mu2 = (m[0] for m in dbm.mean_field(V[v : v + 1]))
log_q = (np.log(np.where(H1 == 1, mu1, 1 - mu1)).sum(1)[:, None]
         + np.log(np.where(H2 == 1, mu2, 1 - mu2)).sum(1)[None, :])  # fmt: skip
kl = float(np.sum(np.exp(log_q) * (log_q - log_post)))
gap = float(dbm.log_likelihood(V[v : v + 1])[0] - dbm.lower_bound(V[v : v + 1])[0])
print(f"KL(q || p) = {kl:.6f}, log p(v) - bound = {gap:.6f}")
assert abs(kl - gap) < 1e-4

# %% [markdown]
# **3.** Weaker couplings make the posterior closer to factorial (the units of h1 and h2 hear
# less of each other, so fewer competing explanations), and mean field's error shrinks.


# %%
def worst_error(scale):
    Ws = [scale * w for w in W]
    log_w = log_weights(Ws, b)
    post = np.exp(log_w - logsumexp(log_w, axis=(1, 2), keepdims=True))
    exact_h1 = np.einsum("vab,aj->vj", post, H1)
    mu1, _ = DBM.from_weights(Ws, b, mean_field_steps=50).mean_field(V)
    return float(np.abs(mu1 - exact_h1).max())


strong, weak = worst_error(1.0), worst_error(0.3)
print(f"largest |mean field - exact| for h1: couplings x1 {strong:.3f}, x0.3 {weak:.3f}")
assert weak < strong / 2
