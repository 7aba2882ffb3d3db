"""Point and interval estimates of a PyMC model's parameters: MAP, ML, CM and CM-ML, and on
request the Gaussian approximations of :mod:`workbench.bayes.approx` (Laplace, ADVI, Pathfinder).

>>> import models, workbench
>>> result = workbench.estimate(models.build("beta-binomial"), seed=1)
>>> print(result.table())
"""

import math
import warnings
from dataclasses import dataclass

import arviz_stats as azs
import numpy as np
import pymc as pm
from arviz_stats.base import array_stats

import models
from workbench.bayes import approx
from workbench.bayes.flat import PRIOR_WEIGHT, flat_prior_model
from workbench.bayes.modes import ModeFinder, likelihood_terms
from workbench.bayes.results import METHODS, EstimateResult
from workbench.bayes.sampling import NutsRunner
from workbench.diagnostics import Thresholds, diagnose
from workbench.errors import check_memory

__all__ = ["ALL_METHODS", "METHODS", "Estimator", "EstimateResult", "FlatPriorChecks", "estimate"]

ALL_METHODS = METHODS + approx.APPROXIMATIONS


@dataclass(frozen=True)
class FlatPriorChecks:
    """When the CM-ML is reported (these are existence checks, not convergence verdicts, which
    come from :func:`workbench.diagnostics.diagnose`). Not reported when the log-likelihood's
    curvature ratio at the ML is at most ``condition`` (a flat or nearly flat direction: the mean
    is then undefined or numerically unreliable), when the flat-prior chains' R-hat reaches
    ``r_hat`` (improper), or when a component's Pareto tail index is above
    ``khat`` = 0.5 (infinite variance: no Monte Carlo error, and the mean may not exist)."""

    khat: float = 0.5
    r_hat: float = 1.05
    condition: float = 1e-10


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _draws(tree, name):
    """Draws of ``name`` as an array shaped (*param_shape, chain, draw)."""
    values = np.asarray(tree["posterior"][name].values, dtype=float)
    return np.moveaxis(values, (0, 1), (-2, -1))


class Estimator:
    """Compile once, estimate many times (new ``pm.Data`` values per run are allowed).

    Parameters mirror :func:`estimate`; ``run(data=None, seed=None)`` returns an
    :class:`EstimateResult`.
    """

    def __init__(
        self,
        model,
        *,
        methods=METHODS,
        hdi_prob=0.9,
        draws=1000,
        tune=1000,
        chains=4,
        var_names=None,
        sampler="nutpie",
        thresholds=None,
        flat_checks=None,
        progressbar=None,
        name=None,
        n_starts=4,
        approx_draws=2000,
        advi_iterations=10000,
    ):
        if not isinstance(model, pm.Model):
            raise TypeError(f"model: expected a pymc.Model, got {type(model).__name__}")
        methods = (methods,) if isinstance(methods, str) else tuple(methods)
        unknown = [m for m in methods if m not in ALL_METHODS]
        if unknown or not methods:
            raise ValueError(f"methods: expected a subset of {ALL_METHODS}, got {methods!r}")
        if not 0 < float(hdi_prob) < 1:
            raise ValueError(f"hdi_prob: expected a probability in (0, 1), got {hdi_prob!r}")
        self.draws = _check_int("draws", draws, 10)
        self.tune = _check_int("tune", tune, 0)
        self.chains = _check_int("chains", chains, 1)
        self.n_starts = _check_int("n_starts", n_starts, 1)
        self.approx_draws = _check_int("approx_draws", approx_draws, 100)
        self.advi_iterations = _check_int("advi_iterations", advi_iterations, 100)
        self.model, self.methods, self.hdi_prob = model, methods, float(hdi_prob)
        self.sampler, self.progressbar = sampler, progressbar
        self.thresholds = Thresholds.coerce(thresholds)
        self.flat_checks = flat_checks or FlatPriorChecks()
        self.name = name or models.catalogue_name(model) or model.name or "model"
        self._check_parameters()
        self._check_memory()
        self.var_names = self._resolve_var_names(var_names)
        self._cache = {}

    def _check_memory(self):
        """Refuse chains x (draws + tune) beyond the memory limit before sampling. Measured with
        nutpie: about 40 KiB per chain of 20 draws of one parameter, so a chain is counted as
        32 KiB plus, per draw, its values and ~32 sampler statistics held in 4 copies."""
        if not {"cm", "cm_ml"} & set(self.methods):
            return
        values = sum(math.prod(1 if d is None else d for d in rv.type.shape)  # static shapes
                     for rv in self.model.free_RVs)  # fmt: skip
        per_chain = 32 * 2**10 + (self.draws + self.tune) * (values + 32) * 8 * 4
        check_memory("chains", self.chains * per_chain,
                     f"{self.chains:,} chains of {self.draws + self.tune:,} draws and warm-up "
                     f"steps of {values} values")  # fmt: skip

    def _check_parameters(self):
        free = self.model.free_RVs
        discrete = [rv.name for rv in free if rv.type.dtype.startswith(("int", "uint", "bool"))]
        if not free or discrete:
            what = f"discrete parameters {discrete}" if discrete else "no free parameters"
            raise ValueError(
                f"model: the estimators need continuous free parameters; this model has {what}. "
                "Supported: models whose unobserved variables are all continuous (scalars or "
                "arrays); marginalise discrete ones out first."
            )
        if not likelihood_terms(self.model):
            raise ValueError("model: no observed variables or Potentials: there is no likelihood")

    def _resolve_var_names(self, var_names):
        available = [rv.name for rv in self.model.free_RVs] + [
            d.name for d in self.model.deterministics
        ]
        if var_names is None:
            return available
        var_names = [var_names] if isinstance(var_names, str) else list(var_names)
        unknown = [v for v in var_names if v not in available]
        if unknown:
            raise ValueError(f"var_names: unknown {unknown}; available: {', '.join(available)}")
        return var_names

    def _get(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def _runner(self, prior):
        """The NUTS runner of the CM (``prior=True``) or the CM-ML, and the ``pm.Data`` values
        that select it. When both are asked for, one model with the prior weighted by a
        ``pm.Data`` (1 or 0) serves both: one compile instead of two."""
        if "cm_ml" not in self.methods:
            return self._get("cm", lambda: NutsRunner(self.model, self.sampler)), {}
        runner = self._get(
            "twin", lambda: NutsRunner(flat_prior_model(self.model, True), self.sampler)
        )
        return runner, {PRIOR_WEIGHT: 1.0 if prior else 0.0}

    def _sample(self, runner, seed, data):
        return runner(
            draws=self.draws,
            tune=self.tune,
            chains=self.chains,
            seed=seed,
            data=data,
            progressbar=self.progressbar,
        )

    def run(self, data=None, seed=None):
        """Estimate with the current data (or ``data``: pm.Data name -> new values); the same
        ``seed`` gives the same result, None fresh entropy."""
        if data:
            pm.set_data(data, model=self.model)
        children = np.random.SeedSequence(seed).spawn(4 + len(approx.APPROXIMATIONS))
        cm_seed, flat_seed, map_seed, ml_seed = (int(s.generate_state(1)[0]) for s in children[:4])
        approx_seeds = dict(zip(approx.APPROXIMATIONS, children[4:], strict=True))
        notes = []
        point = {}
        result = EstimateResult(self.name, self.var_names, self.methods, self.hdi_prob, point)
        result.settings = {
            "draws": self.draws,
            "tune": self.tune,
            "chains": self.chains,
            "sampler": self.sampler,
            "seed": seed,
            "hdi_prob": self.hdi_prob,
            "n_starts": self.n_starts,
        }
        if "map" in self.methods:
            finder = self._get("map", lambda: ModeFinder(self.model, None, "MAP"))
            search = finder.search(self.n_starts, seed=map_seed)
            point["map"] = finder.reported(search.best, self.var_names)
            result.method_diagnostics["map"] = search.report
            notes += search.warnings
        ml_mode = None
        if "ml" in self.methods or "cm_ml" in self.methods:
            finder = self._get(
                "ml", lambda: ModeFinder(self.model, likelihood_terms(self.model), "ML")
            )
            search = finder.search(self.n_starts, seed=ml_seed)
            ml_mode = search.best
            if "ml" in self.methods:
                point["ml"] = finder.reported(ml_mode, self.var_names)
                result.method_diagnostics["ml"] = search.report
                notes += search.warnings
        if "cm" in self.methods:
            runner, weight = self._runner(prior=True)
            tree = self._sample(runner, cm_seed, {**(data or {}), **weight})
            result.posterior = tree
            report = self._summarise(tree, result)
            point["cm"] = {n: _draws(tree, n).mean(axis=(-2, -1)) for n in self.var_names}
            if not report.converged:
                notes.append("CM: NUTS did not converge: " + "; ".join(report.reasons()))
        if "cm_ml" in self.methods:
            means, flat_tree, flat_notes = self._flat_mean(ml_mode, flat_seed, data)
            point["cm_ml"] = means or dict.fromkeys(self.var_names)
            result.flat_posterior = flat_tree
            notes += flat_notes
        for method in (m for m in approx.APPROXIMATIONS if m in self.methods):
            notes += self._approximate(method, result, np.random.default_rng(approx_seeds[method]))
        result.warnings = notes
        for note in notes:
            warnings.warn(note, UserWarning, stacklevel=2)
        return result

    def _approximate(self, method, result, rng):
        """Fit one approximation into ``result``; returns the warnings in plain words."""
        flat = self._get("flat", lambda: approx.FlatModel(self.model, self.var_names))
        laplace = self._get("laplace", lambda: approx.LaplaceFinder(self.model))
        try:
            fit = approx.approximate(
                method, self.model, flat, rng, draws=self.approx_draws, n_starts=self.n_starts,
                advi_iterations=self.advi_iterations, laplace_finder=laplace,
            )  # fmt: skip
        except (ValueError, np.linalg.LinAlgError) as err:
            return [f"{approx.label(method)}: not reported: {str(err).partition(': ')[2] or err}"]
        result.approximations[method] = fit
        result.method_diagnostics[method] = fit.diagnostics()
        summaries = {n: fit.summary(n, self.hdi_prob) for n in self.var_names}
        for target, k in ((result.point, 0), (result.approx_sd, 1), (result.approx_interval, 2)):
            target[method] = {n: v[k] for n, v in summaries.items()}
        return [] if fit.reliable else [fit.warning()]

    def _summarise(self, tree, result):
        """Fill the CM summaries of ``result`` from the one convergence report; returns it."""
        report = diagnose(tree, thresholds=self.thresholds, allow_single_chain=True)
        result.diagnostics = report.to_dict()
        hdi = azs.hdi(tree, prob=self.hdi_prob, var_names=self.var_names)
        for name in self.var_names:
            v = report.variables[name]
            result.sd[name] = _draws(tree, name).std(axis=(-2, -1), ddof=1)
            result.mcse[name], result.r_hat[name] = v.mcse_mean, v.r_hat
            result.ess_bulk[name], result.ess_tail[name] = v.ess_bulk, v.ess_tail
            bounds = np.asarray(hdi[name].values)  # (*shape, 2)
            result.hdi[name] = (bounds[..., 0], bounds[..., 1])
        return report

    def _flat_mean(self, ml_mode, seed, data):
        """cm_ml: the mean under the likelihood normalised over the parameters (flat prior)."""
        t = self.flat_checks
        if ml_mode is None:
            return None, None, ["CM-ML: not reported: the likelihood has no maximum to start from"]
        ml_finder = self._cache["ml"]
        interior = ~ml_finder.at_edge(ml_mode.x)
        if interior.any():
            curvature = np.linalg.eigvalsh(
                -ml_finder.hessian(ml_mode.x)[np.ix_(interior, interior)]
            )
            top = curvature.max()
            if top <= 0 or curvature.min() <= t.condition * top:
                ratio = curvature.min() / top if top > 0 else float("nan")
                return (
                    None,
                    None,
                    [
                        "CM-ML: not reported: the likelihood is flat or nearly flat (curvature "
                        f"ratio {ratio:.1e} at the ML) along some direction: its integral over the "
                        "parameters is infinite, or finite with a mean so spread along that "
                        "direction that it is numerically unreliable. A prior is needed here: use "
                        "the CM."
                    ],
                )
        runner, weight = self._runner(prior=False)
        tree = self._sample(runner, seed, {**(data or {}), **weight})
        notes, means = [], {}
        if self.chains < 2:
            notes.append(
                "CM-ML: not reported: one chain cannot show that the flat-prior chains agree "
                "(the check that the likelihood is integrable); run 2 or more chains."
            )
            return None, tree, notes
        try:
            flat = diagnose(tree, var_names=self.var_names, allow_single_chain=True)
            worst = flat.extremes()["r_hat_max"]
        except ValueError:  # non-finite draws: the flat-prior chains ran off to infinity
            worst = None
        worst = float("nan") if worst is None else worst
        if not worst < t.r_hat:
            notes.append(
                f"CM-ML: not reported: the flat-prior chains disagree (R-hat {worst:.2f}); the "
                "likelihood is probably not integrable over the parameters, or too heavy-tailed "
                "for a mean. A prior is needed here: use the CM."
            )
            return None, tree, notes
        for name in self.var_names:
            draws = _draws(tree, name)
            khat = np.asarray(array_stats.pareto_khat(draws, tail="both"), dtype=float)
            mean = draws.mean(axis=(-2, -1))
            heavy = khat > t.khat
            if heavy.any():
                notes.append(
                    f"CM-ML: {name}: not reported: the normalised likelihood has a tail too heavy "
                    f"for a usable mean (Pareto k {np.max(khat):.2f} > {t.khat}: infinite "
                    "variance, and the mean itself may not exist). More data or a prior fixes it."
                )
                mean = np.where(heavy, np.nan, mean)
            means[name] = mean
        return means, tree, notes


def estimate(
    model,
    methods=METHODS,
    hdi_prob=0.9,
    draws=1000,
    tune=1000,
    chains=4,
    seed=None,
    *,
    var_names=None,
    sampler="nutpie",
    progressbar=None,
    thresholds=None,
    flat_checks=None,
    name=None,
    n_starts=4,
    approx_draws=2000,
    advi_iterations=10000,
):
    """Estimate every free parameter (and deterministic) of a PyMC ``model``.

    Parameters
    ----------
    model : pymc.Model
        Prior and likelihood (observed variables and Potentials).
    methods : tuple of str, default ("map", "ml", "cm", "cm_ml")
        ``map``: posterior mode; ``ml``: likelihood maximum (priors dropped, supports kept);
        ``cm``: posterior mean by NUTS, with sd, MCSE, HDI, R-hat and ESS; ``cm_ml``: mean of
        the likelihood normalised over the parameters (a flat prior), when it exists. On
        request (not by default): ``laplace``, ``advi``, ``fullrank_advi``, ``pathfinder``,
        Gaussian approximations on the unconstrained scale with a mean, sd, interval and the
        Pareto k-hat of ``log p - log q`` (:mod:`workbench.bayes.approx`).
    hdi_prob : float, default 0.9
        Probability mass of the highest-density interval.
    draws, tune, chains : int
        NUTS settings (per chain).
    seed : int, optional
        Same seed, same result; None: fresh entropy.
    var_names : list of str, optional
        Parameters to report (default: all free variables and deterministics).
    sampler : {"nutpie", "pymc"}, default "nutpie"
    thresholds : workbench.diagnostics.Thresholds or dict, optional
        What "converged" means (default R-hat < 1.01, bulk and tail ESS >= 100 per chain, no
        divergences, E-BFMI >= 0.3): the CM's verdict is :func:`workbench.diagnostics.diagnose`'s.
    flat_checks : FlatPriorChecks, optional
        When the CM-ML is reported.
    n_starts : int, default 4
        Optimiser starts for the MAP, ML and Laplace modes: the model's initial point, then
        seeded jittered ones; disagreeing, failed or unbounded searches are reported.
    approx_draws, advi_iterations : int
        Draws from each approximation (for its summaries and k-hat); ``pm.fit`` iterations.

    Returns
    -------
    EstimateResult
        ``.to_dict()``, ``.table()``, ``.plot()``, ``.save(dir)``; the draws as ``.posterior``.
    """
    estimator = Estimator(
        model,
        methods=methods,
        hdi_prob=hdi_prob,
        draws=draws,
        tune=tune,
        chains=chains,
        var_names=var_names,
        sampler=sampler,
        thresholds=thresholds,
        flat_checks=flat_checks,
        progressbar=progressbar,
        name=name,
        n_starts=n_starts,
        approx_draws=approx_draws,
        advi_iterations=advi_iterations,
    )
    return estimator.run(seed=seed)
