"""Seed derivation: every random stream of a run is a child of one seed.

A stream is named by a *purpose* ("batch-order", "shift", "init", "monitor", ...) and
non-negative integer indices (rank, epoch, step, ...), and is drawn from
``numpy.random.SeedSequence(seed, spawn_key=(crc32(purpose), *indices))``, the sequence that
``SeedSequence(seed).spawn`` would reach along that path. So streams for different purposes,
ranks, epochs or steps are statistically independent, and each is a pure function of
``(seed, purpose, indices)``: a resumed run, or a run on another number of processes, draws
exactly the same numbers. No multiplications by magic constants.

``seed=None`` means fresh entropy: :func:`resolve_seed` draws it once, and the caller records the
result (in the estimator's ``seed_`` attribute and in the checkpoint) so the run can be
repeated.

Example::

    seed = resolve_seed(None)                       # record it
    order = numpy_rng(seed, "batch-order", epoch).permutation(n)
    gen = torch_generator(seed, "shift", step)      # a torch.Generator
"""

import zlib
from contextlib import contextmanager

import numpy as np
import torch

from workbench.errors import InputError

__all__ = [
    "derive_seed",
    "numpy_rng",
    "resolve_seed",
    "seed_sequence",
    "torch_generator",
    "torch_seeded",
]


def resolve_seed(seed, argument="seed"):
    """``seed`` as a non-negative int; None: a fresh one (63 bits of OS entropy)."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(argument, "a non-negative integer or None", repr(seed))
    return int(seed)


def seed_sequence(seed, purpose, *indices):
    """The ``SeedSequence`` of stream ``(purpose, *indices)`` of ``seed``."""
    if not isinstance(purpose, str):
        raise InputError("purpose", "a string naming the stream", repr(purpose))
    key = (zlib.crc32(purpose.encode()), *(int(i) for i in indices))
    return np.random.SeedSequence(resolve_seed(seed), spawn_key=key)


def derive_seed(seed, purpose, *indices):
    """A 64-bit integer seed for stream ``(purpose, *indices)`` (for ``torch.manual_seed`` or
    libraries that take an int)."""
    return int(seed_sequence(seed, purpose, *indices).generate_state(1, np.uint64)[0])


def numpy_rng(seed, purpose, *indices):
    """A ``numpy.random.Generator`` for stream ``(purpose, *indices)``."""
    return np.random.default_rng(seed_sequence(seed, purpose, *indices))


def torch_generator(seed, purpose, *indices, device="cpu"):
    """A ``torch.Generator`` on ``device`` for stream ``(purpose, *indices)``."""
    return torch.Generator(device=device).manual_seed(derive_seed(seed, purpose, *indices))


@contextmanager
def torch_seeded(seed, purpose, *indices):
    """Seed torch's global CPU generator for the block (for code that draws from it, such as
    ``torch.nn`` layer initialisation) and restore its previous state afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, purpose, *indices))
        yield
