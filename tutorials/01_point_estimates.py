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
# # 01 — Point and interval estimates: MAP, ML, CM and CM-ML
#
# A posterior distribution is the full answer to an inference question, but we usually want
# to summarise it by a number and an interval. This notebook compares four such numbers on
# models from the workbench catalogue:
#
# * **MAP** — where the posterior density peaks (an optimisation problem);
# * **ML** — where the likelihood peaks, priors ignored;
# * **CM** — the conditional mean E[x | data], an integral, computed here by NUTS;
# * **CM-ML** — the mean of the likelihood after normalising it over the parameter, i.e. the
#   posterior mean under a flat prior. It need not exist.
#
# Intervals are highest-density intervals (HDI): the narrowest region holding a given
# posterior probability.

# %%
import numpy as np

import models
import workbench
from workbench.sizes import run_size

SEED = 1
DRAWS = run_size(1000, quick=300)  # WORKBENCH_QUICK=1 (the test suite) runs fewer
REPLICATES = run_size(40, quick=12)
RUN = {"draws": DRAWS, "tune": DRAWS, "chains": 4, "seed": SEED}

# %% [markdown]
# ## A coin with a Beta prior
#
# With a Beta(a, b) prior and k heads in n tosses the posterior is Beta(a + k, b + n - k),
# so every estimate has a closed form. We check the workbench against them.

# %%
k, n, a, b = 3, 10, 2.0, 2.0
coin = workbench.estimate(models.build("beta-binomial", heads=k, trials=n, a=a, b=b), **RUN)
print(coin.table())

exact = {
    "map": (a + k - 1) / (a + b + n - 2),
    "ml": k / n,
    "cm": (a + k) / (a + b + n),
    "cm_ml": (k + 1) / (n + 2),
}
for method, value in exact.items():
    print(f"{method:>6}: workbench {float(coin.point[method]['p']):.4f}   exact {value:.4f}")
mcse = float(coin.mcse["p"])
assert abs(float(coin.point["cm"]["p"]) - exact["cm"]) < 4 * mcse
assert abs(float(coin.point["map"]["p"]) - exact["map"]) < 1e-6

# %%
coin.plot()

# %% [markdown]
# The ML follows the data alone; the prior pulls the MAP towards 1/2, and the posterior mean
# further, because a right-skewed posterior puts its mean beyond its mode. The flat-prior
# mean (k + 1)/(n + 2) is Laplace's rule of succession.
#
# ## The MAP is not invariant under a change of variables
#
# Write the same model in z = logit(p), with the Beta prior carried over (Jacobian included).
# The posterior of p is unchanged, so its mean is too, and the likelihood's maximiser maps
# across. But the *mode* of a density moves when the variable changes, since the density
# picks up the Jacobian p(1 - p): the mode of z maps back to (a + k)/(a + b + n).

# %%
logit = workbench.estimate(
    models.build("beta-binomial", heads=k, trials=n, a=a, b=b, parametrisation="logit"),
    methods=("map", "ml", "cm"),
    **RUN,
)
print(f"MAP of p, written in p:        {float(coin.point['map']['p']):.4f}")
print(
    f"MAP of z = logit p, mapped back: {float(logit.point['map']['p']):.4f}"
    f"   ((a+k)/(a+b+n) = {(a + k) / (a + b + n):.4f})"
)
print(f"ML in both:  {float(coin.point['ml']['p']):.4f}  {float(logit.point['ml']['p']):.4f}")

# %% [markdown]
# ## Sparsity: Laplace prior, Gaussian noise
#
# With y = x + noise and a Laplace prior on x, the MAP is *soft thresholding*: values with
# |y| below sigma^2 / b become exactly zero. The posterior mean shrinks the same values but
# never to zero: a sparse mode does not mean a sparse posterior.

# %%
denoise = workbench.estimate(models.build("laplace-denoise"), var_names=["x"], **RUN)
y = models.default_data("laplace-denoise")
threshold = 0.5**2 / 0.5
soft = np.sign(y) * np.maximum(np.abs(y) - threshold, 0)
x_map, x_cm = np.ravel(denoise.point["map"]["x"]), np.ravel(denoise.point["cm"]["x"])
print("max |MAP - soft threshold| =", np.abs(x_map - soft).max())
print("MAP zeros:", int((np.abs(x_map) < 1e-4).sum()), " smallest |CM|:", np.abs(x_cm).min())
denoise.plot()

# %% [markdown]
# ## Deconvolution: an ill-posed problem
#
# A step signal blurred by a Gaussian kernel and observed with noise. The blur matrix is
# numerically singular: many signals explain the data equally well, so the likelihood alone
# cannot decide. The ML fit chases the noise, and the flat-prior mean does not exist (the
# workbench says so instead of printing a number). A prior regularises the problem.
#
# With a Gaussian prior the posterior is Gaussian: the MAP and the CM coincide with the
# closed-form Tikhonov solution. With a total-variation prior (Laplace on the increments)
# the MAP is piecewise flat, while the CM averages over many plausible signals and is
# smooth.

# %%
y_blur = models.default_data("deconvolution")
gauss = workbench.estimate(models.build("deconvolution", prior="gaussian"), **RUN, var_names=["x"])
A = models.blur_matrix(y_blur.size, 2.0)
tikhonov = np.linalg.solve(A.T @ A / 0.05**2 + np.eye(y_blur.size), A.T @ y_blur / 0.05**2)
print("max |MAP - Tikhonov| =", np.abs(np.ravel(gauss.point["map"]["x"]) - tikhonov).max())
print(
    "max |CM - Tikhonov| / MCSE =",
    (np.abs(np.ravel(gauss.point["cm"]["x"]) - tikhonov) / np.ravel(gauss.mcse["x"])).max(),
)
print("CM-ML reported:", gauss.point["cm_ml"]["x"] is not None)
print(*gauss.warnings, sep="\n")
gauss.plot()

# %%
tv = workbench.estimate(models.build("deconvolution", prior="tv"), **RUN, var_names=["x"])
print(tv.table(max_components=5))
tv.plot()

# %% [markdown]
# ## When CM-ML does not exist
#
# Three normal observations, unknown mean and sd. Under a flat prior the mean integrates out
# and leaves sigma with density proportional to sigma^-(n-1) exp(-S / 2 sigma^2): for n = 3
# that tail is sigma^-2, which is integrable but has no mean. The draws reveal this through
# their tail index (Pareto k near 1), and the workbench withholds the number.

# %%
few = workbench.estimate(models.build("normal", data=[0.8, 2.9, 1.7]), **RUN)
print(few.table())

# %% [markdown]
# ## Which estimator is best? A risk study
#
# Bayes' answer depends on the loss. Under squared error, averaged over parameters drawn
# from the prior, the posterior mean has the smallest risk. We check it by simulation:
# draw p from the prior, toss the coin 10 times, apply every estimator, and repeat.

# %%
from workbench.bayes.risk import risk_study  # noqa: E402

study = risk_study("beta-binomial", replicates=REPLICATES, seed=SEED, jobs=2, draws=500, chains=2)
print(study.table())
study.plot()

# %% [markdown]
# The paired column (MSE minus the CM's MSE on the same data sets) removes most of the
# simulation noise: over enough replicates (40 by default; the tests run fewer) the MAP,
# ML and CM-ML all pay a positive excess. With 10 tosses the ML is the worst: it ignores
# what the prior knows.
