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
# # Solutions to the exercises of tutorial 13

# %%
import numpy as np

from workbench.data import load_dataset
from workbench.data.ising import ising_exact
from workbench.energy import Hopfield, binary_states

rng = np.random.default_rng(13)
L, T = 3, 2.5
states = binary_states(L * L)

# %% [markdown]
# **1.** xᵀ(J + cI)x / 2 = xᵀJx / 2 + c Σ x_i² / 2 = xᵀJx / 2 + c Σ x_i / 2 on {0, 1}. The
# extra term is cancelled by adding −c/2 to every bias, so the energy, and p(x), are unchanged.

# %%
A = rng.normal(size=(6, 6))
J, bias, c = (A + A.T) / 2, rng.normal(size=6), 3.7
x6 = binary_states(6)
before = Hopfield(J, bias).log_prob(x6)
after = Hopfield(J + c * np.eye(6), bias - c / 2).log_prob(x6)
print(np.abs(before - after).max())
assert np.allclose(before, after)

# %% [markdown]
# **2.** The plug-in entropy of an empirical distribution is biased *down* (states not seen
# contribute nothing, and log is concave), by roughly (number of states with mass − 1)/(2N)
# for large N. So expect H(500 test) < H(2,500 train) < H(exact).


# %%
def entropy(p):
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def empirical(X):
    idx = (X @ (2 ** np.arange(L * L - 1, -1, -1))).astype(int)
    return np.bincount(idx, minlength=len(states)) / len(X)


exact = entropy(ising_exact(L, T)[1])
train = entropy(empirical(load_dataset(f"ising-{L}-{T}").X))
test = entropy(empirical(load_dataset(f"ising-{L}-{T}", split="test").X))
print(f"H exact {exact:.3f}   train (2,500) {train:.3f}   test (500) {test:.3f}")
assert test < train < exact

# %% [markdown]
# **3.** A uniform prior on β = 1/τ has density proportional to 1/τ² in τ: it favours low
# temperatures, so the posterior mean of τ moves down, slightly, since 2,500 configurations
# make the likelihood much narrower than either prior.

# %%
X = load_dataset(f"ising-{L}-{T}").X
idx = (X @ (2 ** np.arange(L * L - 1, -1, -1))).astype(int)
K = np.zeros((L * L, L * L))
for site in range(L * L):
    i, j = divmod(site, L)
    for ni, nj in ((i, (j + 1) % L), ((i + 1) % L, j)):
        K[site, ni * L + nj] += 1
        K[ni * L + nj, site] += 1
grid = np.linspace(1.5, 5.0, 701)
log_lik = np.array(
    [Hopfield(4 * K / t, -2 * K.sum(1) / t).log_prob(states)[idx].sum() for t in grid]
)
means = {}
priors = {"uniform in τ": np.zeros_like(grid), "uniform in β": -2 * np.log(grid)}
for label, log_prior in priors.items():
    w = np.exp(log_lik + log_prior - np.max(log_lik + log_prior))
    means[label] = float(np.sum(grid * w) / np.sum(w))
    print(f"{label}: posterior mean of τ {means[label]:.4f}")
assert means["uniform in β"] < means["uniform in τ"]

# %% [markdown]
# **4.** The tutorial's PCD loop, shortened, with the settings changed one at a time. A larger
# learning rate lets β jump further than the particles can follow, and the noisy gradient it
# multiplies makes the final β scatter more; fewer particles make each gradient noisier. Here
# the two changes hurt about equally: each widens the scatter of τ several times, while the
# average stays near the exact ML temperature.

# %%
spins = 2 * states - 1
e_states = -0.5 * np.einsum("si,ij,sj->s", spins, K, spins)
data_term = -np.mean(e_states[idx])
log_lik_best = grid[np.argmax(log_lik)]


def pcd(learning_rate, n_particles, n_updates=150, seed=0):
    beta = 0.1
    rng = np.random.default_rng(seed)
    particles = rng.integers(0, 2, size=(n_particles, L * L)).astype(float)
    trace = []
    for update in range(n_updates):
        rbm = Hopfield(4 * K * beta, -2 * K.sum(1) * beta).to_rbm()
        particles, _ = rbm.sample(n_particles, n_steps=1, v0=particles, seed=seed + update)
        pidx = (particles @ (2 ** np.arange(L * L - 1, -1, -1))).astype(int)
        beta += learning_rate * (data_term + np.mean(e_states[pidx]))
        trace.append(1 / beta)
    return np.array(trace[-50:])  # the last 50 updates


scatter = {}
for lr, n in ((0.02, 2000), (0.2, 2000), (0.02, 50)):
    tail = pcd(lr, n)
    scatter[lr, n] = tail.std()
    print(
        f"learning rate {lr:<5} particles {n:5d}: τ over the last 50 updates "
        f"{tail.mean():.3f} ± {tail.std():.3f} (exact ML {log_lik_best:.3f})"
    )
assert scatter[0.2, 2000] > 2 * scatter[0.02, 2000] < scatter[0.02, 50]
