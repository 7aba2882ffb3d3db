"""The project's one thread policy for torch's CPU threads.

- **Library code never changes the global thread count**, except inside :func:`torch_threads`,
  which restores the previous count on exit. No ``torch.set_num_threads`` at import time.
- **A CLI process** sets it once, at start-up, with :func:`set_process_threads`: ``--threads N``
  when given, else :func:`default_threads`, the machine's cores shared evenly among the
  processes of this node (``cpu_count // LOCAL_WORLD_SIZE``; all cores for one process).
- **NumPy's BLAS follows torch** where a Torch model hands work to NumPy (the RBM's evaluation
  by :mod:`workbench.energy`): :func:`blas_threads_like_torch` limits it, for the block, to
  torch's thread count, so ``--threads`` governs both (AIS was 7x slower with OpenBLAS's default
  2 threads on 2 oversubscribed CPUs).
- **torchrun workers** get ``OMP_NUM_THREADS`` from :func:`workbench.nn.runtime.launch_torchrun`
  (the same number) so that OpenMP does not oversubscribe before the CLI applies the policy.

Why it matters: on an oversubscribed machine torch's spinning worker threads are very slow;
measured 0.44 ms per PCD update of a 9 x 16 RBM with 1 thread against 62 ms with 2 threads at
load 10 on 2 CPUs. Tests, tutorials and demos of small models therefore run inside
``torch_threads(1)``.
"""

import os
from contextlib import contextmanager

import torch

from workbench.errors import InputError

__all__ = ["blas_threads_like_torch", "default_threads", "set_process_threads", "torch_threads"]


def default_threads(local_world=None):
    """Cores per process: ``cpu_count // local_world`` (at least 1). ``local_world`` defaults
    to ``LOCAL_WORLD_SIZE`` (set by torchrun), else 1."""
    if local_world is None:
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
    return max(1, (os.cpu_count() or 1) // max(1, int(local_world)))


def _check(n):
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError("threads", "an integer >= 1", repr(n))
    return n


def set_process_threads(threads=None):
    """For CLI entry points only: set torch's CPU threads for the whole process to ``threads``
    (None: :func:`default_threads`); returns the number set."""
    n = default_threads() if threads is None else _check(threads)
    torch.set_num_threads(n)
    return n


@contextmanager
def torch_threads(n):
    """Run the block with ``n`` torch CPU threads, then restore the previous number."""
    previous = torch.get_num_threads()
    torch.set_num_threads(_check(n))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def blas_threads_like_torch():
    """Context manager: within the block NumPy's BLAS uses torch's current thread count."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(torch.get_num_threads(), user_api="blas")
