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
# # 03 — Probabilistic PCA and factor analysis
#
# A linear factor model explains d observed numbers by q < d hidden ones:
#
# * draw the latent code h ~ N(0, I_q);
# * map it linearly and shift it, W h + b (W is d x q);
# * add independent Gaussian noise e, with one variance s² for every feature (probabilistic
#   PCA) or a variance ψ_i per feature (factor analysis).
#
# Integrating h out leaves a Gaussian, x ~ N(b, W Wᵀ + noise covariance): a covariance of
# "low rank plus diagonal". This notebook fits it by maximum likelihood (closed form and EM),
# then as a Bayesian model with PyMC, looks at why W itself is not identifiable and how to fix
# that, and finally chooses q.

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from workbench.data import linear_factor_data
from workbench.linear import PPCA, FactorAnalysis, canonical_loadings
from workbench.linear.bayesian import ppca_model, rhat_max
from workbench.linear.plots import plot_choose_q
from workbench.linear.selection import choose_q
from workbench.sizes import run_size

warnings.filterwarnings("ignore", category=UserWarning)
SEED = 3

# %% [markdown]
# ## The generative story, checked
#
# `linear_factor_data` samples from a known model and returns the truth with the draws. With
# many draws the sample covariance should approach W Wᵀ + s² I.

# %%
data = linear_factor_data(20000, 6, 2, seed=SEED)
sample_cov = np.cov(data.X, rowvar=False)
print("largest |sample covariance - (W W^T + s^2 I)|:",
      np.abs(sample_cov - data.covariance).max().round(3))  # fmt: skip
print("true noise variance:", data.noise_variance[0])

# %% [markdown]
# ## Maximum likelihood: closed form and EM
#
# Tipping and Bishop showed that the likelihood is maximised by the eigen-decomposition of the
# sample covariance S (divided by n): the noise variance is the mean of the d - q eigenvalues
# left out, and W = U_q (Λ_q - s² I)^½ up to a rotation. EM climbs to the same point. Its
# E-step computes, for each x, the posterior moments of the latent code: with
# M = WᵀW + s² I_q, the mean E[h | x] = M⁻¹ Wᵀ (x - b) *and* the second moment
# E[h hᵀ | x] = s² M⁻¹ + E[h | x] E[h | x]ᵀ, which carries the posterior covariance s² M⁻¹.
# The M-step is then W = (Σ (x - b) E[h | x]ᵀ)(Σ E[h hᵀ | x])⁻¹. Dropping the covariance
# (plugging E[h | x] in as if it were h) is a different algorithm, and a biased one.
# A hand-written EM shows both: (this notebook writes N(mean, covariance) throughout, and
# s² is a variance.)


# %%
def hand_em(X, q, full_second_moment, n_iter=300, seed=SEED):
    """PPCA by EM in a few lines: returns W (d, q), s² and the bias b."""
    n, d = X.shape
    b = X.mean(axis=0)
    Xc = X - b
    W, s2 = np.random.default_rng(seed).normal(size=(d, q)), 1.0
    for _ in range(n_iter):
        M_inv = np.linalg.inv(W.T @ W + s2 * np.eye(q))
        Eh = Xc @ W @ M_inv  # rows: E[h | x]
        Ehh = Eh.T @ Eh + (n * s2 * M_inv if full_second_moment else 0)  # sum of E[h hᵀ | x]
        W = Xc.T @ Eh @ np.linalg.inv(Ehh)
        s2 = (np.sum(Xc**2) - 2 * np.sum(Eh * (Xc @ W)) + np.trace(Ehh @ W.T @ W)) / (n * d)
    return W, s2, b


def mean_log_lik(X, W, s2, b):
    return stats.multivariate_normal(b, W @ W.T + s2 * np.eye(len(b))).logpdf(X).mean()


closed = PPCA(2).fit(data.X)
for label, full in (("EM with E[h hᵀ | x]", True), ("E[h | x] plugged in", False)):
    W_em, s2_em, b_em = hand_em(data.X, 2, full)
    print(f"{label:<20} log-lik {mean_log_lik(data.X, W_em, s2_em, b_em):.5f}  s^2 {s2_em:.4f}")
    if full:
        assert abs(mean_log_lik(data.X, W_em, s2_em, b_em) - closed.log_likelihood_) < 1e-3
    else:
        assert mean_log_lik(data.X, W_em, s2_em, b_em) < closed.log_likelihood_ - 0.1
em = PPCA(2, method="em", tol=1e-10, random_state=SEED).fit(data.X)
print(f"closed form: log-lik {closed.log_likelihood_:.6f}  s^2 {closed.noise_variance_:.5f}")
print(f"EM:          log-lik {em.log_likelihood_:.6f}  s^2 {em.noise_variance_:.5f}"
      f"  ({em.n_iter_} iterations)")  # fmt: skip
WWt = closed.components_.T @ closed.components_
print("max |W W^T (closed) - W W^T (EM)|:",
      np.abs(WWt - em.components_.T @ em.components_).max())  # fmt: skip
assert abs(closed.log_likelihood_ - em.log_likelihood_) < 1e-6

fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(em.loglike_, label="EM")
ax.axhline(closed.log_likelihood_, color="tab:red", ls="--", label="closed form")
ax.set_xscale("log")
ax.set_xlabel("EM iteration")
ax.set_ylabel("mean log-likelihood")
ax.set_ylim(closed.log_likelihood_ - 1, closed.log_likelihood_ + 0.1)
ax.legend()
plt.show()

# %% [markdown]
# The W matrices themselves differ: EM's W is the closed form's W times some orthogonal
# matrix. Both give the same W Wᵀ, hence the same likelihood.

# %%
print("closed-form W:\n", closed.components_.T.round(3))
print("EM W:\n", em.components_.T.round(3))

# %% [markdown]
# ## Bayesian PPCA and the rotation problem
#
# Put a Normal prior on every entry of W and sample with NUTS. Because W and W R (R orthogonal)
# give the same likelihood *and* the same isotropic prior density, the posterior is smeared over
# a circle of rotations (q = 2): each chain drifts around it, and different chains sit at
# different angles. R-hat for the entries of W exceeds the 1.01 threshold, while W Wᵀ and s²,
# which do not depend on the rotation, are fine. The scatter of the first row of W shows the
# ring: its radius is fixed by the data, its angle is not.

# %%
small = linear_factor_data(150, 4, 2, seed=11)
from workbench.bayes.sampling import NutsRunner  # noqa: E402

DRAWS = run_size(400, quick=200)  # WORKBENCH_QUICK=1 (the test suite) runs fewer
RUN = {"draws": DRAWS, "tune": DRAWS, "chains": 4, "seed": SEED, "progressbar": False}
free = NutsRunner(ppca_model(small.X, 2, constrain=False))(**RUN)
print("unconstrained W: max R-hat of W       ", round(rhat_max(free, ["W"]), 3))
print("                 max R-hat of W W^T, s", round(rhat_max(free, ["WWt", "sigma"]), 3))

fig, ax = plt.subplots(figsize=(4, 4))
for chain in free["posterior"]["W"].values[:, :, 0, :]:
    ax.plot(chain[:, 0], chain[:, 1], ".", ms=2, alpha=0.5)
ax.set_xlabel("W[0, 0]")
ax.set_ylabel("W[0, 1]")
ax.set_aspect("equal")
ax.set_title("free W: draws of the first row, per chain")
plt.show()

# %% [markdown]
# The fix: make W lower-triangular with a positive diagonal. Every W whose leading q x q block
# (its first q rows) is non-singular can be rotated into that form (the QR decomposition of
# Wᵀ), and the form is then unique, so each orbit of equivalent W is represented once.
# `ppca_model(..., constrain=True)` is the default. The condition matters: if the first q rows
# are linearly dependent, a zero lands on the diagonal and rotations that keep the triangle
# remain. An example with a zero first row, where every rotation of the two columns keeps W
# lower-triangular:

# %%
degenerate = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 2.0], [1.0, 1.0]])
angle = 0.7
rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
rotated = degenerate @ rotation
print("rotated W:\n", rotated.round(3))
print("upper triangle zero:", np.allclose(np.triu(rotated, 1), 0),
      "  same W Wᵀ:", np.allclose(rotated @ rotated.T, degenerate @ degenerate.T))  # fmt: skip
assert np.allclose(np.triu(rotated, 1), 0) and not np.allclose(rotated, degenerate)
print("leading block of the true W, det:", np.linalg.det(small.W[:2]).round(3))

# %%
fixed = NutsRunner(ppca_model(small.X, 2))(**RUN)
print("lower-triangular W: max R-hat over W, b, s:", round(rhat_max(fixed, ["W", "b", "sigma"]), 4))

fig, axes = plt.subplots(1, 2, figsize=(9, 3), sharey=True)
for ax, tree, title in ((axes[0], free, "W[0, 0], free W"),
                        (axes[1], fixed, "W[0, 0], lower-triangular W")):  # fmt: skip
    for chain in tree["posterior"]["W"].values[:, :, 0, 0]:
        ax.plot(chain, lw=0.6)
    ax.set_title(title)
    ax.set_xlabel("draw")
plt.show()

# %% [markdown]
# The constrained posterior mean of W can now be compared with the truth written in the same
# canonical form, and W Wᵀ with the ML estimate.

# %%
post = fixed["posterior"]
print("posterior mean W:\n", post["W"].values.mean(axis=(0, 1)).round(2))
print("true W (canonical form):\n", canonical_loadings(small.W).round(2))
ml = PPCA(2).fit(small.X)
print("s^2: posterior mean", float(post["noise_variance"].values.mean().round(4)),
      " ML", round(ml.noise_variance_, 4), " truth", small.noise_variance[0])  # fmt: skip

# %% [markdown]
# ## Choosing q
#
# Two answers: fit ML PPCA for each q and score held-out data (the curve rises until q reaches
# the true dimension, then flattens), or fit Bayesian PCA once with many columns and an ARD
# prior (one precision per column of W, re-estimated), which switches off the columns the data
# do not need.

# %%
truth = linear_factor_data(5000, 12, 4, seed=SEED)
selection = choose_q(truth.X[:3000], truth.X[3000:], range(1, 10), ard_max=11, true_q=4,
                     seed=SEED)  # fmt: skip
print("held-out choice:", selection["best_q"], " ARD:", selection["ard_dimension"])
plot_choose_q(selection)  # a Figure: the cell's last value, so Jupyter shows it

# %% [markdown]
# ## Factor analysis: a noise level per feature
#
# When features are noisy to different degrees, PPCA's single s² is a compromise and the extra
# variance of the noisiest features leaks into W. Factor analysis estimates each ψ_i. Varimax
# then rotates the loadings so that each factor loads strongly on few features (the
# likelihood does not change).

# %%
hetero = linear_factor_data(5000, 8, 2, noise="diagonal", seed=SEED)
fa = FactorAnalysis(2, random_state=SEED).fit(hetero.X)
pp = PPCA(2).fit(hetero.X)
print("true noise variances:", hetero.noise_variance.round(3))
print("FA estimates:        ", fa.noise_variance_.round(3))
print("PPCA's single s^2:    ", round(pp.noise_variance_, 3))
print(f"mean log-lik: FA {fa.score(hetero.X):.4f}  PPCA {pp.score(hetero.X):.4f}")
rotated = FactorAnalysis(2, rotation="varimax", random_state=SEED).fit(hetero.X)
print("varimax loadings:\n", rotated.components_.T.round(2))
assert abs(rotated.score(hetero.X) - fa.score(hetero.X)) < 1e-9

# %% [markdown]
# ## Exercises
#
# Solutions: `tutorials/solutions/03_ppca_factor_analysis.py`.
#
# 1. Derive E[h | x] and Cov[h | x] for PPCA from the joint Gaussian of (h, x), and check the
#    formulas M⁻¹Wᵀ(x − b) and s²M⁻¹ against a direct numerical conditioning.
# 2. Build a 4 x 2 loading matrix with no zero row whose leading 2 x 2 block is singular
#    (the first two rows proportional). Show that the lower-triangular form is not unique.
# 3. Run the hand-written EM with the E[h]-only M-step from the closed-form solution. Does it
#    stay there? Predict from the update formula first.
