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
# A step signal blurred by a Gaussian kernel and observed with noise. The 40 x 40 blur matrix
# A has full rank, but a condition number near 1e8, and the normal-equation matrix AᵀA, whose
# inverse is the flat-prior posterior covariance (times the noise variance), is worse still:
# near 1e16, the limit of double precision. The flat-prior mean *exists* (it is the
# least-squares solution, A⁻¹y) but its posterior sd along the weakest direction is noise sd /
# smallest singular value, millions of times the signal: useless, and numerically
# unreliable. The workbench withholds it and says why. A prior regularises the problem.
#
# With a Gaussian prior the posterior is Gaussian: the MAP and the CM coincide with the
# closed-form Tikhonov solution. With a total-variation prior (Laplace on the increments)
# the MAP is piecewise flat, while the CM averages over many plausible signals and is
# smooth.

# %%
y_blur = models.default_data("deconvolution")
gauss = workbench.estimate(models.build("deconvolution", prior="gaussian"), **RUN, var_names=["x"])
A = models.blur_matrix(y_blur.size, 2.0)
singular = np.linalg.svd(A, compute_uv=False)
print(f"rank of A {np.linalg.matrix_rank(A)} of {A.shape[1]}; condition number of A "
      f"{np.linalg.cond(A):.1e}, of AᵀA {np.linalg.cond(A.T @ A):.1e}")  # fmt: skip
least_squares = np.linalg.solve(A, y_blur)  # the flat-prior mean: it exists
print(f"flat-prior mean: largest |x| {np.abs(least_squares).max():.1e}; posterior sd along "
      f"the weakest direction {0.05 / singular.min():.1e} (the signal is of order 1)")  # fmt: skip
assert np.linalg.matrix_rank(A) == A.shape[1] and 0.05 / singular.min() > 1e5
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
# Three normal observations, unknown mean mu and sd sigma, and a prior flat in (mu, sigma). The
# likelihood is proportional to sigma^-n exp(-(S + n (mu - ybar)²) / 2 sigma²), with S the sum
# of squares about the sample mean ybar. Integrating out one parameter at a time:
#
# * **sigma:** integrating mu out leaves sigma^-(n-1) exp(-S / 2 sigma²). For n = 3 the tail
#   is sigma^-2, integrable but with no mean.
# * **mu:** integrating sigma out leaves (S + n (mu - ybar)²)^-(n-1)/2, which for n = 3 is
#   (S + 3 (mu - ybar)²)^-1: a Cauchy density centred at ybar with scale sqrt(S / 3). A Cauchy
#   has no mean either.
#
# So neither component has a CM-ML. The flat-prior chains show it: they disagree with each
# other (R-hat above the bound), or their tail index (Pareto k) comes out near 1, and the
# workbench withholds both numbers and prints which check failed. Below, the Cauchy marginal
# of mu is checked by numerical integration, and the quantiles of the flat-prior draws are
# printed beside the Cauchy's.

# %%
from scipy import stats  # noqa: E402
from scipy.integrate import quad  # noqa: E402

y_few = np.array([0.8, 2.9, 1.7])
few = workbench.estimate(models.build("normal", data=y_few), **RUN)
print(few.table())
cm_ml = few.point["cm_ml"] or {}
print("CM-ML of mu:", cm_ml.get("mu"), "  CM-ML of sigma:", cm_ml.get("sigma"))
S = ((y_few - y_few.mean()) ** 2).sum()


def likelihood(mu, sigma):
    return np.prod(stats.norm.pdf(y_few, mu, sigma))


# Integrate sigma out numerically at a few mu: the ratio to the Cauchy shape must be constant.
grid = np.array([-20.0, -3.0, 0.0, 1.8, 4.0, 50.0])
marginal_mu = np.array([quad(lambda s_, m=m: likelihood(m, s_), 0, np.inf)[0] for m in grid])
ratio = marginal_mu * (S + 3 * (grid - y_few.mean()) ** 2)
print("marginal(mu) x (S + 3 (mu - ybar)^2) at mu =", grid, ":", ratio.round(6))
assert np.allclose(ratio, ratio[0], rtol=1e-6)
# The flat-prior draws of mu against that Cauchy (heavy tails: the draws are rough, the
# chains disagree, and the quantiles agree only roughly).
cauchy = stats.cauchy(loc=y_few.mean(), scale=np.sqrt(S / 3))
flat_mu = np.ravel(few.flat_posterior["posterior"]["mu"].values)
levels = np.array([0.1, 0.25, 0.5, 0.75, 0.9])
print("quantile        ", levels)
print("flat-prior draws", np.quantile(flat_mu, levels).round(2))
print("Cauchy          ", cauchy.ppf(levels).round(2))

# %% [markdown]
# ## Which estimator is best? A risk study
#
# Bayes' answer depends on the loss. Under squared error, averaged over parameters drawn
# from the prior, the posterior mean has the smallest risk (the *Bayes risk*). For the coin
# every estimator is a formula in k, so the Bayes risk is an exact finite sum. Given k, the
# posterior is Beta(a + k, b + n - k), and an estimate d(k) has expected squared error
# Var(p | k) + (d(k) - E[p | k])². Averaging that over the prior predictive of k, the
# beta-binomial P(k) = C(n, k) B(a + k, b + n - k) / B(a, b), gives the Bayes risk.
#
# Note that with a = b = 2 the MAP, (a + k - 1)/(a + b + n - 2), *is* (k + 1)/(n + 2), the
# CM-ML: two names, one estimator.

# %%
from scipy.special import betaln, comb  # noqa: E402

ks = np.arange(n + 1)
p_k = comb(n, ks) * np.exp(betaln(a + ks, b + n - ks) - betaln(a, b))  # prior predictive
post_mean = (a + ks) / (a + b + n)
post_var = post_mean * (1 - post_mean) / (a + b + n + 1)
rules = {
    "cm": post_mean,
    "map": (a + ks - 1) / (a + b + n - 2),
    "cm_ml": (ks + 1) / (n + 2),
    "ml": ks / n,
}
exact_risk = {m: float((p_k * (post_var + (d - post_mean) ** 2)).sum()) for m, d in rules.items()}
assert abs(p_k.sum() - 1) < 1e-12 and np.allclose(rules["map"], rules["cm_ml"])
assert min(exact_risk, key=exact_risk.get) == "cm"

# %% [markdown]
# Because the estimators are formulas, a simulation of many replicates costs nothing: draw p
# from the prior, toss the coin, apply every formula. The paired column (squared error minus
# the CM's on the same data set) removes most of the simulation noise. Its Monte Carlo
# standard error says how many replicates are needed to resolve an excess: the MAP's excess
# over the CM is about 0.001.

# %%
FORMULA_REPLICATES = run_size(400_000, quick=100_000)
rng = np.random.default_rng(SEED)
p_true = rng.beta(a, b, FORMULA_REPLICATES)
k_sim = rng.binomial(n, p_true)
squared = {m: (d[k_sim] - p_true) ** 2 for m, d in rules.items()}
print(f"{'':>6} {'exact risk':>11} {'simulated':>10} {'excess (exact)':>15} {'paired excess':>14}")
for m in rules:
    diff = squared[m] - squared["cm"]
    print(
        f"{m:>6} {exact_risk[m]:11.5f} {squared[m].mean():10.5f} "
        f"{exact_risk[m] - exact_risk['cm']:15.5f} "
        f"{diff.mean():9.5f} ± {diff.std(ddof=1) / np.sqrt(len(diff)):.5f}"
    )
    mcse = squared[m].std(ddof=1) / np.sqrt(FORMULA_REPLICATES)
    assert abs(squared[m].mean() - exact_risk[m]) < 5 * mcse

# %% [markdown]
# The workbench's `risk_study` does the same with any catalogue model, running the full
# estimators (NUTS for the CM, optimisation for the MAP and ML) on each replicate. That costs
# seconds per replicate, so it runs few of them. Compare its paired excess and MCSE with the
# exact excesses above. With 40 replicates (quick mode runs fewer) the Monte Carlo error of a
# paired excess is of order 0.001 to 0.003: the ML's excess of about 0.006 can be resolved,
# the MAP's 0.001 cannot (it would take a few hundred: exercise 3). The last lines say which
# excess this run resolves.
#
# The replicates run on Dask, here in a local cluster of two worker processes (`n_workers`;
# `scheduler="tcp://HOST:PORT"` sends them to a running cluster instead). The local workers
# are started with "spawn", so each re-imports the main module. Under Jupyter that is
# harmless; run as a script (`python tutorials/01_point_estimates.py`) the workers would re-run
# this whole file, every NUTS run above included. A script would normally put its work under
# `if __name__ == "__main__":`; this notebook instead runs the replicates in its own process
# when it is a script.

# %%
import __main__  # noqa: E402
from workbench.bayes.risk import risk_study  # noqa: E402

WORKERS = 1 if hasattr(__main__, "__file__") else 2  # a script has a file; a Jupyter kernel not
study = risk_study(
    "beta-binomial", replicates=REPLICATES, seed=SEED, n_workers=WORKERS, draws=500, chains=2
)
print(study.table())
summary = study.summary()
for m in ("map", "cm_ml", "ml"):
    excess, mcse = summary[m]["excess_over_cm"], summary[m]["excess_mcse"]
    resolved = "resolved" if excess - 2 * mcse > 0 else "not resolved"
    print(f"{m:>6}: paired excess {excess:.5f} ± {mcse:.5f}  exact "
          f"{exact_risk[m] - exact_risk['cm']:.5f}  ({resolved} at 2 MCSE)")  # fmt: skip
study.plot()

# %% [markdown]
# With 10 tosses the ML is the worst: it ignores what the prior knows. The CM beats the MAP
# (= CM-ML) by a margin the exact sums show at once and a simulation of full estimators
# needs a few hundred replicates to see. The study's MAP and CM-ML rows differ although the
# two are one estimator: the MAP is found by optimisation, the CM-ML is a mean of flat-prior
# NUTS draws, and the difference is that Monte Carlo error.

# %% [markdown]
# ## Approximations beside NUTS: Laplace, ADVI, Pathfinder
#
# Sampling is the reference, but cheaper answers exist. Each of these fits a Gaussian `q` to
# the posterior on PyMC's unconstrained scale (`logit p` for a probability, `log tau` for a
# scale), for the density that includes the log-Jacobian of that change of variables, as
# Stan does; its draws are then mapped back to the parameters.
#
# * **Laplace**: centred at the mode of that density, with covariance minus the inverse
#   Hessian there. (Its centre is not the MAP above, which leaves the Jacobian out.)
# * **ADVI**: the Gaussian maximising the evidence lower bound, with a diagonal (mean-field)
#   or dense (full-rank) covariance, found by stochastic optimisation (`pm.fit`).
# * **Pathfinder**: follows the L-BFGS path towards the mode and keeps the Gaussian, built
#   from the optimiser's own curvature estimate, with the best lower bound.
#
# How do we know whether `q` is any good without running NUTS? Draw from `q` and look at the
# ratios p(x) / q(x): where `q` is too thin, a few draws get enormous ratios. The Pareto
# k-hat fitted to the largest ratios (Yao et al. 2018) measures that tail; above 0.7 the
# approximation is reported as unreliable. The coin's posterior is Beta(5, 9), mean 5/14.

# %%
APPROX = ("laplace", "pathfinder") + run_size(("advi", "fullrank_advi"), quick=())
coin_q = workbench.estimate(models.build("beta-binomial"), methods=("cm", *APPROX), **RUN)
print(coin_q.table())
print("exact posterior mean 5/14 =", round(5 / 14, 4))

# %% [markdown]
# The k-hats stay below 0.7: on the logit scale this posterior is close to Gaussian, and the
# approximations' means sit within about 0.01 of the exact 5/14. They are not exact: a
# Gaussian on `logit p` mapped back is skewed slightly differently from the Beta. ADVI and
# full-rank ADVI run at full size only (their compilation is slow); the tests skip them.
#
# ## A MAP that does not exist
#
# Eight schools (Rubin 1981): each school's coaching effect `theta_j ~ N(mu, tau)`, observed
# with a known standard error. Written this way ("centred"), the joint density of
# `(mu, tau, theta)` grows like `tau^-8` as `tau -> 0` with every `theta_j = mu`: there is no
# maximum. Every optimiser start climbs into that corner; the workbench checks whether the
# density keeps rising there and reports "no MAP" instead of the point where it stopped.
# Written non-centred (`theta = mu + tau * theta_raw`) the density is bounded and the MAP is
# complete pooling: `tau` at zero, every school at the same effect.

# %%
centred = workbench.estimate(models.build("eight-schools"), methods=("map",), seed=SEED)
print(centred.table(max_components=2))
non_centred = workbench.estimate(
    models.build("eight-schools", parametrisation="non-centred"), methods=("map",), seed=SEED
)
print(non_centred.table(max_components=2))
print({k: centred.to_dict()["diagnostics"]["map"][k] for k in ("starts", "agree", "exists")})

# %% [markdown]
# ## When no Gaussian fits: the k-hat says so
#
# Neal's funnel: `v ~ N(0, 3)` and `x_i ~ N(0, exp(v / 2))`. The spread of `x` changes by
# orders of magnitude along `v`. The Laplace centre lies deep in the narrow neck, and any
# single Gaussian misses either the neck or the wide mouth; the k-hats are far above 0.7.

# %%
funnel = workbench.estimate(models.build("funnel"), methods=APPROX, seed=SEED)
print(funnel.table(max_components=1))

# %% [markdown]
# ## Exercises
#
# Solutions: `tutorials/solutions/01_point_estimates.py`.
#
# 1. With a uniform prior (a = b = 1), which of the four estimators coincide? Predict the
#    ranking of their exact Bayes risks for n = 10, then compute it with the sum over k.
# 2. For which Beta(a, b) priors is the MAP the same estimator as the CM-ML, (k + 1)/(n + 2)?
#    Prove it from the formulas, then check numerically on a grid of (a, b).
# 3. The paired standard deviation of (MAP − CM) squared errors per replicate sets the
#    number of replicates needed to resolve the MAP's excess of about 0.001 at 2 Monte Carlo
#    standard errors. Estimate that number from the formula simulation.
