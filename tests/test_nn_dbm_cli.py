"""`workbench dbm train | sample | eval`: the JSON payload against the library's own exact
values, artefacts, resume, bad input -> exit code 2."""

import contextlib
import io
import json

import numpy as np
import pytest

from workbench.cli import main
from workbench.data import load_dataset
from workbench.nn import DBM

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest


def run_json(argv):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main([*argv, "--json", "--threads", "1"])
    assert code == 0
    return json.loads(buffer.getvalue())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("dbm")
    argv = ["dbm", "train", "--data", "bars-stripes-3", "--layers", "6,4", "--epochs", "4",
            "--pretrain-epochs", "3", "--ais", "--ais-betas", "200", "--seed", "1",
            "--out", str(out)]  # fmt: skip
    return out, run_json(argv)


def test_train_json_matches_the_library(trained):
    out, payload = trained
    assert set(payload) >= {"final", "history", "checkpoint", "files"}
    final = payload["final"]
    dbm = DBM.load(payload["checkpoint"])
    X = load_dataset("bars-stripes-3").X
    assert final["log_likelihood_exact"] == pytest.approx(dbm.score(X), abs=1e-9)
    assert final["lower_bound_exact"] <= final["log_likelihood_exact"]
    ais = final["log_z_ais"]
    assert abs(ais["estimate"] - final["log_z_exact"]) < 4 * ais["stderr"] + 1e-3
    assert [r["epoch"] for r in payload["history"]] == [1, 2, 3, 4]
    assert all((out / f"{name}.png").is_file() for name in ("filters", "samples"))
    assert json.loads((out / "metrics.json").read_text())["final"] == final


def test_resume_sample_and_eval(trained, tmp_path):
    out, payload = trained
    more = run_json(["dbm", "train", "--data", "bars-stripes-3", "--epochs", "6", "--resume",
                     payload["checkpoint"], "--out", str(tmp_path / "more")])  # fmt: skip
    assert [r["epoch"] for r in more["history"]] == list(range(1, 7))
    sampled = run_json(["dbm", "sample", payload["checkpoint"], "--n", "5", "--steps", "10",
                        "--out", str(tmp_path / "s")])  # fmt: skip
    samples = np.load(sampled["files"]["samples"])
    assert samples.shape == (5, 9) and np.all((samples > 0) & (samples < 1))
    evaluated = run_json(["dbm", "eval", payload["checkpoint"], "--data", "bars-stripes-3",
                          "--out", str(tmp_path / "e")])  # fmt: skip
    assert evaluated["final"]["log_likelihood_exact"] == pytest.approx(
        payload["final"]["log_likelihood_exact"]
    )


def test_bad_input_exits_2(tmp_path, capsys):
    argv = ["dbm", "train", "--data", "bars-stripes-3", "--layers", "4", "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "--layers" in capsys.readouterr().err
    assert main(["dbm", "eval", str(tmp_path / "missing.pt"), "--data", "bars-5"]) == 2
