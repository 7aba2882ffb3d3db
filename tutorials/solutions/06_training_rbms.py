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
# # Solutions to the exercises of tutorial 06

# %%
import numpy as np

from workbench.energy import RBM, binary_states

rng = np.random.default_rng(6)

# %% [markdown]
# **1.** By the chain rule log p(v) = Σ_i log p(v_i | v_<i), while the pseudo-log-likelihood
# conditions each v_i on *all* the other units, more information per term. Compute both on a
# random RBM with strong couplings, on data drawn from it.

# %%
rbm = RBM(rng.normal(0, 2.0, (8, 4)), rng.normal(0, 0.5, 8), rng.normal(0, 0.5, 4))
states = binary_states(8)
p = np.exp(rbm.log_prob(states))
V = states[rng.choice(len(states), size=1000, p=p)]


def pseudo_log_lik(rbm, V):
    """Σ_i log p(v_i | v_-i) per row, from free-energy differences."""
    F = rbm.free_energy(V)
    total = np.zeros(len(V))
    for i in range(V.shape[1]):
        flipped = V.copy()
        flipped[:, i] = 1 - flipped[:, i]
        total += -np.logaddexp(0, F - rbm.free_energy(flipped))  # log σ(F(flip) - F(v))
    return total


pll, ll = pseudo_log_lik(rbm, V).mean(), rbm.log_likelihood(V)
print(f"mean pseudo-log-likelihood {pll:.3f};  exact mean log-likelihood {ll:.3f}")
assert pll > ll

# %% [markdown]
# Here the pseudo-log-likelihood is the larger, as is typical when the data come from the
# model: each of its terms conditions on more. It is not a bound for every data set and
# model, so read it as a training signal, not as a likelihood.
#
# **2.** The optimism is the downward bias of log Z; it shrinks as the anneal lengthens.

# %%
rng = np.random.default_rng(0)
medium = RBM(rng.normal(0, 0.5, (30, 16)), rng.normal(0, 0.5, 30), rng.normal(0, 0.5, 16))
exact = medium.log_partition().value
optimism = {}
for n_betas in (3, 30, 300):
    runs = [medium.log_partition("ais", n_runs=4, n_betas=n_betas, seed=r).value for r in range(8)]
    optimism[n_betas] = exact - np.mean(runs)
    print(f"{n_betas:4d} temperatures: log-likelihood optimistic by {optimism[n_betas]:+.3f}")
assert optimism[3] > optimism[30] > 0 and abs(optimism[300]) < optimism[30]
