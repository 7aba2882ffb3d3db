"""The approximations section of ``workbench demo``: when a MAP does not exist, and when a
Gaussian approximation fails with its k-hat saying so."""

import warnings

import numpy as np

__all__ = ["section_approximations"]


def _run(name, methods, seed, **settings):
    import models
    from workbench.bayes import Estimator

    model = models.build(name, **settings)
    spec = models.get_spec(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator = Estimator(model, methods=methods, var_names=spec.var_names, name=name)
        return estimator.run(seed=seed)


def section_approximations(report, seed, **_):
    """Eight schools' MAP (centred: none; non-centred: one), then Laplace and Pathfinder on
    Neal's funnel with their k-hats. ADVI is left out: ``pm.fit`` compiles for tens of seconds
    (tutorial 01 and the slow tests show it flagged on the funnel too)."""
    centred = _run("eight-schools", ("map",), seed)
    non_centred = _run("eight-schools", ("map",), seed, parametrisation="non-centred")
    methods = ("laplace", "pathfinder")
    funnel = _run("funnel", methods, seed)
    from workbench.report import estimate_tables

    report.heading(
        "When there is no MAP, and when a Gaussian approximation fails",
        look="'no MAP' for the centred eight schools but a MAP for the non-centred form; "
        "k-hats above 0.7 under the funnel's table flag both approximations.",
    )
    report.paragraph(
        "Eight schools, centred: the density of (mu, tau, theta) grows like tau^-8 as tau -> 0 "
        "with every theta_j = mu, so no MAP exists; every optimiser start climbs into that "
        "corner, and the workbench says so instead of reporting the point where it stopped. "
        "The non-centred form (theta = mu + tau theta_raw) has a bounded density; its MAP is "
        "complete pooling, tau at 0 and every theta_j at the precision-weighted mean."
    )
    for label, result, shown in (("centred", centred, 12), ("non-centred", non_centred, 3)):
        tables = estimate_tables(result, max_components=shown)
        tables[0].title = f"{label}: {tables[0].title}"
        report.table(*tables)
    report.paragraph(
        "Neal's funnel, v ~ N(0, 3), x_i ~ N(0, exp(v/2)): the width of x changes by orders of "
        "magnitude along v, so no Gaussian on (v, x) fits. The Laplace centre sits deep in the "
        "neck (v near -40), Pathfinder misses the wide mouth; the Pareto k-hat of "
        "log p - log q over each one's draws is above 0.7 and flags them as unreliable."
    )
    report.table(*estimate_tables(funnel, max_components=2))
    khats = ", ".join(
        f"{m} {funnel.method_diagnostics[m]['khat']:.2f}"
        for m in methods
        if funnel.method_diagnostics.get(m, {}).get("khat") is not None
    )
    exists = non_centred.method_diagnostics["map"]["exists"]
    mu = float(np.asarray(non_centred.point["map"]["mu"]))
    return (
        f"approximations: eight schools centred MAP "
        f"{'none' if centred.method_diagnostics['map']['exists'] is False else 'found'}, "
        f"non-centred MAP {f'mu = {mu:.2f}' if exists else 'none'}; funnel k-hat {khats}"
    )
