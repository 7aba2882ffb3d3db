"""Every tutorial and every exercise solution runs end to end (jupytext -> notebook ->
nbclient, through ``tutorials/notebooks.py``, which ``make notebooks`` also uses), at the reduced
sizes of ``WORKBENCH_QUICK=1`` (set by conftest; the kernel inherits it). Tutorials that load
Fashion-MNIST skip, with the install command, when it is absent."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "tutorials"))
from notebooks import execute, sources  # noqa: E402

SOURCES = [
    pytest.param(
        path,
        id=path.stem if path.parent.name == "tutorials" else f"solution-{path.stem}",
        marks=[pytest.mark.requires_fashion_mnist] if "fashion-mnist" in path.read_text() else [],
    )
    for path in sources()
]


@pytest.mark.parametrize("path", SOURCES)
def test_tutorial_executes(path):
    _, errors = execute(path, timeout=900)
    assert not errors, "\n".join(f"{e['ename']}: {e['evalue']}" for e in errors)
