"""Simulation-based calibration (Talts et al. 2018): does a sampler target the right posterior?

Draw a truth from the prior, simulate data from it, sample the posterior given those data, and
count how many posterior draws fall below the truth. If the sampler is right, that rank is
uniform over 0..L for every replicate. Deviations have shapes that say what is wrong: a U shape
(posterior too narrow), a hump (too wide), a slope (biased).

The uniformity check is the ECDF of the (randomised) ranks against simultaneous bands from
``arviz_stats.ecdf_utils.ecdf_pit``; the figure is ``arviz_plots.plot_ecdf_pit``.

>>> result = sbc(simulate, infer, replicates=200, seed=1)      # any sampler, vectorised
>>> result = sbc_model(models.build("beta-binomial"), replicates=100, seed=1)  # a PyMC model
>>> result.calibrated, result.plot()
"""

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import xarray as xr
from arviz_stats.ecdf_utils import compute_ecdf, ecdf_pit

from workbench.errors import InputError, check_count
from workbench.samplers.base import make_rng

__all__ = ["SBCResult", "sbc", "sbc_model", "simultaneous_band"]


@dataclass
class SBCResult:
    """Ranks and verdicts of a calibration run.

    ``ranks[name]`` is (replicates, *shape) in 0..``draws``; ``outside[name]`` is True where the
    rank ECDF leaves its simultaneous band; ``calibrated`` is True when no entry leaves it.
    ``ci_prob`` is the chance that a correct sampler passes as a whole: each of the K entries
    (all variables' components) gets a band of probability ``entry_prob = 1 - (1 - ci_prob) / K``
    (Bonferroni). ``tree`` holds the PIT values in group ``prior_sbc`` for arviz_plots.
    ``converged`` (replicates,) holds :func:`~workbench.diagnostics.diagnose`'s verdict on each
    replicate's chains (:func:`sbc_model`; None for :func:`sbc`, whose ``infer`` returns draws
    without chains); ranks of non-converged replicates are kept, and counted in the table.
    """

    ranks: dict
    draws: int
    ci_prob: float
    entry_prob: float
    outside: dict
    max_deviation: dict
    tree: xr.DataTree = field(repr=False)
    converged: np.ndarray | None = None

    @property
    def not_converged(self):
        """How many replicates' chains did not converge (None when not judged)."""
        return None if self.converged is None else int((~self.converged).sum())

    @property
    def calibrated(self):
        return not any(np.any(v) for v in self.outside.values())

    def to_dict(self):
        return {
            "calibrated": self.calibrated,
            "replicates": int(next(iter(self.ranks.values())).shape[0]),
            "draws": self.draws,
            "ci_prob": self.ci_prob,
            "entry_prob": self.entry_prob,
            "not_converged": self.not_converged,
            "variables": {
                name: {
                    "outside_band": np.asarray(self.outside[name]).tolist(),
                    "max_ecdf_deviation": np.asarray(self.max_deviation[name]).tolist(),
                }
                for name in self.ranks
            },
        }

    def table(self):
        lines = [
            f"SBC: {self.to_dict()['replicates']} replicates, ranks out of {self.draws} draws, "
            f"{100 * self.entry_prob:.4g}% simultaneous band per entry "
            f"({100 * self.ci_prob:g}% for the whole check)",
        ]
        for name in self.ranks:
            dev, out = np.ravel(self.max_deviation[name]), np.ravel(self.outside[name])
            lines.append(
                f"{name:<16} max |ECDF - uniform| {dev.max():.3f}  "
                + ("outside the band: NOT calibrated" if out.any() else "inside the band")
            )
        if self.converged is not None:
            lines.append(
                f"chains: {self.not_converged} of {self.converged.size} replicates did not "
                "converge (diagnose); their ranks are included"
            )
        lines.append("verdict: " + ("calibrated" if self.calibrated else "NOT calibrated"))
        return "\n".join(lines)

    def plot(self, var_names=None, backend="matplotlib"):
        """ECDF-difference plot of the ranks (arviz_plots ``plot_ecdf_pit``) with the
        simultaneous ``entry_prob`` band used for the verdict shaded behind each curve."""
        import arviz_plots as azp
        from arviz_plots.visuals import fill_between_y

        collection = azp.plot_ecdf_pit(
            self.tree,
            var_names=var_names,
            group="prior_sbc",
            envelope_prob=self.entry_prob,
            backend=backend,
        )
        replicates = self.tree["prior_sbc"].sizes["draw"]
        points, lower, upper = simultaneous_band(replicates, self.entry_prob)
        collection.map(
            fill_between_y,
            "simultaneous_band",
            data=self.tree["prior_sbc"].to_dataset(),
            x=points,
            y_bottom=lower - points,
            y_top=upper - points,
            step=True,
            color="B1",
            alpha=0.15,
        )
        return collection


def sbc(simulate, infer, *, replicates=200, ci_prob=0.99, seed=None, n_simulations=1000):
    """Simulation-based calibration of ``infer`` on the model behind ``simulate``.

    Parameters
    ----------
    simulate : callable
        ``simulate(rng, replicates) -> (truths, data)``: ``truths`` maps each parameter name to
        an array (replicates, *shape) drawn from the prior; ``data`` is whatever ``infer``
        needs, with replicates on the first axis.
    infer : callable
        ``infer(rng, data) -> {name: draws}`` with draws shaped (replicates, L, *shape): L
        (roughly independent) posterior draws per replicate. Thin correlated chains first.
    replicates : int, default 200
    ci_prob : float, default 0.99
        Chance that a correct sampler passes the whole check (Bonferroni over all entries).
    seed : int, Generator or None
    n_simulations : int, default 1000
        Simulations behind the band.

    Returns
    -------
    SBCResult
    """
    replicates = check_count("replicates", replicates, 10)
    if not 0 < ci_prob < 1:
        raise ValueError(f"ci_prob: expected a probability in (0, 1), got {ci_prob!r}")
    rng = make_rng(seed)
    truths, data = simulate(rng, replicates)
    draws = infer(rng, data)
    ranks = {}
    for name, truth in truths.items():
        truth = np.asarray(truth, dtype=float)
        if name not in draws:
            raise ValueError(f"infer: returned no draws of {name!r} (got {sorted(draws)})")
        sample = np.asarray(draws[name], dtype=float)
        if sample.shape[0] != replicates or sample.shape[2:] != truth.shape[1:]:
            raise ValueError(
                f"infer: draws of {name!r} should be shaped ({replicates}, L, "
                f"{', '.join(map(str, truth.shape[1:]))}), got {sample.shape}"
            )
        ranks[name] = (sample < truth[:, None]).sum(axis=1)
    n_draws = int(next(iter(draws.values())).shape[1])
    return _judge(ranks, n_draws, ci_prob, rng, n_simulations)


@lru_cache(maxsize=32)
def simultaneous_band(replicates, prob, n_simulations=1000):
    """(points, lower, upper): the ``prob`` simultaneous band of the ECDF of ``replicates``
    uniform values (arviz_stats' simulation method; at least 20 simulations beyond the
    quantile, at most 20,000 in all). Cached: the band depends on nothing else."""
    n_simulations = int(min(max(n_simulations, np.ceil(20 / (1 - prob))), 20_000))
    points, _, lower, upper = ecdf_pit(
        np.linspace(0, 1, replicates), prob, n_simulations, rng=np.random.default_rng(0)
    )
    return points, lower, upper


def _judge(ranks, n_draws, ci_prob, rng, n_simulations, converged=None):
    entries = sum(int(np.prod(rank.shape[1:])) for rank in ranks.values())
    entry_prob = 1 - (1 - ci_prob) / entries
    replicates = next(iter(ranks.values())).shape[0]
    points, lower, upper = simultaneous_band(replicates, entry_prob, n_simulations)
    outside, deviation, pits = {}, {}, {}
    for name, rank in ranks.items():
        # randomised PIT: exactly uniform on (0, 1) when the rank is uniform on 0..L
        pit = (rank + rng.random(rank.shape)) / (n_draws + 1)
        flat = pit.reshape(replicates, -1)
        ecdf = np.stack([compute_ecdf(flat[:, j], points) for j in range(flat.shape[1])])
        outside[name] = ((ecdf < lower) | (ecdf > upper)).any(axis=1).reshape(rank.shape[1:])
        deviation[name] = np.abs(ecdf - points).max(axis=1).reshape(rank.shape[1:])
        dims = ["chain", "draw"] + [f"{name}_dim_{i}" for i in range(rank.ndim - 1)]
        pits[name] = (dims, pit[None])
    tree = xr.DataTree.from_dict({"prior_sbc": xr.Dataset(pits)})
    return SBCResult(ranks, n_draws, ci_prob, entry_prob, outside, deviation, tree, converged)


def sbc_model(
    model,
    *,
    replicates=100,
    draws=1000,
    warmup=500,
    chains=2,
    thin=10,
    rule="metropolis",
    ci_prob=0.99,
    seed=None,
    n_workers=None,
    client=None,
    scheduler=None,
    progressbar=None,
):
    """SBC of the workbench's random-walk Metropolis on a PyMC model (e.g. a catalogue model).

    Truths and data come from the model's prior predictive; the observations must live in
    ``pm.Data`` containers (every catalogue builder does this), so the log-density is compiled
    once per worker and only the data change between replicates. Each replicate runs ``chains``
    chains of ``warmup + draws`` steps and keeps every ``thin``-th draw; :func:`diagnose` judges
    each replicate's (unthinned) chains. Replicates run on Dask
    (:func:`workbench.replicates.run_replicates`: ``client``, ``scheduler`` or ``n_workers``
    local processes, default the cores, 1 in this process), each with its own seed drawn from
    ``seed``, so the result does not depend on where they ran. ``model`` itself is not changed.
    """
    import hashlib

    import cloudpickle
    import pymc as pm

    from workbench.replicates import run_replicates
    from workbench.samplers.pymc_target import observed_data_names

    replicates = check_count("replicates", replicates, 10)
    thin = check_count("thin", thin, 1)
    if not 0 < ci_prob < 1:
        raise InputError("ci_prob", "a probability in (0, 1)", repr(ci_prob))
    rng = make_rng(seed)
    containers = observed_data_names(model)
    names = [rv.name for rv in model.free_RVs]
    prior = pm.sample_prior_predictive(
        draws=replicates, model=model, random_seed=rng, var_names=names + list(containers)
    )
    truths = {n: prior["prior"][n].values[0] for n in names}
    simulated = [
        {containers[n]: prior["prior_predictive"][n].values[0, r] for n in containers}
        for r in range(replicates)
    ]
    seeds = np.random.SeedSequence(int(rng.integers(2**63))).spawn(replicates)
    blob = cloudpickle.dumps(model)
    shared = {
        "key": f"sbc-{hashlib.sha256(blob).hexdigest()}",
        "model": blob,
        "names": names,
        "run": {"draws": draws, "warmup": warmup, "chains": chains, "rule": rule, "thin": thin},
    }
    outputs = run_replicates(
        _sbc_replicate, shared, zip(simulated, seeds, strict=True), client=client,
        scheduler=scheduler, n_workers=n_workers, progressbar=progressbar, desc="SBC",
    )  # fmt: skip
    converged = np.array([verdict for verdict, _ in outputs])
    kept = {n: np.stack([values[n] for _, values in outputs]) for n in names}
    ranks = {n: (kept[n] < truths[n][:, None]).sum(axis=1) for n in names}
    return _judge(ranks, int(kept[names[0]].shape[1]), ci_prob, rng, 1000, converged)


def _compiled(blob):
    """A worker's own copy of the model and its compiled log-density."""
    import cloudpickle

    from workbench.samplers import PyMCTarget

    model = cloudpickle.loads(blob)
    return model, PyMCTarget(model)


def _sbc_replicate(shared, data, seed):
    """One replicate: the data set into the worker's model copy, Metropolis chains, the diagnose
    verdict and the thinned draws ``{name: (chains * kept, *shape)}``."""
    import pymc as pm

    from workbench.diagnostics.report import diagnose
    from workbench.replicates import worker_cached
    from workbench.samplers import metropolis

    model, target = worker_cached(shared["key"], lambda: _compiled(shared["model"]))
    run, rng = shared["run"], np.random.default_rng(seed)
    pm.set_data(data, model=model)
    tree = metropolis.sample(
        target.logdensity,
        target.initial_positions(run["chains"], seed=rng),
        draws=run["draws"],
        warmup=run["warmup"],
        rule=run["rule"],
        transform=target.posterior,
        seed=rng,
    )
    verdict = diagnose(tree, var_names=shared["names"], allow_single_chain=True).converged
    kept = {}
    for n in shared["names"]:
        values = tree["posterior"][n].values[:, :: run["thin"]]
        kept[n] = values.reshape(-1, *values.shape[2:])
    return bool(verdict), kept
