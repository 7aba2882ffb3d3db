"""The one error type for bad input to a library call.

A library function that rejects an argument raises :class:`InputError` naming the *Python*
argument (``"n_epochs"``, ``"X"``), what was expected and what came. The CLI maps the argument
to its flag (``--epochs``, ``--data``) without reading the message text; see
:func:`workbench.cli.main`.
"""

from numbers import Integral

__all__ = ["InputError", "check_count"]


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
