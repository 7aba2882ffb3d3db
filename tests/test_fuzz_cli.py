"""Property-based fuzzing of every sub-command: Hypothesis puts one bad value (negative, zero,
huge, NaN, infinite, wrong type, empty) into one option, or a damaged file into one file
argument, of a cheap valid command line, and runs it in-process through ``workbench.cli.main``.

Whatever it picks, the command must end with exit code 0 or 2; on error with at most one line
on standard error, no traceback, and nothing left in ``--out``. The sub-commands are found by
walking :func:`workbench.cli.build_parser`, so a new one is fuzzed (or fails the coverage test
until it gets a cheap command line in :data:`BASE`).

The default tier tries a few examples per command (derandomized, so CI is reproducible); the
slow tier (``make test-slow``) many more.
"""

import argparse
import contextlib
import io
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.cli import build_parser, main

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest

# A cheap command line per sub-command ({d}: the inputs folder). Values a run could spend a
# long time on (epochs, steps, draws) are small here and never fuzzed upwards (see HUGE_OK).
BASE = {
    "estimate": ["beta-binomial", "--methods", "map", "--draws", "10", "--tune", "0",
                 "--chains", "1"],
    "models": [],
    "diagnose": ["{d}/draws.npy"],
    "energy logz": ["{d}/w.npz", "--ais-runs", "2", "--ais-betas", "2"],
    "energy table": ["{d}/w.npz"],
    "ppca": ["--data", "{d}/table.npy", "--q", "1"],
    "fa": ["--data", "{d}/table.npy", "--q", "1"],
    "cnn summary": [],
    "cnn train": ["--data", "digits", "--epochs", "1", "--no-figures", "--conv", "2@3",
                  "--hidden", "4", "--threads", "1"],
    "rbm train": ["--data", "bars-stripes-2", "--epochs", "1", "--hidden", "2",
                  "--batch-size", "6", "--threads", "1"],
    "rbm sample": ["{d}/rbm.pt", "--n", "2", "--steps", "2", "--threads", "1"],
    "rbm eval": ["{d}/rbm.pt", "--data", "bars-stripes-2", "--threads", "1"],
    "sbn train": ["--data", "bars-stripes-2", "--epochs", "1", "--layers", "2",
                  "--batch-size", "6", "--threads", "1"],
    "sbn sample": ["{d}/sbn/sbn.pt", "--n", "2", "--threads", "1"],
    "sbn eval": ["{d}/sbn/sbn.pt", "--data", "bars-stripes-2", "--samples", "2",
                 "--threads", "1"],
    "dbm train": ["--data", "bars-stripes-2", "--epochs", "1", "--pretrain-epochs", "1",
                  "--layers", "2,2", "--batch-size", "6", "--threads", "1"],
    "dbm sample": ["{d}/dbm/dbm.pt", "--n", "2", "--steps", "2", "--threads", "1"],
    "dbm eval": ["{d}/dbm/dbm.pt", "--data", "bars-stripes-2", "--threads", "1"],
    "ae train": ["--data", "bars-stripes-2", "--epochs", "1", "--code", "2", "--layers", "3",
                 "--pretrain-epochs", "1", "--batch-size", "6", "--threads", "1"],
    "sparse learn": ["--data", "bars-stripes-2", "--atoms", "2", "--epochs", "1",
                     "--batch-size", "6", "--max-iter", "5", "--threads", "1"],
    "sparse code": ["--data", "bars-stripes-2", "--dictionary", "{d}/sparse/dictionary.pt",
                    "--max-iter", "5", "--threads", "1"],
    "sbc": ["beta-binomial", "--replicates", "2", "--draws", "20", "--warmup", "10",
            "--workers", "1"],
    "completion": ["bash"],
}  # fmt: skip
SKIPPED = {"demo", "risk"}  # minutes per valid run: their options are checked in test_cli.py
NO_OUT = {"models", "energy logz", "energy table", "cnn summary"}
# options whose huge values only cost time, not memory (refusing them would be wrong)
HUGE_OK = {"--epochs", "--pretrain-epochs", "--steps", "--draws", "--tune", "--ais-betas",
           "--max-iter", "--k", "--patience", "--mean-field-steps", "--replicates", "--seed",
           "--max-rows", "--patches", "--jobs", "--nproc", "--temperatures",
           "--samples"}  # fmt: skip
NUMBERS = ["-1", "-5", "0", "nan", "inf", "-inf", "x", "", "1.5", "1e400", "-99999999999"]
HUGE = ["99999999999", "2000000000"]
TEXT = ["", "x", "-1", "0", "nan", "1@", "0,0", "a=b=c", "cuda:99", "0x0"]
FILE_KINDS = ["empty.npy", "truncated.npz", "garbage.npy", "complex.npy", "nan.npy", "missing.npy",
              "folder.npy", "text.csv", "empty.csv", "truncated.pt", "draws.npy"]  # fmt: skip
FILE_ARGS = {"path", "weights", "checkpoint", "--data", "--dictionary", "--resume"}


def leaves():
    """{"rbm train": parser, ...}: every sub-command of the workbench CLI."""
    found = {}

    def walk(parser, words):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for action in subs:
            for name, child in action.choices.items():
                walk(child, [*words, name])
        if not subs:
            found[" ".join(words)] = parser

    walk(build_parser(), [])
    return found


LEAVES = leaves()
FUZZED = sorted(set(LEAVES) - SKIPPED)


def mutations(parser):
    """(option, [values]) that Hypothesis may set for a sub-command's parser (an unknown
    option too, so that a command without options is still fuzzed)."""
    out = [("--no-such-option", ["x", ""])]
    for action in parser._actions:
        if action.dest in ("help", "json", "out") or action.nargs == 0:
            continue
        name = action.option_strings[-1] if action.option_strings else action.dest
        if name in FILE_ARGS:
            out.append((name, [f"{{d}}/{kind}" for kind in FILE_KINDS]))
        elif action.choices is not None:
            out.append((name, ["", "x", *[str(c).upper() for c in action.choices][:1]]))
        elif action.type in (int, float):
            out.append((name, NUMBERS + ([] if name in HUGE_OK else HUGE)))
        else:
            out.append((name, TEXT))
    return out


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The inputs folder: valid files the base commands read, damaged ones, and checkpoints of
    every family (trained in-process with tiny sizes)."""
    from workbench.nn.runtime import torch_threads

    d = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(0)
    np.save(d / "draws.npy", rng.normal(size=(4, 50)))
    np.save(d / "table.npy", rng.normal(size=(40, 3)))
    np.savez(d / "w.npz", W=rng.normal(size=(4, 3)), visible_bias=np.zeros(4),
             hidden_bias=np.zeros(3))  # fmt: skip
    (d / "empty.npy").write_bytes(b"")
    (d / "empty.csv").write_bytes(b"")
    (d / "truncated.npz").write_bytes((d / "w.npz").read_bytes()[:100])
    (d / "garbage.npy").write_bytes(b"\x93NUMPY\x01\x00garbage" * 3)
    (d / "text.csv").write_text("a,b\n1,x\n")
    (d / "folder.npy").mkdir()
    np.save(d / "complex.npy", rng.normal(size=(4, 50)) + 1j)
    np.save(d / "nan.npy", np.full((4, 50), np.nan))
    bars = ["--data", "bars-stripes-2", "--batch-size", "6", "--threads", "1", "--json"]
    train = {"rbm": ["--hidden", "2", "--epochs", "1"],
             "sbn": ["--layers", "2", "--epochs", "1"],
             "dbm": ["--layers", "2,2", "--epochs", "1", "--pretrain-epochs", "1"]}  # fmt: skip
    with torch_threads(1), contextlib.redirect_stdout(io.StringIO()):
        with contextlib.redirect_stderr(io.StringIO()):
            for family, argv in train.items():
                assert main([family, "train", *bars, *argv, "--out", str(d / family)]) == 0
            assert main(["sparse", "learn", *bars, "--atoms", "2", "--epochs", "1",
                         "--max-iter", "5", "--out", str(d / "sparse")]) == 0  # fmt: skip
    shutil.copy(d / "rbm" / "rbm.pt", d / "rbm.pt")
    (d / "truncated.pt").write_bytes((d / "rbm.pt").read_bytes()[:300])
    return d


def run(argv):
    """(exit code, stderr) of ``main(argv)`` run in-process (argparse's exits caught)."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stop:
            code = stop.code
    return code, err.getvalue()


def check(command, option, value, inputs):
    """Run ``command``'s base line with ``option`` set to ``value`` and check the contract."""
    out = Path(tempfile.mkdtemp(prefix="fuzz-out-")) / "out"
    try:
        argv = [part.format(d=inputs) for part in BASE[command]]
        value = value.format(d=inputs)
        if option.startswith("--"):
            argv += [option, value]
        else:  # a positional: replace the base's file
            argv = [value if part.startswith(str(inputs)) else part for part in argv]
        argv = [*command.split(), *argv, *([] if command in NO_OUT else ["--out", str(out)])]
        with contextlib.chdir(out.parent):  # a fuzzed relative path (--tensorboard x) lands here
            code, err = run(argv)
        assert code in (0, 2), (argv, code, err[-2000:])
        assert "Traceback" not in err, (argv, err[-2000:])
        if code == 2:
            assert len(err.strip().splitlines()) == 1, (argv, err[-2000:])
            assert not out.exists() or not any(out.iterdir()), (argv, list(out.iterdir()))
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


def test_every_command_is_fuzzed():
    assert set(LEAVES) - SKIPPED == set(BASE), "give each new sub-command a cheap line in BASE"


def _fuzz(command, inputs, data):
    option, values = data.draw(st.sampled_from(mutations(LEAVES[command])), label="option")
    check(command, option, data.draw(st.sampled_from(values), label="value"), inputs)


FAST = settings(max_examples=4, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))  # fmt: skip
THOROUGH = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))  # fmt: skip


@pytest.mark.parametrize("command", FUZZED)
@FAST
@given(data=st.data())
def test_fuzz(command, inputs, data):
    _fuzz(command, inputs, data)


@pytest.mark.slow
@pytest.mark.parametrize("command", FUZZED)
@THOROUGH
@given(data=st.data())
def test_fuzz_thorough(command, inputs, data):
    _fuzz(command, inputs, data)
