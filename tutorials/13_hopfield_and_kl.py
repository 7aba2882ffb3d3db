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
# # 13 — From Hopfield to RBMs, KL = maximum likelihood, and fantasy particles
#
# Three ideas that tie the energy-based tutorials (04–07) together, on data from the 2-D Ising
# model, small enough (3 x 3 spins, 512 states) that every sum is exact:
#
# 1. A Hopfield network (all-to-all couplings between binary units) *is* the visible marginal
#    of an RBM with Gaussian hidden units: the Hubbard–Stratonovich identity.
# 2. Minimising KL(data ‖ model) over the parameters is maximising the likelihood: the two
#    differ by the entropy of the data, which the parameters do not touch. The likelihood
#    also gives the evidence of the model.
# 3. Persistent "fantasy particles" are a Markov chain whose target moves while it runs:
#    persistent contrastive divergence (PCD) seen from the sampler's side.

# %%
import matplotlib.pyplot as plt
import numpy as np
from scipy.special import logsumexp

from workbench.data import load_dataset
from workbench.data.ising import ising_exact
from workbench.energy import Hopfield, binary_states
from workbench.sizes import run_size

SEED = 13
L, T = 3, 2.5
data = load_dataset(f"ising-{L}-{T}")
X = data.X
states = binary_states(L * L)
print(X.shape, "configurations of", L * L, "spins; mean spin", X.mean().round(3))

# %% [markdown]
# ## The Ising model is a Hopfield network
#
# With spins s = 2x − 1 and K the bond matrix of the periodic lattice (K_ij = number of bonds
# between sites i and j), the Ising energy over T is −sᵀKs / (2T). Written in x ∈ {0, 1} it
# becomes the Hopfield energy −bias·x − xᵀJx / 2 with J = 4K/T and bias = −2K1/T, plus a
# constant that cancels in p(x). We check it against the exact Ising distribution.

# %%
K = np.zeros((L * L, L * L))
for site in range(L * L):
    i, j = divmod(site, L)
    for ni, nj in ((i, (j + 1) % L), ((i + 1) % L, j)):  # right and down neighbours
        K[site, ni * L + nj] += 1
        K[ni * L + nj, site] += 1


def ising_hopfield(temperature):
    return Hopfield(4 * K / temperature, -2 * K.sum(axis=1) / temperature)


hopfield = ising_hopfield(T)
exact_states, exact_p = ising_exact(L, T)
assert np.array_equal(exact_states, states)
print("max |log p_Hopfield - log p_Ising| =",
      np.abs(hopfield.log_prob(states) - np.log(exact_p)).max())  # fmt: skip
assert np.allclose(hopfield.log_prob(states), np.log(exact_p))

# %% [markdown]
# ## Hubbard–Stratonovich: the same distribution from an RBM with Gaussian hidden units
#
# For any vector u, ∫ exp(−|h|²/2 + h·u) dh = (2π)^{m/2} exp(|u|²/2). Choose W with
# WWᵀ = J (after adding c·I to make J positive semi-definite; on {0, 1}, x_i² = x_i, so the
# shift only moves the bias by −c/2) and put u = Wᵀx: integrating h out of an RBM with
# Gaussian hidden units (sd 1, no bias) and weights W leaves exp(xᵀJx / 2), the Hopfield
# couplings. `Hopfield.to_rbm()` builds that RBM; its visible marginal, summed over the 512
# states, must equal the Hopfield distribution exactly.

# %%
rbm = hopfield.to_rbm()
print(f"RBM: {rbm.n_visible} Bernoulli visible, {rbm.n_hidden} Gaussian hidden units")
gap = np.abs(rbm.log_prob(states) - hopfield.log_prob(states)).max()
print("max |log p_RBM(x) - log p_Hopfield(x)| over all states:", gap)
assert gap < 1e-8

# %% [markdown]
# The RBM turns all-to-all couplings into a bipartite graph: given x, the hidden units are
# independent normals, and given h, the visible units are independent bits. That is what makes
# block Gibbs sampling possible, and we use it below.
#
# ## KL(data ‖ model) and the log-likelihood
#
# Let p̂ be the empirical distribution of the training configurations and p_θ a model. Then
#
# KL(p̂ ‖ p_θ) = Σ_x p̂(x) log p̂(x) − Σ_x p̂(x) log p_θ(x) = −H(p̂) − ℓ(θ),
#
# with ℓ(θ) the mean log-likelihood of the data. H(p̂) does not depend on θ, so minimising the
# KL and maximising ℓ are the same problem. Check on the family of Ising models at
# temperature τ, scanning τ: the two curves are mirror images, shifted by exactly H(p̂).

# %%
counts = (X @ (2 ** np.arange(L * L - 1, -1, -1))).astype(int)  # state index, site 0 first
p_hat = np.bincount(counts, minlength=len(states)) / len(X)
assert np.allclose(states[counts], X)
seen = p_hat > 0
entropy = -np.sum(p_hat[seen] * np.log(p_hat[seen]))
taus = np.linspace(1.5, 5.0, 36)
loglik, kl = [], []
for tau in taus:
    log_p = ising_hopfield(tau).log_prob(states)
    loglik.append(np.mean(log_p[counts]))
    kl.append(np.sum(p_hat[seen] * (np.log(p_hat[seen]) - log_p[seen])))
loglik, kl = np.array(loglik), np.array(kl)
print(f"data entropy H = {entropy:.4f} nats")
print("max |KL + loglik + H| over the scan:", np.abs(kl + loglik + entropy).max())
assert np.allclose(kl, -entropy - loglik, atol=1e-10)
best = taus[np.argmax(loglik)]
print(f"ML temperature {best:.2f} (data generated at T = {T}); KL minimised at "
      f"{taus[np.argmin(kl)]:.2f}")  # fmt: skip
assert taus[np.argmin(kl)] == best and abs(best - T) < 0.5

fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(taus, kl, label="KL(data ‖ model)")
ax.plot(taus, -loglik, "--", label="− mean log-likelihood")
ax.axhline(entropy, color="grey", lw=0.8, label="data entropy H")
ax.axvline(T, color="k", lw=0.5)
ax.set_xlabel("model temperature τ")
ax.set_ylabel("nats")
ax.legend()
plt.show()

# %% [markdown]
# ## The evidence
#
# With a prior on the parameter, the likelihood of the whole data set, integrated over the
# prior, is the *evidence* p(D) = ∫ p(D | τ) p(τ) dτ. On one parameter it is a 1-D
# integral; take a uniform prior on τ in [1.5, 5] and sum on a fine grid. The evidence is
# what Bayes compares models by; the posterior over τ is likelihood × prior / evidence.

# %%
grid = np.linspace(1.5, 5.0, 701)
log_lik_total = np.array([len(X) * np.mean(ising_hopfield(t).log_prob(states)[counts])
                          for t in grid])  # fmt: skip
log_prior = -np.log(grid[-1] - grid[0])
step = grid[1] - grid[0]
log_evidence = logsumexp(log_lik_total + log_prior) + np.log(step)
posterior = np.exp(log_lik_total + log_prior - log_evidence)
print(f"log evidence {log_evidence:.2f} nats for {len(X)} configurations")
print(
    f"posterior of τ: mean {np.sum(grid * posterior) * step:.3f}, "
    f"sd {np.sqrt(np.sum((grid - np.sum(grid * posterior) * step) ** 2 * posterior) * step):.3f}"
)
assert abs(np.sum(posterior) * step - 1) < 1e-6

# %% [markdown]
# ## Fantasy particles: a Markov chain with a moving target
#
# Maximum likelihood by gradient ascent needs the model's expectation of the sufficient
# statistic, here the energy at τ = 1, e(x) = −sᵀKs / 2: with inverse temperature β = 1/τ,
# d ℓ / d β = ⟨−e⟩_data − ⟨−e⟩_model. Persistent contrastive divergence estimates the model
# term from "fantasy particles": chains that are never restarted. After each parameter update,
# each particle takes one block Gibbs sweep (x → h → x, through the Gaussian-hidden RBM of the
# current model), so the particles form one long Markov chain whose stationary distribution
# moves slowly with the parameters. With the parameters frozen it is an ordinary MCMC run;
# the first check is that it then samples the exact distribution.

# %%
N_PARTICLES = run_size(2000, quick=500)
spins = 2 * states - 1
e_states = -0.5 * np.einsum("si,ij,sj->s", spins, K, spins)  # energy at τ = 1, every state
rng = np.random.default_rng(SEED)
frozen, _ = rbm.sample(N_PARTICLES, n_steps=50, seed=SEED)
frozen_idx = (frozen @ (2 ** np.arange(L * L - 1, -1, -1))).astype(int)
chain_p = np.bincount(frozen_idx, minlength=len(states)) / N_PARTICLES
print("frozen model: mean energy, particles", round(e_states[frozen_idx].mean(), 3),
      " exact", round(np.sum(exact_p * e_states), 3))  # fmt: skip
# With a few thousand draws over 512 states the total variation is mostly sampling noise: the
# yardstick is the same number of independent exact draws.
iid = np.bincount(rng.choice(len(states), N_PARTICLES, p=exact_p), minlength=len(states))
tv_chain = 0.5 * np.abs(chain_p - exact_p).sum()
tv_iid = 0.5 * np.abs(iid / N_PARTICLES - exact_p).sum()
print(f"total variation from the exact distribution: particles {tv_chain:.3f}, "
      f"{N_PARTICLES} exact draws {tv_iid:.3f}")  # fmt: skip
assert tv_chain < 1.5 * tv_iid
se = e_states[frozen_idx].std() / np.sqrt(N_PARTICLES)
assert abs(e_states[frozen_idx].mean() - np.sum(exact_p * e_states)) < 5 * se

# %% [markdown]
# Now learn β from the data by PCD, starting far from the truth (β = 0.1, τ = 10). The
# particles carry over from one update to the next; the exact gradient, available here, is
# printed beside the particle estimate.

# %%
N_UPDATES = run_size(300, quick=150)
beta = 0.1
particles = rng.integers(0, 2, size=(N_PARTICLES, L * L)).astype(float)
data_term = -np.mean(e_states[counts])
history = []
for update in range(N_UPDATES):
    model = ising_hopfield(1 / beta).to_rbm()
    particles, _ = model.sample(N_PARTICLES, n_steps=1, v0=particles, seed=SEED + update)
    idx = (particles @ (2 ** np.arange(L * L - 1, -1, -1))).astype(int)
    pcd_gradient = data_term + np.mean(e_states[idx])
    exact_model = np.exp(ising_hopfield(1 / beta).log_prob(states))
    exact_gradient = data_term + np.sum(exact_model * e_states)
    history.append((beta, pcd_gradient, exact_gradient))
    beta += 0.02 * pcd_gradient
history = np.array(history)
print(f"PCD estimate of τ: {1 / beta:.3f};  exact ML on the scan above: {best:.2f}")
assert abs(1 / beta - best) < 0.25

fig, axes = plt.subplots(1, 2, figsize=(10, 3))
axes[0].plot(1 / history[:, 0])
axes[0].axhline(best, color="k", lw=0.5)
axes[0].set_xlabel("update")
axes[0].set_ylabel("τ = 1/β")
axes[1].plot(history[:, 1], lw=0.6, label="fantasy-particle estimate")
axes[1].plot(history[:, 2], label="exact gradient")
axes[1].set_xlabel("update")
axes[1].set_ylabel("d ℓ / d β")
axes[1].legend()
plt.show()

# %% [markdown]
# Early on, the particles lag behind the model (they were drawn from an older, hotter one) and
# the estimated gradient is biased; as the learning rate lets the parameters settle, the chain
# catches up and the estimate scatters around the exact gradient, which goes to zero at the
# ML temperature. Too large a learning rate and the target outruns the chain: the "mixing
# rate versus learning rate" trade-off of PCD.
#
# ## Exercises
#
# 1. Show by hand that on {0, 1} adding c·I to J and −c/2 to every bias leaves p(x)
#    unchanged. Then check it with `Hopfield` on random J.
# 2. Compute the entropy H(p) of the exact Ising distribution at T = 2.5 and compare it with
#    H(p̂) of the 2,500 training configurations and of the 500 test ones
#    (`load_dataset(..., split="test")`). Predict the order first: is the empirical entropy
#    biased up or down, and does the bias shrink with more data?
# 3. Replace the uniform prior on τ by a uniform prior on β = 1/τ over the same range.
#    Predict, then compute, how the posterior mean of τ moves.
# 4. Run PCD with a learning rate of 0.2 instead of 0.02 and with 50 particles instead of
#    2000. Which change hurts the final estimate more, and why?
