"""`workbench cnn`: JSON output and artefacts, one-line errors with exit code 2, and two-process
data-parallel training (torchrun, gloo on the CPU) against the single-process run."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from workbench.cli import main
from workbench.data import load_dataset
from workbench.nn import CNNConfig, TrainConfig, build_network, learning_rate_at
from workbench.nn.runtime import torch_seeded

SMALL = ["--data", "digits", "--threads", "1", "--seed", "5"]


def run_main(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_subprocess(*argv):
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", *argv], capture_output=True, text=True, timeout=600
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    """A 2-epoch single-process run on digits through the CLI (in this process)."""
    out = tmp_path_factory.mktemp("one")
    code = main(["cnn", "train", *SMALL, "--epochs", "2", "--out", str(out), "--json"])
    assert code == 0
    return json.loads((out / "metrics.json").read_text()), out


def test_train_json_and_artefacts(one_process):
    payload, out = one_process
    assert set(payload) >= {"test_accuracy", "history", "checkpoint", "files", "world_size"}
    assert len(payload["history"]) == 2 and payload["world_size"] == 1
    assert 0.5 < payload["test_accuracy"] <= 1
    assert payload["checkpoint"] == str(out / "checkpoint.pt")
    for name in ("learning_curves", "confusion", "filters", "feature_maps"):
        assert (out / f"{name}.png").stat().st_size > 1000
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ckpt["state"]["loop"]["finished"] and ckpt["config"]["train"]["batch_size"] == 64


def test_json_is_the_only_stdout(capsys, tmp_path):
    code, out, err = run_main(
        capsys,
        "cnn",
        "train",
        *SMALL,
        "--epochs",
        "1",
        "--no-figures",
        "--out",
        str(tmp_path),
        "--json",
    )
    assert code == 0
    assert json.loads(out)["history"][0]["epoch"] == 1
    assert "epoch 1/1" not in err and "train_loss" not in err  # no bar, no log with --json


def test_summary_json_counts_match_torch(capsys):
    code, out, _ = run_main(capsys, "cnn", "summary", "--input-shape", "1x28x28", "--json")
    assert code == 0
    payload = json.loads(out)
    net = build_network(CNNConfig.from_dict(payload["architecture"]))
    assert sum(r["params"] for r in payload["layers"]) == sum(p.numel() for p in net.parameters())
    code, out, _ = run_main(capsys, "cnn", "summary", "--input-shape", "8x8")
    assert "conv 6@5x5 s1 p2" in out and "2x2x16" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["cnn", "train", "--data", "cifar"], "labelled image data set.*got 'cifar'"),
        (["cnn", "train", "--data", "bars-stripes-3"], "labelled image data set"),
        (["cnn", "train", "--data", "fashion-mnist", "--data-dir", "/nonexistent"], "missing"),
        (["cnn", "train", "--data", "digits", "--epochs", "0"], "--epochs: expected a positive"),
        (["cnn", "train", "--data", "digits", "--conv", "6@5,16@5"], r"conv2 \(height\)"),
        (["cnn", "train", "--data", "digits", "--device", "tpu"], "device"),
        (["cnn", "summary", "--input-shape", "7x7"], r"pool1 \(height\).*3.5"),
        (["cnn", "summary", "--input-shape", "big"], "--input-shape: expected HxW"),
        (["cnn", "summary", "--conv", "six@5"], "--conv: expected CHANNELS@KERNEL"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, argv, message):
    extra = ["--out", str(tmp_path)] if argv[1] == "train" else []
    code, out, err = run_main(capsys, *argv, "--json", *extra)
    assert code == 2 and out == ""
    assert err.startswith("workbench: error:") and err.count("\n") == 1
    assert re.search(message, err), err


def test_two_processes_one_step_equals_full_batch_step_and_one_process(tmp_path):
    """torchrun, 2 CPU processes (gloo), one step on the whole training set: the parameters
    equal one AdamW step on the full-batch mean loss computed here by hand, and the run equals
    the single-process run (same test accuracy, same losses)."""
    argv = [
        "cnn",
        "train",
        *SMALL,
        "--epochs",
        "1",
        "--batch-size",
        "5000",
        "--validation-fraction",
        "0",
        "--no-figures",
        "--json",
    ]
    code, out, err = run_subprocess(*argv, "--nproc", "2", "--out", str(tmp_path / "two"))
    assert code == 0, err
    two = json.loads(out)
    assert main([*argv, "--out", str(tmp_path / "one")]) == 0
    one = json.loads((tmp_path / "one" / "metrics.json").read_text())
    assert (two["world_size"], one["world_size"]) == (2, 1)
    assert two["test_accuracy"] == one["test_accuracy"]
    np.testing.assert_allclose(
        two["history"][0]["train_loss"], one["history"][0]["train_loss"], rtol=1e-6
    )

    # the reference in float64: the exact full-batch gradient
    train = load_dataset("digits", split="train", dtype=np.float32)
    X = torch.from_numpy(train.X.reshape(-1, 1, 8, 8)).double()
    y = torch.from_numpy(train.y)
    with torch_seeded(5, "init"):  # the estimator's initial weights for random_state=5
        net = build_network(CNNConfig.for_input((1, 8, 8)), train.X.mean(), train.X.std())
    net = net.double()
    cfg = TrainConfig()
    optimizer = torch.optim.AdamW(
        net.parameters(), lr=learning_rate_at(0, 1, cfg), weight_decay=cfg.weight_decay
    )
    torch.nn.functional.cross_entropy(net(X), y).backward()
    optimizer.step()
    reference = net.state_dict()
    for run in ("one", "two"):
        trained = torch.load(tmp_path / run / "checkpoint.pt", weights_only=True)["state"]["model"]
        assert trained.keys() == reference.keys()
        for name, value in reference.items():
            # atol 1e-3 of the learning rate: Adam's first step lr * g / (|g| + eps) amplifies
            # the float32 rounding of gradients that cancel to near zero (measured 1.5e-6)
            np.testing.assert_allclose(
                trained[name].double(), value, rtol=1e-4, atol=3e-6, err_msg=name
            )


@pytest.mark.slow
def test_two_processes_follow_the_single_process_run(one_process, tmp_path):
    payload, out = one_process
    code, stdout, err = run_subprocess(
        "cnn",
        "train",
        *SMALL,
        "--epochs",
        "2",
        "--nproc",
        "2",
        "--out",
        str(tmp_path),
        "--no-figures",
        "--json",
    )
    assert code == 0, err
    two = json.loads(stdout)
    assert two["world_size"] == 2
    assert two["test_accuracy"] == payload["test_accuracy"]
    for key in ("train_loss", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(
            [h[key] for h in two["history"]], [h[key] for h in payload["history"]], rtol=1e-5
        )
    one_model = torch.load(out / "checkpoint.pt", weights_only=True)["state"]["model"]
    two_model = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["state"]["model"]
    for name, value in one_model.items():
        np.testing.assert_allclose(two_model[name], value, rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("batch", [200, 718], ids=["even", "short-last-batch"])
def test_local_sgd_averages_two_local_trajectories(tmp_path, batch):
    """``--nproc 2 --sync-every 3`` on digits (1,437 training images; batch 200: 8 steps per
    epoch, 100 rows per rank, the averaging at steps 3, 6, 8 (epoch end), 9, ...; batch 718:
    the last batch of 1 row leaves rank 1 none, so it takes no step): the weights equal two
    AdamW trajectories on each rank's rows, computed in turn here with torch's own AdamW and
    averaged (weights and moments) by this test's code."""
    from workbench.nn.runtime.seeds import numpy_rng

    argv = ["cnn", "train", *SMALL, "--epochs", "2", "--batch-size", str(batch),
            "--sync-every", "3", "--validation-fraction", "0", "--no-figures", "--json",
            "--nproc", "2", "--out", str(tmp_path)]  # fmt: skip
    code, out, err = run_subprocess(*argv)
    assert code == 0, err
    trained = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["state"]["model"]

    train = load_dataset("digits", split="train", dtype=np.float32)
    rows = numpy_rng(5, "validation-split").permutation(len(train.X))  # the estimator's order
    X, y = torch.from_numpy(train.X[rows].reshape(-1, 1, 8, 8)), torch.from_numpy(train.y[rows])
    with torch_seeded(5, "init"):  # the estimator's initial weights for random_state=5
        start = build_network(CNNConfig.for_input((1, 8, 8)), train.X.mean(), train.X.std())
    cfg = TrainConfig(n_epochs=2, batch_size=batch)
    nets = [start, build_network(CNNConfig.for_input((1, 8, 8)), 0.0, 1.0)]
    nets[1].load_state_dict(start.state_dict())
    optimizers = [torch.optim.AdamW(net.parameters(), lr=cfg.learning_rate,
                                    weight_decay=cfg.weight_decay) for net in nets]  # fmt: skip

    def average():
        for params in zip(*(net.parameters() for net in nets), strict=True):
            tensors = [[p.data] + [opt.state[p][k] for k in ("exp_avg", "exp_avg_sq")]
                       for p, opt in zip(params, optimizers, strict=True)]  # fmt: skip
            for pair in zip(*tensors, strict=True):
                mean = (pair[0] + pair[1]) / 2
                for tensor in pair:
                    tensor.copy_(mean)

    steps_per_epoch, step = -(-len(X) // batch), 0
    for epoch in range(2):
        order = torch.from_numpy(numpy_rng(5, "batch-order", epoch).permutation(len(X)))
        for b in range(steps_per_epoch):
            rows = order[b * batch : (b + 1) * batch]
            for net, optimizer, share in zip(nets, optimizers, torch.tensor_split(rows, 2),
                                             strict=True):  # fmt: skip
                if len(share) == 0:  # no rows for this rank: no step
                    continue
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate_at(step, 2 * steps_per_epoch, cfg)
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(net(X[share]), y[share]).backward()
                optimizer.step()
            step += 1
            if step % 3 == 0 or b == steps_per_epoch - 1:
                average()
    reference = nets[0].state_dict()
    assert trained.keys() == reference.keys()
    for name, value in reference.items():
        np.testing.assert_allclose(trained[name], value, rtol=1e-4, atol=1e-5, err_msg=name)
