"""The process group of a data-parallel run: who am I, and joining the group torchrun set up.

Outside torchrun every function answers for a single process (rank 0 of 1), so model code
calls them unconditionally.
"""

import math
import os
from typing import NamedTuple

import torch
import torch.distributed as dist

from workbench.nn.runtime.device import resolve_device

__all__ = [
    "Distributed",
    "all_reduce",
    "average",
    "collective_device",
    "distributed_context",
    "flat_views",
    "init_distributed",
    "rows_of",
    "under_torchrun",
]


class Distributed(NamedTuple):
    rank: int = 0
    world: int = 1
    local_rank: int = 0


def under_torchrun():
    """True in a worker started by torchrun (``LOCAL_RANK`` and ``WORLD_SIZE`` are set)."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def distributed_context():
    """(rank, world, local rank) of this process; (0, 1, 0) outside a process group."""
    if dist.is_available() and dist.is_initialized():
        local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
        return Distributed(dist.get_rank(), dist.get_world_size(), local)
    return Distributed()


def init_distributed(device="auto"):
    """Join the process group that torchrun set up (RANK, WORLD_SIZE, MASTER_ADDR in the
    environment): NCCL when training on CUDA, gloo on the CPU. Returns this rank's device.
    Threads are the CLI's business (:func:`workbench.nn.runtime.set_process_threads`)."""
    dev = resolve_device(device, int(os.environ.get("LOCAL_RANK", 0)))
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return dev


def collective_device():
    """Where tensors for collectives must live: this rank's GPU under NCCL, else the CPU."""
    if dist.is_initialized() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce(tensor, op="sum"):
    """``tensor`` summed (or "max") over the ranks, in place; unchanged in a single process."""
    if distributed_context().world > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX)
    return tensor


def rows_of(n):
    """``(start, stop, n)``: this rank's contiguous share of ``n`` rows, as
    ``torch.tensor_split(rows, world)[rank]`` cuts them (the first ``n % world`` ranks get one
    more); None in a single process."""
    rank, world, _ = distributed_context()
    if world == 1:
        return None
    start = rank * (n // world) + min(rank, n % world)
    return start, start + n // world + (rank < n % world), n


def flat_views(shapes, like):
    """``(flat, views)``: one uninitialised flat buffer (dtype and device of the tensor
    ``like``) and a dict of views of it with the ``shapes`` (name -> shape). Write the parts
    into the views, then one ``all_reduce(flat)`` sums them all: one collective per step instead
    of one per tensor."""
    sizes = [math.prod(shape) for shape in shapes.values()]
    flat = like.new_empty(sum(sizes))
    views = torch.split(flat, sizes)
    return flat, {k: v.view(shape) for (k, shape), v in zip(shapes.items(), views, strict=True)}


def average(tensors, summed=()):
    """Average ``tensors`` over the ranks and sum ``summed`` (all of one dtype and device), in
    place, with one all-reduce of a flat buffer; nothing happens in a single process."""
    world, parts = distributed_context().world, [*tensors, *summed]
    if world == 1 or not parts:
        return
    flat, views = flat_views({i: t.shape for i, t in enumerate(parts)}, parts[0])
    views = list(views.values())
    for tensor, view in zip(parts, views, strict=True):
        view.copy_(tensor)
    all_reduce(flat)
    for i, (tensor, view) in enumerate(zip(parts, views, strict=True)):
        if i < len(tensors):
            torch.div(view, world, out=tensor)
        else:
            tensor.copy_(view)
