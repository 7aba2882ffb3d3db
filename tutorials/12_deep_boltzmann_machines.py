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
# # 12 — Deep Boltzmann machines: mean field, sampling, AIS, and a fair comparison
#
# A deep Boltzmann machine stacks binary layers v, h1, h2 with undirected couplings between
# neighbours only:
#
#     E(v, h1, h2) = -(v.b_v + h1.b_1 + h2.b_2 + v W1 h1 + h1 W2 h2)
#
# In a deep belief net only the top two layers are undirected; here every layer hears both
# of its neighbours. That makes the model symmetric and its inference honest (the top layer
# shapes what the bottom layer believes), but it also means the posterior p(h1, h2 | v) no
# longer factorises. Training therefore needs two approximations: mean field for the
# data-dependent statistics, persistent Gibbs chains for the model's.
#
# On a small model both can be checked against exact sums. That is what this tutorial does.

# %%
import itertools

import numpy as np
import torch
from scipy.special import logsumexp

from workbench.data import load_dataset
from workbench.nn import DBM
from workbench.nn.dbm.compare import compare, comparison_figure, format_table
from workbench.sizes import run_size

SEED = 0
torch.set_num_threads(1)  # small models: one thread is as fast and immune to a busy machine

# %% [markdown]
# ## A DBM we can enumerate
#
# Six visible units, four units in h1, three in h2, with fairly strong random couplings. The
# whole joint space has 2^13 states, so every quantity below has an exact reference.

# %%
rng = np.random.default_rng(SEED)
W = [rng.normal(0, 1.5, (6, 4)), rng.normal(0, 1.5, (4, 3))]
b = [rng.normal(0, 0.5, n) for n in (6, 4, 3)]
dbm = DBM.from_weights(W, b, mean_field_steps=50)

states = [np.array(list(itertools.product((0.0, 1.0), repeat=n))) for n in (6, 4, 3)]
V, H1, H2 = states
# log of exp(-E) for every (v, h1, h2): shape (64, 16, 8)
log_w = (
    (V @ b[0])[:, None, None]
    + (H1 @ b[1])[None, :, None]
    + (H2 @ b[2])[None, None, :]
    + (V @ W[0] @ H1.T)[:, :, None]
    + (H1 @ W[1] @ H2.T)[None, :, :]
)
print("log Z by brute force:", logsumexp(log_w))
print("log Z, DBM.log_partition('exact'):", dbm.log_partition("exact").value)

# %% [markdown]
# The exact method never touches the 2^13 joint states: given h1, the visible units and the
# h2 units are independent, so their sums are products of one-unit factors, and only the
# 2^4 states of h1 are enumerated. For two hidden layers the cost is 2^(size of h1) whatever
# the sizes of v and h2.
#
# ## Mean field against the exact posterior
#
# For a data vector v, mean field looks for the fully factorised q(h1) q(h2) closest to
# p(h1, h2 | v) in KL(q || p). Its means mu are fixed points of mu1 = sigmoid(b_1 + v W1 +
# W2 mu2), mu2 = sigmoid(b_2 + mu1 W2). We compare them with the exact posterior marginals.

# %%
log_post = log_w - logsumexp(log_w, axis=(1, 2), keepdims=True)  # log p(h1, h2 | v)
post = np.exp(log_post)
exact_h1 = np.einsum("vab,aj->vj", post, H1)  # p(h1_j = 1 | v)
mu1, mu2 = dbm.mean_field(V)
gap = np.abs(mu1 - exact_h1)
print(f"|mean field - exact| for h1: median {np.median(gap):.3f}, worst {gap.max():.3f}")

# %% [markdown]
# Mean field is often close, but where the posterior is bimodal (two explanations of the same
# v) it picks one mode and becomes overconfident. The price is visible in the bound: the
# variational lower bound on log p(v) sits below the exact value by exactly KL(q || p).

# %%
exact_ll = dbm.log_likelihood(V)
bound = dbm.lower_bound(V)
print("exact log-likelihood summed to one:", np.exp(logsumexp(exact_ll)))
print("bound <= exact for every v:", bool(np.all(bound <= exact_ll + 1e-9)))
print(f"KL(q || p) per v: mean {np.mean(exact_ll - bound):.3f}, max {np.max(exact_ll - bound):.3f}")

# %% [markdown]
# Sampling has the opposite failure mode: it is unbiased in the limit but noisy, and slow to
# move between modes. Here block Gibbs sampling estimates the model's visible marginals
# p(v_i = 1), again against the exact values.

# %%
exact_v = np.exp(exact_ll) @ V
n_steps = run_size(2000, 300)
sampled = dbm.sample(run_size(2000, 400), n_steps=n_steps, random_state=SEED).mean(axis=0)
print("exact   p(v_i = 1):", exact_v.round(3))
print("Gibbs   p(v_i = 1):", sampled.round(3))

# %% [markdown]
# ## AIS against the exact partition function
#
# For realistic sizes log Z cannot be enumerated. Annealed importance sampling moves runs
# from a model with no couplings (log Z known) to the DBM through intermediate inverse
# temperatures; the mean importance weight estimates the ratio of partition functions without
# bias, so log Z-hat is low on average, and the spread of the weights gives a standard error.
# With two hidden layers the runs only need to carry h1: v and h2 are summed out at every step.
# We check the estimate against the exact value on a trained model.

# %%
X = load_dataset("bars-stripes-3").X
trained = DBM((12, 6), n_epochs=run_size(300, 40), batch_size=2, learning_rate=0.05,
              weight_decay=0.0, rbm_params={"method": "pcd", "learning_rate": 0.1},
              random_state=SEED, verbose=False).fit(X)  # fmt: skip
exact = trained.log_partition("exact").value
print(f"exact log Z: {exact:.4f}")
for n_betas in run_size((100, 1000, 5000), (50, 200, 800)):
    ais = trained.log_partition("ais", n_runs=100, n_betas=n_betas, random_state=SEED)
    print(f"AIS with {n_betas:>5} temperatures: {ais.value:.4f} +- {ais.se:.4f}"
          f"  (error {ais.value - exact:+.4f})")  # fmt: skip

# %% [markdown]
# More temperatures shrink both the bias and the standard error. With the estimate in hand,
# the mean-field bound on the test log-likelihood is `lower_bound(X, log_z=ais)`, the number
# Salakhutdinov and Hinton report for MNIST.
#
# ## The same data, the same yardstick
#
# Finally a comparison the exact sums make possible. An RBM, a two-layer DBN and a DBM (and a
# sigmoid belief net) are trained on the 14 bars-and-stripes
# patterns with about 200 parameters each, and scored by the exact expected negative
# log-likelihood under the true (uniform) distribution. The entropy ln 14 is a floor no model
# can cross; the gap above it is each model's KL divergence from the truth.

# %%
rows = compare(("bars-stripes-3",), seed=SEED, quick=run_size(False, True))
print(format_table(rows))
comparison_figure(rows)

# %% [markdown]
# With these small budgets the ranking is not a verdict on the families: the RBM's training
# is the most mature, the DBN and DBM inherit its pre-training and add an approximate joint
# stage. What the comparison does show is that every number is exact and every model is
# above the floor, so differences between runs are real, not Monte Carlo noise. The demo
# report (`workbench demo`) adds a 5x5 data set of independent bars, whose entropy is found by
# enumerating the 2^10 bar patterns.

# %% [markdown]
# ## Exercises
#
# Solutions: `tutorials/solutions/12_deep_boltzmann_machines.py`.
#
# 1. Compute log Z of the small DBM by enumerating only the 16 states of h1: given h1, sum out
#    v and h2 in closed form (each unit contributes a softplus). Compare with the brute-force
#    value.
# 2. For one visible vector, compute KL(q || p) between the mean-field q and the exact posterior
#    p(h1, h2 | v), and check that it equals the gap between the exact log-likelihood and the
#    mean-field bound.
# 3. Scale both weight matrices by 0.3 and repeat the mean-field comparison. How does the
#    largest error of mean field change, and why?
