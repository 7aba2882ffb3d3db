"""Simulation-based calibration passes the correct Metropolis sampler and catches one with a
wrong acceptance rule that R-hat and ESS cannot see. Replicates are vectorised: each replicate
is one chain with its own data set. The broken rule widens the posterior by sqrt(2), which moves
the rank ECDF by about 0.08; 1000 replicates make the 99% band about +-0.05 wide, so the
check has ample power (with 200 replicates, +-0.11, it would not)."""

import numpy as np
import pytest

import models
from workbench.diagnostics import diagnose, sbc, sbc_model
from workbench.diagnostics.calibration import simultaneous_band
from workbench.samplers import metropolis

N_OBS, PRIOR_SD, NOISE = 5, 1.0, 1.0


def simulate(rng, replicates):
    mu = rng.normal(0.0, PRIOR_SD, size=replicates)
    return {"mu": mu}, mu[:, None] + NOISE * rng.normal(size=(replicates, N_OBS))


def run_chains(y, rule, seed):
    def logdensity(x):  # one row per replicate: that replicate's posterior of mu
        mu = x[:, 0]
        return -0.5 * mu**2 / PRIOR_SD**2 - 0.5 * ((y - mu[:, None]) ** 2).sum(1) / NOISE**2

    return metropolis.sample(
        logdensity, np.zeros((y.shape[0], 1)), draws=2000, warmup=500, rule=rule, seed=seed
    )


def make_infer(rule):
    def infer(rng, y):
        tree = run_chains(y, rule, rng)
        return {"mu": tree["posterior"]["x"].values[:, ::20, 0]}  # thin to ~independent draws

    return infer


@pytest.fixture(scope="module")
def results():
    return {
        rule: sbc(simulate, make_infer(rule), replicates=1000, seed=21)
        for rule in ("metropolis", "half-log-ratio")
    }


def test_sbc_passes_correct_sampler(results):
    good = results["metropolis"]
    assert good.calibrated
    ranks = good.ranks["mu"]
    assert ranks.shape == (1000,) and ranks.min() >= 0 and ranks.max() <= good.draws == 100
    assert good.to_dict()["calibrated"] is True


def test_sbc_fails_wrong_acceptance_rule(results):
    bad = results["half-log-ratio"]
    assert not bad.calibrated
    # too wide a posterior: truths fall in the middle, ranks pile up around L/2
    ranks = bad.ranks["mu"]
    assert np.mean((ranks > 25) & (ranks < 75)) > 0.6
    assert "NOT calibrated" in bad.table()


def test_broken_sampler_looks_converged():
    """The bug is invisible to convergence diagnostics: the chains mix, they just target the
    wrong distribution. This is why SBC exists."""
    _, y = simulate(np.random.default_rng(22), 4)
    y = np.repeat(y[:1], 4, axis=0)  # 4 chains on the same data set
    assert diagnose(run_chains(y, "half-log-ratio", 23)).converged


def test_sbc_plot_and_validation(results):
    result = results["metropolis"]
    viz = result.plot(backend="none").viz
    assert "ecdf_lines" in viz.children
    # The shaded band is the verdict's simultaneous band, as ECDF minus uniform.
    band = viz["simultaneous_band"]["mu"].item()
    points, lower, upper = simultaneous_band(
        result.tree["prior_sbc"].sizes["draw"], result.entry_prob
    )
    # drawn as steps: every band point appears, and every drawn edge value is the band's
    np.testing.assert_allclose(np.unique(band["x"]), points)
    for key, edge in (("y_bottom", lower - points), ("y_top", upper - points)):
        assert np.isin(np.round(band[key], 12), np.round(edge, 12)).all(), key
    with pytest.raises(ValueError, match="replicates"):
        sbc(simulate, make_infer("metropolis"), replicates=2)
    with pytest.raises(ValueError, match="infer: draws of 'mu'"):
        sbc(simulate, lambda rng, y: {"mu": np.zeros((3, 10))}, replicates=20)


def test_sbc_on_catalogue_model():
    """The PyMC path: prior predictive, compiled log-density with swapped pm.Data, Metropolis."""
    result = sbc_model(
        models.build("beta-binomial"),
        replicates=30,
        draws=400,
        warmup=200,
        thin=8,
        seed=24,
        n_workers=1,  # in this process; Dask workers: tests/test_replicates.py
    )
    assert result.ranks["p"].shape == (30,) and result.draws == 100
    assert result.calibrated
    # each replicate's 2 x 400 Metropolis draws judged by the one rule, and counted
    assert result.converged.shape == (30,) and result.to_dict()["not_converged"] == (
        30 - int(result.converged.sum())
    )
    assert f"{result.not_converged} of 30 replicates did not converge" in result.table()


def test_band_holds_uniform_ecdfs_at_its_probability():
    """Independent check of the band: ECDFs of truly uniform samples leave a 90% simultaneous
    band about 10% of the time (400 samples of size 200: 40 expected, binomial sd 6)."""
    from arviz_stats.ecdf_utils import compute_ecdf

    from workbench.diagnostics.calibration import simultaneous_band

    points, lower, upper = simultaneous_band(200, 0.9)
    rng = np.random.default_rng(25)
    ecdfs = np.stack([compute_ecdf(rng.random(200), points) for _ in range(400)])
    leave = ((ecdfs < lower) | (ecdfs > upper)).any(axis=1).mean()
    assert 0.05 < leave < 0.16, leave


def test_sbc_vector_parameter_with_exact_posterior_draws():
    """Three independent conjugate normal means; exact posterior draws (no MCMC) must pass,
    draws from a posterior shifted by half a posterior sd in one entry must fail there."""

    def simulate_vector(rng, replicates):
        mu = rng.normal(size=(replicates, 3))
        return {"mu": mu}, mu[:, None, :] + rng.normal(size=(replicates, N_OBS, 3))

    def infer(shift):
        def draw(rng, y):
            precision = 1 / PRIOR_SD**2 + N_OBS / NOISE**2
            mean = y.sum(axis=1) / NOISE**2 / precision  # (replicates, 3)
            sd = precision**-0.5
            draws = mean[:, None, :] + sd * rng.normal(size=(y.shape[0], 100, 3))
            draws[..., 0] += shift * sd
            return {"mu": draws}

        return draw

    exact = sbc(simulate_vector, infer(0.0), replicates=500, seed=26)
    assert exact.calibrated and exact.entry_prob == pytest.approx(1 - 0.01 / 3)
    shifted = sbc(simulate_vector, infer(0.5), replicates=500, seed=26)
    assert shifted.outside["mu"].tolist() == [True, False, False]
