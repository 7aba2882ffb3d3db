"""Graceful stops: SIGINT (Ctrl-C) and SIGTERM (a scheduler's kill) between whole steps.

Within the block a signal only sets a flag; the training loop asks :meth:`Interrupts.requested`
after each whole optimiser step, so a checkpoint never holds half a step. A second signal
raises ``KeyboardInterrupt`` at once. In a data-parallel run every rank must stop at the same
step or the others would wait forever in a collective: ``requested`` all-reduces the flag (MAX)
every ``every`` steps, and at every call without a step, so all ranks get the same answer at
the same step. The previous handlers are restored on exit. Handlers can only be installed in
the main thread; elsewhere the flag simply never rises.

Example::

    with Interrupts() as stop:
        for step in range(n_steps):
            train_step()
            if stop.requested(step + 1):
                save_checkpoint()
                raise Interrupted(stop.signal)
"""

import signal
import threading

import torch

from workbench.nn.runtime.distributed import all_reduce, collective_device, distributed_context
from workbench.signals import SIGNALS, Interrupted

__all__ = ["SIGNALS", "Interrupts"]


class Interrupts:
    """Context manager catching :data:`SIGNALS`; ``signal`` is the name of the first one seen
    (e.g. "SIGTERM") or None. Ranks agree every ``every`` steps."""

    def __init__(self, every=10):
        self.every = int(every)
        self.flag, self.signal, self._previous = False, None, {}

    def _handler(self, signum, frame):
        if self.flag:  # a second signal: stop now
            raise Interrupted(signal.Signals(signum).name)
        self.flag, self.signal = True, signal.Signals(signum).name

    def requested(self, step=None):
        """Whether to stop now, the same on every rank. ``step`` (the number of whole steps
        done) is checked across ranks only when a multiple of ``every``; None: always."""
        if distributed_context().world == 1:
            return self.flag
        if step is not None and step % self.every:
            return False
        flag = torch.tensor([float(self.flag)], device=collective_device())
        return bool(all_reduce(flag, op="max").item())

    def __enter__(self):
        self.flag, self.signal = False, None
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
        return False
