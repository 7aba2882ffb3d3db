"""Independent replicates on Dask: a local cluster by default, any Dask cluster on request.

Risk studies and simulation-based calibration repeat one expensive computation (fit a compiled
model to simulated data) many times. :func:`run_replicates` sends each replicate to a Dask
worker and returns the results in replicate order:

- ``client``: a :class:`distributed.Client` the caller already holds (used as is);
- ``scheduler``: the address of a running scheduler (``tcp://HOST:PORT``; start one with
  ``dask scheduler`` and workers with ``dask worker tcp://HOST:PORT``);
- otherwise ``n_workers`` local processes (default: the cores this process may use) in a
  :class:`distributed.LocalCluster` with one thread each, started for the call and closed after;
  ``n_workers=1`` runs in this process, with no cluster to start.

Each task receives ``shared`` (the same for every replicate: shipped once to each worker) and
builds what it needs from it through :func:`worker_cached`, so a worker compiles a model once,
not once per replicate. Randomness must come from each replicate's own arguments (a seed per
replicate), never from the order or place the work runs in: then the results do not depend on
the number of workers. Progress is a tqdm bar on stderr (by default only when stderr is a
terminal).

>>> run_replicates(task, shared, [(data, seed) for ...], n_workers=4)   # [task(shared, *item)]
"""

import logging
import os
import sys
from collections import OrderedDict
from contextlib import contextmanager

from workbench.errors import InputError

__all__ = [
    "add_replicate_options",
    "default_workers",
    "replicate_kwargs",
    "run_replicates",
    "worker_cached",
]

CACHE_SIZE = 4  # compiled objects kept per process (least recently used dropped)
_CACHE = OrderedDict()


def default_workers():
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_cached(key, build):
    """``build()``, computed once per process for each ``key`` (a string naming what ``build``
    makes, e.g. a hash of the model and its settings) and kept for the next replicates."""
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    value = build()
    _CACHE[key] = value
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return value


@contextmanager
def quiet_dask(level=logging.ERROR):
    """Dask's loggers at ``level`` or above for the duration (start-up and shutdown chatter);
    their levels are restored on exit."""
    loggers = [logging.getLogger(name) for name in ("distributed", "bokeh", "tornado")]
    saved = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(level, logger.getEffectiveLevel()))
    try:
        yield
    finally:
        for logger, old in zip(loggers, saved, strict=True):
            logger.setLevel(old)


@contextmanager
def dask_client(*, client=None, scheduler=None, n_workers=None):
    """The client to run on: ``client`` as given, a client of ``scheduler``, or a local cluster
    of ``n_workers`` single-threaded processes; None when the work stays in this process
    (``n_workers == 1`` with neither a client nor a scheduler). Clients made here are closed
    on exit."""
    if client is not None:
        yield client
        return
    if scheduler is None and n_workers == 1:
        yield None
        return
    from distributed import Client, LocalCluster

    with quiet_dask():
        if scheduler is not None:
            with Client(scheduler, set_as_default=False) as made:
                yield made
            return
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        with cluster, Client(cluster, set_as_default=False) as made:
            yield made


def run_replicates(task, shared, items, *, client=None, scheduler=None, n_workers=None,
                   progressbar=None, desc="replicates"):  # fmt: skip
    """``[task(shared, *item) for item in items]``, each call a Dask task (see the module
    docstring for ``client``, ``scheduler`` and ``n_workers``). ``task`` must be a module-level
    function and ``shared`` and the items picklable. ``progressbar``: tqdm on stderr (None: when
    stderr is a terminal)."""
    from tqdm.auto import tqdm

    from workbench.output import progress_bars

    if n_workers is None:
        n_workers = default_workers()
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise InputError("n_workers", "an integer >= 1", repr(n_workers))
    if scheduler is not None and not isinstance(scheduler, str):
        raise InputError("scheduler", "an address such as tcp://HOST:PORT", repr(scheduler))
    items = list(items)
    if progressbar is None:
        progressbar = progress_bars()
    bar = tqdm(total=len(items), desc=desc, disable=not progressbar, file=sys.stderr)
    with bar, dask_client(client=client, scheduler=scheduler, n_workers=n_workers) as dask:
        if dask is None:
            results = []
            for item in items:
                results.append(task(shared, *item))
                bar.update()
            return results
        from distributed import as_completed

        [on_workers] = dask.scatter([shared], broadcast=True, hash=False)  # once per worker
        futures = [dask.submit(task, on_workers, *item, pure=False) for item in items]
        for _ in as_completed(futures, loop=dask.loop):
            bar.update()
        return dask.gather(futures)


def add_replicate_options(p):
    """``--workers N`` (alias ``--jobs``) and ``--scheduler tcp://HOST:PORT`` on the argparse
    parser ``p`` of a command that runs replicates."""
    p.add_argument(
        "--workers", "--jobs", dest="n_workers", type=int, default=None, metavar="N",
        help="local Dask worker processes (default: the cores; 1: no cluster)",
    )  # fmt: skip
    p.add_argument(
        "--scheduler", default=None, metavar="tcp://HOST:PORT",
        help="run the replicates on the Dask cluster of this scheduler instead",
    )  # fmt: skip


def replicate_kwargs(args):
    """The library arguments of :func:`add_replicate_options`' options; no progress bar with
    ``--json``."""
    return {
        "n_workers": args.n_workers,
        "scheduler": args.scheduler,
        "progressbar": False if getattr(args, "json", False) else None,
    }
