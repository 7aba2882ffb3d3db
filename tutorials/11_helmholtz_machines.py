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
# # 11 — Helmholtz machines: wake-sleep and its reweighted form
#
# A sigmoid belief net is a directed model of binary units. Its top layer is a row of
# independent coins, p(h_top = 1) = sigmoid(c_top); every layer below is drawn given the
# layer above, p(h_below = 1 | h) = sigmoid(c + h G), down to the visible units. Sampling is
# one pass from the top. Learning is hard for the opposite reason: to fit the weights to a
# data vector v we need the posterior p(h | v), and "explaining away" makes it a coupled,
# intractable distribution even though the prior is factorial.
#
# A Helmholtz machine adds a second, bottom-up network, the *recognition net*
# q(h | v), that proposes codes for v. Wake-sleep (Hinton, Dayan, Frey and Neal, 1995)
# trains the two nets in turn:
#
# - **wake**: pass real data up through q, then nudge the generative weights so that they
#   predict each layer of that code from the layer above (a local delta rule);
# - **sleep**: let the generative net dream a fantasy (h, v) from the top, then nudge the
#   recognition weights so that they recover the dreamt h from the dreamt v.
#
# Both updates are closed-form delta rules; no back-propagation is needed. This tutorial
# trains such nets on the 14 bars-and-stripes patterns of a 3 x 3 grid, where every quantity
# can be computed exactly by enumeration and set beside its estimate.

# %%
import numpy as np
import torch
from scipy.special import expit, logsumexp

from workbench.data import load_dataset
from workbench.nn import SigmoidBeliefNet
from workbench.nn.runtime import set_process_threads
from workbench.nn.sbn import kernels
from workbench.nn.sbn.plots import plot_training
from workbench.sizes import run_size

SEED = 0
set_process_threads(1)  # small models: one thread is as fast and immune to a busy machine
X = load_dataset("bars-stripes-3").X
floor = -np.log(len(X))  # the best any model can do: 1/14 on each pattern
print(f"{len(X)} patterns of {X.shape[1]} pixels; best mean log-likelihood {floor:.3f} nats")

# %% [markdown]
# ## Wake-sleep against reweighted wake-sleep
#
# Plain wake-sleep draws one code per data vector. Reweighted wake-sleep (Bornschein and
# Bengio, 2015) draws K codes, weighs each by w = p(v, h) / q(h | v), normalises the weights
# over the K codes, and updates the generative net with the weighted average of the wake
# gradients. The recognition net then learns both from the dreams (sleep) and from the
# weighted codes of real data (a "wake" update for q). The training loss the loop reports is
# minus the mean of log (1/K) sum_k w_k, a stochastic lower bound on log p(v) that tightens
# as K grows (K = 1 for plain wake-sleep).

# %%
EPOCHS = run_size(3000, 300)
settings = dict(layers=(10,), n_epochs=EPOCHS, batch_size=14, learning_rate=0.2,
                monitor_every=max(1, EPOCHS // 30), random_state=SEED, verbose=False)  # fmt: skip
nets = {
    "wake-sleep": SigmoidBeliefNet(method="wake-sleep", **settings).fit(X),
    "reweighted, K = 10": SigmoidBeliefNet(method="reweighted", n_importance=10, **settings).fit(
        X
    ),  # fmt: skip
}
for name, net in nets.items():
    print(f"{name:<20} exact mean log p(v) = {net.score(X):.3f} nats (floor {floor:.3f})")
plot_training({name: net.history_ for name, net in nets.items()}, optimum=floor)

# %% [markdown]
# The exact curve is the mean of log p(v) over the 14 patterns, summed over all 2^10 codes.
# The reweighted run climbs faster per epoch: its generative update follows a tighter bound,
# and its recognition net also sees real data.

# %% [markdown]
# ## The exact log-likelihood beside the importance estimate
#
# For nets too large to enumerate, log p(v) is estimated by importance sampling with the
# recognition net as the proposal: log of the mean of K weights w_k. By Jensen's inequality
# its expectation lies below log p(v); the gap shrinks as K grows, and the delta-method
# standard error says how far the estimate may be from its own mean.

# %%
net = nets["reweighted, K = 10"]
exact = net.log_likelihood(X).mean()
print(f"exact mean log p(v): {exact:.4f}")
print(f"{'K':>6} {'one run':>9} {'its s.e.':>9} {'mean bias over 50 runs':>24}")
for K in (2, 10, 100, 1000):
    runs = []
    for rep in range(50):
        value, se = net.log_likelihood(X, "importance", n_samples=K, return_se=True,
                                       random_state=rep)  # fmt: skip
        runs.append(value.mean() - exact)
        if rep == 0:
            one, one_se = value.mean(), np.sqrt(np.sum(se**2)) / len(se)
    bias, bias_se = np.mean(runs), np.std(runs, ddof=1) / np.sqrt(len(runs))
    print(f"{K:>6} {one:>9.4f} {one_se:>9.4f} {bias:>15.4f} +- {bias_se:.4f}")

# %% [markdown]
# One run can land above the exact value (its standard error says by how much), but averaged
# over runs the estimate sits below it, by a bias that shrinks roughly as 1/K: the estimate is
# a lower bound in expectation, and consistent.

# %% [markdown]
# ## What the sleep phase gets wrong
#
# The sleep phase fits q to samples of the generative model, so it minimises KL(p || q)
# averaged over dreams: it asks q to cover everything p(h | v) does. A variational method
# (and the bound the wake phase climbs) wants the reverse, KL(q || p), which asks q to put
# mass only where p(h | v) has it. With a factorial q the two disagree whenever the posterior
# is not factorial: then KL(p || q) is minimised by the product of p's marginals, which
# averages the modes.
#
# Explaining away shows it with two rare causes and one effect: each cause is on with prior
# probability 0.1, and the effect is almost surely on when either cause is on. Given the
# effect, the posterior puts nearly all its mass on "exactly one cause", split between the
# two. Below, the generative net is fixed and only the recognition net is trained, by the
# sleep phase alone, with the kernel functions the estimator uses.

# %%
G = np.array([[10.0], [10.0]])  # (2 causes, 1 effect)
explaining = SigmoidBeliefNet.from_weights([G], [np.log([1 / 9, 1 / 9]), [-5.0]],
                                           random_state=SEED)  # fmt: skip
state, gen = explaining._state, torch.Generator().manual_seed(SEED)
for _ in range(run_size(2000, 500)):  # sleep phase only: dreams (h, v), fit q(h | v)
    dreams = kernels.down(state, 200, gen)
    grads = kernels.recognition_gradients(state, dreams, torch.full((200,), 1 / 200))
    for p, g in zip(state["rec_W"] + state["rec_b"], grads[0] + grads[1], strict=True):
        p.add_(g, alpha=0.5)

H = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
log_joint = (H @ np.log([0.1, 0.1]) + (1 - H) @ np.log([0.9, 0.9])
             + np.log(expit(-5.0 + H @ G[:, 0])))  # v = 1  # fmt: skip
posterior = np.exp(log_joint - logsumexp(log_joint))


def factorial(q):
    """Probabilities of the four codes under independent units with p(h_i = 1) = q_i."""
    return np.prod(np.where(H == 1, q, 1 - q), axis=1)


def kl(a, b):
    return float(np.sum(a * (np.log(a) - np.log(b))))


q_sleep = factorial(explaining.transform(np.ones((1, 1)))[0])
grid = np.linspace(0.001, 0.999, 999)
best = min(((q1, q2) for q1 in grid[::10] for q2 in grid[::10]),
           key=lambda q: kl(factorial(np.array(q)), posterior))  # fmt: skip
q_mode = factorial(np.array(best))
print("code h:                        00     01     10     11")
for name, probs in [("posterior p(h | v = 1)", posterior), ("sleep-trained q", q_sleep),
                    ("best q for KL(q || p)", q_mode)]:  # fmt: skip
    print(f"{name:<24}" + "".join(f"{x:7.3f}" for x in probs))
for name, probs in [("sleep-trained q", q_sleep), ("best q for KL(q || p)", q_mode)]:
    print(
        f"{name:<24} KL(q || p) = {kl(probs, posterior):.3f}   "
        f"KL(p || q) = {kl(posterior, probs):.3f}"
    )

# %% [markdown]
# The sleep-trained recognition net learns the marginals, about one half for each cause, and
# so puts a quarter of its mass on "no cause" and a quarter on "both causes", codes the
# posterior all but rules out. As a proposal for importance sampling that is wasteful but
# safe (it covers both modes). As the code the wake phase trains the generative net on, it is
# biased: the wake phase then teaches the generative net to explain data with codes the model
# itself finds implausible. The q that minimises KL(q || p) instead commits to one mode.
# Reweighting repairs much of the damage: the importance weights send almost all the credit
# to the codes that do explain v, so the generative update sees the posterior, not q.

# %% [markdown]
# ## Exercises
#
# Solutions: `tutorials/solutions/11_helmholtz_machines.py`.
#
# 1. Over factorial distributions q, show that KL(p || q) is smallest when q is the product of
#    the marginals of p. Check it on the explaining-away posterior above by a grid search.
# 2. Build a net with `SigmoidBeliefNet.from_weights` (three hidden units, four visible units,
#    random weights) and compute log p(v) for all 16 visible vectors by summing over the eight
#    hidden codes yourself. Compare with `log_likelihood(..., method="exact")`.
# 3. With the same net and the recognition net left at zero (q(h | v) = 1/2 per unit), average
#    the importance estimate with K = 2 and K = 1000 over many runs. Which one is biased, and
#    in which direction?
