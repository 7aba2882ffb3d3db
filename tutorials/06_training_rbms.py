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
# # 06 — Training restricted Boltzmann machines: CD-k, persistent CD and their diagnostics
#
# An RBM with binary visible units v and binary hidden units h assigns
# p(v) = exp(-F(v)) / Z with the free energy F(v) = -a.v - sum_j softplus(b_j + (vW)_j).
# The gradient of log p(v) with respect to W is the data correlation <v h> minus the same
# correlation under the model. The model term needs samples from the RBM itself, so every
# training method is really a choice of *sampler*:
#
# * **CD-k** restarts a short Gibbs chain at each data vector and runs k sweeps — cheap, but
#   biased: the chain never gets far from the data;
# * **PCD-k** keeps "fantasy" chains alive across parameter updates, so they can wander the
#   whole model distribution while the parameters change slowly.
#
# On a model small enough to enumerate, we can watch the exact log-likelihood while training.

# %%
import numpy as np
import torch

from workbench.data import load_dataset
from workbench.nn.rbm.model import RBM
from workbench.nn.rbm.plots import (
    plot_filters,
    plot_image_rows,
    plot_images,
    plot_learning_curves,
)
from workbench.sizes import run_size

SEED = 0
torch.set_num_threads(1)  # small models: one thread is as fast and immune to a busy machine
bars = load_dataset("bars-stripes-3")
print(bars.X.shape, "patterns; the best possible mean log-likelihood is", -np.log(14))
plot_images(bars.X, (3, 3), ncols=14)

# %% [markdown]
# ## CD-1, CD-10 and PCD-1 compared by exact log-likelihood
#
# 9 visible units: the partition function is a sum over 2^9 visible vectors, so the monitor
# reports the exact mean log-likelihood. Same data, seed, learning rate and number of updates.

# %%
N_EPOCHS = run_size(4000, quick=1000)  # WORKBENCH_QUICK=1 (the test suite) trains less
common = dict(learning_rate=0.1, n_epochs=N_EPOCHS, batch_size=14, momentum=0.5, n_chains=100,
              lr_schedule="cosine", weight_decay=0.0, monitor_every=100, random_state=SEED,
              verbose=False)  # fmt: skip
runs = {
    "CD-1": RBM(16, method="cd", k=1, **common).fit(bars.X),
    "CD-10": RBM(16, method="cd", k=10, **common).fit(bars.X),
    "PCD-1": RBM(16, method="pcd", k=1, **common).fit(bars.X),
}
for name, rbm in runs.items():
    print(f"{name:6s} exact mean log-likelihood {rbm.history_[-1]['log_likelihood_exact']:.3f}")
plot_learning_curves({k: v.history_ for k, v in runs.items()}, optimum=-np.log(14))

# %% [markdown]
# CD-k's negative samples stay near the data, so it is slow to remove probability from
# spurious patterns far from every training vector; longer chains (CD-10) cost ten times as
# much per update. Persistent chains travel at the cost of CD-1. The reconstruction error is
# small for all of them: it measures how well one Gibbs sweep returns to the data, not the
# likelihood, and is a poor guide to which model is better.
#
# ## The negative phase is a sampler: diagnose it
#
# The persistent chains are an MCMC run on a slowly moving target. The monitor records the
# free energy of every fantasy chain after each update and computes ArviZ's R-hat and
# effective sample size across chains over the last updates. Large R-hat means the chains
# disagree: they sit in different modes and the gradient's negative term is unreliable.

# %%
pcd = runs["PCD-1"]
for record in pcd.history_[::5]:
    print(f"epoch {record['epoch']:5d}  R-hat {record['chain_rhat']:.3f}  "
          f"ESS {record['chain_ess']:.0f} of {100 * record['chain_draws']}")  # fmt: skip

# %% [markdown]
# The learned distribution has 14 sharp modes separated by low-probability regions; chains
# that stick in different modes give an R-hat above 1 (1.01 is the usual alarm threshold) and
# an ESS far below the number of draws. Parallel tempering (`n_temperatures`) runs extra
# chains at higher temperatures, which cross between modes more easily, and swaps states
# between neighbouring temperatures:

# %%
tempered = RBM(16, method="pcd", n_temperatures=4, **common).fit(bars.X)
last = tempered.history_[-1]
print(
    f"PT, 4 temperatures: log-likelihood {last['log_likelihood_exact']:.3f}, "
    f"swap rate {last['swap_rate']:.2f}, R-hat {last['chain_rhat']:.3f}"
)

# %% [markdown]
# Compare the R-hat of the tempered run with that of plain PCD above: the hot chains carry
# states between modes, so the cold chains agree better with each other.
#
# ## Sampling, denoising, inpainting and filters on handwritten digits
#
# Scikit-learn's 8x8 digits, binarised. 64 hidden units are too many to enumerate, so the
# monitor reports the pseudo-log-likelihood and the free-energy gap between held-out and
# training digits (it grows when the model starts to overfit).

# %%
train = load_dataset("digits", split="train", binarize=True)
test = load_dataset("digits", split="test", binarize=True)
digits_rbm = RBM(64, method="pcd", learning_rate=0.05, n_epochs=15, batch_size=20,
                 lr_schedule="linear", random_state=SEED, verbose=False)  # fmt: skip
digits_rbm.fit(train.X, X_val=test.X)
plot_learning_curves(digits_rbm.history_)

# %% [markdown]
# Log-likelihood of held-out digits by annealed importance sampling (AIS): log Z is estimated
# by annealing from a model with no weights, with a standard error from the spread of the
# importance weights. Forward AIS estimates Z without bias, so its log Z is low on average,
# and the held-out log-likelihood, mean(-F(v)) - log Z, is therefore *optimistic* on average:
# read it as an upper estimate. Reverse AIS errs the other way when it starts from exact
# model draws; here it starts from long Gibbs chains (64 hidden units are too many to draw
# exactly), so its end of the bracket is approximate.

# %%
free_energy_test = np.mean(-digits_rbm.free_energy(test.X))
log_z = digits_rbm.log_partition("ais", n_runs=100, n_betas=1000, random_state=SEED)
log_z_reverse = digits_rbm.log_partition("reverse_ais", n_runs=100, n_betas=1000,
                                         random_state=SEED)  # fmt: skip
print(f"held-out log-likelihood, forward AIS (optimistic on average): "
      f"{free_energy_test - log_z.value:.2f} +- {log_z.se:.2f} nats per digit")  # fmt: skip
print(f"held-out log-likelihood, reverse AIS (pessimistic on average): "
      f"{free_energy_test - log_z_reverse.value:.2f} +- {log_z_reverse.se:.2f}")  # fmt: skip

# %% [markdown]
# The direction of the forward bias shows when the anneal is shortened: with fewer
# intermediate temperatures the importance weights scatter more and log Z comes out lower, so
# the log-likelihood comes out higher. The careful run above has the same bias, only smaller.

# %%
for n_betas in (3, 30, 1000):
    est = digits_rbm.log_partition("ais", n_runs=100, n_betas=n_betas, random_state=SEED)
    print(
        f"forward AIS with {n_betas:4d} temperatures: log Z {est.value:8.2f} +- {est.se:.2f}"
        f"   held-out log-likelihood {free_energy_test - est.value:8.2f}"
    )
    if n_betas == 3:
        crude = est.value
assert crude < log_z.value

# %% [markdown]
# Samples are long Gibbs runs from random bit patterns. Denoising starts Gibbs sweeps at a
# corrupted digit; inpainting clamps the observed pixels and samples the rest.

# %%
plot_images(digits_rbm.sample(24, n_steps=1000, random_state=SEED), (8, 8), title="samples")

# %%
rng = np.random.default_rng(SEED)
X = test.X[:8]
noisy = np.abs(X - (rng.random(X.shape) < 0.1))
observed = np.ones_like(X, dtype=bool)
observed[:, 32:] = False  # the bottom half is missing
plot_image_rows({
    "digit": X,
    "10% flipped": noisy,
    "denoised": digits_rbm.denoise(noisy, n_steps=10, random_state=SEED),
    "top half": np.where(observed, X, 0.5),
    "inpainted": digits_rbm.inpaint(X, observed, random_state=SEED),
}, (8, 8))  # fmt: skip

# %% [markdown]
# Each hidden unit's weights, drawn as an image, show what it detects: strokes and blobs of
# the digits (red: this pixel on makes the unit likelier to turn on; blue: less likely).

# %%
plot_filters(digits_rbm.weights_, (8, 8), n_filters=32)

# %% [markdown]
# ## Exercises
#
# Solutions: `tutorials/solutions/06_training_rbms.py`.
#
# 1. The monitor on the digits reports the pseudo-log-likelihood, Σ_i log p(v_i | v_−i). On an
#    RBM small enough to enumerate, compare it with the exact log-likelihood. Which is larger,
#    and is that always so?
# 2. The forward-AIS log-likelihood is optimistic on average. On a random RBM with an exact
#    log Z, measure the average optimism for 3, 30 and 300 temperatures.
