"""The output layer below every CLI: JSON-or-table emission, atomic artefact writes that
respect the umask, figures saved without pyplot, and one NetCDF-safe DataTree conversion.

Capabilities and their CLIs write through here; nothing here switches a backend or touches
global state.
"""

import io
import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "atomic_path",
    "emit",
    "figure_png",
    "netcdf_safe",
    "save_figure",
    "write_bytes",
    "write_json",
    "write_netcdf",
    "write_text",
]


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    The file gets the mode a plain ``open`` would give it (0666 less the umask), not the 0600
    of a temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
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


def write_json(path, payload):
    """Write ``payload`` as indented JSON, atomically; returns the path."""
    return write_text(path, json.dumps(payload, indent=2) + "\n")


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


def netcdf_safe(tree):
    """Copy of a DataTree that NetCDF can store: object-typed variables dropped (nutpie's
    trees carry some) and attributes made plain."""
    tree = tree.copy()
    for node in tree.subtree:
        objects = [n for n, v in node.dataset.data_vars.items() if v.dtype == object]
        if objects:
            node.dataset = node.dataset.drop_vars(objects)
        node.attrs = {k: v if isinstance(v, str | int | float) else str(v)
                      for k, v in node.attrs.items()}  # fmt: skip
    return tree


def write_netcdf(tree, path):
    """Write a NetCDF-safe copy of ``tree`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        netcdf_safe(tree).to_netcdf(tmp, engine="h5netcdf")
    return Path(path)


def emit(args, payload, text):
    """Print ``payload`` as one JSON object when ``args.json``, else the human ``text``."""
    if args.json:
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        print(text)
