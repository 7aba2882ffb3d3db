"""Convergence diagnostics for any sampler's draws, built on ArviZ (arviz_stats, arviz_plots).

>>> from workbench.diagnostics import diagnose
>>> report = diagnose("posterior.nc")          # or a DataTree, an array, a dict, a tensor
>>> report.converged
>>> print(report.table())
>>> report.plot("rank")

:func:`sbc` runs simulation-based calibration of a sampler.
"""

from workbench.lazy import lazy_exports

_HOMES = {
    "TAIL_PROB": "convergence",
    "Problem": "convergence",
    "Thresholds": "convergence",
    "MIN_DRAWS": "convert",
    "load_draws": "convert",
    "to_datatree": "convert",
    "DiagnosticsReport": "report",
    "diagnose": "report",
    "SBCResult": "calibration",
    "sbc": "calibration",
    "sbc_model": "calibration",
}

__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
