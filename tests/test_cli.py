"""The `workbench` command: JSON on stdout only, one-line errors with exit code 2, artefacts."""

import json
import subprocess
import sys

import numpy as np
import pytest

from workbench.cli import main


def run_cli(*args):
    """Run the CLI in a subprocess; returns (exit code, stdout, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True, timeout=600
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_estimate_json_is_the_only_stdout_and_matches_closed_form(tmp_path):
    code, out, err = run_cli(
        "estimate",
        "beta-binomial",
        "--set",
        "heads=3",
        "--set",
        "trials=10",
        "--set",
        "a=2",
        "--set",
        "b=2",
        "--json",
        "--seed",
        "3",
        "--out",
        str(tmp_path),
    )
    assert code == 0, err
    payload = json.loads(out)  # raises if anything but JSON reached stdout
    p = payload["estimates"]["p"]
    assert p["map"] == pytest.approx(4 / 12, abs=1e-6)
    assert p["ml"] == pytest.approx(3 / 10, abs=1e-6)
    assert abs(p["cm"] - 5 / 14) < 4 * p["mcse"]
    assert p["hdi_prob"] == 0.9 and p["hdi"][0] < p["cm"] < p["hdi"][1]
    assert set(payload["diagnostics"]) >= {"converged", "r_hat_max", "ess_bulk_min", "divergences"}
    for name in ("estimates.json", "estimates.png", "posterior.nc"):
        assert (tmp_path / name).stat().st_size > 0
    import xarray

    tree = xarray.open_datatree(tmp_path / "posterior.nc", engine="h5netcdf")
    assert float(tree["posterior"]["p"].mean()) == pytest.approx(p["cm"], rel=1e-9)


def test_estimate_reads_a_data_file(tmp_path):
    y = np.array([2.1, 0.4, 1.9, 3.2, 1.1, 2.6, 1.8])
    path = tmp_path / "y.csv"
    np.savetxt(path, y, delimiter=",", header="y", comments="")
    code, out, err = run_cli(
        "estimate", "normal", "--data", str(path), "--methods", "map", "ml", "--json"
    )
    assert code == 0, err
    est = json.loads(out)["estimates"]
    assert est["mu"]["ml"] == pytest.approx(y.mean(), rel=1e-6)
    assert est["sigma"]["ml"] == pytest.approx(y.std(), rel=1e-5)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["estimate", "no-such-model"], "model: expected one of beta-binomial, normal"),
        (["estimate", "beta-binomial", "--set", "tails=3"], "--set: expected a setting of model"),
        (["estimate", "beta-binomial", "--set", "heads"], "--set: expected KEY=VALUE, got 'heads'"),
        (["estimate", "beta-binomial", "--set", "heads=abc"], "--set heads: expected an integer"),
        (["estimate", "beta-binomial", "--set", "heads=11"], "--set heads: expected an integer in"),
        (["estimate", "normal", "--data", "missing.csv"], "--data: no such file: missing.csv"),
        (["estimate", "normal", "--methods", "mode"], "methods"),
        (["estimate", "normal", "--hdi-prob", "1.5"], "hdi"),
        (["risk", "no-such-model"], "model: expected one of beta-binomial, normal"),
        (["risk", "linear-regression", "--set", "prior=flat", "--replicates", "3"], "proper"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(args, needle, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("workbench: error:") and needle in err[0]


def test_nan_and_wrong_shape_data_are_refused(tmp_path, capsys):
    nan_file = tmp_path / "bad.csv"
    nan_file.write_text("1.0\nnan\n2.0\n")
    assert main(["estimate", "normal", "--data", str(nan_file)]) == 2
    assert f"--data: {nan_file} has 1 NaN/inf entries (first at [1])" in capsys.readouterr().err
    table = tmp_path / "table.npy"
    np.save(table, np.ones((4, 3)))
    assert main(["estimate", "normal", "--data", str(table)]) == 2
    assert "--data: expected a 1-D vector of observations" in capsys.readouterr().err
    assert main(["estimate", "beta-binomial", "--data", str(table)]) == 2
    assert "--data: model 'beta-binomial' takes settings only" in capsys.readouterr().err


def test_catalogue_models_are_named_without_touching_the_model():
    import pymc as pm

    import models

    model = models.build("beta-binomial", heads=4)
    assert models.catalogue_name(model) == "beta-binomial"
    assert "name_in_catalogue" not in vars(model)
    assert models.catalogue_name(pm.Model()) is None


def test_models_lists_the_catalogue(capsys):
    assert main(["models", "--json"]) == 0
    catalogue = json.loads(capsys.readouterr().out)
    assert {
        "beta-binomial",
        "normal",
        "poisson-gamma",
        "exponential",
        "laplace-denoise",
        "deconvolution",
        "linear-regression",
    } <= set(catalogue)
    assert catalogue["beta-binomial"]["settings"] == {
        "heads": 3,
        "trials": 10,
        "a": 2.0,
        "b": 2.0,
        "parametrisation": "p",
    }


def test_building_the_parser_imports_no_capability_library():
    """`workbench --help` stays cheap: sub-command modules and the packages they sit in import
    NumPy, Torch, scikit-learn, ArviZ and PyMC only when a command runs."""
    heavy = ("numpy", "torch", "sklearn", "arviz_stats", "pymc", "pytensor", "matplotlib")
    code = (
        "import sys, workbench.cli as cli; cli.build_parser(); "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_version_is_the_package_version(capsys):
    import tomllib
    from pathlib import Path

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert capsys.readouterr().out.strip() == f"workbench {pyproject['project']['version']}"


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["rb"], "rbm"),
        (["rbm", ""], "eval sample train --help"),
        (["rbm", "train", "--data", "digits", "--ep"], "--epochs"),
        (["--vers"], "--version"),
        (["estimate", "beta-binomial", "--hdi"], "--hdi-prob"),
    ],
)
def test_bash_completion_completes_commands_and_flags(words, expected, capsys, tmp_path):
    """The script `workbench completion bash` prints, run by bash on a partial command line."""
    assert main(["completion", "bash"]) == 0
    script = tmp_path / "workbench.bash"
    script.write_text(capsys.readouterr().out)
    array = " ".join(f"'{w}'" for w in ["workbench", *words])
    code = (f"source {script}; COMP_WORDS=({array}); COMP_CWORD={len(words)}; _workbench; "
            'echo "${COMPREPLY[*]}"')  # fmt: skip
    done = subprocess.run(["bash", "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == expected


def _modules_after(argv, names):
    """Run ``main(argv)`` in a fresh interpreter; the ones of ``names`` it imported."""
    code = (
        "import sys; from workbench.cli import main; "
        f"main({argv!r}); "
        f"print('imported:' + ','.join(m for m in {names!r} if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stderr.rpartition("imported:")[2].strip()


def test_listing_the_catalogue_imports_neither_numpy_nor_pymc():
    """`workbench models` reads the catalogue's static metadata; builders load on `build`."""
    assert _modules_after(["models", "--json"], ("numpy", "pymc", "pytensor", "torch")) == ""


def test_estimate_never_imports_torch():
    argv = ["estimate", "beta-binomial", "--json", "--draws", "200", "--tune", "200", "--seed", "1"]
    assert _modules_after(argv, ("torch", "sklearn")) == ""
