"""Convergence diagnostics for any sampler's draws, built on ArviZ (arviz_stats, arviz_plots).

>>> from workbench.diagnostics import diagnose
>>> report = diagnose("posterior.nc")          # or a DataTree, an array, a dict, a tensor
>>> report.converged
>>> print(report.table())
>>> report.plot("rank")

:func:`sbc` runs simulation-based calibration of a sampler.
"""

from workbench.diagnostics.convergence import TAIL_PROB, Problem, Thresholds
from workbench.diagnostics.convert import MIN_DRAWS, load_draws, to_datatree
from workbench.diagnostics.report import DiagnosticsReport, diagnose
from workbench.diagnostics.sbc import SBCResult, sbc, sbc_model

__all__ = [
    "MIN_DRAWS",
    "DiagnosticsReport",
    "Problem",
    "SBCResult",
    "TAIL_PROB",
    "Thresholds",
    "diagnose",
    "load_draws",
    "sbc",
    "sbc_model",
    "to_datatree",
]
