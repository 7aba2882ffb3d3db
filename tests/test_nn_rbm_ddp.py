"""Data-parallel RBM training: two CPU processes (torchrun, gloo) against one process.

Each rank takes its share of every global mini-batch, draws its rows of the global batch's
Gibbs noise and all-reduces the summed CD statistics, so the two-process run must reproduce
the one-process parameters up to float rounding (not merely in distribution).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from workbench.cli import main
from workbench.data import bars_stripes
from workbench.errors import InputError
from workbench.nn.rbm.model import RBM

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# Uneven shards (batch 5 on 2 ranks: 3 + 2 rows), a partial last batch (14 = 5 + 5 + 4), CD-2,
# PCD with sparsity and 7 chains shared out 4 + 3, parallel tempering (3 temperatures, 5 chains:
# the sweeps and swaps of each rank's chains), Gaussian visible units (normal noise).
CASES = {
    "cd2": {"n_hidden": 6, "method": "cd", "k": 2, "batch_size": 5},
    "pcd": {"n_hidden": 6, "method": "pcd", "batch_size": 5, "n_chains": 7,
            "sparsity_target": 0.2},
    "tempered": {"n_hidden": 6, "method": "pcd", "batch_size": 5, "n_chains": 5,
                 "n_temperatures": 3},
    "gauss": {"n_hidden": 4, "visible": "gaussian", "method": "cd", "batch_size": 4,
              "learning_rate": 0.01},
}  # fmt: skip
COMMON = {"n_epochs": 25, "monitor": False, "verbose": False, "random_state": 11}

WORKER = """
import json, sys
import numpy as np, torch
torch.set_num_threads(1)
from workbench.data import bars_stripes
from workbench.nn.rbm.model import RBM
from workbench.nn.runtime import distributed_context, init_distributed
init_distributed("cpu")
torch.set_num_threads(1)
cases, common, out = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
fitted = {}
for name, params in cases.items():
    rbm = RBM(**params, **common).fit(bars_stripes(3))
    fitted.update({f"{name}_W": rbm.weights_, f"{name}_a": rbm.visible_bias_,
                   f"{name}_b": rbm.hidden_bias_})
    if rbm.method == "pcd":
        fitted[f"{name}_chains"] = rbm._state["chains"].numpy()
        fitted[f"{name}_energies"] = torch.stack(list(rbm._window)).numpy()
        fitted[f"{name}_swaps"] = rbm._state["swap_counts"].numpy()
rank = distributed_context().rank
np.savez(f"{out}/rank{rank}.npz", **fitted)
torch.distributed.destroy_process_group()
"""


def torchrun(*argv):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node=2", *argv]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_two_processes_reproduce_the_one_process_parameters(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    torchrun(str(script), json.dumps(CASES), json.dumps(COMMON), str(tmp_path))
    ranks = [np.load(tmp_path / f"rank{r}.npz") for r in (0, 1)]
    torch.set_num_threads(1)
    for name, params in CASES.items():
        one = RBM(**params, **COMMON).fit(bars_stripes(3))
        reference = {"W": one.weights_, "a": one.visible_bias_, "b": one.hidden_bias_}
        if one.method == "pcd":  # all chains, their free energies and swap counts everywhere
            reference["chains"] = one._state["chains"].numpy()
            reference["energies"] = torch.stack(list(one._window)).numpy()
            reference["swaps"] = one._state["swap_counts"].numpy()
        for key, value in reference.items():
            # the ranks hold bit-identical parameters (same all-reduced sums, same update)
            np.testing.assert_array_equal(ranks[0][f"{name}_{key}"], ranks[1][f"{name}_{key}"])
            # and equal the one-process run up to the rounding of the split sums
            np.testing.assert_allclose(ranks[0][f"{name}_{key}"], value, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name} {key}")  # fmt: skip
        assert np.abs(reference["W"]).max() > 0.05  # moved well past the 0.01-scale start


def test_cli_nproc_2_matches_one_process(tmp_path):
    argv = ["rbm", "train", "--data", "bars-stripes-3", "--method", "cd", "--k", "1",
            "--hidden", "8", "--epochs", "20", "--batch-size", "14", "--threads", "1",
            "--seed", "3", "--json"]  # fmt: skip
    two_process = [*argv, "--nproc", "2", "--out", str(tmp_path / "two")]
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", *two_process],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    # 7 rows per process: the warning points to the measured local-update recipe
    assert "leaves 7 rows per process" in proc.stderr
    assert "--sync-every 10 --batch-size 200" in proc.stderr
    two = json.loads(proc.stdout)  # rank 0 alone printed
    assert main([*argv, "--out", str(tmp_path / "one")]) == 0
    one = json.loads((tmp_path / "one" / "metrics.json").read_text())
    assert (two["settings"]["world_size"], one["settings"]["world_size"]) == (2, 1)
    for key in ("log_likelihood_exact", "reconstruction_error"):
        np.testing.assert_allclose(two["final"][key], one["final"][key], rtol=1e-5)
    W2 = RBM.load(tmp_path / "two" / "rbm.pt").weights_
    W1 = RBM.load(tmp_path / "one" / "rbm.pt").weights_
    np.testing.assert_allclose(W2, W1, rtol=1e-5, atol=1e-6)


def test_nproc_must_be_positive(capsys, tmp_path):
    code = main(["rbm", "train", "--data", "bars-stripes-3", "--nproc", "0",
                 "--out", str(tmp_path)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--nproc: expected an integer >= 1, got 0" in err


# Local updates (sync_every=3): 4 steps per epoch (batches 4, 4, 4, 2: shares 2 + 2 and 1 + 1),
# so the averaging falls at steps 3, 4 (epoch end), 6, 8, 9, ...; 5 chains shared 3 + 2.
LOCAL = {"n_hidden": 6, "method": "pcd", "batch_size": 4, "n_chains": 5, "sparsity_target": 0.2,
         "sync_every": 3, "n_epochs": 6, "learning_rate": 0.1, "monitor": False,
         "verbose": False, "random_state": 5}  # fmt: skip
AVERAGED = ("W", "a", "b", "dW", "da", "db", "q")

LOCAL_WORKER = """
import json, sys
import numpy as np, torch
torch.set_num_threads(1)
from workbench.data import bars_stripes
from workbench.nn.rbm.model import RBM
from workbench.nn.runtime import distributed_context, init_distributed
init_distributed("cpu")
params, out = json.loads(sys.argv[1]), sys.argv[2]
X = bars_stripes(3)
rbm = RBM(**params).fit(X)
half = RBM(**{**params, "n_epochs": 3, "checkpoint": f"{out}/half.pt"}).fit(X)
torch.distributed.barrier()  # rank 0 has written the checkpoint that every rank resumes from
resumed = RBM(**{**params, "checkpoint": f"{out}/half.pt"}).fit(X, resume=True)
fitted = {f"{k}": v.numpy() for k, v in rbm._state.items() if k in ("W", "a", "b", "chains")}
fitted["energies"] = torch.stack(list(rbm._window)).numpy()
fitted["resumed_W"], fitted["resumed_chains"] = resumed.weights_, resumed._state["chains"].numpy()
np.savez(f"{out}/rank{distributed_context().rank}.npz", **fitted)
torch.distributed.destroy_process_group()
"""


def as_rank(monkeypatch, rank, world=2):
    """Make the RBM's kernels see this process as ``rank`` of ``world`` (no process group)."""
    from workbench.nn.rbm import parallel, training
    from workbench.nn.runtime import distributed

    context = lambda: distributed.Distributed(rank, world, rank)  # noqa: E731
    for module in (distributed, training, parallel):
        monkeypatch.setattr(module, "distributed_context", context)


def emulate_two_ranks(monkeypatch, params, X):
    """Two ranks' local updates run in turn in this process (each rank's share through the
    ``rank`` the kernels see), averaged here every ``sync_every`` updates and at epoch ends."""
    from workbench.nn.rbm import fitting, training
    from workbench.nn.runtime.seeds import numpy_rng

    est = RBM(**params)
    X = training.check_X(est, X, reset=True)
    fitting.begin(est, X, torch.device("cpu"))
    settings = training.Settings.of(est)._replace(sync_every=1000)  # no averaging inside
    states = [{k: v.clone() if torch.is_tensor(v) else v for k, v in est._state.items()}
              for _ in range(2)]  # fmt: skip
    generators = [torch.Generator().set_state(est._generator.get_state()) for _ in range(2)]
    chain_rows = torch.tensor_split(torch.arange(params["n_chains"]), 2)
    window = []

    def average():
        for name in AVERAGED:
            mean = (states[0][name] + states[1][name]) / 2
            for state in states:
                state[name] = mean.clone()
        parts = zip(states, chain_rows, strict=True)
        chains = torch.cat([state["chains"][:, rows] for state, rows in parts], 1)
        done = states[0]["local_steps"]
        window.extend(states[0]["pending_energies"][:done] + states[1]["pending_energies"][:done])
        for state in states:
            state.update(chains=chains.clone(), local_steps=0)
            state["pending_energies"].zero_()

    for epoch in range(params["n_epochs"]):
        order = torch.from_numpy(numpy_rng(est.seed_, "batch-order", epoch).permutation(len(X)))
        batches = torch.split(order, params["batch_size"])
        lr = training.learning_rate_at(settings, epoch)
        momentum = training.momentum_at(settings, epoch)
        for i, batch in enumerate(batches):
            for rank in (0, 1):
                as_rank(monkeypatch, rank)
                training.update(states[rank], X[batch], settings, lr, momentum, generators[rank])
            if states[0]["step"] % params["sync_every"] == 0 or i == len(batches) - 1:
                average()
    monkeypatch.undo()
    return states[0], torch.stack(window)


@pytest.mark.parametrize("batch_size", [4, 13], ids=["even", "short-last-batch"])
def test_local_updates_average_the_ranks_every_k_updates(tmp_path, monkeypatch, batch_size):
    """sync_every=3 on two processes: every rank ends with the same state, which is the
    average of two local trajectories taken in turn here (averaged by this test's own code)
    and not the one-process run; a run resumed from an epoch's checkpoint ends the same. Batch
    13 of 14 rows leaves rank 1 no row of each epoch's last batch (its chains move, no step)."""
    params = {**LOCAL, "batch_size": batch_size}
    script = tmp_path / "worker.py"
    script.write_text(LOCAL_WORKER)
    torchrun(str(script), json.dumps(params), str(tmp_path))
    ranks = [np.load(tmp_path / f"rank{r}.npz") for r in (0, 1)]
    torch.set_num_threads(1)
    state, energies = emulate_two_ranks(monkeypatch, params, bars_stripes(3))
    reference = {name: state[name].numpy() for name in ("W", "a", "b", "chains")}
    reference["energies"] = energies.numpy()[-100:]  # the diagnostics window keeps the last 100
    for key, value in reference.items():
        np.testing.assert_array_equal(ranks[0][key], ranks[1][key])
        np.testing.assert_allclose(ranks[0][key], value, rtol=1e-5, atol=1e-6, err_msg=key)
    np.testing.assert_array_equal(ranks[0]["resumed_W"], ranks[0]["W"])
    np.testing.assert_array_equal(ranks[0]["resumed_chains"], ranks[0]["chains"])
    one = RBM(**{**params, "sync_every": 1}).fit(bars_stripes(3))
    assert np.abs(one.weights_ - ranks[0]["W"]).max() > 1e-3  # local steps: another trajectory
    assert np.abs(ranks[0]["W"]).max() > 0.05  # moved well past the 0.01-scale start
    assert np.isfinite(ranks[0]["energies"]).all()


def test_sync_every_is_refused_with_tempering():
    with pytest.raises(InputError, match="sync_every: expected 1 with parallel tempering"):
        RBM(4, n_temperatures=2, sync_every=2).fit(bars_stripes(3))


def test_local_updates_need_a_chain_per_process(monkeypatch):
    """With sync_every > 1 each rank's negative phase is its own chains': rank 1 of 2 with a
    single chain would have none, and the update says so instead of dividing by zero."""
    from workbench.nn.rbm import training

    rbm = RBM(4, n_chains=1, sync_every=2, n_epochs=1, batch_size=4, monitor=False,
              verbose=False, random_state=0).fit(bars_stripes(3))  # fmt: skip
    as_rank(monkeypatch, 1)
    batch = torch.from_numpy(bars_stripes(3)[:4]).float()
    with pytest.raises(InputError, match="n_chains: expected at least one chain per process"):
        training.update(rbm._state, batch, training.Settings.of(rbm), 0.05, 0.5, rbm._generator)


def test_local_cd_rank_without_rows_takes_no_step(monkeypatch):
    """CD with sync_every > 1: a short last batch of one row leaves rank 1 of 2 without rows;
    its update changes no parameter and counts the step (no division by zero, no error)."""
    from workbench.nn.rbm import training

    rbm = RBM(4, method="cd", sync_every=2, n_epochs=1, batch_size=4, monitor=False,
              verbose=False, random_state=0).fit(bars_stripes(3))  # fmt: skip
    before = {k: rbm._state[k].clone() for k in ("W", "a", "b", "dW")}
    as_rank(monkeypatch, 1)
    step = rbm._state["step"]
    batch = torch.from_numpy(bars_stripes(3)[:1]).float()
    out = training.update(rbm._state, batch, training.Settings.of(rbm), 0.05, 0.5, rbm._generator)
    assert out is None and rbm._state["step"] == step + 1
    for name, value in before.items():
        assert torch.equal(rbm._state[name], value), name
