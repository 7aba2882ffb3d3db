"""`workbench sbn train | sample | eval`: JSON shape, artefacts, resume, bad input -> exit 2."""

import contextlib
import io
import json

import numpy as np
import pytest
from scipy.special import expit

from workbench.cli import main
from workbench.data import load_dataset
from workbench.nn import SigmoidBeliefNet

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest


def run_json(argv):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main([*argv, "--json", "--threads", "1"])
    assert code == 0
    return json.loads(buffer.getvalue())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("sbn")
    return out, run_json(["sbn", "train", "--data", "bars-stripes-3", "--epochs", "100",
                          "--layers", "6,3", "--seed", "1", "--out", str(out)])  # fmt: skip


def test_train_json_and_files(trained):
    out, payload = trained
    final = payload["final"]
    net = SigmoidBeliefNet.load(out / "sbn.pt")
    assert net.layers == (6, 3) and payload["checkpoint"] == str(out / "sbn.pt")
    assert payload["history"][-1]["epoch"] == 100 and len(payload["history"]) == 100
    exact = float(net.log_likelihood(load_dataset("bars-stripes-3").X).mean())
    assert final["log_likelihood_exact"] == pytest.approx(exact, abs=1e-9)
    imp = final["log_likelihood_importance"]
    assert abs(imp["estimate"] - exact) < 4 * imp["stderr"] + 0.02 and imp["n_samples"] == 100
    assert all((out / f"{name}.png").is_file() for name in ("filters", "samples",
                                                             "learning_curves"))  # fmt: skip
    assert json.loads((out / "metrics.json").read_text())["final"] == final


def test_sample_eval_and_resume(trained, tmp_path):
    out, first = trained
    sampled = run_json(["sbn", "sample", str(out / "sbn.pt"), "--n", "5", "--out", str(tmp_path)])
    samples = np.load(sampled["files"]["samples"])
    assert samples.shape == (5, 9) and set(np.unique(samples)) <= {0.0, 1.0}
    evaluated = run_json(["sbn", "eval", str(out / "sbn.pt"), "--data", "bars-stripes-3",
                          "--samples", "50", "--out", str(tmp_path)])  # fmt: skip
    assert evaluated["final"]["log_likelihood_exact"] == first["final"]["log_likelihood_exact"]
    resumed = run_json(["sbn", "train", "--data", "bars-stripes-3", "--resume",
                        str(out / "sbn.pt"), "--epochs", "103",
                        "--out", str(tmp_path)])  # fmt: skip
    assert [r["epoch"] for r in resumed["history"]][-4:] == [100, 101, 102, 103]
    assert resumed["settings"]["layers"] == [6, 3] and resumed["settings"]["epochs"] == 103


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["sbn", "train", "--data", "bars-stripes-3", "--layers", "4,0"], "--layers"),
        (["sbn", "train", "--data", "bars-stripes-3", "--lr", "-1"], "--lr"),
        (["sbn", "train", "--data", "bars-stripes-3", "--k", "0", "--method", "reweighted"], "--k"),
    ],
)
def test_bad_input_names_the_flag(argv, flag, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path), "--threads", "1"]) == 2
    assert flag in capsys.readouterr().err


def test_final_metrics_without_enumeration_keep_the_importance_estimate():
    """2^24 codes cannot be enumerated; with G = 0 the pixels are independent of the code, so
    log p(v) is the closed form of independent Bernoulli pixels, and with the prior equal to
    the proposal (both 1/2 per unit) every weight p(v, h) / q(h | v) equals p(v)."""
    from workbench.nn.sbn.cli import _final_metrics

    c = np.linspace(-1, 1, 9)
    net = SigmoidBeliefNet.from_weights([np.zeros((24, 9))], [np.zeros(24), c])
    X = load_dataset("bars-stripes-3").X
    final = _final_metrics(net, X, 50, seed=0)
    assert final["log_likelihood_exact"] is None
    closed_form = np.mean(X @ np.log(expit(c)) + (1 - X) @ np.log(expit(-c)))
    imp = final["log_likelihood_importance"]
    assert imp["estimate"] == pytest.approx(closed_form, abs=1e-5) and imp["stderr"] < 1e-6
