"""Frequentist risk of the estimators: draw truths from the prior, simulate data, estimate.

Averaged over the prior, squared error is the Bayes risk, and the posterior mean (CM) is the
estimator that minimises it; the study shows this with Monte Carlo errors, and with paired
differences (every estimator sees the same simulated data sets).

Each replicate's CM gets the verdict of :func:`workbench.diagnostics.diagnose`. Replicates whose
NUTS run did not converge are kept in the averages by default (dropping them would select data
sets by how easy their posterior is, a bias of its own), and counted in ``to_dict`` and the
table; ``converged_only=True`` (CLI ``--converged-only``) averages over the converged ones only.
Warnings are captured per replicate (``warnings[r]``), never silenced process-wide.

>>> study = risk_study("beta-binomial", replicates=100, seed=1)
>>> print(study.table())
"""

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pymc as pm

from workbench.bayes.estimators import METHODS
from workbench.replicates import run_replicates, worker_cached
from workbench.samplers.pymc_target import observed_data_names

__all__ = ["RiskResult", "risk_study"]


@dataclass
class RiskResult:
    """Per-replicate truths and estimates, and their summaries.

    ``truth[name]``: (replicates, *shape); ``estimates[method][name]``: same shape, NaN where
    an estimator gave no value (a CM-ML that does not exist, say). ``converged`` (replicates,):
    the diagnose verdict of each replicate's CM draws (None without ``cm``); ``warnings[r]``:
    the warning messages of replicate r; ``converged_only``: average over converged replicates.
    """

    model_name: str
    var_names: list
    methods: tuple
    truth: dict
    estimates: dict
    settings: dict
    converged: np.ndarray | None = None
    warnings: list = field(default_factory=list)
    converged_only: bool = False

    @property
    def not_converged(self):
        """Replicates whose CM draws did not converge (None when no CM was run)."""
        return None if self.converged is None else int((~self.converged).sum())

    def summary(self):
        """``{method: {"mse", "mse_mcse", "bias", "bias_mcse", "excess_over_cm",
        "excess_mcse", "n"}}``, errors pooled over parameters and components; ``n`` counts the
        replicates averaged (without a value, or not converged under ``converged_only``, out)."""
        errors = {m: self._errors(m) for m in self.methods}
        keep = True
        if self.converged_only and self.converged is not None:
            keep = self.converged
        out = {}
        for method, err in errors.items():
            ok = np.isfinite(err).all(axis=1) & keep
            sq = (err[ok] ** 2).mean(axis=1)
            n = int(ok.sum())
            entry = {
                "n": n,
                "mse": float(sq.mean()) if n else None,
                "mse_mcse": float(sq.std(ddof=1) / np.sqrt(n)) if n > 1 else None,
                "bias": float(err[ok].mean()) if n else None,
                "bias_mcse": float(err[ok].mean(axis=1).std(ddof=1) / np.sqrt(n))
                if n > 1
                else None,
            }
            if "cm" in errors and method != "cm":
                both = ok & np.isfinite(errors["cm"]).all(axis=1) & keep
                diff = (err[both] ** 2).mean(axis=1) - (errors["cm"][both] ** 2).mean(axis=1)
                k = int(both.sum())
                entry["excess_over_cm"] = float(diff.mean()) if k else None
                entry["excess_mcse"] = float(diff.std(ddof=1) / np.sqrt(k)) if k > 1 else None
            out[method] = entry
        return out

    def _errors(self, method):
        parts = [
            (
                np.asarray(self.estimates[method][n], float) - np.asarray(self.truth[n], float)
            ).reshape(len(self.truth[n]), -1)
            for n in self.var_names
        ]
        return np.concatenate(parts, axis=1)

    def to_dict(self):
        return {
            "model": self.model_name,
            "replicates": int(len(next(iter(self.truth.values())))),
            "parameters": list(self.var_names),
            "risk": self.summary(),
            "not_converged": self.not_converged,
            "converged_only": self.converged_only,
            "replicates_with_warnings": sum(1 for w in self.warnings if w),
            "settings": self.settings,
        }

    def table(self):
        rows = self.summary()
        head = (
            f"{'estimator':<10}{'MSE':>12}{'+-':>10}{'bias':>12}{'+-':>10}"
            f"{'MSE - MSE(CM)':>16}{'+-':>10}{'n':>6}"
        )
        lines = [
            f"risk study: {self.model_name}, {self.to_dict()['replicates']} replicates, "
            f"squared error pooled over {', '.join(self.var_names)}",
            head,
            "-" * len(head),
        ]

        def cell(value, width, fmt=".4g"):
            return ("-" if value is None else format(value, fmt)).rjust(width)

        for method, r in rows.items():
            lines.append(
                f"{method.upper().replace('_', '-'):<10}{cell(r['mse'], 12)}"
                f"{cell(r['mse_mcse'], 10, '.2g')}{cell(r['bias'], 12)}"
                f"{cell(r['bias_mcse'], 10, '.2g')}{cell(r.get('excess_over_cm'), 16)}"
                f"{cell(r.get('excess_mcse'), 10, '.2g')}{r['n']:>6}"
            )
        best = min((m for m in rows if rows[m]["mse"] is not None), key=lambda m: rows[m]["mse"])
        lines.append(f"lowest MSE: {best.upper().replace('_', '-')}")
        if self.converged is not None:
            use = "excluded (converged_only)" if self.converged_only else "included in the averages"
            lines.append(
                f"NUTS did not converge in {self.not_converged} of {self.converged.size} "
                f"replicates ({use})"
            )
        return "\n".join(lines)

    def plot(self):
        """Bar chart of the MSE per estimator with 2-MCSE error bars; a matplotlib Figure
        (outside pyplot)."""
        from matplotlib.figure import Figure

        from workbench.plots import STYLE

        rows = {m: r for m, r in self.summary().items() if r["mse"] is not None}
        fig = Figure(figsize=(6, 3.2), layout="constrained")
        ax = fig.subplots()
        names = list(rows)
        ax.bar(
            [STYLE[m]["label"] for m in names],
            [rows[m]["mse"] for m in names],
            yerr=[2 * (rows[m]["mse_mcse"] or 0) for m in names],
            color=[STYLE[m]["color"] for m in names],
            alpha=0.75,
            capsize=4,
        )
        ax.set_ylabel("mean squared error")
        ax.set_title(f"{self.model_name}: risk over {self.to_dict()['replicates']} prior draws")
        return fig

    def save(self, out_dir):
        """Write ``risk.json`` and ``risk.png`` under ``out_dir`` atomically; returns the paths."""
        from workbench.output import save_figure, write_json

        out = Path(out_dir)
        paths = {
            "json": write_json(out / "risk.json", self.to_dict()),
            "figure": save_figure(self.plot(), out / "risk.png"),
        }
        return {k: str(v) for k, v in paths.items()}


def _replicate(shared, data, seed):
    """Estimates, CM verdict (None without cm) and the warning messages of one replicate; the
    estimator (model compiled once) is kept per worker process."""
    estimator = worker_cached(shared["key"], lambda: _estimator(**shared["build"]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = estimator.run(data=data, seed=seed)
    out = {}
    for method in estimator.methods:
        values = result.point.get(method) or {}
        out[method] = {n: values.get(n) for n in estimator.var_names}
    messages = list(dict.fromkeys(str(w.message) for w in caught))
    return out, result.diagnostics.get("converged"), messages


def _estimator(name, settings, data, estimator_kwargs):
    import models
    from workbench.bayes.estimators import Estimator

    with warnings.catch_warnings(record=True):  # building the model: nothing per replicate
        warnings.simplefilter("always")
        model = models.build(name, data=data, **settings)
        return Estimator(model, progressbar=False, name=name, **estimator_kwargs)


def risk_study(
    model_name,
    replicates=100,
    *,
    settings=None,
    data=None,
    methods=METHODS,
    draws=500,
    tune=500,
    chains=2,
    sampler="nutpie",
    seed=None,
    n_workers=None,
    client=None,
    scheduler=None,
    progressbar=None,
    converged_only=False,
):
    """Risk of each estimator on catalogue model ``model_name`` over ``replicates`` prior draws.

    The design (sample size, covariates) comes from ``data`` (built-in data when None); only the
    observations are replaced by simulations. Replicates run on Dask
    (:func:`workbench.replicates.run_replicates`): on ``client``, on the cluster whose scheduler
    is at ``scheduler`` (``tcp://HOST:PORT``), or on ``n_workers`` local processes (default: the
    cores; 1: in this process); each worker compiles the model once. Each replicate has its own
    seed (a SeedSequence child of ``seed``), so the result does not depend on where it ran.
    ``progressbar``: on stderr (None: when stderr is a terminal). Non-converged replicates (CM
    draws judged by ``diagnose``) are counted and averaged in, unless ``converged_only``.
    Returns a :class:`RiskResult`.
    """
    import models

    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 2:
        raise ValueError(f"replicates: expected an integer >= 2, got {replicates!r}")
    spec = models.get_spec(model_name)
    settings = dict(settings or {})
    model = models.build(model_name, data=data, **settings)
    data_names = observed_data_names(model)
    var_names = list(spec.var_names or [rv.name for rv in model.free_RVs])
    try:
        prior = pm.sample_prior_predictive(
            draws=replicates, model=model, random_seed=np.random.default_rng(seed)
        )
    except Exception as err:  # PyMC raises NotImplementedError for flat priors, among others
        raise ValueError(
            f"model: cannot draw true parameters from the prior of {model_name!r} ({err}); the "
            "risk study needs a proper prior (e.g. --set prior=weak)"
        ) from None
    truth = {n: np.asarray(prior["prior"][n].values[0]) for n in var_names}
    simulated = [
        {data_names[o]: np.asarray(prior["prior_predictive"][o].values[0, r]) for o in data_names}
        for r in range(replicates)
    ]
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(replicates)]
    estimator_kwargs = {
        "methods": tuple(methods),
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "sampler": sampler,
        "var_names": var_names,
    }
    build = {"name": model_name, "settings": settings, "data": data,
             "estimator_kwargs": estimator_kwargs}  # fmt: skip
    from dask.base import tokenize

    shared = {"key": f"risk-{tokenize(build)}", "build": build}
    outputs = run_replicates(
        _replicate, shared, zip(simulated, seeds, strict=True), client=client,
        scheduler=scheduler, n_workers=n_workers, progressbar=progressbar,
        desc=f"risk {model_name}",
    )  # fmt: skip

    def stacked(method, name):
        blank = np.full(truth[name].shape[1:], np.nan)
        return np.stack([blank if o[method][name] is None else o[method][name] for o in outputs])

    outputs, verdicts, messages = zip(*outputs, strict=True)
    estimates = {m: {n: stacked(m, n) for n in var_names} for m in methods}
    converged = None if "cm" not in methods else np.array([bool(v) for v in verdicts])
    run_settings = {
        **settings,
        "replicates": replicates,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "sampler": sampler,
        "seed": seed,
    }
    return RiskResult(
        model_name, var_names, tuple(methods), truth, estimates, run_settings,
        converged, list(map(list, messages)), converged_only,
    )  # fmt: skip
