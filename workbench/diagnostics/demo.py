"""The diagnostics section of ``workbench demo``: one healthy run, one pathological one."""

import warnings

import numpy as np

__all__ = ["funnel_model", "section_diagnostics"]


def funnel_model(dim=3, centred=True):
    """Neal's funnel: ``v ~ N(0, 3^2)``, ``x_i ~ N(0, e^v)`` (variances: sds 3 and e^(v/2));
    ``centred=False`` samples standard normals and scales them (the non-centred form NUTS
    handles well)."""
    import pymc as pm

    with pm.Model() as model:
        v = pm.Normal("v", 0.0, 3.0)
        if centred:
            pm.Normal("x", 0.0, pm.math.exp(v / 2), shape=dim)
        else:
            z = pm.Normal("z", 0.0, 1.0, shape=dim)
            pm.Deterministic("x", z * pm.math.exp(v / 2))
    return model


def section_diagnostics(report, seed, **_):

    import pymc as pm

    from workbench.diagnostics import diagnose
    from workbench.samplers import metropolis

    mean, cov = np.array([1.0, -2.0]), np.array([[1.0, 0.8], [0.8, 2.0]])
    precision = np.linalg.inv(cov)

    def logdensity(x):
        d = x - mean
        return -0.5 * np.einsum("ci,ij,cj->c", d, precision, d)

    starts = np.random.default_rng(seed).normal(scale=3.0, size=(4, 2))
    healthy = diagnose(metropolis.sample(logdensity, starts, draws=4000, warmup=1000, seed=seed))
    report.heading(
        "Convergence diagnostics: a healthy run and a funnel",
        look="the verdict column: every entry ok for the healthy run; for the funnel, the "
        "divergences, the low E-BFMI and the problems listed under its table.",
    )
    report.paragraph(
        "Random-walk Metropolis on a correlated 2-D Gaussian, 4 chains from dispersed starts, "
        "step size tuned during warm-up. R-hat near 1 says the chains agree; the ESS says how "
        "many independent draws the autocorrelated chains are worth; the MCSE is the error of "
        "the reported mean. The rank plot shows each chain's rank ECDF inside the band."
    )
    report.table(healthy.as_table())
    report.figure(healthy.plot("rank").get_viz("figure"), "Rank plot: chains agree.")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = pm.sample(
            draws=500,
            tune=500,
            chains=4,
            cores=1,
            random_seed=seed,
            progressbar=False,
            model=funnel_model(),
            nuts_sampler="pymc",
            compute_convergence_checks=False,
        )
    funnel = diagnose(tree)
    report.paragraph(
        "NUTS on Neal's funnel in its centred form: the scale of x depends on v, so the neck of "
        "the funnel needs a far smaller step than its mouth. The sampler reports divergent "
        "transitions and a low energy BFMI, and the workbench says what they mean and what to "
        "do (the non-centred form fixes it; see tutorials/02_mcmc_convergence.py)."
    )
    report.table(funnel.as_table())
    report.figure(
        funnel.plot("trace", var_names=["v"]).get_viz("figure"),
        "Trace of v (log-scale of the funnel); divergences marked.",
    )
    report.figure(funnel.plot("energy").get_viz("figure"), "Energy and E-BFMI.")
    return (
        f"diagnostics: healthy run {'converged' if healthy.converged else 'NOT converged'}; "
        f"funnel {'converged' if funnel.converged else 'NOT converged'} "
        f"({funnel.divergences} divergences)"
    )
