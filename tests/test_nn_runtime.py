"""workbench.nn.runtime: device strings, SeedSequence streams, the checkpoint format, SIGINT and
SIGTERM handling, and the torchrun relaunch command line."""

import os
import re
import signal
import sys
import zlib

import numpy as np
import pytest
import torch

from workbench.errors import InputError
from workbench.nn.runtime import (
    Interrupts,
    check_config,
    command_line,
    default_threads,
    derive_seed,
    load_checkpoint,
    numpy_rng,
    resolve_device,
    resolve_seed,
    save_checkpoint,
    set_process_threads,
    torch_generator,
    torch_seeded,
    torch_threads,
    torchrun_command,
)
from workbench.nn.runtime import checkpoint as checkpoint_module
from workbench.nn.runtime.loop import run_loop

# --- devices -------------------------------------------------------------------------------


def test_device_strings():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("AUTO").type == expected
    if torch.cuda.is_available():
        assert resolve_device("cuda") == torch.device("cuda", 0)
        assert resolve_device("cuda:0") == torch.device("cuda", 0)
    else:
        for device in ("cuda", "cuda:1"):
            with pytest.raises(InputError, match="no CUDA GPU") as err:
                resolve_device(device)
            assert err.value.argument == "device"


@pytest.mark.parametrize("device", ["tpu", "gpu", "cuda:x", "", 3, None])
def test_bad_device_is_an_input_error_naming_device(device):
    with pytest.raises(InputError, match="expected 'auto', 'cpu', 'cuda' or 'cuda:N'") as err:
        resolve_device(device)
    assert err.value.argument == "device"


def test_torch_threads_restores_the_count():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(InputError, match="threads: expected an integer >= 1"):
        with torch_threads(0):
            pass
    assert torch.get_num_threads() == before


def test_process_threads_split_the_cores_among_local_processes(monkeypatch):
    cores = os.cpu_count() or 1
    assert default_threads(1) == cores and default_threads(2) == max(1, cores // 2)
    assert default_threads(10 * cores) == 1
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
        assert set_process_threads() == max(1, cores // 2) == torch.get_num_threads()
        assert set_process_threads(1) == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


# --- seeds ---------------------------------------------------------------------------------


def test_streams_follow_the_documented_seed_sequence_path():
    """Stream (purpose, i) is child i of SeedSequence(seed, spawn_key=(crc32(purpose),))."""
    parent = np.random.SeedSequence(42, spawn_key=(zlib.crc32(b"batch-order"),))
    child = parent.spawn(4)[3]
    expected = np.random.default_rng(child).random(5)
    np.testing.assert_array_equal(numpy_rng(42, "batch-order", 3).random(5), expected)
    assert derive_seed(42, "batch-order", 3) == int(child.generate_state(1, np.uint64)[0])


def test_same_seed_same_stream_and_ranks_epochs_purposes_differ():
    draw = [numpy_rng(7, "noise", rank, 0).integers(0, 2**62, 4) for rank in (0, 0, 1)]
    np.testing.assert_array_equal(draw[0], draw[1])
    assert not np.array_equal(draw[0], draw[2])
    assert derive_seed(7, "noise", 0, 1) != derive_seed(7, "noise", 0, 0)
    assert derive_seed(7, "noise") != derive_seed(7, "shift") != derive_seed(8, "noise")
    a = torch.rand(3, generator=torch_generator(7, "noise", 2))
    b = torch.rand(3, generator=torch_generator(7, "noise", 2))
    assert torch.equal(a, b)


def test_none_means_fresh_entropy_and_bad_seeds_are_named():
    seeds = {resolve_seed(None) for _ in range(5)}
    assert len(seeds) == 5 and all(0 <= s < 2**63 for s in seeds)
    assert resolve_seed(np.int64(3)) == 3
    for bad in (-1, 1.5, "0", True):
        with pytest.raises(InputError, match="random_state: expected a non-negative integer"):
            resolve_seed(bad, "random_state")


def test_torch_seeded_leaves_the_global_generator_alone():
    state = torch.random.get_rng_state()
    with torch_seeded(3, "init"):
        inside = torch.rand(4)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.manual_seed(derive_seed(3, "init"))
    assert torch.equal(torch.rand(4), inside)
    torch.random.set_rng_state(state)


# --- checkpoints ---------------------------------------------------------------------------


def test_checkpoint_round_trip(tmp_path):
    path = tmp_path / "run" / "ckpt.pt"
    state = {"W": torch.arange(6.0).reshape(2, 3), "step": 11, "history": [{"loss": 0.5}]}
    config = {"train": {"n_epochs": 3, "learning_rate": 0.1}, "data": {"n_train": 9}}
    save_checkpoint(path, kind="rbm", state=state, config=config, generator=torch.ByteTensor(4))
    ckpt = load_checkpoint(path, "rbm")
    assert (ckpt["format"], ckpt["version"], ckpt["kind"]) == ("workbench-checkpoint", 1, "rbm")
    assert torch.equal(ckpt["state"]["W"], state["W"]) and ckpt["state"]["step"] == 11
    assert ckpt["config"] == config and ckpt["generator"].shape == (4,)
    check_config(ckpt, config, path)
    other = {**config, "train": {"n_epochs": 3, "learning_rate": 0.2}}
    with pytest.raises(InputError, match=r"train.learning_rate: checkpoint 0.1, this run 0.2"):
        check_config(ckpt, other, path)


def test_checkpoint_errors_say_what_is_wrong(tmp_path):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, kind="cnn", state={}, config={})
    with pytest.raises(InputError, match="is a 'cnn' checkpoint, not a 'rbm' one") as err:
        load_checkpoint(path, "rbm", argument="path")
    assert err.value.argument == "path"
    payload = torch.load(path, weights_only=True)
    torch.save({**payload, "version": 2}, path)
    with pytest.raises(InputError, match="checkpoint version 2; this workbench reads version 1"):
        load_checkpoint(path, "cnn")
    torch.save({"format": "workbench-cnn/1", "model": {}}, path)
    with pytest.raises(InputError, match="not a workbench checkpoint"):
        load_checkpoint(path, "cnn")
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(InputError, match="not a readable checkpoint"):
        load_checkpoint(path, "cnn")
    with pytest.raises(InputError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "missing.pt", "cnn")
    with pytest.raises(InputError, match="extra"):
        save_checkpoint(path, kind="cnn", state={}, config={}, version=3)


def test_interrupted_write_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"

    def dies_half_way(obj, f):
        with open(f, "wb") as handle:
            handle.write(b"half a checkpoint")
        raise KeyboardInterrupt  # e.g. a second Ctrl-C during the write

    monkeypatch.setattr(checkpoint_module.torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, kind="cnn", state={"step": 1}, config={})
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    save_checkpoint(path, kind="cnn", state={"step": 1}, config={})
    monkeypatch.setattr(checkpoint_module.torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, kind="cnn", state={"step": 2}, config={})
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == [path]
    assert load_checkpoint(path, "cnn")["state"]["step"] == 1


# --- interrupts ----------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_sets_the_flag_and_handlers_are_restored(sig):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with Interrupts() as stop:
        assert not stop.requested(1)
        os.kill(os.getpid(), sig)
        assert stop.requested(2) and stop.signal == sig.name
        with pytest.raises(KeyboardInterrupt):  # a second signal stops at once
            os.kill(os.getpid(), sig)
    assert {s: signal.getsignal(s) for s in before} == before


# --- torchrun relaunch ---------------------------------------------------------------------


def test_relaunch_forwards_every_flag_but_nproc(monkeypatch):
    argv = ["cnn", "train", "--data", "digits", "--nproc", "2", "--a-future-flag", "x y",
            "--json", "--nproc=3", "--hidden", "50", "20"]  # fmt: skip
    command = torchrun_command(2, argv)
    assert command[:5] == [sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc-per-node=2"]  # fmt: skip
    assert command[5:] == ["-m", "workbench.cli", "cnn", "train", "--data", "digits",
                           "--a-future-flag", "x y", "--json", "--hidden", "50", "20"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", ["workbench", *argv])
    assert command_line("cnn", "train") == argv
    monkeypatch.setattr(sys, "argv", ["pytest", "-q"])
    with pytest.raises(InputError, match="not started as `workbench cnn train") as err:
        command_line("cnn", "train")
    assert err.value.argument == "nproc"
    with pytest.raises(InputError, match="nproc: expected an integer >= 1"):
        torchrun_command(0, argv)


def test_scaling_warning_names_what_will_not_pay_off(monkeypatch):
    from workbench.nn.runtime.launch import (
        MIN_LOCAL_ROWS_PER_PROCESS,
        local_update_advice,
        scaling_limits,
        scaling_warning,
    )

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert "more processes than the 2 CPU cores" in scaling_warning(3, device="cpu")
    assert "use --threads 1" in scaling_warning(2, threads=2, device="cpu")
    message = scaling_warning(2, 1, batch_size=64, min_rows=64, device="cpu")
    assert "leaves 32 rows per process" in message and "--batch-size >= 128" in message
    assert "\n" not in message  # one line on stderr
    # the measured default: the CNN's batch of 64 warns and points to threads; 2048 does not
    assert "--threads 2" in scaling_warning(2, 1, batch_size=64, device="cpu")
    assert scaling_warning(2, 1, batch_size=2048, device="cpu") is None
    for quiet in ({"batch_size": 128, "min_rows": 64}, {"batch_size": None}):
        assert scaling_warning(2, 1, device="cpu", **quiet) is None
    assert scaling_warning(1, 4, batch_size=1, device="cpu") is None  # no relaunch, no warning
    assert scaling_warning(4, 1, batch_size=8, device="cuda") is None  # not measured on GPUs
    # below the synchronous break-even, the measured local-update recipe (the CNN's default)
    advice = local_update_advice(2, 64, MIN_LOCAL_ROWS_PER_PROCESS, "0.006 for Fashion-MNIST")
    message = scaling_warning(2, 1, batch_size=64, device="cpu", advice=advice)
    assert "--sync-every 10 --batch-size 128 and raise --lr (0.006" in message
    assert scaling_warning(2, 1, batch_size=128, min_rows=MIN_LOCAL_ROWS_PER_PROCESS,
                           device="cpu") is None  # fmt: skip
    # what the training commands pass: the scheme's break-even, the recipe for synchronous runs
    assert scaling_limits(10, 2, 128, lr_example="x") == {"batch_size": 128, "min_rows": 64}
    limits = scaling_limits(1, 2, 64, lr_example="0.006 for Fashion-MNIST")
    assert limits["min_rows"] == 1024 and limits["advice"] == advice


def test_ddp_broadcasts_buffers_only_for_running_statistics():
    """The CNN's constant pixel mean/std need no broadcast per step; batch norm's do."""
    from workbench.nn import CNNConfig, build_network
    from workbench.nn.runtime.classifier import _moving_buffers

    assert not _moving_buffers(build_network(CNNConfig(), 0.3, 0.2))
    assert _moving_buffers(torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2)))


# --- the training loop ---------------------------------------------------------------------


class RunningMean:
    """A task without autograd: w moves towards the mean of each batch (closed-form update),
    recording every batch; its loss is the summed squared distance of the batch to w."""

    kind = "running-mean"

    def __init__(self, x, rate=0.5, signal_at=None):
        self.x, self.rate, self.signal_at = x, rate, signal_at
        self.config = {"task": {"rate": rate}}
        self.w, self.batches, self.epochs_seen = torch.zeros(()), [], []

    def step(self, batch, share, step):
        if step == self.signal_at:
            os.kill(os.getpid(), signal.SIGTERM)
        self.batches.append(batch.tolist())
        rows = self.x[share]
        loss = ((rows - self.w) ** 2).sum()
        self.w = self.w + self.rate * (rows.mean() - self.w)
        return loss

    def end_epoch(self, epoch):
        self.epochs_seen.append(epoch)
        return {"w": float(self.w)}, False

    def state_dict(self):
        return {"w": self.w}

    def load_state_dict(self, state):
        self.w = state["w"]


def test_loop_batches_follow_the_seeded_permutation_and_losses_are_exact():
    x = torch.arange(10, dtype=torch.float64) ** 2
    task = RunningMean(x)
    result = run_loop(task, n_train=10, n_epochs=2, batch_size=4, seed=3, progress=False)
    for epoch in range(2):  # the documented stream, built here without the runtime
        sequence = np.random.SeedSequence(3, spawn_key=(zlib.crc32(b"batch-order"), epoch))
        order = np.random.default_rng(sequence).permutation(10).tolist()
        assert task.batches[3 * epoch : 3 * epoch + 3] == [order[:4], order[4:8], order[8:]]
    w, losses = 0.0, []  # replay by hand: the mean squared distance over the epoch
    for epoch in range(2):
        total = 0.0
        for rows in task.batches[3 * epoch : 3 * epoch + 3]:
            values = x[rows].numpy()
            total += float(((values - w) ** 2).sum())
            w += 0.5 * (values.mean() - w)
        losses.append(total / 10)
    np.testing.assert_allclose([h["train_loss"] for h in result.history], losses, rtol=1e-12)
    assert [h["w"] for h in result.history][-1] == pytest.approx(w, rel=1e-12)
    assert not result.stopped_early and result.checkpoint is None


def logged_epochs(err):
    """Epochs of the loop's log lines ("epoch 5 train_loss ..."; the bar reads "epoch 5/100")."""
    return [int(e) for e in re.findall(r"(?:^|[\r\n])epoch (\d+) ", err)]


class StopsAt(RunningMean):
    def __init__(self, x, stop_at):
        super().__init__(x)
        self.stop_at = stop_at

    def end_epoch(self, epoch):
        return {}, epoch == self.stop_at


def test_log_lines_first_every_twentieth_and_last(capsys):
    """About 20 log lines per run (epoch 1, every n_epochs // 20, the last); all epochs in the
    history; log_every=1 logs each; a task that stops early logs the epoch it stopped at."""
    x = torch.linspace(0, 1, 4, dtype=torch.float64)
    settings = {"n_train": 4, "batch_size": 4, "seed": 0}
    result = run_loop(RunningMean(x), n_epochs=100, **settings)
    assert logged_epochs(capsys.readouterr().err) == [1, *range(5, 101, 5)]
    assert len(result.history) == 100
    run_loop(RunningMean(x), n_epochs=3, log_every=1, **settings)
    assert logged_epochs(capsys.readouterr().err) == [1, 2, 3]
    run_loop(StopsAt(x, stop_at=47), n_epochs=100, **settings)
    assert logged_epochs(capsys.readouterr().err) == [1, *range(5, 46, 5), 47]
    run_loop(RunningMean(x), n_epochs=5, progress=False, **settings)
    assert logged_epochs(capsys.readouterr().err) == []
    with pytest.raises(InputError, match="log_every: expected an integer >= 1"):
        run_loop(RunningMean(x), n_epochs=5, log_every=0, **settings)


def test_continuing_in_memory_equals_one_longer_run():
    x = torch.linspace(0, 1, 10, dtype=torch.float64)
    settings = {"n_train": 10, "batch_size": 3, "seed": 1, "progress": False}
    longer = RunningMean(x)
    reference = run_loop(longer, n_epochs=3, **settings)
    task = RunningMean(x)
    first = run_loop(task, n_epochs=2, **settings)
    second = run_loop(task, n_epochs=3, start=first.state, **settings)
    assert len(first.history) == 2 and task.epochs_seen == [1, 2, 3]
    assert float(task.w) == float(longer.w) and task.batches == longer.batches
    assert [h["train_loss"] for h in second.history] == [h["train_loss"] for h in reference.history]


def test_sigterm_mid_loop_saves_a_checkpoint_and_resume_matches(tmp_path):
    x = torch.linspace(0, 1, 25, dtype=torch.float64)
    settings = {"n_train": 25, "n_epochs": 3, "batch_size": 4, "seed": 0, "progress": False}
    full = RunningMean(x)
    reference = run_loop(full, **settings)

    path = tmp_path / "ckpt.pt"
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(KeyboardInterrupt):
        run_loop(RunningMean(x, signal_at=9), checkpoint=path, **settings)
    assert {s: signal.getsignal(s) for s in before} == before
    ckpt = load_checkpoint(path, "running-mean")
    assert ckpt["state"]["loop"]["step"] == 10 and ckpt["state"]["loop"]["epoch"] == 1

    resumed_task = RunningMean(x)
    resumed = run_loop(resumed_task, checkpoint=path, resume=True, **settings)
    assert resumed.resumed and resumed_task.epochs_seen == [2, 3]
    assert float(resumed_task.w) == float(full.w)  # the same batches, the same updates
    for got, want in zip(resumed.history, reference.history, strict=True):
        assert got["train_loss"] == pytest.approx(want["train_loss"], rel=1e-12)
    with pytest.raises(InputError, match=r"loop.batch_size: checkpoint 4, this run 5"):
        run_loop(RunningMean(x), checkpoint=path, resume=True, **{**settings, "batch_size": 5})


WORKER = """
import json, os, signal, sys
import torch
from workbench.nn.runtime import distributed_context, init_distributed, load_checkpoint
from workbench.nn.runtime.loop import run_loop

init_distributed("cpu")
rank = distributed_context().rank

class Task:
    kind, config = "agree", {}
    def step(self, batch, share, step):
        if rank == 1 and step == 12:  # only rank 1 is told to stop
            os.kill(os.getpid(), signal.SIGTERM)
        return torch.tensor(float(len(share)))
    def end_epoch(self, epoch):
        return {}, False
    def state_dict(self):
        return {}
    def load_state_dict(self, state):
        pass

out = sys.argv[1]
try:
    run_loop(Task(), n_train=100, n_epochs=5, batch_size=4, seed=0, progress=False,
             checkpoint=os.path.join(out, "ckpt.pt"))
    stopped = None
except KeyboardInterrupt:
    stopped = "interrupted"
torch.distributed.barrier()
step = load_checkpoint(os.path.join(out, "ckpt.pt"), "agree")["state"]["loop"]["step"]
with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
    json.dump({"stopped": stopped, "checkpoint_step": step}, f)
torch.distributed.destroy_process_group()
"""


def test_ranks_agree_to_stop_at_the_same_step(tmp_path):
    """torchrun, 2 CPU processes: SIGTERM reaches rank 1 alone during step 13; both ranks stop
    at step 20 (the next agreement, every 10 steps) and rank 0's checkpoint holds step 20."""
    import json
    import subprocess

    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node=2", str(script), str(tmp_path)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for rank in (0, 1):
        report = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert report == {"stopped": "interrupted", "checkpoint_step": 20}


def test_finish_run_writes_figures_and_metrics_then_prints_the_json(tmp_path, capsys):
    import argparse
    import json

    from workbench.nn.runtime.command import add_run_options, finish_run, run_ranks
    from workbench.output import new_figure

    parser = argparse.ArgumentParser()
    add_run_options(parser, out="unused")
    args = parser.parse_args(["--json", "--out", str(tmp_path / "run")])
    assert (args.seed, args.device, args.threads) == (0, "auto", None)
    fig = new_figure(2, 2)
    fig.add_subplot().plot([0, 1])
    payload = finish_run(args, args.out, {"final": {"x": 1.5}}, {"curve": fig}, str)
    printed = json.loads(capsys.readouterr().out)
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert printed == written == payload
    assert (tmp_path / "run" / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert payload["files"] == {"curve": str(tmp_path / "run" / "curve.png")}
    args.nproc = 0
    with pytest.raises(InputError, match="nproc"):
        run_ranks(args, ("x",), lambda a, d: None)


def test_load_split_names_the_commands_data_option():
    from workbench.nn.runtime.command import load_split

    train, test = load_split("digits")
    assert train.X.shape[1] == test.X.shape[1] == 64
    assert load_split("bars-stripes-3")[1] is None
    with pytest.raises(InputError, match="unknown data set") as err:
        load_split("no-such-data")
    assert err.value.argument == "data"
