"""``workbench demo``: the estimator comparison on built-in data, as an HTML report.

Each section is a case where MAP, ML, CM and CM-ML disagree in an instructive way. Later
capabilities add sections by appending to ``SECTIONS``. With ``WORKBENCH_QUICK=1`` (the test
suite, :mod:`workbench.sizes`) the sections in ``QUICK_SKIPS`` are left out: tutorial 01 runs
the same catalogue models and prints the same numbers.
"""

import time
import warnings
from pathlib import Path

import numpy as np

import models
from workbench.bayes import Estimator
from workbench.bayes.demo import section_approximations
from workbench.diagnostics.demo import section_diagnostics
from workbench.energy.demo import section_energy
from workbench.errors import InputError
from workbench.linear.demo import section_ppca
from workbench.nn.autoencoder.demo import section_autoencoder
from workbench.nn.cnn.demo import section_cnn
from workbench.nn.dbm.demo import section_model_comparison
from workbench.nn.rbm.demo import section_rbm_training
from workbench.nn.sbn.demo import section_sbn
from workbench.output import write_json
from workbench.report import HtmlReport, Table, estimate_tables
from workbench.sizes import run_size
from workbench.sparse.demo import section_sparse_coding

__all__ = ["QUICK_SKIPS", "SECTIONS", "run_demo", "section_names"]


def _estimate(name, seed, methods=("map", "ml", "cm", "cm_ml"), data=None, **settings):
    spec = models.get_spec(name)
    model = models.build(name, data=data, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Estimator(model, methods=methods, var_names=spec.var_names, name=name).run(seed=seed)


def section_beta_binomial(report, seed, **_):
    result = _estimate("beta-binomial", seed)
    report.heading(
        "Four estimates of a coin's bias",
        look="the MAP, ML, CM and CM-ML columns against the closed forms below; the figure "
        "marks all four on the posterior.",
    )
    report.paragraph(
        "3 heads in 10 tosses, prior Beta(2, 2). The ML is the observed frequency 3/10, the MAP "
        "(a+k-1)/(a+b+n-2) = 1/3 is pulled towards the prior's mode, the posterior mean "
        "(a+k)/(a+b+n) = 5/14 further still, and the flat-prior mean (k+1)/(n+2) = 1/3 is "
        "Laplace's rule of succession."
    )
    report.table(*estimate_tables(result))
    report.figure(result.plot(), "Posterior density with the four estimates and the 90% HDI.")
    p = result.point
    return f"beta-binomial: MAP {p['map']['p']:.4f}, ML {p['ml']['p']:.4f}, CM {p['cm']['p']:.4f}"


def section_invariance(report, seed, **_):
    direct = _estimate("beta-binomial", seed, methods=("map", "ml", "cm"))
    logit = _estimate("beta-binomial", seed, methods=("map", "ml", "cm"), parametrisation="logit")
    report.heading(
        "The MAP depends on the parametrisation; the ML does not",
        look="the MAP column changes between the two rows, the ML and CM columns do not.",
    )
    report.paragraph(
        "The same prior and data, once written in p and once in z = logit(p) (the prior pushed "
        "through the logit, Jacobian included). Maximising a density is not invariant under a "
        "change of variables, because the density picks up the Jacobian; the likelihood is a "
        "function, not a density in the parameter, so its maximiser maps across. Posterior "
        "means of p agree as well: they are expectations, not modes."
    )
    rows = [
        [label, *(float(res.point[m]["p"]) for m in ("map", "ml", "cm"))]
        for label, res in (("p", direct), ("logit(p)", logit))
    ]
    columns = ["parametrisation", "MAP of p", "ML of p", "CM of p"]
    report.table(Table(columns, rows, formats=dict.fromkeys(columns[1:], ".4f")))
    return (
        f"invariance: MAP {direct.point['map']['p']:.4f} (p) vs "
        f"{logit.point['map']['p']:.4f} (logit); ML {direct.point['ml']['p']:.4f} both"
    )


def section_laplace(report, seed, **_):
    result = _estimate("laplace-denoise", seed)
    x_map, x_cm = np.ravel(result.point["map"]["x"]), np.ravel(result.point["cm"]["x"])
    zeros = int((np.abs(x_map) < 1e-4).sum())
    report.heading(
        "Sparsity: the MAP soft-thresholds, the posterior mean does not",
        look="exact zeros in the MAP column and none in the CM column; in the figure the MAP "
        "sits at zero inside wide intervals.",
    )
    report.paragraph(
        f"A spiky signal plus Gaussian noise, Laplace prior on each value. {zeros} of "
        f"{x_map.size} MAP values are zero (to 1e-4); the smallest |CM| value is "
        f"{np.abs(x_cm).min():.3g}. A Laplace prior makes the mode sparse, not the posterior."
    )
    report.table(*estimate_tables(result, max_components=8))
    report.figure(result.plot(), "Estimates per component; the shaded band is the 90% HDI.")
    return f"laplace-denoise: {zeros}/{x_map.size} MAP values exactly zero, none in the CM"


def section_deconvolution(report, seed, **_):
    report.heading(
        "Deconvolution: where MAP and CM part ways",
        look="with the Gaussian prior the MAP and CM columns agree; with the TV prior the MAP "
        "is piecewise flat and the CM smooth; the ML column is noise.",
    )
    report.paragraph(
        "A blurred, noisy step signal. The blur matrix is badly conditioned, so the likelihood "
        "alone hardly determines the signal: the ML fit amplifies noise wildly and the flat-prior "
        "mean, though it exists, is numerically unreliable. With a Gaussian prior the posterior is "
        "Gaussian and MAP = CM (the "
        "Tikhonov solution); with a total-variation prior the MAP is piecewise flat while the CM "
        "is smooth."
    )
    lines = []
    for prior in ("gaussian", "tv"):
        result = _estimate("deconvolution", seed, prior=prior)
        report.heading(f"prior = {prior}", level=3)
        report.table(*estimate_tables(result, max_components=6))
        report.figure(result.plot(), f"Deconvolution with a {prior} prior.")
        gap = np.max(np.abs(np.ravel(result.point["map"]["x"]) - np.ravel(result.point["cm"]["x"])))
        lines.append(f"{prior}: max |MAP - CM| = {gap:.3f}")
    return "deconvolution: " + "; ".join(lines)


def section_normal(report, seed, **_):
    data = np.array([0.8, 2.9, 1.7])
    result = _estimate("normal", seed, data=data)
    report.heading(
        "When the flat-prior mean does not exist",
        look="the CM-ML column has no value for sigma, and the warning under the table says why.",
    )
    report.paragraph(
        "Three observations of a normal with unknown mean and sd. With a flat prior, the "
        "marginal of sigma decays like sigma^-2: normalisable, but with no mean. The workbench "
        "reports no CM-ML for sigma and says why; a proper prior fixes it."
    )
    report.table(*estimate_tables(result))
    sigma = result.point["cm_ml"]["sigma"]
    reported = sigma is not None and bool(np.isfinite(sigma))
    return "normal (n=3): CM-ML of sigma " + ("reported" if reported else "not reported")


def section_risk(report, seed, replicates=60, **_):
    from workbench.bayes.risk import risk_study

    study = risk_study("beta-binomial", replicates=replicates, seed=seed, progressbar=False)
    report.heading(
        "Frequentist risk: the posterior mean wins on average",
        look="the lowest MSE is the CM's, and the MSE - MSE(CM) column is positive for the "
        "others, measured against its Monte Carlo error.",
    )
    report.paragraph(
        f"{replicates} coins drawn from the Beta(2, 2) prior, 10 tosses each, every estimator "
        "applied to every data set. Averaged over the prior, the squared error is the Bayes risk, "
        "which the posterior mean minimises. The paired column compares each estimator with the "
        "CM on the same data sets."
    )
    report.table(_risk_table(study))
    report.figure(study.plot(), "Mean squared error per estimator (bars: 2 Monte Carlo SE).")
    best = min(study.summary().items(), key=lambda kv: kv[1]["mse"] or np.inf)[0]
    return f"risk ({replicates} replicates): lowest MSE {best.upper()}"


def _risk_table(study):
    """The risk study's summary as a :class:`Table` (the text version: ``study.table()``)."""
    rows = [
        [m.upper().replace("_", "-")]
        + [r.get(k) for k in ("mse", "mse_mcse", "bias", "bias_mcse", "excess_over_cm")]
        + [r.get("excess_mcse"), r["n"]]
        for m, r in study.summary().items()
    ]
    columns = ["estimator", "MSE", "+-", "bias", "+-", "MSE - MSE(CM)", "+-", "n"]
    notes = ["+-: one Monte Carlo standard error"]
    if study.converged is not None:
        use = "excluded" if study.converged_only else "included in the averages"
        notes.append(f"NUTS did not converge in {study.not_converged} replicates ({use})")
    title = f"{study.model_name}: squared error pooled over {', '.join(study.var_names)}"
    return Table(columns, rows, formats=dict.fromkeys((2, 4, 6), ".2g"), title=title, notes=notes)


SECTIONS = [
    section_beta_binomial,
    section_invariance,
    section_laplace,
    section_deconvolution,
    section_normal,
    section_risk,
    section_diagnostics,
    section_ppca,
    section_energy,
    section_rbm_training,
    section_cnn,
    section_autoencoder,
    section_sbn,
    section_sparse_coding,
    section_model_comparison,
    section_approximations,
]
# Left out of the quick run: tutorial 01 (executed by the tests) runs the same models.
QUICK_SKIPS = (
    section_invariance,
    section_laplace,
    section_deconvolution,
    section_normal,
    section_risk,
    section_sparse_coding,  # tutorial 09 runs the same model and a digits dictionary
    section_model_comparison,  # its quick run: tests/test_nn_dbm_compare.py, tutorial 12
)


def section_names():
    """The short names of the sections, in order (``section_energy`` is ``energy``)."""
    return [s.__name__.removeprefix("section_") for s in SECTIONS]


def _pick(sections):
    """Section functions from short names (None: every section, less ``QUICK_SKIPS`` when
    ``$WORKBENCH_QUICK`` is set)."""
    if sections is None:
        return run_size(SECTIONS, [s for s in SECTIONS if s not in QUICK_SKIPS])
    names = [sections] if isinstance(sections, str) else list(sections)
    unknown = [n for n in names if n not in section_names()]
    if unknown or not names:
        raise InputError("sections", f"names from {', '.join(section_names())}", names)
    return [s for s in SECTIONS if s.__name__.removeprefix("section_") in names]


def run_demo(out_dir="workbench-demo", seed=1, replicates=60, echo=True, sections=None):
    """Run the sections, write ``report.html`` and ``summary.json``; returns the summary (one
    line per section). ``sections``: short names (:func:`section_names`) to run, in the
    report's order; default every section, without ``QUICK_SKIPS`` when ``$WORKBENCH_QUICK``
    is set."""

    out = Path(out_dir)
    report = HtmlReport("Workbench demo: MAP, ML, CM and CM-ML side by side")
    report.paragraph(
        "MAP: posterior mode. ML: likelihood maximum, priors dropped. CM: posterior mean by NUTS, "
        "with Monte Carlo error. CM-ML: mean of the likelihood normalised over the parameters "
        "(a flat prior). Intervals are highest-density intervals of the posterior."
    )
    sections = _pick(sections)
    summary, start = {"sections": []}, time.time()
    for section in sections:
        tick = time.time()
        line = section(report, seed=seed, replicates=replicates)
        summary["sections"].append(
            {"name": section.__name__, "summary": line, "seconds": round(time.time() - tick, 1)}
        )
        if echo:
            print(f"  {line}  [{time.time() - tick:.0f} s]", flush=True)
    summary["report"] = str(report.save(out / "report.html"))
    summary["seconds"] = round(time.time() - start, 1)
    write_json(out / "summary.json", summary)
    if echo:
        print(f"report: {summary['report']}  ({summary['seconds']:.0f} s)")
    return summary
