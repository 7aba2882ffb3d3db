"""One home for a command's ``--out`` folder: checked before any work, locked while a run
writes into it, and described by a manifest when the run ends.

:func:`open_run_folder` is a context manager the CLI opens around every command that has
``--out``:

- the folder must be creatable and writable, else an :class:`~workbench.errors.InputError`
  naming ``out`` (the CLI prints ``--out: ...`` and exits 2) before any estimation or epoch;
- a lock file ``.workbench.lock`` (created with ``O_EXCL``, holding the pid) stops a second run
  from writing into the same folder at once; the lock of a process that no longer exists is
  taken over;
- ``manifest.json`` lists, per command (``estimate``, ``rbm train``, ``rbm sample``, ...), the
  previous run's argv, start and end time, status and files (size and sha256). A folder whose
  manifest already holds a run of the same command is refused unless ``overwrite`` (its files
  are deleted first: no old ``posterior.nc`` survives a new ``estimate``) or ``resume`` (the run
  continues and its files are kept). Different commands may share a folder (``rbm train`` then
  ``rbm sample``); a file one run replaces is listed under that run only.

The files of a run are found by comparing the folder before and after (size and modification
time), so files written by child processes (``--nproc`` ranks under torchrun) count too; those
children run inside their parent's lock (the environment variable ``WORKBENCH_RUN_FOLDER``
tells them so). Everything is released on every exit path, including KeyboardInterrupt.

Example::

    with open_run_folder("runs/a", command="rbm train", argv=sys.argv[1:]) as folder:
        ...  # write artefacts under runs/a
"""

import hashlib
import os
import time
from contextlib import contextmanager
from pathlib import Path

from workbench.errors import InputError
from workbench.output import to_json, write_text

__all__ = ["LOCK", "MANIFEST", "RunFolder", "open_run_folder", "read_manifest"]

LOCK = ".workbench.lock"
MANIFEST = "manifest.json"
HELD = "WORKBENCH_RUN_FOLDER"  # set for child processes that run inside the holder's lock
FORMAT = "workbench-run-folder"


def read_manifest(folder):
    """The manifest dict of ``folder`` (``{"format", "runs": {command: entry}}``); an empty one
    when there is none or it cannot be read."""
    import json

    path = Path(folder) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"format": FORMAT, "runs": {}}
    if not isinstance(data, dict) or not isinstance(data.get("runs"), dict):
        return {"format": FORMAT, "runs": {}}
    return data


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def _snapshot(root):
    """{relative path: (size, mtime_ns)} of the plain files under ``root``, leaving out hidden
    files and folders (temporary files, the lock) and the manifest."""
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or (folder == str(root) and name == MANIFEST):
                continue
            path = Path(folder) / name
            try:
                stat = path.stat()
            except OSError:
                continue
            found[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return found


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class RunFolder:
    """The folder of one run (see :func:`open_run_folder`): ``path``, ``command``, ``resumed``,
    ``cleared`` (files an ``overwrite`` deleted) and, after the run, ``files`` (what it wrote)."""

    def __init__(self, path, command, argv, *, overwrite=False, resume=False, resumable=False):
        self.path, self.command, self.argv = Path(path), str(command), list(argv or [])
        self.resumable = bool(resumable)
        self.overwrite, self.resume, self.resumed = bool(overwrite), bool(resume), False
        self.cleared, self.files, self._lock, self._created = [], {}, None, False
        self._before, self._started = {}, None

    # -- before the run ----------------------------------------------------------------
    def _prepare(self):
        path = self.path
        if path.exists() and not path.is_dir():
            raise InputError("out", "a folder (or a path to create one at)",
                             f"{path}, an existing file")  # fmt: skip
        if not path.exists():
            try:
                path.mkdir(parents=True)
            except OSError as err:
                raise InputError("out", detail=f"cannot create the folder {path} "
                                 f"({err.strerror or err})") from None  # fmt: skip
            self._created = True
        if not os.access(path, os.W_OK | os.X_OK):
            raise InputError("out", detail=f"the folder {path} is not writable")
        self._take_lock()

    def _take_lock(self):
        lock = self.path / LOCK
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if self._lock_is_live(lock):
                    raise InputError("out", detail=f"{self.path} is in use by another run "
                                     f"({self._holder(lock)}); wait for it to finish, or "
                                     f"choose another --out (lock file: {lock})"
                                     ) from None  # fmt: skip
                try:  # a dead process's lock: take it over
                    lock.unlink()
                except FileNotFoundError:
                    pass
                continue
            except OSError as err:
                raise InputError("out", detail=f"cannot write into the folder {self.path} "
                                 f"({err.strerror or err})") from None  # fmt: skip
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{os.getpid()}\n{self.command}\n")
            self._lock = lock
            return
        raise InputError("out", detail=f"{self.path} is in use by another run")

    @staticmethod
    def _holder(lock):
        try:
            pid, command = (lock.read_text().splitlines() + ["", ""])[:2]
        except OSError:
            return "unknown process"
        return f"pid {pid}, {command}" if command else f"pid {pid}"

    @staticmethod
    def _lock_is_live(lock):
        try:
            text = lock.read_text().split()
            age = time.time() - lock.stat().st_mtime
        except FileNotFoundError:
            return False
        except OSError:
            return True
        if not text:  # being written just now, or left empty by a crash long ago
            return age < 10
        try:
            return _alive(int(text[0]))
        except ValueError:
            return False

    def _check_previous(self):
        previous = read_manifest(self.path)["runs"].get(self.command)
        if previous is None:
            return
        if self.overwrite:
            for name in previous.get("files", {}):
                target = self.path / name
                if target.is_file():
                    target.unlink()
                    self.cleared.append(name)
            return
        if self.resume:
            self.resumed = True
            return
        how = (
            "--overwrite to replace them, --resume to continue it,"
            if self.resumable
            else ("--overwrite to replace them")
        )
        raise InputError("out", detail=f"{self.path} holds the results of an earlier "
                         f"`{self.command}` run (see its {MANIFEST}); pass {how} or choose "
                         "another --out")  # fmt: skip

    # -- after the run -----------------------------------------------------------------
    def _written(self):
        after = _snapshot(self.path)
        return {name: meta for name, meta in after.items() if self._before.get(name) != meta}

    def _write_manifest(self, status):
        written = self._written()
        manifest = read_manifest(self.path)
        runs = manifest["runs"]
        previous = runs.get(self.command, {}) if self.resumed else {}
        files = {name: meta for name, meta in previous.get("files", {}).items()
                 if (self.path / name).is_file()}  # fmt: skip
        for name in sorted(written):
            try:
                files[name] = {"bytes": written[name][0], "sha256": _sha256(self.path / name)}
            except OSError:
                continue
        self.files = files
        if not files and self.command not in runs:
            return False
        for other, entry in runs.items():  # a file this run replaced is this run's now
            if other != self.command:
                entry["files"] = {k: v for k, v in entry.get("files", {}).items()
                                  if k not in written and (self.path / k).is_file()}  # fmt: skip
        runs[self.command] = {
            "command": self.command, "argv": self.argv, "status": status,
            "started": previous.get("started", self._started) if self.resumed else self._started,
            "finished": _now(), "files": files,
        }  # fmt: skip
        write_text(self.path / MANIFEST, to_json({"format": FORMAT, "runs": runs}))
        return True

    def _release(self):
        if self._lock is None:
            return
        try:
            if self._lock.read_text().split()[:1] == [str(os.getpid())]:
                self._lock.unlink()
        except (OSError, IndexError):
            pass
        self._lock = None

    def __enter__(self):
        self._prepare()
        try:
            self._check_previous()
        except BaseException:
            self._release()
            raise
        self._before, self._started = _snapshot(self.path), _now()
        self._saved_env = os.environ.get(HELD)
        os.environ[HELD] = str(self.path.resolve())
        return self

    def __exit__(self, kind, error, tb):
        if self._saved_env is None:
            os.environ.pop(HELD, None)
        else:
            os.environ[HELD] = self._saved_env
        try:
            status = "completed" if kind is None or issubclass(kind, SystemExit) else "failed"
            if kind is not None and issubclass(kind, KeyboardInterrupt):
                status = "interrupted"
            wrote = self._write_manifest(status)
            self._release()
            if not wrote and self._created and not any(self.path.iterdir()):
                self.path.rmdir()  # a run that wrote nothing leaves no folder it made
        finally:
            self._release()
        return False


@contextmanager
def open_run_folder(out, *, command, argv=None, overwrite=False, resume=False, resumable=False):
    """Open ``out`` for one run of ``command`` (see the module docstring); yields the
    :class:`RunFolder`, or None when ``out`` is None or this process runs inside its parent's
    lock (a torchrun rank). ``overwrite`` and ``resume`` cannot both be given; ``resumable``:
    the command has ``--resume`` (the refusal suggests it)."""
    if overwrite and resume:
        raise InputError("overwrite", detail="--overwrite and --resume exclude each other: "
                         "replace the earlier results, or continue them")  # fmt: skip
    if out is None:
        yield None
        return
    path = Path(out)
    held = os.environ.get(HELD)
    inside = held is not None and path.exists() and str(path.resolve()) == held
    if inside or int(os.environ.get("RANK", "0") or 0) > 0:
        yield None
        return
    with RunFolder(
        path, command, argv, overwrite=overwrite, resume=resume, resumable=resumable
    ) as folder:
        yield folder
