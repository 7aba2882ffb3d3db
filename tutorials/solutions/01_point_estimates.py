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
# # Solutions to the exercises of tutorial 01
#
# Every estimator of the coin is a formula in k, so everything here is exact sums.

# %%
import numpy as np
from scipy.special import betaln, comb


def bayes_risks(n, a, b):
    """Exact Bayes risk (squared error) of the CM, MAP, CM-ML and ML under a Beta(a, b) prior."""
    k = np.arange(n + 1)
    p_k = comb(n, k) * np.exp(betaln(a + k, b + n - k) - betaln(a, b))
    mean = (a + k) / (a + b + n)
    var = mean * (1 - mean) / (a + b + n + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rules = {
            "cm": mean,
            "map": (a + k - 1) / (a + b + n - 2),
            "cm_ml": (k + 1) / (n + 2),
            "ml": k / n,
        }
    return {m: float((p_k * (var + (d - mean) ** 2)).sum()) for m, d in rules.items()}, rules


# %% [markdown]
# **1.** With a = b = 1 the posterior is Beta(1 + k, 1 + n − k): its mode is k/n (the MAP is
# the ML) and its mean is (k + 1)/(n + 2) (the CM is the CM-ML). Two pairs, so two distinct
# risks, and the CM's is the smaller one.

# %%
risks, rules = bayes_risks(10, 1.0, 1.0)
print({m: round(r, 5) for m, r in risks.items()})
assert np.allclose(rules["map"], rules["ml"]) and np.allclose(rules["cm"], rules["cm_ml"])
assert risks["cm"] < risks["ml"]

# %% [markdown]
# **2.** (a + k − 1)/(a + b + n − 2) = (k + 1)/(n + 2) for every k and n requires the
# coefficient of k and the constant to match: a − 1 = 1 and a + b − 2 = 2, so a = b = 2 only.

# %%
grid = np.arange(0.5, 4.01, 0.5)
matches = []
for a in grid:
    for b in grid:
        rules = bayes_risks(10, a, b)[1]
        if np.allclose(rules["map"], rules["cm_ml"]):
            matches.append((float(a), float(b)))
print("priors where MAP = CM-ML:", matches)
assert matches == [(2.0, 2.0)]

# %% [markdown]
# **3.** With per-replicate paired differences of sd σ_d, the Monte Carlo error after R
# replicates is σ_d/√R; resolving an excess δ at 2 standard errors needs R ≥ (2σ_d/δ)². The
# formula simulation gives σ_d for exact estimators; a NUTS-based study adds sampling noise to
# the CM, so it needs at least this many.

# %%
rng = np.random.default_rng(1)
p = rng.beta(2, 2, 200_000)
k = rng.binomial(10, p)
risks, rules = bayes_risks(10, 2.0, 2.0)
diff = (rules["map"][k] - p) ** 2 - (rules["cm"][k] - p) ** 2
excess = risks["map"] - risks["cm"]
needed = (2 * diff.std() / excess) ** 2
print(
    f"sd of the paired difference {diff.std():.4f}; excess {excess:.5f}; "
    f"replicates needed ≈ {needed:.0f}"
)
assert 100 < needed < 400
