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
# # 04 — A restricted Boltzmann machine by hand
#
# An RBM is a probability distribution over pairs (v, h) of visible and hidden binary
# vectors, defined through an energy
#
# $$E(v, h) = -a^\top v - b^\top h - v^\top W h, \qquad p(v, h) = e^{-E(v, h)} / Z.$$
#
# Low energy means high probability; $Z$ sums $e^{-E}$ over every joint state. With two
# visible and two hidden units there are only 16 joint states, so we can write every number
# down and check each formula of the theory against the table. Every computation below goes
# through `workbench.energy.RBM`, whose graphs are written once in PyTensor.

# %%
import numpy as np

from workbench.energy import RBM, binary_states

W = np.array([[2.0, -1.0], [1.5, 1.0]])  # W[i, j] couples visible i with hidden j
a = np.array([-1.0, 0.5])  # visible biases
b = np.array([-0.5, 0.2])  # hidden biases
rbm = RBM(W, a, b)
print(rbm)

# %% [markdown]
# ## The joint table
#
# One row per (v, h): the energy, the Boltzmann weight $e^{-E}$ and the probability. Below
# it, $Z$ and the marginal $p(v) = \sum_h p(v, h)$, which is the distribution the RBM
# offers for data.

# %%
table = rbm.joint_table()
print(table)

# %% [markdown]
# Check one row by hand: v = (1, 1), h = (1, 0) gives
# $E = -(a_1 + a_2) - b_1 - (W_{11} + W_{21}) = -(-0.5) - (-0.5) - 3.5 = -2.5$.

# %%
E_by_hand = -(a[0] + a[1]) - b[0] - (W[0, 0] + W[1, 0])
row = np.flatnonzero((table.visible == [1, 1]).all(1) & (table.hidden == [1, 0]).all(1))[0]
print(E_by_hand, table.energy[row])
assert np.isclose(E_by_hand, table.energy[row])

# %% [markdown]
# ## Conditionals factorise
#
# There are no visible-visible or hidden-hidden couplings, so given v the hidden units are
# independent: $p(h_j = 1 \mid v) = \sigma(b_j + \sum_i v_i W_{ij})$. The same numbers come
# out of the table as ratios $p(v, h_j = 1) / p(v)$.

# %%
p = table.probability.reshape(4, 4)  # rows: v states, columns: h states
H = binary_states(2)
from_table = (p @ H) / p.sum(axis=1, keepdims=True)
from_formula = rbm.hidden_given_visible(binary_states(2))
print(np.column_stack([binary_states(2), from_formula, from_table]).round(4))
assert np.allclose(from_formula, from_table)

# %% [markdown]
# ## Free energy
#
# Summing the hidden layer out unit by unit gives
# $F(v) = -a^\top v - \sum_j \log(1 + e^{b_j + (v^\top W)_j})$, and $p(v) = e^{-F(v)} / Z$:
# the hidden units are marginalised in closed form, without a sum over $2^{n_h}$ states.

# %%
F = rbm.free_energy(binary_states(2))
log_z = rbm.log_partition().value
print("F(v):", F.round(4), " log Z:", round(log_z, 4))
print("exp(-F)/Z:", np.exp(-F - log_z).round(4), " table:", table.marginal.round(4))
assert np.allclose(np.exp(-F - log_z), table.marginal)

# %% [markdown]
# ## One exact gradient step
#
# Suppose the data are the two states (1, 0) and (0, 1), equally often. The gradient of the
# mean log-likelihood is a difference of two averages of the observables
# $v_i h_j$, $v_i$, $h_j$: under the data (with h drawn from $p(h \mid v)$) and under the
# model. For a tiny RBM both are exact sums; larger ones need sampling (contrastive
# divergence and its relatives, tutorial 06).

# %%
data = np.array([[1.0, 0.0], [0.0, 1.0]])
grad = rbm.exact_gradient(data)
for name, g in grad.items():
    print(name, np.round(g, 4).tolist())

# %%
rate = 0.5
stepped = RBM(W + rate * grad["W"], a + rate * grad["visible_bias"], b + rate * grad["hidden_bias"])
before, after = rbm.joint_table().marginal, stepped.joint_table().marginal
print("v      p(v) before  after")
for v, p0, p1 in zip(binary_states(2), before, after, strict=True):
    print(v.astype(int), f"{p0:10.4f} {p1:8.4f}")
print(
    "mean log-likelihood:",
    round(rbm.log_likelihood(data), 4),
    "->",
    round(stepped.log_likelihood(data), 4),
)
assert stepped.log_likelihood(data) > rbm.log_likelihood(data)

# %% [markdown]
# Probability moved towards (1, 0) and (0, 1). The best this family can do for these data
# is p = 1/2 on each, log-likelihood $\log(1/2) \approx -0.693$; repeating the step climbs
# towards it.

# %%
model = rbm
for _ in range(200):
    g = model.exact_gradient(data)
    model = RBM(
        model.W + rate * g["W"],
        model.visible_bias + rate * g["visible_bias"],
        model.hidden_bias + rate * g["hidden_bias"],
    )
print(
    "after 200 steps:", round(model.log_likelihood(data), 4), model.joint_table().marginal.round(3)
)

# %% [markdown]
# ## Larger models: annealed importance sampling
#
# Enumeration costs $2^{\min(n_v, n_h)}$ terms. Beyond that, AIS anneals from a model with
# no couplings (whose $Z$ is a product) to the RBM, and reports an estimate with a standard
# error. Forward AIS estimates $Z$ without bias, so its $\log$ is low *on average* (Jensen's
# inequality). Reverse AIS anneals the other way and estimates $1/Z$ without bias, so its
# $\log Z$ is high on average, *provided its chains start from exact draws of the model*.
# The workbench draws them exactly by enumerating the smaller layer when it can; beyond that
# it starts from long Gibbs chains, which are only approximately model draws, and the
# guarantee becomes approximate too. With exact starts the two bracket $\log Z$ on average;
# a single run scatters by about its standard error on either side. On a model still small
# enough to check:

# %%
rng = np.random.default_rng(0)
medium = RBM(rng.normal(0, 0.5, (30, 16)), rng.normal(0, 0.5, 30), rng.normal(0, 0.5, 16))
exact = medium.log_partition().value
forward = medium.log_partition("ais", n_runs=100, n_betas=501, seed=1)  # 500 sweeps
reverse = medium.log_partition("reverse_ais", n_runs=100, n_betas=501, seed=1)
print(
    f"exact {exact:.4f}   AIS {forward.value:.4f} +- {forward.se:.4f}   "
    f"reverse AIS {reverse.value:.4f} +- {reverse.se:.4f}"
)
for est in (forward, reverse):
    lo, hi = est.interval(3)
    assert lo <= exact <= hi

# %% [markdown]
# "On average" is a statement about many runs. A deliberately crude anneal (2 sweeps, 4
# runs) makes the two biases large enough to see in 16 repetitions:

# %%
crude = {
    method: [medium.log_partition(method, n_runs=4, n_betas=3, seed=r).value for r in range(16)]
    for method in ("ais", "reverse_ais")
}
print(f"exact {exact:.3f}")
for method, values in crude.items():
    se = np.std(values, ddof=1) / np.sqrt(len(values))
    print(f"{method:<12} mean of 16 crude runs {np.mean(values):.3f} +- {se:.3f}")
assert np.mean(crude["ais"]) < exact < np.mean(crude["reverse_ais"])

# %% [markdown]
# ## Exercises
#
# Solutions: `tutorials/solutions/04_rbm_by_hand.py`.
#
# 1. Check the free energy F(v) = −a·v − Σ_j softplus(b_j + (vW)_j) on a random RBM with 3
#    visible and 2 hidden units by summing exp(−E(v, h)) over h by hand.
# 2. Check `exact_gradient` against central finite differences of the mean log-likelihood.
# 3. Predict how the average error of forward AIS on the `medium` RBM changes when the number
#    of temperatures goes from 3 to 11 to 51; then measure it over 8 repetitions each.
