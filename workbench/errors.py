"""The one error type for bad input to a library call.

A library function that rejects an argument raises :class:`InputError` naming the *Python*
argument (``"n_epochs"``, ``"X"``), what was expected and what came. The CLI maps the argument
to its flag (``--epochs``, ``--data``) without reading the message text; see
:func:`workbench.cli.main`.

Checks shared by every boundary live here too: :func:`check_count` (a count >= a floor),
:func:`check_memory` (a size refused before allocation when it would need more than
:func:`memory_limit`: half the physical memory, or ``$WORKBENCH_MAX_MEMORY``) and
:func:`check_weights` (model weights that are NaN, inf or would overflow).
"""

import os
from numbers import Integral

__all__ = [
    "MEMORY_ENV",
    "InputError",
    "check_count",
    "check_memory",
    "check_weights",
    "format_bytes",
    "memory_limit",
]


class InputError(ValueError):
    """Bad input: ``argument: expected <expected>, got <got>``.

    ``argument`` is the Python name of the offending argument (or ``"name[key]"`` for one entry
    of it). ``detail`` replaces the ``expected ..., got ...`` part when the problem is not a
    value outside a set (a missing file, a shape mismatch between two arguments).
    """

    def __init__(self, argument, expected=None, got=None, *, detail=None):
        self.argument, self.expected, self.got = argument, expected, got
        self.detail = detail if detail is not None else f"expected {expected}, got {got}"
        super().__init__(f"{argument}: {self.detail}")

    def for_flag(self, flag):
        """The same message with ``flag`` (``--epochs``) in place of the Python name."""
        return f"{flag}: {self.detail}"


def check_count(name, value, low):
    """``value`` as an int >= ``low`` (a bool is not a count); an :class:`InputError` naming
    ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise InputError(name, f"an integer >= {low}", repr(value))
    return int(value)


# Memory bound: sizes that scale memory are checked against this before anything is allocated.
MEMORY_ENV = "WORKBENCH_MAX_MEMORY"
MEMORY_FRACTION = 0.5  # of physical memory, when $WORKBENCH_MAX_MEMORY is not set
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def memory_limit():
    """Bytes one request may allocate: ``$WORKBENCH_MAX_MEMORY`` (bytes, or a number with a
    suffix K, M, G, T: ``8G``, ``512M``), else half the physical memory."""
    text = os.environ.get(MEMORY_ENV, "").strip().lower().removesuffix("b").removesuffix("i")
    if text:
        number, unit = (text[:-1], text[-1]) if text[-1] in _UNITS else (text, "")
        try:
            value = float(number) * _UNITS[unit]
        except ValueError:
            value = -1.0
        if not value > 0 or value == float("inf"):
            raise InputError(MEMORY_ENV, "a size such as 8G, 512M or 1000000000",
                             repr(os.environ[MEMORY_ENV]))  # fmt: skip
        return int(value)
    return int(MEMORY_FRACTION * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def format_bytes(n_bytes):
    """``n_bytes`` as text in binary units: 1536 -> '1.5 KiB'."""
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.3g} EiB"  # pragma: no cover


def check_memory(argument, n_bytes, what):
    """Refuse, before allocating, a request whose estimated size ``n_bytes`` exceeds
    :func:`memory_limit`: an :class:`InputError` naming ``argument`` and saying how much
    ``what`` (e.g. "2,000,000 samples of 784 units") would need. Returns ``n_bytes``."""
    limit = memory_limit()
    if n_bytes > limit:
        source = (f"set by ${MEMORY_ENV}" if os.environ.get(MEMORY_ENV, "").strip() else
                  f"half the physical memory; ${MEMORY_ENV}=64G, say, changes it")  # fmt: skip
        raise InputError(
            argument,
            detail=f"{what} would need about {format_bytes(n_bytes)}, over the memory limit of "
            f"{format_bytes(limit)} ({source}); ask for less",
        )
    return n_bytes


def check_layers(argument, sizes, *, bytes_per_weight=16, what="layers"):
    """Refuse, before allocating, layer widths ``sizes`` (input first) whose weight matrices
    between neighbouring layers exceed :func:`memory_limit`; ``bytes_per_weight`` covers a
    weight and its training state (gradient, velocity or Adam moments); ``what`` names the
    widths in the message. Returns the bytes."""
    sizes = [int(n) for n in sizes]
    weights = sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))
    layout = "-".join(f"{n:,}" for n in sizes)
    return check_memory(argument, bytes_per_weight * weights, f"{what} {layout} ({weights:,} "
                        "weights with their training state)")  # fmt: skip


def check_weights(argument, arrays, source):
    """Refuse model weights (``arrays``: name -> NumPy array or Torch tensor) with NaN/inf
    entries, or so large that the sum of their magnitudes overflows their own float type (then
    energies, log Z and samples are inf or NaN): an :class:`InputError` naming ``argument`` and
    the offending entry of ``source`` (the file)."""
    for name, value in arrays.items():
        if hasattr(value, "detach"):  # a torch tensor: checked in its own dtype, on its device
            if not value.is_floating_point():
                continue
            n_bad = int((~value.isfinite()).sum())
            total = float(value.abs().sum()) if not n_bad else 0.0
        else:
            import numpy as np

            arr = np.asarray(value)
            if arr.dtype.kind not in "fc":
                continue
            n_bad = int((~np.isfinite(arr)).sum())
            with np.errstate(over="ignore"):
                total = float(np.abs(arr).sum()) if not n_bad else 0.0
        if n_bad:
            raise InputError(argument, detail=f"{source}: {name} has {n_bad} NaN/inf entries")
        if total == float("inf"):
            raise InputError(
                argument,
                detail=f"{source}: {name} is too large (the sum of its magnitudes overflows "
                "its float type, so energies would be infinite)",
            )
