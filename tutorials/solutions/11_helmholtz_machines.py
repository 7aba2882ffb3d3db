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
# # Solutions to the exercises of tutorial 11

# %%
import itertools

import numpy as np
from scipy.special import expit, logsumexp

from workbench.nn import SigmoidBeliefNet

# %% [markdown]
# **1.** For a factorial q, KL(p || q) = -H(p) - sum_i E_p[log q_i(h_i)], and each term of the
# sum involves only p's marginal of h_i, so each q_i is fitted to that marginal on its own: the
# minimum is the product of the marginals. The explaining-away posterior of the tutorial:

# %%
H = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
G = np.array([10.0, 10.0])
log_joint = H @ np.log([0.1, 0.1]) + (1 - H) @ np.log([0.9, 0.9]) + np.log(expit(-5.0 + H @ G))
posterior = np.exp(log_joint - logsumexp(log_joint))


def factorial(q):
    return np.prod(np.where(H == 1, q, 1 - q), axis=1)


def kl(a, b):
    return float(np.sum(a * (np.log(a) - np.log(b))))


marginals = posterior @ H  # p(h_i = 1 | v)
grid = np.linspace(0.005, 0.995, 199)
best = min(itertools.product(grid, grid), key=lambda q: kl(posterior, factorial(np.array(q))))
print(
    f"posterior marginals {np.round(marginals, 3)}, grid minimiser of KL(p || q) "
    f"{np.round(best, 3)}"
)
assert np.allclose(best, marginals, atol=0.005)

# %% [markdown]
# **2.** p(v) = sum_h p(h) p(v | h), with p(h) a product of coins and p(v | h) a product of
# sigmoids; in logs, a logsumexp over the eight codes.

# %%
rng = np.random.default_rng(0)
G1, c_h, c_v = rng.normal(0, 1.5, (3, 4)), rng.normal(0, 1, 3), rng.normal(0, 1, 4)
net = SigmoidBeliefNet.from_weights([G1], [c_h, c_v], random_state=0)
codes = np.array(list(itertools.product((0.0, 1.0), repeat=3)))
visibles = np.array(list(itertools.product((0.0, 1.0), repeat=4)))


def log_bernoulli(x, logits):  # log p(x) for x in {0, 1} with p(1) = sigmoid(logits)
    return x * logits - np.logaddexp(0, logits)


log_prior = log_bernoulli(codes, c_h).sum(1)  # (8,)
logits = c_v + codes @ G1  # (8, 4)
log_lik = log_bernoulli(visibles[:, None, :], logits[None]).sum(2)  # (16, 8)
by_hand = logsumexp(log_prior + log_lik, axis=1)
exact = net.log_likelihood(visibles, method="exact")
print(
    f"largest difference {np.abs(by_hand - exact).max():.1e}; "
    f"total probability {np.exp(logsumexp(exact)):.6f}"
)
assert np.allclose(by_hand, exact, atol=1e-4)

# %% [markdown]
# **3.** The estimate is the log of an average of K weights w, and E[log mean w] <= log E[w] =
# log p(v) (Jensen): on average it sits below the truth, by KL(q || p(h | v)) for a single
# draw. The estimator needs K >= 2 (for its standard error); with K = 2 the bias is plain,
# with K = 1000 the log of the average weight is nearly unbiased. Averaged over 60 runs:

# %%
runs = np.array([[net.log_likelihood(visibles, method="importance", n_samples=k,
                                     random_state=r).mean() for k in (2, 1000)]
                 for r in range(60)])  # fmt: skip
bias = runs.mean(0) - exact.mean()
se = runs.std(0, ddof=1) / np.sqrt(len(runs))
print(f"K = 2: bias {bias[0]:.3f} +- {se[0]:.3f};  K = 1000: bias {bias[1]:.4f} +- {se[1]:.4f}")
assert bias[0] < -5 * se[0] and abs(bias[1]) < max(5 * se[1], 0.01)
