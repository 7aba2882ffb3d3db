"""Every tutorial runs end to end (jupytext -> notebook -> nbclient), at the reduced sizes of
``WORKBENCH_QUICK=1`` (set by conftest; the kernel inherits it). Tutorials that load
Fashion-MNIST skip, with the install command, when it is absent."""

from pathlib import Path

import jupytext
import nbclient
import pytest

TUTORIALS = [
    pytest.param(
        path,
        id=path.stem,
        marks=[pytest.mark.requires_fashion_mnist] if "fashion-mnist" in path.read_text() else [],
    )
    for path in sorted((Path(__file__).parents[1] / "tutorials").glob("[0-9][0-9]_*.py"))
]


@pytest.mark.parametrize("path", TUTORIALS)
def test_tutorial_executes(path):
    notebook = jupytext.read(path)
    client = nbclient.NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent.parent)}},
    )
    client.execute()
    errors = [
        out
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors
