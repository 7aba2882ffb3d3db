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
# # 05 — An RBM likelihood inside PyMC: MAP, ML and posterior-mean weights
#
# Training an RBM usually means climbing the log-likelihood by stochastic gradients. For a
# small RBM we can do better: its partition function is a sum over $2^{n_h}$ hidden states,
# so the exact log-likelihood is an ordinary PyTensor graph of the weights. Put that graph in
# a PyMC model as a `pm.Potential`, add priors, and the estimators of the workbench give the
# maximum-likelihood weights (ML), the posterior mode (MAP) and the posterior mean (CM), with
# ArviZ diagnostics for the MCMC.
#
# Data: the 2 x 2 bars-and-stripes patterns, each seen five times.

# %%
import warnings

import numpy as np

import workbench
from workbench.data.patterns import bars_stripes
from workbench.energy import RBM, binary_states, rbm_model

patterns = bars_stripes(2)  # 6 distinct patterns of 4 pixels
data = np.repeat(patterns, 5, axis=0)
print(patterns.astype(int))
print("best possible mean log-likelihood:", round(-np.log(len(patterns)), 4))

# %% [markdown]
# ## Symmetries of the RBM likelihood
#
# Two sets of weights give the same likelihood when
#
# * two hidden units swap places (columns of W and entries of b permuted), or
# * one hidden unit is flipped, $h_j \to 1 - h_j$: then $W_{:j} \to -W_{:j}$,
#   $b_j \to -b_j$ and $a \to a + W_{:j}$.
#
# With 2 hidden units every *likelihood* value is taken at $2^2 \cdot 2! = 8$ points. The
# *posterior* is another matter. A swap permutes entries of W and b, and an exchangeable
# prior (the same Normal on every entry) does not see the difference: the 2! permutation
# copies are exact symmetries of the posterior. A flip is not: it moves the visible bias,
# $a \to a + W_{:j}$, and the Normal prior on $a$ gives the moved point a different density.
# So the posterior has 2 exact copies of each mode, plus flipped relatives of different
# heights. Both kinds are a problem for a summary: chains started in different copies
# disagree (R-hat far above 1) although each is fine, and the posterior mean of W averages
# copies with opposite signs towards zero. Check the likelihood first, then the log posterior
# of the PyMC model with Normal(0, 2) priors on everything:

# %%
rng = np.random.default_rng(0)
W, a, b = rng.normal(size=(4, 2)), rng.normal(size=4), rng.normal(size=2)
flipped = W.copy()
flipped[:, 0] *= -1
print(RBM(W, a, b).log_likelihood(data))
print(RBM(flipped, a + W[:, 0], b * [-1, 1]).log_likelihood(data))
print(RBM(W[:, ::-1], a, b[::-1]).log_likelihood(data))

unidentified = rbm_model(data, n_hidden=2, prior_sd=2.0, identified=False)
log_post = unidentified.compile_logp()


def at(W_, a_, b_):
    return float(log_post({"W": W_, "visible_bias": a_, "hidden_bias": b_}))


original = at(W, a, b)
permuted = at(W[:, ::-1], a, b[::-1])
flip = at(flipped, a + W[:, 0], b * [-1, 1])
print(f"log posterior: original {original:.4f}  permuted {permuted:.4f}  flipped {flip:.4f}")
assert abs(permuted - original) < 1e-9 and abs(flip - original) > 1e-3

# %% [markdown]
# `workbench.energy.rbm_model` (by default) writes the hidden biases as
# $b = -\mathrm{cumsum}(g)$ with gaps $g > 0$: negative and decreasing. Each of the 8
# likelihood copies has exactly one member with that property (flip every unit with
# $b_j > 0$, then sort), so the model keeps one point of each likelihood orbit. For the ML
# this loses nothing. For the posterior it is a modelling choice, not a relabelling: the
# permutation copies it removes were exact duplicates, but the flipped relatives it removes
# had different prior weight. Priors: Normal(0, sd 2) on W and a, HalfNormal(sd 2) on the
# gaps. The likelihood graph is `rbm_log_likelihood(data, W, a, b)`, which you can also use in
# models of your own.

# %%
model = rbm_model(data, n_hidden=2, prior_sd=2.0, seed=0)
names = ["W", "visible_bias", "hidden_bias"]
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    result = workbench.estimate(
        model, methods=("map", "ml", "cm"), var_names=names, seed=1, progressbar=False
    )
print(result.table(max_components=14))
print(result.warnings)

# %% [markdown]
# ## Diagnostics with ArviZ
#
# R-hat compares the chains (close to 1 when they agree), bulk and tail ESS count effectively
# independent draws for the centre and the tails. They come from `arviz_stats` through
# `workbench.diagnostics.diagnose`, whose report of the NUTS draws is `result.diagnostics`
# (the same verdict `workbench diagnose posterior.nc` gives):

# %%
for name in names:
    print(
        f"{name:<13} R-hat max {np.max(result.r_hat[name]):.4f}   "
        f"bulk ESS min {np.min(result.ess_bulk[name]):.0f}   "
        f"tail ESS min {np.min(result.ess_tail[name]):.0f}"
    )
print("divergences:", result.diagnostics["divergences"])
print("converged:", result.diagnostics["converged"])

# %% [markdown]
# ## Three estimates, three distributions
#
# Each point estimate is a complete RBM. We compare their exact log-likelihoods and the
# probability they give to the 6 patterns out of the 16 possible images. We add the
# posterior predictive distribution, $p(v \mid \text{data}) = E[p(v \mid \theta)]$ over the
# posterior draws: the Bayesian answer to "what will the next image be", which is not the
# plug-in distribution of the posterior-mean weights.

# %%
states = binary_states(4)
is_pattern = (states[:, None, :] == patterns[None, :, :]).all(axis=2).any(axis=1)


def rbm_at(point):
    return RBM(point["W"], point["visible_bias"], point["hidden_bias"])


post = result.posterior["posterior"]
draws = {n: post[n].values.reshape(-1, *post[n].shape[2:]) for n in names}
every = max(1, len(draws["W"]) // 400)
predictive = np.mean(
    [
        np.exp(rbm_at({n: draws[n][i] for n in names}).log_prob(states))
        for i in range(0, len(draws["W"]), every)
    ],
    axis=0,
)
rows = {m: np.exp(rbm_at(result.point[m]).log_prob(states)) for m in ("ml", "map", "cm")}
rows["predictive"] = predictive
print(f"{'':<11}{'mean log-lik':>13}{'p(patterns)':>13}")
for label, p in rows.items():
    loglik = np.mean(np.log(p[is_pattern]))
    print(f"{label:<11}{loglik:>13.4f}{p[is_pattern].sum():>13.4f}")
assert rows["ml"][is_pattern].sum() >= rows["map"][is_pattern].sum() - 1e-6

# %% [markdown]
# Reading the table:
#
# * **ML** has the highest likelihood, and gets it by running some weights off towards
#   infinity (the workbench warns when a coordinate reaches the edge): the likelihood keeps
#   rising as units saturate, so the maximum is approached rather than attained. For the same
#   reason the likelihood is not integrable over the weights, and the flat-prior mean
#   (CM-ML) does not exist: we did not ask for it.
# * **MAP** keeps the weights finite: the Normal prior is a weight-decay penalty.
# * **CM** averages the weights over the posterior, and here most of them average to almost
#   zero. The hidden-unit symmetries are gone, but the *data* have symmetries of their own:
#   the bars-and-stripes set is unchanged when the grid is transposed (pixels 1 and 2 swap)
#   or every pixel is inverted, so the posterior has several equally good modes that are
#   genuinely different RBMs, and the chains visit them (R-hat stays near 1 because every
#   chain sees all of them). The mean of weights from different modes is a poor RBM: its
#   plug-in distribution is close to uniform.
# * The **posterior predictive** averages distributions instead of weights. It is the
#   prediction that minimises the expected log loss under the model, and differs from the
#   plug-in CM because p(v | W) is not linear in W.

# %% [markdown]
# ## Exercises
#
# Solutions: `tutorials/solutions/05_rbm_in_pymc.py`.
#
# 1. Write the change in the log prior caused by flipping hidden unit j, with Normal(0, sd²)
#    priors on all parameters, as a formula in a and W_{:j}. Check it against
#    `compile_logp()` of the unidentified model.
# 2. Which prior on the visible bias would make the flip an exact symmetry of the posterior?
#    Check your answer numerically.
