"""The output layer below every CLI: JSON-or-table emission, atomic artefact writes that
respect the umask, figures saved without pyplot, and one NetCDF-safe DataTree conversion.

Capabilities and their CLIs write through here; nothing here switches a backend or touches
global state.
"""

import glob
import io
import json
import math
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "atomic_path",
    "progress_bars",
    "emit",
    "figure_png",
    "new_figure",
    "netcdf_safe",
    "save_figure",
    "to_json",
    "write_bytes",
    "write_json",
    "write_netcdf",
    "write_text",
]


def progress_bars(quiet=False):
    """Whether to draw progress bars: only on a terminal (stderr a TTY) and not when ``quiet``
    (the CLI's ``--json``), so logs and pipes never fill with bar frames. The one decision for
    the training loop's and the samplers' bars."""
    return not quiet and sys.stderr.isatty()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_orphans(path):
    """Delete the temporary files of ``path`` that a killed process (SIGKILL, power loss) left:
    ``.NAME.PID.*`` whose PID no longer runs."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*"):
        pid = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except OSError:  # alive (another user's) or not ours to judge
            pass


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path`` (``.NAME.PID.XXXX``); move it into place only if
    the block succeeds. On any exception, KeyboardInterrupt included, the temporary file is
    removed; those a killed process left behind are removed by the next write of ``path``.

    The file gets the mode a plain ``open`` would give it (0666 less the umask), not the 0600
    of a temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=path.suffix, dir=path.parent
    )
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path, text):
    """Write ``text`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path, data):
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def _plain(value):
    """JSON form of the NumPy and path values a payload may hold."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"payload: expected JSON-serialisable values, got {type(value).__name__}")


def _finite(value):
    """``value`` with NumPy values made plain and every NaN or infinity replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    if type(value).__module__ == "numpy" or isinstance(value, Path):
        return _finite(_plain(value))
    return value


def to_json(payload):
    """``payload`` as indented JSON text ending in a newline (NumPy values made plain).

    The text is strict JSON: NaN and infinities, which JSON cannot express (Python would write
    ``NaN``, which other readers reject), are written as ``null``.
    """
    return json.dumps(_finite(payload), indent=2, default=_plain, allow_nan=False) + "\n"


def write_json(path, payload):
    """Write ``payload`` as indented JSON, atomically; returns the path."""
    return write_text(path, to_json(payload))


def new_figure(width, height):
    """A matplotlib ``Figure`` of ``width`` x ``height`` inches, outside pyplot: building it
    neither switches the backend nor touches the caller's open figures."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def figure_png(fig, dpi=110):
    """PNG bytes of a matplotlib ``Figure``; a figure pyplot manages is closed afterwards."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    if getattr(fig.canvas, "manager", None) is not None:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return buffer.getvalue()


def save_figure(fig, path, dpi=110):
    """Write ``fig`` as a PNG at ``path`` atomically; returns the path."""
    return write_bytes(path, figure_png(fig, dpi=dpi))


def _plain_attr(value):
    """An attribute NetCDF can store: numbers, strings and flat sequences of them stay; booleans
    and anything else become their text."""
    import numpy as np

    if isinstance(value, list | tuple | np.ndarray):
        try:
            items = np.asarray(value)
        except ValueError:  # ragged
            return str(value)
        return value if items.ndim == 1 and items.dtype.kind in "iufU" else str(value)
    if isinstance(value, str | int | float | np.number) and not isinstance(value, bool):
        return value
    return str(value)


def netcdf_safe(tree):
    """Copy of a DataTree that NetCDF can store.

    Object-typed variables (nutpie's ``divergence_message``: None, NaN or text per draw) become
    strings, with "" for a missing entry; attributes are made plain (see :func:`_plain_attr`).
    Numeric variables and coordinates are untouched.
    """
    tree = tree.copy()
    for node in tree.subtree:
        dataset = node.to_dataset(inherit=False)
        for name, var in dataset.data_vars.items():
            if var.dtype == object:
                dataset[name] = var.copy(data=_as_text(var.values))
        dataset.attrs = {k: _plain_attr(v) for k, v in dataset.attrs.items()}
        node.dataset = dataset
    return tree


def _as_text(values):
    """Object array -> str array of the same shape; None and NaN -> ""."""
    import numpy as np

    text = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
            for v in values.ravel()]  # fmt: skip
    return np.array(text, dtype=str).reshape(values.shape)


def write_netcdf(tree, path):
    """Write a NetCDF-safe copy of ``tree`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        netcdf_safe(tree).to_netcdf(tmp, engine="h5netcdf")
    return Path(path)


def emit(args, payload, text):
    """Print ``payload`` as one JSON object when ``args.json``, else the human ``text``."""
    if args.json:
        sys.stdout.write(to_json(payload))
    else:
        print(text)
