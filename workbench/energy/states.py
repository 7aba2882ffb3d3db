"""Binary states, exact sums over them, and the one result type of a log partition function.

The enumeration order is fixed once, here: state ``k`` of ``n`` binary units is the binary
numeral of ``k`` with **unit 0 the most significant bit**, so the rows count 00, 01, 10, 11 and
unit ``n - 1`` flips fastest (as ``itertools.product((0, 1), repeat=n)``).

>>> binary_states(2)
array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]])
>>> float(log_sum_over_states(lambda S: -S.sum(axis=1), 3))    # 3 log(1 + e^-1)

NumPy and SciPy only (no PyTensor), so data generators can use it cheaply.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from workbench.errors import InputError, check_memory

__all__ = [
    "MAX_STATES",
    "JointTable",
    "LogPartition",
    "binary_states",
    "check_enumerable",
    "finite_array",
    "log_mean_exp",
    "log_sum_over_states",
    "state_chunks",
]

# Exact enumeration limit: 2^25 states (about 10 s per 100 units of the other layer of an RBM).
MAX_STATES = 2**25
# Rows of one enumeration chunk times units: 2^22 doubles = 32 MiB.
CHUNK_ELEMENTS = 2**22


def log_mean_exp(log_weights):
    """``(log mean(w), se)`` of importance weights given as logs, (n,) -> (float, float).

    The mean is taken stably (log-sum-exp); ``se`` is the delta-method standard error of the log
    of the mean, std(w) / (mean(w) sqrt(n)) with ddof=1 (NaN for a single weight: no spread to
    read). AIS runs and importance samples report their estimates through this one function.
    """
    log_w = np.asarray(log_weights, dtype=float)
    if log_w.ndim != 1 or log_w.size == 0 or not np.all(np.isfinite(log_w)):
        raise InputError("log_weights", "a non-empty 1-D array of finite numbers",
                         f"shape {log_w.shape}" if log_w.size else "an empty array")  # fmt: skip
    n = log_w.size
    value = float(logsumexp(log_w) - np.log(n))
    if n == 1:
        return value, float("nan")
    scaled = np.exp(log_w - log_w.max())
    return value, float(scaled.std(ddof=1) / (scaled.mean() * np.sqrt(n)))


@dataclass(frozen=True)
class LogPartition:
    """An exact or estimated log Z; ``float(result)`` is ``value``.

    ``se`` is 0 for exact values; for AIS it is the delta-method standard error of log Z-hat,
    from the spread of the ``log_weights`` (n_runs,) of the runs. ``n_runs`` and ``n_betas``
    (inverse temperatures, both ends included) are 0 for exact values.
    """

    value: float
    se: float
    method: str
    n_runs: int = 0
    n_betas: int = 0
    log_weights: np.ndarray | None = None

    def __float__(self):
        return float(self.value)

    def interval(self, k=3.0):
        """(value - k se, value + k se)."""
        return self.value - k * self.se, self.value + k * self.se


@dataclass(frozen=True)
class JointTable:
    """Every joint state (v, h) of a tiny Bernoulli RBM with its energy, Boltzmann weight
    exp(-E) and probability; ``marginal`` holds p(v) for each row of ``visible_states``."""

    visible: np.ndarray  # (S, n_visible)
    hidden: np.ndarray  # (S, n_hidden)
    energy: np.ndarray  # (S,)
    weight: np.ndarray  # (S,)
    probability: np.ndarray  # (S,)
    log_z: float
    visible_states: np.ndarray  # (2^n_visible, n_visible)
    marginal: np.ndarray  # (2^n_visible,)

    def __str__(self):
        return self.as_table().text()

    def as_table(self):
        """The joint states as a :class:`~workbench.report.Table` (one row per (v, h); Z and
        p(v) as notes)."""
        from workbench.report import Table

        rows = [
            [_bits_text(v), _bits_text(h), e, w, p]
            for v, h, e, w, p in zip(
                self.visible, self.hidden, self.energy, self.weight, self.probability, strict=True
            )
        ]
        notes = [
            f"Z = {np.exp(self.log_z):.4f} (log Z = {self.log_z:.4f})",
            "p(v): "
            + "  ".join(
                f"{_bits_text(v)}: {p:.4f}"
                for v, p in zip(self.visible_states, self.marginal, strict=True)
            ),
        ]
        columns = ["v", "h", "E(v,h)", "exp(-E)", "p(v,h)"]
        formats = {"E(v,h)": ".3f", "exp(-E)": ".4f", "p(v,h)": ".4f"}
        return Table(columns, rows, formats=formats, notes=notes)


def _bits_text(x):
    return "".join(str(int(round(u))) for u in x)


def binary_states(n, start=0, count=None):
    """Rows ``start`` .. ``start + count`` of all 2^n binary states, unit 0 the most significant
    bit (row k is the binary numeral of k): array (count, n) of 0.0 / 1.0."""
    count = 2**n - start if count is None else count
    if not 0 <= start <= start + count <= 2**n:
        raise InputError("count", f"rows within the 2^{n} states", f"start={start}, count={count}")
    index = np.arange(start, start + count, dtype=np.int64)
    return ((index[:, None] >> np.arange(n - 1, -1, -1)) & 1).astype(float)


AIS_INSTEAD = "method='ais' (and 'reverse_ais' for an upper bracket)"


def check_enumerable(n, max_states, what, *, alternative=AIS_INSTEAD, bytes_per_state=0,
                     argument="max_states"):  # fmt: skip
    """Refuse (an InputError naming ``max_states``) to enumerate the 2^n states of ``what``
    beyond ``max_states`` states (None: no count limit), pointing to ``alternative``, the
    estimate to use instead; and, when the states are held at once at ``bytes_per_state``
    each, beyond the memory limit (:func:`workbench.errors.check_memory`, naming
    ``argument``)."""
    if bytes_per_state:
        check_memory(argument, 2.0**n * bytes_per_state, f"the 2^{n} states of {what}")
    if max_states is not None and 2.0**n > max_states:
        raise InputError(
            "max_states",
            detail=(
                f"exact enumeration needs 2^{n} = {2**n:,} states of {what}, over the limit "
                f"max_states = {int(max_states):,} (2^{int(np.log2(max_states))}). Use "
                f"{alternative} for an estimate with a standard error, or raise max_states if "
                "you can wait."
            ),
        )


def state_chunks(n, width=None):
    """All 2^n binary states in order, as chunks of rows whose size times ``width`` (the
    doubles one row costs downstream; default n) stays near ``CHUNK_ELEMENTS``."""
    rows = int(min(2**n, max(1, CHUNK_ELEMENTS // max(width or n, n, 1))))
    for start in range(0, 2**n, rows):
        yield binary_states(n, start, min(rows, 2**n - start))


def log_sum_over_states(log_weight, n, *, max_states=MAX_STATES, width=None, what="the units"):
    """log of the sum of exp(``log_weight(S)``) over all 2^n binary states S, in chunks.

    ``log_weight`` maps states (rows, n) to log weights (rows,); ``width`` as for
    :func:`state_chunks`; refused beyond ``max_states`` states (:func:`check_enumerable`).
    """
    check_enumerable(n, max_states, what)
    return float(logsumexp([logsumexp(log_weight(S)) for S in state_chunks(n, width)]))


def finite_array(name, value, ndim):
    """``value`` as a float array of ``ndim`` dimensions with finite entries, or an InputError
    naming ``name``."""
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(name, "a numeric array", type(value).__name__) from None
    if arr.ndim != ndim:
        raise InputError(name, f"a {ndim}-D array", f"shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise InputError(
            name,
            "finite values",
            f"{int(bad.sum())} NaN/inf entries (first at index {np.argwhere(bad)[0].tolist()})",
        )
    return arr
