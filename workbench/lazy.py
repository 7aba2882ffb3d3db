"""Package names imported on first use (PEP 562), so that importing a package, or one light
module inside it (a command's ``cli.py``), does not import Torch, ArviZ or scikit-learn.

    __getattr__, __dir__ = lazy_exports(__name__, {"PPCA": "estimators", ...})

maps each exported name to the sub-module (relative to the package) that defines it.
"""

import importlib

__all__ = ["lazy_exports"]


def lazy_exports(package, homes):
    """``(__getattr__, __dir__)`` for ``package`` whose names live in the sub-modules ``homes``
    (name -> sub-module path relative to the package). A name may not be that of its own
    sub-module (``sbc`` in ``sbc.py``): importing the sub-module binds the package attribute to
    the module, which would then shadow the name."""
    clashes = sorted(name for name, home in homes.items() if home.split(".")[-1] == name)
    if clashes:
        raise ValueError(f"{package}: {clashes} share their sub-module's name; rename the module")

    def __getattr__(name):
        if name in homes:
            return getattr(importlib.import_module(f"{package}.{homes[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(homes)

    return __getattr__, __dir__
