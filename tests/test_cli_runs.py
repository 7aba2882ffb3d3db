"""Every command alike: options documented with their defaults, one --resume meaning that
refuses what contradicts the checkpoint, SIGINT/SIGTERM as exit 130/143 with one line, at any
moment of a run (start-up included), without leaving temporary files."""

import functools
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.cli import _leaf_parsers, build_parser, main, typed_options
from workbench.runfolder import LOCK, read_manifest

RBM = ["rbm", "train", "--data", "bars-stripes-3", "--hidden", "4", "--threads", "1"]


def cli(*argv):
    """``python -m workbench.cli ARGV`` as a process (stdout and stderr piped)."""
    return subprocess.Popen([sys.executable, "-m", "workbench.cli", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def interrupt_when(proc, ready, sig, *, wait, timeout):
    """Send ``sig`` to ``proc`` once ``ready()`` holds (failing if the process ends first or
    ``wait`` seconds pass), then wait for it: (stdout, stderr). The process never outlives it."""
    try:
        deadline = time.monotonic() + wait
        while not ready():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.01)
        proc.send_signal(sig)
        return proc.communicate(timeout=timeout)
    finally:
        proc.kill()


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("workbench: error: "), err
    return err[0]


def test_every_option_has_help_showing_its_default_and_shared_defaults_agree():
    for leaf in _leaf_parsers(build_parser()):
        formatter = leaf._get_formatter()
        for action in leaf._actions:
            if not action.option_strings or action.dest == "help":
                continue
            name = f"{leaf.prog} {action.option_strings[0]}"
            assert action.help, f"{name} has no help text"
            text = formatter._expand_help(action)
            if action.default not in (None, False, [], ()):
                assert "default" in text, name
                if not isinstance(action.default, list):  # lists are spelled out in words
                    assert str(action.default) in text, name
        options = {a.dest: a for a in leaf._actions}
        if "seed" in options:
            assert options["seed"].default == 0, leaf.prog
        if "device" in options:
            assert options["device"].default == "auto", leaf.prog
        if "out" in options:
            assert "overwrite" in options, leaf.prog


def test_typed_options_are_those_spelled_out_including_abbreviations():
    parser = build_parser()
    argv = [*RBM, "--lr=0.5", "--batch", "7", "--resume"]
    args = parser.parse_args(argv)
    assert typed_options(parser, args, argv) == {
        "data", "hidden", "threads", "lr", "batch_size", "resume"}  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 2-epoch RBM run on bars-and-stripes 3x3 through the CLI."""
    out = tmp_path_factory.mktemp("rbm")
    assert main([*RBM, "--epochs", "2", "--lr", "0.1", "--out", str(out), "--json"]) == 0
    return out


def test_resume_names_each_conflicting_option(trained, tmp_path, capsys):
    capsys.readouterr()
    code = main([*RBM[:4], "--hidden", "99", "--lr", "0.5", "--batch-size", "14", "--epochs",
                 "3", "--resume", str(trained / "rbm.pt"), "--out", str(tmp_path)])  # fmt: skip
    assert code == 2
    line = one_error_line(capsys)
    assert line.startswith("workbench: error: --resume: ")
    assert "--hidden: checkpoint 4, this run 99" in line
    assert "--lr: checkpoint 0.1, this run 0.5" in line
    assert "batch-size" not in line  # typed, but equal to the checkpoint's
    assert not (tmp_path / "rbm.pt").exists()  # refused before the copy


def test_resume_refuses_fewer_epochs_and_a_missing_checkpoint(trained, tmp_path, capsys):
    capsys.readouterr()
    assert main([*RBM[:4], "--epochs", "1", "--resume", str(trained / "rbm.pt"),
                 "--out", str(tmp_path / "a")]) == 2  # fmt: skip
    assert "--epochs: expected at least the 2 epochs" in one_error_line(capsys)
    assert main(["cnn", "train", "--data", "digits", "--epochs", "1", "--resume",
                 "--out", str(tmp_path / "b")]) == 2  # fmt: skip
    line = one_error_line(capsys)
    assert "--resume: no checkpoint to continue at" in line and "checkpoint.pt" in line
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_reuse_is_refused_and_resume_reports_the_checkpoint_settings(trained, capsys):
    capsys.readouterr()
    assert main([*RBM, "--epochs", "2", "--out", str(trained)]) == 2
    assert "earlier `rbm train` run" in one_error_line(capsys)
    assert main([*RBM[:4], "--epochs", "3", "--resume", "--out", str(trained), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["settings"]["hidden"] == 4 and payload["settings"]["lr"] == 0.1
    assert payload["history"][-1]["epoch"] == 3
    entry = read_manifest(trained)["runs"]["rbm train"]
    assert entry["status"] == "completed" and "rbm.pt" in entry["files"]
    assert "--resume" in entry["argv"]


def test_sigterm_during_training_saves_and_exits_143_with_one_line(tmp_path):
    out = tmp_path / "run"
    proc = cli(*RBM, "--epochs", "100000", "--out", str(out))
    # the first checkpoint: training is under way
    _, err = interrupt_when(proc, (out / "rbm.pt").exists, signal.SIGTERM, wait=300, timeout=120)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("workbench: interrupted (SIGTERM) after step ")
    assert f"checkpoint saved to {out / 'rbm.pt'}" in last
    assert sum("interrupted" in line for line in err.splitlines()) == 1
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temp, no lock
    assert read_manifest(out)["runs"]["rbm train"]["status"] == "interrupted"


def _importing(pid, module):
    """Whether process ``pid`` has loaded a shared library of ``module`` (its imports run)."""
    try:
        return f"/{module}/" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc")
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_start_up_is_one_line_without_traceback(tmp_path, sig, code):
    proc = cli("estimate", "beta-binomial", "--methods", "map", "--out", str(tmp_path / "x"))
    importing = functools.partial(_importing, proc.pid, "numpy")  # the heavy imports have begun
    out, err = interrupt_when(proc, importing, sig, wait=120, timeout=120)
    assert proc.returncode == code, err
    assert "Traceback" not in err and out == ""
    assert err.strip().splitlines() == [f"workbench: interrupted ({sig.name})"]
    assert not (tmp_path / "x").exists()  # nothing written: the folder it made is gone


def test_a_locked_folder_is_refused_by_the_cli(tmp_path, capsys, lock_holder):
    holder = lock_holder(tmp_path, "ppca")
    capsys.readouterr()
    assert main(["ppca", "--data", "digits", "--q", "2", "--out", str(tmp_path)]) == 2
    line = one_error_line(capsys)
    assert f"--out: {tmp_path} is in use by another run (pid {holder.pid}, ppca)" in line
    assert (tmp_path / LOCK).exists()  # the holder's lock is left alone


TRAINING = {  # command line (without --epochs and --out), checkpoint name in --out
    "sbn": (["sbn", "train", "--data", "bars-stripes-3", "--layers", "4"], "sbn.pt"),
    "dbm": (["dbm", "train", "--data", "bars-stripes-3", "--layers", "4,2", "--no-pretrain"],
            "dbm.pt"),
    "ae": (["ae", "train", "--data", "digits", "--code", "4"], "autoencoder.pt"),
    "cnn": (["cnn", "train", "--data", "digits", "--patience", "1000", "--no-figures"],
            "checkpoint.pt"),
    "sparse": (["sparse", "learn", "--data", "digits", "--atoms", "8"], "dictionary.pt"),
}  # fmt: skip


@pytest.mark.slow  # five training commands started, stopped and resumed as processes
@pytest.mark.parametrize("family", sorted(TRAINING))
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_every_training_command_stops_saves_and_resumes_alike(tmp_path, family, sig, code):
    import torch

    argv, name = TRAINING[family]
    out = tmp_path / "run"
    proc = cli(*argv, "--threads", "1", "--epochs", "100000", "--out", str(out))
    _, err = interrupt_when(proc, (out / name).exists, sig, wait=600, timeout=300)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(f"workbench: interrupted ({sig.name}) after")
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
    done = torch.load(out / name, weights_only=True)["state"]["loop"]["epoch"]
    resumed = subprocess.run([sys.executable, "-m", "workbench.cli", *argv, "--threads", "1",
                              "--epochs", str(done + 1), "--out", str(out), "--resume", "--json"],
                             capture_output=True, text=True, timeout=600)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["history"][-1]["epoch"] == done + 1


@pytest.mark.slow  # one NUTS run
def test_estimate_over_an_earlier_run_keeps_no_stale_draws(tmp_path, capsys):
    model = ["estimate", "beta-binomial", "--out", str(tmp_path), "--json"]
    assert main([*model, "--methods", "map", "cm", "--draws", "200", "--tune", "200",
                 "--chains", "2"]) == 0  # fmt: skip
    assert (tmp_path / "posterior.nc").exists()
    capsys.readouterr()
    assert main([*model, "--methods", "map", "ml"]) == 2  # refused before any work
    assert "earlier `estimate` run" in one_error_line(capsys)
    assert main([*model, "--methods", "map", "ml", "--overwrite"]) == 0
    assert not (tmp_path / "posterior.nc").exists()
    files = read_manifest(tmp_path)["runs"]["estimate"]["files"]
    assert "posterior.nc" not in files and "estimates.json" in files
    assert json.loads((tmp_path / "estimates.json").read_text())["estimates"]["p"]["cm"] is None
