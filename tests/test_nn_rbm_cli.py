"""`workbench rbm train | sample | eval`: JSON shape, artefacts, bad input -> exit code 2."""

import json

import numpy as np
import pytest

from workbench.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("rbm")
    return out, run_json(["rbm", "train", "--data", "bars-stripes-3", "--epochs", "200",
                          "--seed", "1", "--out", str(out)])  # fmt: skip


def run_json(argv, capsys=None):
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main([*argv, "--json", "--threads", "1"])
    assert code == 0
    return json.loads(buffer.getvalue())


def test_train_json(trained):
    out, payload = trained
    final = payload["final"]
    assert set(final) >= {"log_likelihood_exact", "log_likelihood_ais", "reconstruction_error",
                          "pseudo_log_likelihood"}  # fmt: skip
    assert final["log_likelihood_ais"] is None
    assert -np.log(512) < final["log_likelihood_exact"] < 0
    assert payload["history"][-1]["epoch"] == 200
    assert payload["checkpoint"] == str(out / "rbm.pt") and (out / "rbm.pt").is_file()
    assert all((out / name).is_file() for name in ("filters.png", "learning_curves.png"))


def test_sample_and_eval(trained, tmp_path):
    out, _ = trained
    sampled = run_json(["rbm", "sample", str(out / "rbm.pt"), "--n", "6", "--steps", "50",
                        "--out", str(tmp_path)])  # fmt: skip
    assert np.load(sampled["files"]["samples"]).shape == (6, 9)
    evaluated = run_json(["rbm", "eval", str(out / "rbm.pt"), "--data", "bars-stripes-3",
                          "--ais", "--ais-runs", "50", "--ais-betas", "300",
                          "--out", str(tmp_path)])  # fmt: skip
    final = evaluated["final"]
    ais, exact = final["log_likelihood_ais"], final["log_likelihood_exact"]
    assert abs(ais["estimate"] - exact) < 4 * ais["stderr"] + 0.05
    for name in ("filters", "samples", "reconstructions", "denoising", "inpainting"):
        assert (tmp_path / f"{name}.png").is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--data", "no-such-set"], "unknown data set 'no-such-set'; expected one of"),
        (["train", "--data", "bars-stripes-3", "--k", "0"], "--k: expected an integer >= 1"),
        (
            ["train", "--data", "bars-stripes-3", "--epochs", "0"],
            "--epochs: expected an integer >= 1, got 0",
        ),
        (["train", "--data", "bars-stripes-3", "--lr", "-1"], "--lr: expected a number > 0"),
        (["train", "--data", "bars-stripes-3", "--hidden", "0"], "--hidden: expected an integer"),
        (
            ["train", "--data", "bars-stripes-3", "--batch-size", "99"],
            "--batch-size: 99 is larger than the data",
        ),
        (["sample", "missing.pt"], "checkpoint: no such checkpoint file: missing.pt"),
    ],
)
def test_bad_input_exit_code_2(argv, message, capsys, tmp_path):
    assert main(["rbm", *argv, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_non_binary_file_and_feature_mismatch(trained, tmp_path, capsys):
    path = tmp_path / "real.npy"
    np.save(path, np.random.default_rng(0).random((40, 9)))
    assert main(["rbm", "train", "--data", str(path), "--out", str(tmp_path)]) == 2
    assert "--binarize" in capsys.readouterr().err
    assert main(["rbm", "train", "--data", str(path), "--visible", "gaussian", "--epochs", "1",
                 "--threads", "1", "--out", str(tmp_path)]) == 0  # fmt: skip
    capsys.readouterr()
    out, _ = trained
    assert main(["rbm", "eval", str(out / "rbm.pt"), "--data", "digits", "--out",
                 str(tmp_path)]) == 2  # fmt: skip
    assert "features" in capsys.readouterr().err


def test_resume_continues_into_out(trained, tmp_path):
    """--resume CHECKPOINT continues that run up to --epochs in OUT/rbm.pt, leaving the given
    file as it was."""
    out, first = trained
    before = (out / "rbm.pt").read_bytes()
    resumed = run_json(["rbm", "train", "--data", "bars-stripes-3", "--epochs", "300",
                        "--resume", str(out / "rbm.pt"), "--out", str(tmp_path)])  # fmt: skip
    assert [r["epoch"] for r in resumed["history"]][-2:] == [200, 300]
    assert resumed["history"][:2] == first["history"][:2]  # the first run's records carried on
    assert (out / "rbm.pt").read_bytes() == before
    assert resumed["checkpoint"] == str(tmp_path / "rbm.pt")
