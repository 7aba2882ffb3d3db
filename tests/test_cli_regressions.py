"""Bad inputs that once ended in a traceback or a silently wrong result, each now one clear line
on standard error and exit code 2 (or a corrected result), with nothing left in ``--out``.

The sizes that cannot fit in memory are refused by an estimate, before any allocation; the
tests that rely on the machine's memory set ``$WORKBENCH_MAX_MEMORY`` so that they do not
depend on it.
"""

import json

import numpy as np
import pytest

from workbench.cli import main
from workbench.errors import MEMORY_ENV

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Damaged and valid inputs, and a tiny trained RBM checkpoint with NaN / huge copies."""
    import torch

    from workbench.data import bars_stripes
    from workbench.nn import RBM

    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    (d / "empty.npy").write_bytes(b"")
    np.savez(d / "draws.npz", x=rng.normal(size=(4, 50)))
    (d / "truncated.npz").write_bytes((d / "draws.npz").read_bytes()[:150])
    np.save(d / "complex.npy", rng.normal(size=(4, 50)) + 1j * rng.normal(size=(4, 50)))
    np.save(d / "draws.npy", rng.normal(size=(4, 50)))
    W, a, b = rng.normal(size=(4, 3)), np.zeros(4), np.zeros(3)
    np.savez(d / "w.npz", W=W, visible_bias=a, hidden_bias=b)
    (d / "w_truncated.npz").write_bytes((d / "w.npz").read_bytes()[:200])
    np.savez(d / "w_huge.npz", W=np.full((4, 3), 1e308), visible_bias=a, hidden_bias=b)
    low_rank = rng.normal(size=(100, 2)) @ rng.normal(size=(2, 6))
    np.save(d / "low_rank.npy", low_rank)
    ckpt = d / "rbm.pt"
    RBM(3, n_epochs=1, batch_size=6, checkpoint=str(ckpt), random_state=0,
        verbose=False).fit(bars_stripes(2))  # fmt: skip
    for name, value in (("nan", float("nan")), ("huge", 3e38)):
        saved = torch.load(ckpt, weights_only=True)
        saved["state"]["rbm"]["W"].fill_(value)
        torch.save(saved, d / f"rbm_{name}.pt")
    return d


def refused(argv, capsys, tmp_path, *words):
    """Run ``argv`` (with ``--out`` under tmp_path where the command has one): exit code 2, one
    stderr line holding ``words``, no traceback, nothing written."""
    out = tmp_path / "out"
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert all(w in lines[0] for w in words), lines[0]
    assert not out.exists() or not any(out.iterdir())
    return lines[0]


# --------------------------------------------------------------- the 11 tracebacks


def test_diagnose_empty_npy(files, capsys, tmp_path):
    refused(["diagnose", files / "empty.npy"], capsys, tmp_path, "empty or cut short")


@pytest.mark.parametrize("command", [["diagnose"], ["energy", "logz"]])
def test_truncated_npz(command, files, capsys, tmp_path):
    name = "truncated.npz" if command == ["diagnose"] else "w_truncated.npz"
    refused([*command, files / name], capsys, tmp_path, "damaged or truncated")


def test_rbm_sample_negative_n(files, capsys, tmp_path):
    refused(["rbm", "sample", files / "rbm.pt", "--n", "-1", "--out", tmp_path / "out"],
            capsys, tmp_path, "--n", ">= 1")  # fmt: skip


def test_cnn_train_negative_hidden(capsys, tmp_path):
    refused(["cnn", "train", "--data", "digits", "--hidden", "-5", "--out", tmp_path / "out"],
            capsys, tmp_path, "--hidden")  # fmt: skip


def test_cnn_summary_stride_zero(capsys, tmp_path):
    refused(["cnn", "summary", "--conv", "6@5s0"], capsys, tmp_path, "--conv", "stride")


@pytest.mark.parametrize(
    "argv",
    [["ppca", "--data", "bars-stripes-40", "--q", "2"],
     ["rbm", "train", "--data", "bars-stripes-40"]],
)  # fmt: skip
def test_enumeration_over_memory(argv, capsys, tmp_path):
    line = refused([*argv, "--out", tmp_path / "out"], capsys, tmp_path, "--data", "2^41")
    assert "PiB" in line  # says how much it would need


def test_ais_runs_over_memory(files, capsys, tmp_path):
    refused(["energy", "logz", files / "w.npz", "--method", "ais", "--ais-runs", "1000000000"],
            capsys, tmp_path, "--ais-runs", "GiB")  # fmt: skip


def test_rbm_sample_over_memory(files, capsys, tmp_path):
    refused(["rbm", "sample", files / "rbm.pt", "--n", "2000000000", "--out", tmp_path / "out"],
            capsys, tmp_path, "--n", "GiB")  # fmt: skip


def test_estimate_chains_over_memory(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "1G")  # the estimate is ~5 GiB: refused on any machine
    refused(["estimate", "beta-binomial", "--chains", "100000", "--draws", "10", "--tune", "10",
             "--out", tmp_path / "out"], capsys, tmp_path, "--chains", "GiB")  # fmt: skip


# --------------------------------------------------------------- the silent ones


def summary(argv, capsys):
    assert main(["cnn", "summary", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cnn_pool_applies_without_conv(capsys):
    kinds = [row["kind"] for row in summary(["--pool", "0"], capsys)["layers"]]
    assert not any("pool" in kind for kind in kinds)
    assert sum("pool" in row["kind"] for row in summary([], capsys)["layers"]) == 2


@pytest.mark.parametrize(
    "argv, flag",
    [(["--hidden", "-5"], "--hidden"), (["--hidden", "0"], "--hidden"),
     (["--classes", "0"], "--classes"), (["--classes", "1"], "--classes"),
     (["--pool", "-1"], "--pool")],
)  # fmt: skip
def test_cnn_summary_bad_sizes(argv, flag, capsys, tmp_path):
    refused(["cnn", "summary", *argv], capsys, tmp_path, flag)


@pytest.mark.parametrize("argv", [["--hidden", "0"], ["--shift", "100"]])
def test_cnn_train_bad_sizes(argv, capsys, tmp_path):
    refused(["cnn", "train", "--data", "digits", *argv, "--out", tmp_path / "out"],
            capsys, tmp_path, argv[0])  # fmt: skip


def test_diagnose_complex_refused(files, capsys, tmp_path):
    refused(["diagnose", files / "complex.npy"], capsys, tmp_path, "complex")


def test_load_array_complex_refused(files):
    from workbench.data import load_array
    from workbench.errors import InputError

    with pytest.raises(InputError, match="complex"):
        load_array(files / "complex.npy")


@pytest.mark.parametrize("pair", ["r_hat=-1", "r_hat=1", "ess_per_chain=nan", "bfmi=-1",
                                  "max_divergences=-1"])  # fmt: skip
def test_diagnose_threshold_ranges(pair, files, capsys, tmp_path):
    refused(["diagnose", files / "draws.npy", "--threshold", pair], capsys, tmp_path,
            f"--threshold[{pair.split('=')[0]}]")  # fmt: skip


@pytest.mark.parametrize("command", ["logz", "table"])
def test_energy_overflowing_weights(command, files, capsys, tmp_path):
    refused(["energy", command, files / "w_huge.npz"], capsys, tmp_path, "too large")


@pytest.mark.parametrize("name", ["nan", "huge"])
def test_rbm_sample_bad_weights(name, files, capsys, tmp_path):
    refused(["rbm", "sample", files / f"rbm_{name}.pt", "--out", tmp_path / "out"],
            capsys, tmp_path, "state.rbm.W")  # fmt: skip


@pytest.mark.parametrize("command", ["fa", "ppca"])
def test_rank_deficient_refused_alike(command, files, capsys, tmp_path):
    refused([command, "--data", files / "low_rank.npy", "--q", "2"], capsys, tmp_path,
            "--data", "rank 2")  # fmt: skip


def test_json_has_no_nan():
    from workbench.output import to_json

    text = to_json({"a": float("nan"), "b": [np.inf, 1.0], "c": np.float32("-inf")})
    assert json.loads(text) == {"a": None, "b": [None, 1.0], "c": None}
    assert "NaN" not in text and "Infinity" not in text


# --------------------------------------------------------------- messages


def test_bars_name_is_the_data_set(capsys, tmp_path):
    refused(["rbm", "train", "--data", "bars-11", "--out", tmp_path / "out"], capsys, tmp_path,
            "--data: bars-11")  # fmt: skip


def test_scikit_learn_parameter_named_as_flag():
    from workbench.cli import _as_input_error, build_parser, flag_for

    args = build_parser().parse_args(["cnn", "train", "--data", "digits"])
    err = _as_input_error(ValueError("The 'learning_rate' parameter of CNNClassifier must be a "
                                     "float in the range (0, inf). Got -1.0 instead."))  # fmt: skip
    assert err.for_flag(flag_for(args, err.argument)).startswith("--lr: expected a float")
    args = build_parser().parse_args(["ppca", "--data", "digits", "--q", "2"])
    assert flag_for(args, "n_components") == "--q" and flag_for(args, "max_rows") == "--max-rows"


def test_memory_limit_from_environment(monkeypatch):
    from workbench.errors import InputError, check_memory, memory_limit

    monkeypatch.setenv(MEMORY_ENV, "1.5G")
    assert memory_limit() == int(1.5 * 2**30)
    assert check_memory("n", 2**30, "x") == 2**30
    with pytest.raises(InputError, match=r"n: x would need about 2\.0 GiB"):
        check_memory("n", 2**31, "x")
    monkeypatch.setenv(MEMORY_ENV, "lots")
    with pytest.raises(InputError, match=MEMORY_ENV):
        memory_limit()


@pytest.mark.parametrize(
    "argv",
    [
        ["dbm", "train", "--data", "bars-stripes-3", "--layers", "100000000,8"],
        ["sbn", "train", "--data", "bars-stripes-3", "--layers", "100000000"],
        ["ae", "train", "--data", "digits", "--layers", "1000000000", "--code", "2"],
        ["sparse", "learn", "--data", "digits", "--atoms", "1000000000000"],
    ],
)
def test_layer_widths_beyond_memory_are_refused_before_training(argv, tmp_path, capsys):
    """Widths that scale the weights are sized against the memory limit before allocation."""
    flag = "--atoms" if "--atoms" in argv else "--layers"
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"workbench: error: {flag}:") and "GiB" in err[0]
    assert not (tmp_path / "run").exists()


def test_nproc_beyond_four_per_core_is_refused_before_launching(tmp_path, capsys):
    import os

    most = 4 * (os.cpu_count() or 1)
    argv = ["rbm", "train", "--data", "bars-stripes-3", "--nproc", str(most + 1)]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"workbench: error: --nproc: expected at most {most} (4 per CPU core), got {most + 1}"
    )
