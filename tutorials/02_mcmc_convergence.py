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
# # 02 — MCMC convergence: R-hat, ESS, MCSE, divergences and calibration
#
# A Markov chain Monte Carlo sampler gives draws that are *eventually* from the posterior and
# *correlated* with each other. Before trusting an average of them we need to know two things:
#
# 1. **Have the chains forgotten where they started?** Run several chains from scattered
#    starting points; if they explore the same distribution, their draws look alike. The
#    **R-hat** statistic compares the spread between chains with the spread within them
#    (after splitting each chain in half and replacing values by their ranks, so that heavy
#    tails and trends also show). Near 1 means agreement; the workbench asks for R-hat < 1.01.
# 2. **How much information do the draws hold?** Correlated draws are worth fewer independent
#    ones. The **effective sample size** (ESS) is that number: *bulk* ESS for the centre of the
#    distribution (means, medians), *tail* ESS for the 5% and 95% quantiles. The workbench
#    asks for at least 100 per chain. The **Monte Carlo standard error** (MCSE) of a mean is
#    roughly sd / sqrt(ESS): the error of the reported number due to sampling alone.
#
# Every number here comes from ArviZ (`arviz_stats`); `workbench.diagnostics.diagnose` adds
# thresholds, verdicts and explanations, and reads DataTrees, NetCDF/Zarr files, NumPy arrays
# shaped (chains, draws, ...) and torch tensors.

# %%
import logging
import warnings

import numpy as np
import pymc as pm

from workbench.diagnostics import diagnose, sbc
from workbench.diagnostics.demo import funnel_model
from workbench.samplers import metropolis
from workbench.sizes import run_size

SEED = 2
rng = np.random.default_rng(SEED)

# %% [markdown]
# ## Good chains and three kinds of bad ones
#
# Independent normal draws are the ideal: four chains, 1000 draws each.

# %%
good = rng.normal(size=(4, 1000))
print(diagnose(good).table())

# %% [markdown]
# Now break them on purpose. **Shifted**: one chain sits somewhere else (it has not forgotten
# its start, or found another mode). **Stuck**: one chain hardly moves. **Autocorrelated**:
# each draw is 0.99 times the previous one plus a little noise, so the chains wander slowly.

# %%
shifted = good.copy()
shifted[1] += 1.0
stuck = good.copy()
stuck[2] = 0.5 + 0.001 * stuck[2]
slow = np.empty((4, 1000))
slow[:, 0] = rng.normal(size=4)
for t in range(1, 1000):
    slow[:, t] = 0.99 * slow[:, t - 1] + np.sqrt(1 - 0.99**2) * rng.normal(size=4)

for label, draws in [("shifted", shifted), ("stuck", stuck), ("autocorrelated", slow)]:
    report = diagnose(draws)
    print(f"--- {label}: converged = {report.converged}")
    for problem in report.variables["x"].problems:
        print(f"[{problem.kind}] {problem.message}\n   remedy: {problem.remedy}")

# %% [markdown]
# The rank plot makes the difference visible: for each chain, the ECDF of the ranks of its
# draws among all draws, minus the uniform line. Chains that explore the same distribution stay
# inside the band; a shifted chain drifts out of it.

# %%
diagnose(shifted).plot("rank")

# %% [markdown]
# ## Tuning random-walk Metropolis
#
# Random-walk Metropolis proposes x' = x + step * z and accepts with probability
# min(1, p(x')/p(x)). A tiny step is almost always accepted but crawls; a huge step is almost
# always rejected and the chain stands still. Both give a small ESS. The often quoted optimal
# acceptance rate, 0.234, is a *limit* as the dimension grows (Roberts, Gelman and Gilks,
# 1997, for targets with independent components). In low dimension the best rate is higher:
# about 0.44 in one dimension and about 0.35 in two. The workbench tunes each chain's step
# size during warm-up towards 0.44 in one dimension and 0.234 otherwise (the
# `target_acceptance` argument changes it), and then freezes it.
#
# First a check of those numbers on standard normal targets in 1-D and 2-D: scan the step
# size, measure the bulk ESS, and read off the acceptance rate at the best step.

# %%
SCAN_CHAINS = run_size(40, quick=16)
print("dim  step  acceptance  mean bulk ESS")
best_rate = {}
for dim in (1, 2):
    scan = []
    for step in np.geomspace(0.8, 5.0, 9) / np.sqrt(dim):
        draws = metropolis.sample(
            lambda x: -0.5 * (x**2).sum(axis=1),
            rng.normal(size=(SCAN_CHAINS, dim)),
            draws=2000,
            warmup=0,
            step_size=step,
            seed=SEED,
        )
        ess = float(np.mean(diagnose(draws).variables["x"].ess_bulk))
        scan.append((ess, float(draws["sample_stats"]["accepted"].mean()), step))
        print(f"{dim:3d}  {step:4.2f}  {scan[-1][1]:10.2f}  {ess:13.0f}")
    best_rate[dim] = max(scan)[1]
print("acceptance at the best step:", {d: round(r, 2) for d, r in best_rate.items()})
assert 0.32 < best_rate[1] < 0.56 and 0.25 < best_rate[2] < 0.48

# %% [markdown]
# The ESS curve is flat near its top, so the best rate is a broad optimum: anything from
# about 0.2 to 0.5 loses little. Now a correlated 2-D Gaussian, with fixed steps and with the
# workbench's tuning.
#
# Target: a correlated 2-D Gaussian, mean (1, -2), covariance [[1, 0.8], [0.8, 2]].

# %%
mean, cov = np.array([1.0, -2.0]), np.array([[1.0, 0.8], [0.8, 2.0]])
precision = np.linalg.inv(cov)


def logdensity(x):  # x: (chains, 2) -> (chains,)
    d = x - mean
    return -0.5 * np.einsum("ci,ij,cj->c", d, precision, d)


starts = rng.normal(scale=3.0, size=(4, 2))
print("step size   acceptance   min bulk ESS   converged")
for step in (0.05, 8.0):
    tree = metropolis.sample(logdensity, starts, draws=2000, warmup=0, step_size=step, seed=SEED)
    report = diagnose(tree)
    ess = np.min(report.variables["x"].ess_bulk)
    rate = float(tree["sample_stats"]["accepted"].mean())
    print(f"{step:9.2f}   {rate:10.2f}   {ess:12.0f}   {report.converged}")
tuned = metropolis.sample(logdensity, starts, draws=2000, warmup=1000, seed=SEED)
tuned_report = diagnose(tuned)
rate = float(tuned["sample_stats"]["accepted"].mean())
step = float(tuned["sample_stats"]["step_size"].mean())
ess = np.min(tuned_report.variables["x"].ess_bulk)
print(f"{step:9.2f}   {rate:10.2f}   {ess:12.0f}   {tuned_report.converged}   (tuned)")

# %% [markdown]
# With a converged run the MCSE tells us how far the chain average may be from the truth:

# %%
x = tuned["posterior"]["x"].values.reshape(-1, 2)
mcse = tuned_report.variables["x"].mcse_mean
for i in range(2):
    print(f"mean[{i}] = {x[:, i].mean():.3f} +- {mcse[i]:.3f} (MCSE); exact {mean[i]}")
tuned_report.plot("ess")

# %% [markdown]
# The ESS evolution plot shows bulk and tail ESS growing roughly linearly with the number of
# draws: a healthy sign. A curve that flattens means the chains stopped exploring.
#
# ## Divergences in a funnel
#
# Hamiltonian samplers (NUTS) follow the gradient of the log-density with a numerical
# integrator. Where the curvature changes sharply, the integrator blows up: a **divergent
# transition**. Neal's funnel, v ~ N(0, 3²) and x_i ~ N(0, exp(v)) given v (this notebook
# writes N(mean, variance): v has sd 3, and x_i has sd exp(v/2)), has a wide mouth and a very
# narrow neck; in the neck no single step size works. Divergences mean that region is
# under-sampled, so estimates are biased, even if R-hat looks fine. The energy BFMI, computed
# from the Hamiltonian's energy, is another warning of the same trouble.

# %%
logging.getLogger("pymc").setLevel(logging.ERROR)


def nuts(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pm.sample(
            draws=500,
            tune=500,
            chains=4,
            cores=1,
            random_seed=SEED,
            progressbar=False,
            model=model,
            nuts_sampler="pymc",
            compute_convergence_checks=False,
        )


funnel = funnel_model(centred=True)
prior_v = pm.draw(funnel["v"], draws=4000, random_seed=SEED)
print(f"prior sd of v: {prior_v.std():.2f} (sd 3, variance 9)")
assert abs(prior_v.std() - 3) < 0.2
centred = diagnose(nuts(funnel), var_names=["v"])
print(centred.table())

# %% [markdown]
# The remedy is a reparametrisation. Sample standard normals z and set x = z exp(v/2): the
# sampler now sees independent normals, and the funnel is built afterwards.

# %%
noncentred = diagnose(nuts(funnel_model(centred=False)), var_names=["v"])
print(noncentred.table())
print("divergences: centred", centred.divergences, " non-centred", noncentred.divergences)

# %% [markdown]
# ## Simulation-based calibration
#
# Convergence diagnostics check that chains agree with *each other*, not that they target the
# *right* distribution. A sampler with a bug in its acceptance rule can mix beautifully and be
# wrong. Simulation-based calibration (SBC) catches that: draw a true parameter from the prior,
# simulate data from it, run the sampler on those data, and record the rank of the truth among
# the posterior draws. If the sampler is right, the rank is uniform; we check the ECDF of the
# ranks against a simultaneous band.
#
# Model: mu ~ N(0, 1), five observations y_j ~ N(mu, 1). We run 1000 replicates at once:
# each replicate is one chain with its own data set. The broken sampler multiplies the log
# acceptance ratio by 1/2 (a stray factor), so it targets p(mu | y)^(1/2): a posterior that is
# too wide, by a factor sqrt(2). That shifts the rank ECDF by only about 0.08, so SBC needs
# many replicates: with 1000 the 99% simultaneous band is about +-0.05 wide.


# %%
def simulate(rng, replicates):
    mu = rng.normal(size=replicates)
    return {"mu": mu}, mu[:, None] + rng.normal(size=(replicates, 5))


def make_infer(rule):
    def infer(rng, y):
        def logdensity(x):
            mu = x[:, 0]
            return -0.5 * mu**2 - 0.5 * ((y - mu[:, None]) ** 2).sum(1)

        tree = metropolis.sample(
            logdensity, np.zeros((len(y), 1)), draws=2000, warmup=500, rule=rule, seed=rng
        )
        return {"mu": tree["posterior"]["x"].values[:, ::20, 0]}  # thinned: ~independent

    return infer


calibrated = sbc(simulate, make_infer("metropolis"), replicates=1000, seed=SEED)
broken = sbc(simulate, make_infer("half-log-ratio"), replicates=1000, seed=SEED)
print(calibrated.table())
print(broken.table())

# %%
calibrated.plot()

# %%
broken.plot()

# %% [markdown]
# The broken sampler's ECDF bulges out of the band: the truth lands in the middle of the
# posterior draws too often, the signature of a posterior that is too wide. Yet its chains
# pass every convergence check:

# %%
y_one = simulate(np.random.default_rng(SEED), 1)[1]


def logdensity_one(x):
    mu = x[:, 0]
    return -0.5 * mu**2 - 0.5 * ((y_one - mu[:, None]) ** 2).sum(1)


broken_chains = metropolis.sample(
    logdensity_one, np.zeros((4, 1)), draws=2000, warmup=500, rule="half-log-ratio", seed=SEED
)
print("broken sampler converged by R-hat/ESS:", diagnose(broken_chains).converged)
assert calibrated.calibrated and not broken.calibrated

# %% [markdown]
# ## Exercises
#
# Solutions: `tutorials/solutions/02_mcmc_convergence.py`.
#
# 1. Repeat the acceptance-rate scan on a standard normal in 5 dimensions. Predict where the
#    best acceptance rate lands relative to 0.44, 0.35 and 0.234, then measure it.
# 2. The broken sampler targets p(mu | y)^(1/2). For the SBC model (mu ~ N(0, 1), five
#    observations with variance 1) compute by hand the sd of the true posterior and of the
#    broken sampler's target, and check both with long Metropolis runs.
# 3. Neal's funnel with v ~ N(0, 3²): what is the prior sd of log |x_1|? (Hint: x_1 =
#    z exp(v/2) with z standard normal.) Check by simulation.
