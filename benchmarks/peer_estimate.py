"""The peer of ``workbench estimate beta-binomial``: a hand-written PyMC script, as a user would
write it without the workbench (``pm.find_MAP`` for the mode, ``nutpie.sample`` for the mean).

Same model and data as the catalogue's default beta-binomial (p ~ Beta(2, 2), 3 heads in 10
tosses), 4 chains x (1000 tune + 1000 draws). Prints one JSON line. Timed, as a whole process,
by ``benchmarks/estimate_speed.py``.
"""

import json

import nutpie
import pymc as pm

with pm.Model() as model:
    p = pm.Beta("p", alpha=2.0, beta=2.0)
    pm.Binomial("heads", n=10, p=p, observed=3)

mode = pm.find_MAP(model=model, progressbar=False)
trace = nutpie.sample(
    nutpie.compile_pymc_model(model), draws=1000, tune=1000, chains=4, seed=1, progress_bar=False
)
print(json.dumps({"map": float(mode["p"]), "cm": float(trace.posterior["p"].mean())}))
