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
# # Solutions to the exercises of tutorial 04

# %%
import numpy as np

from workbench.energy import RBM, binary_states

rng = np.random.default_rng(4)

# %% [markdown]
# **1.** Σ_h exp(a·v + vWh + b·h) factorises over the hidden units: each contributes
# 1 + exp(b_j + (vW)_j). The log of the product is Σ_j softplus(b_j + (vW)_j), so
# F(v) = −a·v − Σ_j softplus(b_j + (vW)_j).

# %%
W, a, b = rng.normal(size=(3, 2)), rng.normal(size=3), rng.normal(size=2)
rbm = RBM(W, a, b)
V, H = binary_states(3), binary_states(2)
by_hand = np.array([-np.log(sum(np.exp(v @ a + v @ W @ h + b @ h) for h in H)) for v in V])
formula = -V @ a - np.logaddexp(0, V @ W + b).sum(axis=1)
print(np.abs(by_hand - formula).max(), np.abs(rbm.free_energy(V) - formula).max())
assert np.allclose(by_hand, formula) and np.allclose(rbm.free_energy(V), formula)

# %% [markdown]
# **2.** Central differences of the mean log-likelihood, one parameter at a time.

# %%
data = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
grad = rbm.exact_gradient(data)
params = {"W": W, "visible_bias": a, "hidden_bias": b}
eps = 1e-5


def mean_log_lik(p):
    return RBM(p["W"], p["visible_bias"], p["hidden_bias"]).log_likelihood(data)


for name, value in params.items():
    numeric = np.zeros_like(value)
    for i in np.ndindex(value.shape):
        up = {k: v.copy() for k, v in params.items()}
        down = {k: v.copy() for k, v in params.items()}
        up[name][i] += eps
        down[name][i] -= eps
        numeric[i] = (mean_log_lik(up) - mean_log_lik(down)) / (2 * eps)
    print(name, np.abs(numeric - grad[name]).max())
    assert np.allclose(numeric, grad[name], atol=1e-7)

# %% [markdown]
# **3.** More temperatures mean smaller steps between neighbouring distributions, less
# scattered importance weights, hence a smaller downward bias of log Z (it shrinks roughly
# like 1/(number of temperatures) once the anneal is slow enough).

# %%
rng = np.random.default_rng(0)
medium = RBM(rng.normal(0, 0.5, (30, 16)), rng.normal(0, 0.5, 30), rng.normal(0, 0.5, 16))
exact = medium.log_partition().value
errors = {}
for n_betas in (3, 11, 51):
    runs = [medium.log_partition("ais", n_runs=4, n_betas=n_betas, seed=r).value for r in range(8)]
    errors[n_betas] = np.mean(runs) - exact
    print(f"{n_betas:3d} temperatures: mean error of log Z {errors[n_betas]:+.3f}")
assert errors[3] < errors[11] < 0 and abs(errors[51]) < abs(errors[11])
