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
# # Solutions to the exercises of tutorial 02

# %%
import numpy as np

from workbench.diagnostics import diagnose
from workbench.samplers import metropolis

rng = np.random.default_rng(2)

# %% [markdown]
# **1.** The optimum falls from 0.44 (1-D) towards the limit 0.234 as the dimension grows;
# in 5-D expect something near 0.28–0.3. The ESS curve is flat near its top, so the measured
# best rate is only a rough figure.

# %%
scan = []
for step in np.geomspace(0.5, 2.0, 7):
    tree = metropolis.sample(lambda x: -0.5 * (x**2).sum(axis=1), rng.normal(size=(16, 5)),
                             draws=1500, warmup=0, step_size=step, seed=2)  # fmt: skip
    ess = float(np.mean(diagnose(tree).variables["x"].ess_bulk))
    scan.append((ess, float(tree["sample_stats"]["accepted"].mean())))
best = max(scan)[1]
print("acceptance at the best step in 5-D:", round(best, 2))
assert 0.15 < best < 0.45

# %% [markdown]
# **2.** The posterior of mu is normal with precision 1 + 5 = 6: sd 1/√6 ≈ 0.408. Halving the
# log density halves the precision: sd √(2/6) ≈ 0.577, √2 times wider.

# %%
y = rng.normal(size=5)


def log_post(x):
    mu = x[:, 0]
    return -0.5 * mu**2 - 0.5 * ((y - mu[:, None]) ** 2).sum(axis=1)


for rule, exact in (("metropolis", 1 / np.sqrt(6)), ("half-log-ratio", np.sqrt(2 / 6))):
    tree = metropolis.sample(log_post, np.zeros((8, 1)), draws=4000, warmup=500, rule=rule,
                             seed=2)  # fmt: skip
    sd = float(tree["posterior"]["x"].values.std())
    print(f"{rule:<15} sd {sd:.3f}   exact {exact:.3f}")
    assert abs(sd - exact) < 0.05

# %% [markdown]
# **3.** log |x_1| = log |z| + v/2. The two terms are independent: Var(v/2) = 9/4, and
# Var(log |z|) = π²/8 for a standard normal z. So the sd is √(9/4 + π²/8) ≈ 1.86.

# %%
v = rng.normal(0, 3, 400_000)
z = rng.normal(size=400_000)
print(
    f"simulated {np.log(np.abs(z * np.exp(v / 2))).std():.3f}   "
    f"exact {np.sqrt(9 / 4 + np.pi**2 / 8):.3f}"
)
assert abs(np.log(np.abs(z * np.exp(v / 2))).std() - np.sqrt(9 / 4 + np.pi**2 / 8)) < 0.01
