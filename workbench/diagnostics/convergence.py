"""The one convergence rule of the workbench, with Stan's definitions.

Every verdict in the workbench (``diagnose``, Bayes estimates, Bayesian PPCA/FA, the RBM's
persistent chains, SBC replicates) comes from here, through :func:`~workbench.diagnostics.diagnose`.

Definitions (Vehtari, Gelman, Simpson, Carpenter and Bürkner 2021, as in Stan and the R package
``posterior``), all computed by ``arviz_stats``:

- R-hat: rank-normalised split R-hat (the larger of the bulk and the folded tail R-hat);
- bulk ESS: ESS of the rank-normalised split chains;
- tail ESS: the smaller ESS of the indicators ``draw <= q05`` and ``draw <= q95`` (the 5% and
  95% quantiles, ``TAIL_PROB``); ArviZ's default quantiles differ;
- MCSE of the mean and of the sd.

An entry has converged when R-hat < ``r_hat`` and bulk and tail ESS >= ``ess_per_chain`` x
chains; a run, when every entry of every variable has, there are at least 2 chains, at most
``max_divergences`` divergent transitions, and every chain's E-BFMI >= ``bfmi`` (when the
sampler records energy).
"""

import math
import warnings
from dataclasses import dataclass
from numbers import Real

import arviz_stats as azs
import numpy as np

from workbench.errors import InputError, check_count

__all__ = ["TAIL_PROB", "Problem", "Thresholds", "entry_converged", "sampler_stats", "statistics"]

TAIL_PROB = (0.05, 0.95)


@dataclass(frozen=True)
class Thresholds:
    """What "converged" means; every number is configurable.

    Parameters
    ----------
    r_hat : float, default 1.01
        Rank-normalised split R-hat must be below this.
    ess_per_chain : float, default 100
        Bulk and tail ESS must reach ``ess_per_chain * chains``.
    max_divergences : int, default 0
        More divergent transitions than this fail the run.
    bfmi : float, default 0.3
        E-BFMI of every chain must reach this (only when the sampler records energy).
    stuck_sd_ratio : float, default 0.1
        A chain whose sd is below this fraction of the median chain's sd counts as stuck
        (explains a failure; does not change the verdict).
    """

    r_hat: float = 1.01
    ess_per_chain: float = 100.0
    max_divergences: int = 0
    bfmi: float = 0.3
    stuck_sd_ratio: float = 0.1

    def __post_init__(self):
        """Range checks: a threshold outside its range would call every run (or none) converged."""
        ranges = {"r_hat": ("a number > 1 (R-hat is never below 1)", lambda x: x > 1),
                  "ess_per_chain": ("a number > 0", lambda x: x > 0),
                  "bfmi": ("a number >= 0", lambda x: x >= 0),
                  "stuck_sd_ratio": ("a number from 0 to 1", lambda x: 0 <= x <= 1)}  # fmt: skip
        for key, (expected, ok) in ranges.items():
            value = getattr(self, key)
            if (
                isinstance(value, bool)
                or not isinstance(value, Real)
                or not (math.isfinite(value) and ok(value))
            ):
                raise InputError(f"thresholds[{key}]", expected, repr(value))
        check_count("thresholds[max_divergences]", self.max_divergences, 0)

    @classmethod
    def coerce(cls, value):
        """``None`` (defaults), a Thresholds, or a dict of overrides with known keys only."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            unknown = set(value) - set(cls.__dataclass_fields__)
            if unknown:
                raise InputError(
                    "thresholds",
                    detail=f"unknown key(s) {sorted(unknown)}; valid: "
                    + ", ".join(cls.__dataclass_fields__),
                )
            return cls(**value)
        raise TypeError(f"thresholds: expected a Thresholds or a dict, got {type(value).__name__}")


@dataclass(frozen=True)
class Problem:
    """One thing wrong, as data: ``kind``, what was seen, the likely cause and the remedy."""

    kind: str
    message: str
    cause: str
    remedy: str

    def __str__(self):
        return f"{self.message} Likely cause: {self.cause} Remedy: {self.remedy}"


def statistics(posterior):
    """R-hat, bulk/tail ESS, MCSE of mean and sd, and per-chain bulk ESS of a Dataset whose
    variables are (chain, draw, ...); a dict of Datasets (``r_hat`` is None for one chain)."""
    chains = posterior.sizes["chain"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant draws: 0/0 inside R-hat
        return {
            "r_hat": azs.rhat(posterior) if chains > 1 else None,
            "ess_bulk": azs.ess(posterior, method="bulk"),
            "ess_tail": azs.ess(posterior, method="tail", prob=TAIL_PROB),
            "mcse_mean": azs.mcse(posterior, method="mean"),
            "mcse_sd": azs.mcse(posterior, method="sd"),
            "chain_ess": azs.ess(posterior, sample_dims=["draw"], method="bulk"),
        }


def entry_converged(r_hat, ess_bulk, ess_tail, chains, thresholds):
    """The rule for each entry: R-hat < ``r_hat`` and bulk and tail ESS >= ``ess_per_chain``
    x ``chains`` (NaN fails); a boolean array of the entries' shape."""
    need = thresholds.ess_per_chain * chains
    with np.errstate(invalid="ignore"):
        return (
            (np.asarray(r_hat) < thresholds.r_hat)
            & (np.asarray(ess_bulk) >= need)
            & (np.asarray(ess_tail) >= need)
        )


def sampler_stats(tree, t, problems):
    """Divergences, E-BFMI per chain and acceptance rate per chain, from ``sample_stats``;
    appends sampler-level problems to ``problems``."""
    if "sample_stats" not in tree.children:
        return None, None, None
    stats = tree["sample_stats"].to_dataset()
    divergences = bfmi = acceptance = None
    if "diverging" in stats:
        per_chain = stats["diverging"].astype(int).sum("draw").values
        divergences = int(per_chain.sum())
        if divergences > t.max_divergences:
            total = stats["diverging"].size
            problems.append(
                Problem(
                    "divergences",
                    f"{divergences} divergent transitions ({100 * divergences / total:.1f}% of "
                    f"draws; per chain {per_chain.tolist()}); allowed {t.max_divergences}.",
                    "the posterior has regions of high curvature (a funnel between a scale "
                    "parameter and the values it scales) that the integrator's step size cannot "
                    "follow, so those regions are under-sampled and the estimates are biased.",
                    "reparametrise (non-centred form for hierarchical scales) or raise "
                    "target_accept (e.g. 0.95) to shrink the step size.",
                )
            )
    if "energy" in stats:
        bfmi = np.asarray(azs.bfmi(stats.transpose("chain", "draw"))["energy"].values, float)
        low = np.flatnonzero(bfmi < t.bfmi)
        if low.size:
            problems.append(
                Problem(
                    "low_bfmi",
                    f"E-BFMI of chain(s) {low.tolist()} is {np.round(bfmi[low], 3).tolist()} "
                    f"(threshold {t.bfmi:g}).",
                    "the momentum resampling explores the energy levels slowly, typical of "
                    "heavy tails or funnels.",
                    "reparametrise the model (non-centred form, rescaled parameters).",
                )
            )
    if "acceptance_rate" in stats:
        acceptance = np.asarray(stats["acceptance_rate"].mean("draw").values, float)
    return divergences, bfmi, acceptance
