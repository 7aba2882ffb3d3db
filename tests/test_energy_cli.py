"""`workbench energy logz` and `workbench energy table` on saved weights."""

import json

import numpy as np
import pytest

from workbench.cli import main
from workbench.energy import RBM


@pytest.fixture
def saved(tmp_path):
    rng = np.random.default_rng(0)
    W, a, b = rng.normal(size=(3, 2)), rng.normal(size=3), rng.normal(size=2)
    np.savez(tmp_path / "rbm.npz", W=W, visible_bias=a, hidden_bias=b)
    data = (rng.random((6, 3)) < 0.5).astype(float)
    np.savetxt(tmp_path / "data.csv", data, delimiter=",")
    return tmp_path, RBM(W, a, b), data


def test_logz_json_matches_the_library(saved, capsys):
    folder, rbm, data = saved
    argv = ["energy", "logz", str(folder / "rbm.npz"), "--data", str(folder / "data.csv")]
    assert main([*argv, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["log_z"] == pytest.approx(rbm.log_partition().value)
    assert payload["log_likelihood"] == pytest.approx(rbm.log_likelihood(data))
    assert main([*argv, "--method", "ais", "--seed", "3", "--ais-betas", "201", "--json"]) == 0
    ais = json.loads(capsys.readouterr().out)
    assert abs(ais["log_z"] - payload["log_z"]) <= 3 * ais["se"] and ais["method"] == "ais"
    assert (ais["n_runs"], ais["n_betas"], ais["seed"]) == (100, 201, 3)
    again = rbm.log_partition("ais", n_runs=100, n_betas=201, seed=3, data=data)
    assert ais["log_z"] == again.value and ais["se"] == again.se


def test_ais_flags_are_named_in_errors(saved, capsys):
    folder, _, _ = saved
    argv = ["energy", "logz", str(folder / "rbm.npz"), "--method", "ais"]
    assert main([*argv, "--ais-runs", "1"]) == 2
    assert capsys.readouterr().err.strip() == (
        "workbench: error: --ais-runs: expected an integer >= 2, got 1"
    )
    assert main([*argv, "--ais-betas", "0"]) == 2
    assert "--ais-betas: expected an integer >= 2, got 0" in capsys.readouterr().err


def test_table_lists_every_joint_state(saved, capsys):
    folder, rbm, _ = saved
    assert main(["energy", "table", str(folder / "rbm.npz"), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["probability"]) == 32
    assert np.sum(payload["probability"]) == pytest.approx(1.0)
    assert main(["energy", "table", str(folder / "rbm.npz")]) == 0
    assert "log Z" in capsys.readouterr().out


def test_bad_files_exit_2(saved, capsys):
    folder, _, _ = saved
    np.savez(folder / "partial.npz", W=np.zeros((3, 2)))
    assert main(["energy", "logz", str(folder / "partial.npz")]) == 2
    assert "lacks visible_bias, hidden_bias" in capsys.readouterr().err
    np.savetxt(folder / "half.csv", np.full((2, 3), 0.5), delimiter=",")
    argv = ["energy", "logz", str(folder / "rbm.npz"), "--data", str(folder / "half.csv")]
    assert main(argv) == 2
    assert "0 or 1" in capsys.readouterr().err
