"""SIGINT and SIGTERM for a whole command: one exception and one exit code per signal.

:class:`Interrupted` is the ``KeyboardInterrupt`` a run raises when a signal stops it (the
training loop raises it after saving its checkpoint, with a message saying where). The CLI
turns it into one line on standard error and the shell's code for the signal: 130 for SIGINT
(Ctrl-C), 143 for SIGTERM. :func:`terminate_as_interrupt` makes both signals raise it wherever
the process is (loading data, importing, writing figures), so temporary files are removed by
the ``finally`` blocks on the way out; the loop's own handler
(:class:`workbench.nn.runtime.Interrupts`) takes over while it trains.
"""

import signal
import threading
from contextlib import contextmanager

__all__ = ["SIGNALS", "Interrupted", "Received", "exit_code", "terminate_as_interrupt"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


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


class Received:
    """The signals a :func:`terminate_as_interrupt` block saw: ``first`` is the name of the
    first one ("SIGINT", "SIGTERM") or None."""

    def __init__(self):
        self.first = None

    def handler(self, signum, frame):
        name = signal.Signals(signum).name
        self.first = self.first or name
        raise Interrupted(name)


@contextmanager
def terminate_as_interrupt():
    """Within the block SIGINT and SIGTERM raise :class:`Interrupted` naming the signal, and
    the yielded :class:`Received` records the first one: an exception a library makes of the
    interruption (NumPy turns one that arrives during its import into an ImportError) can
    still be told apart. The previous handlers are restored on exit. Outside the main thread
    the block changes nothing."""
    received = Received()
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {sig: signal.signal(sig, received.handler) for sig in SIGNALS}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
