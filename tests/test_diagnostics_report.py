"""workbench.diagnostics: known-bad chains are flagged, good chains pass, numbers are ArviZ's,
every input form is read, and bad input fails with a clear message (CLI: exit code 2)."""

import json

import arviz_base as ab
import arviz_stats as azs
import numpy as np
import pytest
import torch
import xarray as xr

from workbench.cli import main
from workbench.diagnostics import Thresholds, diagnose

RNG = np.random.default_rng(20261123)
GOOD = RNG.normal(size=(4, 1000, 3))


def ar1(rho, shape, rng):
    """Stationary AR(1) chains with unit variance and lag-1 autocorrelation ``rho``."""
    x = np.empty(shape)
    x[:, 0] = rng.normal(size=(shape[0], *shape[2:]))
    noise = np.sqrt(1 - rho**2) * rng.normal(size=shape)
    for t in range(1, shape[1]):
        x[:, t] = rho * x[:, t - 1] + noise[:, t]
    return x


def kinds(report, name="x"):
    return {p.kind for p in report.variables[name].problems}


def test_good_chains_pass_with_arviz_numbers():
    report = diagnose(GOOD)
    assert report.converged and report.variables["x"].converged
    assert not report.problems and not report.variables["x"].problems
    ds = xr.Dataset({"x": (("chain", "draw", "k"), GOOD)})
    np.testing.assert_allclose(report.variables["x"].r_hat, azs.rhat(ds)["x"].values)
    np.testing.assert_allclose(
        report.variables["x"].ess_tail, azs.ess(ds, method="tail", prob=(0.05, 0.95))["x"].values
    )
    np.testing.assert_allclose(report.variables["x"].mcse_sd, azs.mcse(ds, method="sd")["x"].values)


def test_shifted_chain_flagged_as_disagreement():
    draws = GOOD.copy()
    draws[1] += 1.0
    report = diagnose(draws)
    assert not report.converged
    assert "chains_disagree" in kinds(report)
    problem = next(p for p in report.variables["x"].problems if p.kind == "chains_disagree")
    assert "chain 1" in problem.message and problem.cause and problem.remedy


def test_stuck_chain_flagged():
    draws = GOOD.copy()
    draws[2] = 0.7 + 1e-3 * draws[2]
    report = diagnose(draws)
    assert not report.converged
    assert "chain_stuck" in kinds(report)
    assert "[2]" in next(p.message for p in report.variables["x"].problems)


def test_strong_autocorrelation_flagged():
    report = diagnose(ar1(0.99, (4, 1000), np.random.default_rng(1)))
    assert not report.converged
    assert "high_autocorrelation" in kinds(report)
    # mild autocorrelation with enough draws passes
    assert diagnose(ar1(0.5, (4, 2000), np.random.default_rng(2))).converged


def test_too_few_draws_and_constant_variable_explained():
    assert "too_few_draws" in kinds(diagnose(GOOD[:, :50]))
    report = diagnose({"a": GOOD[..., 0], "c": np.zeros((4, 1000))})
    assert report.variables["a"].converged and not report.variables["c"].converged
    assert {p.kind for p in report.variables["c"].problems} == {"constant"}


def test_thresholds_are_configurable():
    draws = ar1(0.95, (4, 1000), np.random.default_rng(6))
    loose = diagnose(draws, thresholds={"r_hat": 1.05, "ess_per_chain": 10})
    assert not diagnose(draws).converged and loose.converged
    assert loose.to_dict()["thresholds"]["r_hat"] == 1.05
    with pytest.raises(ValueError, match="unknown key"):
        diagnose(draws, thresholds={"rhat": 1.1})
    assert Thresholds().ess_per_chain == 100


def test_json_shape_and_sampler_stats():
    rng = np.random.default_rng(3)
    diverging = np.zeros((4, 500), bool)
    diverging[0, :3] = True
    tree = ab.from_dict(
        {
            "posterior": {"mu": rng.normal(size=(4, 500)), "theta": rng.normal(size=(4, 500, 2))},
            "sample_stats": {"diverging": diverging, "energy": rng.normal(size=(4, 500))},
        }
    )
    out = diagnose(tree).to_dict()
    json.dumps(out)
    assert {"converged", "variables", "divergences", "bfmi", "thresholds"} <= set(out)
    assert set(out["variables"]["mu"]) == {
        "r_hat", "ess_bulk", "ess_tail", "mcse_mean", "mcse_sd", "converged", "problems"
    }  # fmt: skip
    assert len(out["variables"]["theta"]["r_hat"]) == 2
    assert out["divergences"] == 3 and out["converged"] is False
    assert [p["kind"] for p in out["problems"]] == ["divergences"]
    expected_bfmi = azs.bfmi(tree)["energy"].values
    np.testing.assert_allclose(out["bfmi"], expected_bfmi)


def test_low_bfmi_flagged():
    rng = np.random.default_rng(4)
    energy = np.cumsum(rng.normal(size=(4, 500)), axis=1)  # a random walk: E-BFMI near 0
    tree = ab.from_dict(
        {"posterior": {"mu": rng.normal(size=(4, 500))}, "sample_stats": {"energy": energy}}
    )
    report = diagnose(tree)
    assert not report.converged and report.problems[0].kind == "low_bfmi"


@pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")
def test_inputs_tensor_dict_and_files(tmp_path):
    tensor = torch.from_numpy(GOOD[..., 0].copy()).float()  # persistent-chain free energies
    from_tensor = diagnose(tensor)
    np.testing.assert_allclose(
        from_tensor.variables["x"].r_hat, diagnose(GOOD[..., 0]).variables["x"].r_hat, rtol=1e-5
    )
    np.save(tmp_path / "d.npy", GOOD)
    np.savez(tmp_path / "d.npz", a=GOOD[..., 0], b=GOOD[..., 1:])
    tree = ab.from_dict({"posterior": {"a": GOOD[..., 0]}})
    tree.to_netcdf(tmp_path / "d.nc", engine="h5netcdf")
    tree.to_zarr(tmp_path / "d.zarr")
    assert diagnose(tmp_path / "d.npy").variables["x"].r_hat.shape == (3,)
    assert set(diagnose(tmp_path / "d.npz").variables) == {"a", "b"}
    for name in ("d.nc", "d.zarr"):
        report = diagnose(tmp_path / name)
        assert report.converged and list(report.variables) == ["a"]


def test_single_chain_explained_and_allowed_on_request():
    with pytest.raises(ValueError, match="single chain. R-hat compares chains"):
        diagnose(GOOD[:1])
    report = diagnose(GOOD[:1], allow_single_chain=True)
    out = report.to_dict()
    assert out["variables"]["x"]["r_hat"] == [None, None, None]
    assert all(v > 100 for v in out["variables"]["x"]["ess_bulk"])
    assert not report.converged and report.problems[0].kind == "single_chain"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (GOOD[0, :, 0], "rank 1"),
        (GOOD[:, :5], "too few draws"),
        (np.where(np.arange(1000) == 7, np.nan, GOOD[..., 0]), "NaN/inf"),
        ({"a": GOOD[..., 0], "b": GOOD[:2, :, 0]}, "same \\(chains, draws\\)"),
        ("draws.txt", "expected a file ending in"),
        (object(), "expected a DataTree"),
    ],
)
def test_bad_input_messages(data, message):
    with pytest.raises((ValueError, TypeError), match=message):
        diagnose(data)


def test_foreign_files_and_unknown_variable(tmp_path):
    (tmp_path / "text.nc").write_text("not a netcdf file")
    (tmp_path / "text.npy").write_text("not an array")
    for name in ("text.nc", "text.npy", "missing.npz"):
        with pytest.raises(ValueError, match="cannot read|no such file"):
            diagnose(tmp_path / name)
    ab.from_dict({"prior": {"a": GOOD[..., 0]}}).to_netcdf(tmp_path / "p.nc", engine="h5netcdf")
    with pytest.raises(ValueError, match="no 'posterior' group"):
        diagnose(tmp_path / "p.nc")
    with pytest.raises(ValueError, match="var_names"):
        diagnose(GOOD, var_names=["y"])


def test_cli_json_strict_and_exit_codes(tmp_path, capsys):
    np.save(tmp_path / "good.npy", GOOD)
    bad = GOOD.copy()
    bad[1] += 1.0
    np.save(tmp_path / "bad.npy", bad)
    assert main(["diagnose", str(tmp_path / "good.npy"), "--json", "--strict"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["converged"] is True and set(out["variables"]) == {"x"}
    assert main(["diagnose", str(tmp_path / "bad.npy")]) == 0  # report made: exit 0
    assert "NOT converged" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        main(["diagnose", str(tmp_path / "bad.npy"), "--strict", "--json"])
    assert stop.value.code == 1
    np.save(tmp_path / "one.npy", GOOD[:1])
    np.save(tmp_path / "rank1.npy", GOOD[0, :, 0])
    np.save(tmp_path / "short.npy", GOOD[:, :5])
    np.save(tmp_path / "nan.npy", np.where(np.arange(3) == 1, np.nan, GOOD))
    (tmp_path / "junk.nc").write_text("junk")
    for path in ("one.npy", "rank1.npy", "short.npy", "nan.npy", "junk.nc", "none.npz"):
        assert main(["diagnose", str(tmp_path / path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("workbench: error:") and err.count("\n") == 1
    assert main(["diagnose", str(tmp_path / "one.npy"), "--allow-single-chain", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["converged"] is False
    assert main(["diagnose", str(tmp_path / "good.npy"), "--threshold", "rhat=2"]) == 2
    np.savez(tmp_path / "many.npz", a=GOOD[..., 0], b=GOOD[..., 1], c=GOOD[..., 2])
    assert main(["diagnose", str(tmp_path / "many.npz"), "--var", "a", "c", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)["variables"]) == {"a", "c"}
    assert main(["diagnose", str(tmp_path / "many.npz"), "--var", "z"]) == 2


def test_figures_and_saved_report(tmp_path):
    rng = np.random.default_rng(5)
    tree = ab.from_dict(
        {
            "posterior": {"x": rng.normal(size=(4, 300, 10))},
            "sample_stats": {"energy": rng.normal(size=(4, 300))},
        }
    )
    report = diagnose(tree)
    drawn = {kind: report.plot(kind, backend="none").viz for kind in
             ("trace", "rank", "autocorr", "ess", "energy")}  # fmt: skip
    # The trace holds every chain's draws of every entry, unchanged.
    draws = tree.posterior["x"].values
    lines = drawn["trace"]["trace"]["x"]
    assert lines.sizes["x_entry"] == 4  # max_components
    for chain in range(4):
        for entry in lines["x_entry"].values:
            line = lines.sel(chain=chain, x_entry=entry).item()
            np.testing.assert_array_equal(np.asarray(line["y"]), draws[chain, :, int(entry)])
    # The energy plot's E-BFMI points are Stan's E-BFMI per chain (NumPy, by definition).
    energy = tree.sample_stats["energy"].values
    bfmi = (np.diff(energy, axis=1) ** 2).sum(1) / (
        (energy - energy.mean(1, keepdims=True)) ** 2
    ).sum(1)
    points = drawn["energy"]["bfmi_points"]["bfmi"].item()
    np.testing.assert_allclose(np.asarray(points["x"]), bfmi, rtol=1e-10)
    for kind, visual in (("rank", "ecdf_lines"), ("autocorr", "lines"), ("ess", "ess_bulk")):
        assert visual in drawn[kind].children, (kind, list(drawn[kind].children))
    with pytest.raises(ValueError, match="kind"):
        report.plot("pairs")
    with pytest.raises(ValueError, match="record no energy"):
        diagnose(GOOD).plot("energy")
    files = diagnose(GOOD[:, :300]).save(tmp_path / "out")
    assert set(files) == {"json", "trace", "rank", "autocorr", "ess"}
    assert json.loads((tmp_path / "out" / "diagnostics.json").read_text())["converged"]
    assert (tmp_path / "out" / "rank.png").stat().st_size > 1000


def test_pymc_nuts_funnel_from_netcdf_via_cli(tmp_path, capsys):
    """A real PyMC DataTree (NUTS on the centred funnel) saved as NetCDF: the CLI reports the
    divergences PyMC recorded and the E-BFMI arviz_stats computes from its energy."""
    import warnings

    import pymc as pm

    from workbench.diagnostics.demo import funnel_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = pm.sample(
            draws=300,
            tune=300,
            chains=4,
            cores=1,
            random_seed=7,
            progressbar=False,
            model=funnel_model(),
            nuts_sampler="pymc",
            compute_convergence_checks=False,
        )
    tree.to_netcdf(tmp_path / "funnel.nc", engine="h5netcdf")
    assert main(["diagnose", str(tmp_path / "funnel.nc"), "--json", "--var", "v"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["variables"]) == ["v"]
    assert out["divergences"] == int(tree["sample_stats"]["diverging"].sum()) > 0
    np.testing.assert_allclose(out["bfmi"], azs.bfmi(tree)["energy"].values)
    assert "divergences" in {p["kind"] for p in out["problems"]}
    assert out["converged"] is False
