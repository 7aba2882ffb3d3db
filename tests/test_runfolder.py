"""The --out folder of a run: checked before any work, locked, described by a manifest; the
temporary files of atomic writes never outlive a run."""

import hashlib
import json
import os
import subprocess
import sys
import time

import pytest

from workbench.errors import InputError
from workbench.output import atomic_path, write_text
from workbench.runfolder import LOCK, MANIFEST, open_run_folder, read_manifest


def run(folder, command="estimate", **kw):
    return open_run_folder(folder, command=command, argv=[command, "--out", str(folder)], **kw)


def test_manifest_lists_what_the_run_wrote_with_sizes_and_hashes(tmp_path):
    out = tmp_path / "new" / "run"
    with run(out) as folder:
        assert (out / LOCK).read_text().split()[0] == str(os.getpid())
        write_text(out / "estimates.json", "{}\n")
        write_text(out / "sub" / "draws.txt", "1 2 3\n")
    assert not (out / LOCK).exists()
    entry = read_manifest(out)["runs"]["estimate"]
    assert entry["status"] == "completed" and entry["argv"] == ["estimate", "--out", str(out)]
    assert set(entry["files"]) == {"estimates.json", os.path.join("sub", "draws.txt")}
    assert entry["files"]["estimates.json"] == {
        "bytes": 3, "sha256": hashlib.sha256(b"{}\n").hexdigest()}  # fmt: skip
    assert folder.files == entry["files"]


def test_a_reused_folder_is_refused_and_overwrite_clears_only_the_earlier_files(tmp_path):
    with run(tmp_path):
        for name in ("estimates.json", "posterior.nc"):
            write_text(tmp_path / name, name)
    write_text(tmp_path / "notes.txt", "mine")  # not the run's: never touched
    with pytest.raises(InputError, match="earlier `estimate` run") as err:
        with run(tmp_path):
            pytest.fail("the body must not run")
    assert err.value.argument == "out" and "--overwrite" in str(err.value)
    assert not (tmp_path / LOCK).exists()
    with run(tmp_path, overwrite=True) as folder:  # `estimate --methods map ml`: no draws
        assert sorted(folder.cleared) == ["estimates.json", "posterior.nc"]
        assert not (tmp_path / "posterior.nc").exists()
        write_text(tmp_path / "estimates.json", "new")
    assert not (tmp_path / "posterior.nc").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert set(read_manifest(tmp_path)["runs"]["estimate"]["files"]) == {"estimates.json"}


def test_resume_keeps_the_earlier_files_and_other_commands_share_the_folder(tmp_path):
    with run(tmp_path, "rbm train"):
        write_text(tmp_path / "rbm.pt", "ckpt")
        write_text(tmp_path / "filters.png", "old")
    with run(tmp_path, "rbm sample"):  # another command: allowed
        write_text(tmp_path / "samples.npy", "s")
        write_text(tmp_path / "filters.png", "new")  # replaced: listed under its writer only
    with run(tmp_path, "rbm train", resume=True) as folder:
        assert folder.resumed
        write_text(tmp_path / "metrics.json", "{}")
    runs = read_manifest(tmp_path)["runs"]
    assert set(runs["rbm train"]["files"]) == {"rbm.pt", "metrics.json"}
    assert set(runs["rbm sample"]["files"]) == {"samples.npy", "filters.png"}
    with pytest.raises(InputError, match="exclude each other"):
        with run(tmp_path, "rbm train", resume=True, overwrite=True):
            pass


def test_a_second_run_into_a_locked_folder_is_refused(tmp_path, lock_holder):
    holder = lock_holder(tmp_path, "estimate")
    with pytest.raises(InputError, match=f"in use by another run \\(pid {holder.pid}"):
        with run(tmp_path, "risk"):
            pass
    holder.kill()
    holder.wait()
    with run(tmp_path, "risk"):  # the holder died: its stale lock is taken over
        assert (tmp_path / LOCK).read_text().split()[0] == str(os.getpid())


def test_an_unusable_out_is_named_before_any_work(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="an existing file") as err:
        with run(tmp_path / "file"):
            pass
    assert err.value.argument == "out"
    with pytest.raises(InputError, match="cannot create the folder"):
        with run(tmp_path / "file" / "below"):
            pass
    if os.geteuid() != 0:  # root may write anywhere
        (tmp_path / "ro").mkdir(mode=0o555)
        with pytest.raises(InputError, match="not writable"):
            with run(tmp_path / "ro"):
                pass


def test_a_failed_or_interrupted_run_releases_the_lock(tmp_path):
    with pytest.raises(ValueError):
        with run(tmp_path / "made"):
            raise ValueError("bad data found late")
    assert not (tmp_path / "made").exists()  # nothing written: the folder it made is gone
    with pytest.raises(KeyboardInterrupt):
        with run(tmp_path / "kept"):
            write_text(tmp_path / "kept" / "checkpoint.pt", "ckpt")
            raise KeyboardInterrupt
    entry = read_manifest(tmp_path / "kept")["runs"]["estimate"]
    assert entry["status"] == "interrupted" and list(entry["files"]) == ["checkpoint.pt"]
    assert sorted(os.listdir(tmp_path / "kept")) == ["checkpoint.pt", MANIFEST]


def test_atomic_writes_leave_no_temporary_file(tmp_path):
    target = tmp_path / "rbm.pt"
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / f".rbm.pt.{dead.pid}.abc123.pt"  # left by a SIGKILLed writer
    orphan.write_text("half")
    alive = tmp_path / f".rbm.pt.{os.getppid()}.def456.pt"  # a live writer's: kept
    alive.write_text("busy")
    write_text(target, "whole")
    assert sorted(os.listdir(tmp_path)) == [alive.name, "rbm.pt"]


def test_manifest_is_json_and_the_cli_refuses_reuse_before_work(tmp_path, capsys):
    from workbench.cli import main

    with run(tmp_path, "ppca"):
        write_text(tmp_path / "ppca_result.json", "{}")
    tick = time.perf_counter()
    assert main(["ppca", "--data", "digits", "--q", "2", "--out", str(tmp_path)]) == 2
    assert time.perf_counter() - tick < 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("workbench: error: --out: ")
    assert "--overwrite to replace them or choose another --out" in err[0]
    json.loads((tmp_path / MANIFEST).read_text())
