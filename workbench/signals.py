"""SIGINT and SIGTERM for a whole command: one exception and one exit code per signal.

:class:`Interrupted` is the ``KeyboardInterrupt`` a run raises when a signal stops it (the
training loop raises it after saving its checkpoint, with a message saying where). The CLI
turns it into one line on standard error and the shell's code for the signal: 130 for SIGINT
(Ctrl-C), 143 for SIGTERM. :func:`terminate_as_interrupt` makes SIGTERM raise it wherever the
process is (loading data, importing, writing figures), so temporary files are removed by the
``finally`` blocks on the way out, as for Ctrl-C; the loop's own handler
(:class:`workbench.nn.runtime.Interrupts`) takes over while it trains.
"""

import signal
import threading
from contextlib import contextmanager

__all__ = ["Interrupted", "exit_code", "terminate_as_interrupt"]


class Interrupted(KeyboardInterrupt):
    """A run stopped by ``signal`` ("SIGINT" or "SIGTERM"); ``str()`` says what was saved."""

    def __init__(self, signal_name="SIGINT", message=None):
        self.signal = signal_name or "SIGINT"
        super().__init__(message or f"interrupted ({self.signal})")


def exit_code(error):
    """The shell's exit code for a run stopped by ``error`` (a KeyboardInterrupt): 128 + the
    signal number, so 130 for SIGINT and 143 for SIGTERM."""
    name = getattr(error, "signal", "SIGINT")
    return 128 + int(getattr(signal.Signals, name, signal.SIGINT))


def _raise_terminated(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


@contextmanager
def terminate_as_interrupt():
    """Within the block SIGTERM raises :class:`Interrupted` ("SIGTERM"), as SIGINT raises
    KeyboardInterrupt; the previous handler is restored on exit. Outside the main thread the
    block changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
