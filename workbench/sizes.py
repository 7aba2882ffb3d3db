"""Run sizes for the tutorials and ``workbench demo``: full by default, reduced for the tests.

Setting the environment variable ``WORKBENCH_QUICK=1`` (the test suite does, in
``tests/conftest.py``; notebook kernels started by the tests inherit it) makes the tutorials and
the demo pick fewer draws, epochs and replicates, so that ``make test`` executes all of them in
minutes. Users get the full sizes; nothing else in the library reads this variable.

    from workbench.sizes import run_size
    draws = run_size(1000, quick=300)
"""

import os

__all__ = ["QUICK_ENV", "is_quick", "run_size"]

QUICK_ENV = "WORKBENCH_QUICK"


def is_quick():
    """Whether ``$WORKBENCH_QUICK`` asks for reduced sizes (set, and not "", "0", "false", "no")."""
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")


def run_size(full, quick):
    """``quick`` when :func:`is_quick`, else ``full`` (any values: counts, tuples, dicts)."""
    return quick if is_quick() else full
