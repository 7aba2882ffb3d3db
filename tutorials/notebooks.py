"""Execute the jupytext tutorials into notebooks with their outputs.

``python tutorials/notebooks.py [OUT]`` (what ``make notebooks`` runs) writes one executed
``.ipynb`` per tutorial, and per solution under ``OUT/solutions``, into ``OUT`` (default
``build/notebooks``), at the sizes a reader gets unless ``WORKBENCH_QUICK=1`` is set. The test
suite executes the same files through :func:`execute`.
"""

import sys
import time
from pathlib import Path

import jupytext
import nbclient
import nbformat

from workbench.output import write_text

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"


def sources():
    """The tutorials, then the solutions, as paths (jupytext percent-format ``.py``)."""
    return sorted(TUTORIALS.glob("[0-9][0-9]_*.py")) + sorted(
        (TUTORIALS / "solutions").glob("[0-9][0-9]_*.py")
    )


def execute(path, timeout=1800):
    """Run ``path`` in a fresh kernel started in the repository root; returns the notebook and
    the error outputs of its cells (empty when every cell ran)."""
    notebook = jupytext.read(path)
    resources = {"metadata": {"path": str(ROOT)}}  # the kernel starts in the repository root
    client = nbclient.NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources=resources
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError:
        pass  # the error is in the cell's outputs, collected below
    errors = [
        out
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    return notebook, errors


def main(out="build/notebooks"):
    """Execute every source into ``out``; exit status 1 when any cell failed."""
    out = Path(out)
    failed = []
    for path in sources():
        target = out / path.relative_to(TUTORIALS).with_suffix(".ipynb")
        tick = time.perf_counter()
        notebook, errors = execute(path)
        write_text(target, nbformat.writes(notebook))  # atomic: never a half-written notebook
        status = "FAILED" if errors else "ok"
        print(f"{status:6s} {time.perf_counter() - tick:7.0f} s  {target}", flush=True)
        if errors:
            failed.append(path.name)
    if failed:
        print("cells failed in:", ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
