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
# # 07 — Deep belief nets: stacking RBMs
#
# A deep belief net is trained one layer at a time. The first RBM models the data; its hidden
# probabilities p(h | v) become the "data" of a second RBM, and so on. The result is a hybrid
# generative model: an RBM on top, directed sigmoid layers beneath it.
#
# Stacking *can* improve a variational lower bound on the log-likelihood of the data. Hinton,
# Osindero and Teh (2006) proved that it does not decrease it when two conditions hold:
#
# 1. the new layer starts at the transposed weights of the layer below (the two-layer model
#    then equals the one-layer RBM, and the bound equals its log-likelihood), and
# 2. it is trained by exact maximum likelihood on samples of p(h | v) of the data.
#
# The stack below is trained by contrastive divergence on probabilities, from a random start:
# neither condition holds, so nothing is guaranteed. The last section computes the bound
# exactly on a small model, both ways.

# %%
import numpy as np
import torch
from scipy.special import expit, log_expit, logsumexp
from sklearn.linear_model import LogisticRegression

from workbench.data import load_dataset
from workbench.energy import binary_states
from workbench.nn import DBN
from workbench.nn.rbm.plots import plot_images
from workbench.sizes import run_size

SEED = 0
torch.set_num_threads(1)  # small models: one thread is as fast and immune to a busy machine
train = load_dataset("digits", split="train", binarize=True)
test = load_dataset("digits", split="test", binarize=True)
dbn = DBN((64, 32), n_epochs=10, rbm_params={"batch_size": 20, "learning_rate": 0.05},
          random_state=SEED, verbose=False).fit(train.X)  # fmt: skip
[rbm.n_hidden for rbm in dbn.rbms_]

# %% [markdown]
# ## Sampling from the top down
#
# A long Gibbs run in the top RBM gives a sample of the top hidden layer; one pass down through
# p(v | h) of each lower RBM turns it into a digit.

# %%
plot_images(dbn.sample(24, n_steps=1000, random_state=SEED), (8, 8), title="DBN samples")

# %% [markdown]
# ## Features and fine-tuning
#
# The deterministic up-pass gives features. Used as they are, a logistic regression on the
# top-layer features classifies digits; fine-tuning the whole stack with back-propagation (the
# RBM weights initialise a sigmoid network, a softmax layer is added) does better.

# %%
features = LogisticRegression(max_iter=2000).fit(dbn.transform(train.X), train.y)
print("logistic regression on DBN features:", features.score(dbn.transform(test.X), test.y))
raw = LogisticRegression(max_iter=2000).fit(train.X, train.y)
print("logistic regression on the pixels:   ", raw.score(test.X, test.y))
dbn.fine_tune(train.X, train.y, n_epochs=30, learning_rate=1e-2, random_state=SEED)
print("fine-tuned DBN:                      ", dbn.score(test.X, test.y))

# %% [markdown]
# ## The variational bound, exactly
#
# For a two-layer DBN with first-layer RBM (W₁, a₁, b₁) and a top RBM over h, the bound is,
# for each data vector v,
#
# log p(v) ≥ Σ_h q(h | v) [log p_top(h) + log p(v | h) − log q(h | v)],
#
# with q(h | v) the first RBM's posterior. With the first RBM's own prior over h in place of
# p_top, the bound equals that RBM's log-likelihood; a better model of the *aggregate
# posterior* Q(h) = mean over the data of q(h | v) raises it. On 3x3 bars and stripes with 6
# hidden units every sum has 2⁶ terms, so nothing is estimated.

# %%
bars = load_dataset("bars-stripes-3")
V = bars.X.astype(float)
STACK_EPOCHS = run_size(1000, quick=300)
H = binary_states(6)


def params(rbm):
    return [x.astype(float) for x in (rbm.weights_, rbm.visible_bias_, rbm.hidden_bias_)]


def top_log_prob(U, c, d):
    """log p(h) of the top RBM (visible h: bias c; weights U; hidden bias d), every h."""
    log_p = H @ c + np.logaddexp(0, H @ U + d).sum(axis=1)
    return log_p - logsumexp(log_p)


def posterior(W1, b1):
    """q(h | v) for every h (rows) and data vector v (columns)."""
    q_on = expit(V @ W1 + b1)
    return np.exp(H @ np.log(q_on).T + (1 - H) @ np.log1p(-q_on).T)


def bound(first, top):
    W1, a1, b1 = first
    q = posterior(W1, b1)
    vis = H @ W1.T + a1
    log_pv = log_expit(vis) @ V.T + log_expit(-vis) @ (1 - V).T  # log p(v | h)
    return float(np.mean((q * (top_log_prob(*top)[:, None] + log_pv - np.log(q))).sum(axis=0)))


stack_params = {"batch_size": 14, "learning_rate": 0.1, "method": "pcd"}
stack = DBN((6, 9), n_epochs=STACK_EPOCHS, rbm_params=stack_params, random_state=SEED,
            verbose=False).fit(V)  # fmt: skip
first = params(stack.rbms_[0])
log_lik = float(stack.rbms_[0].to_energy().log_likelihood(V))
W1, a1, b1 = first
hot = [W1.T.copy(), b1.copy(), a1.copy()]  # condition 1: the transposed weights
print(f"first RBM, exact mean log-likelihood:       {log_lik:.4f}")
print(f"bound, top layer at the transposed weights: {bound(first, hot):.4f}")
assert abs(bound(first, hot) - log_lik) < 1e-6

# Condition 2: exact maximum likelihood of the aggregate posterior, by exact gradient ascent
# (the expectation over p(h | v) is an exact sum here rather than samples).
Q = posterior(W1, b1).mean(axis=1)


def moments(weights, U, c, d):
    Hh = expit(H @ U + d)
    return [H.T @ (weights[:, None] * Hh), weights @ H, weights @ Hh]


trace = [bound(first, hot)]
for _ in range(300):
    model_weights = np.exp(top_log_prob(*hot))
    hot = [p + 0.2 * (dq - dm) for p, dq, dm in
           zip(hot, moments(Q, *hot), moments(model_weights, *hot), strict=True)]  # fmt: skip
    trace.append(bound(first, hot))
print(f"bound after exact ML of the top layer:      {trace[-1]:.4f}")
pcd_bound = bound(first, params(stack.rbms_[1]))
side = "above" if pcd_bound > log_lik else "below"
print(f"bound with the stack's own PCD top layer:   {pcd_bound:.4f} ({side} the log-likelihood)")
assert trace[-1] >= trace[0] - 1e-9

# %% [markdown]
# The exact-ML top layer raises the bound from the first RBM's log-likelihood, as the theorem
# promises. The PCD-trained top layer of the stack, started at random weights and trained on
# probabilities, has no such promise, and it can land on either side: with the full training
# (1,000 epochs per layer) it raises the bound above the first RBM's log-likelihood, with the
# quick setting (300 epochs) it lowers it. The printed line says which happened in this run.

# %% [markdown]
# ## Exercises
#
# Solutions: `tutorials/solutions/07_deep_belief_nets.py`.
#
# 1. Show by enumeration that a top RBM with the transposed weights (and the two biases
#    swapped) has the first RBM's distribution of h as its visible marginal.
# 2. Find a top layer that makes the bound *worse* than the first RBM's log-likelihood (try
#    an untrained one with small random weights). Why can that not happen under the two
#    conditions?
