"""Device resolution: one parser for ``device`` strings, shared by every model family.

Example::

    resolve_device("auto")        # cuda when torch sees a GPU, else cpu
    resolve_device("cuda", 1)     # cuda:1 (a bare "cuda" under torchrun means this rank's GPU)
"""

import torch

from workbench.errors import InputError

__all__ = ["DEVICES", "resolve_device"]

DEVICES = "'auto', 'cpu', 'cuda' or 'cuda:N'"


def resolve_device(device="auto", local_rank=0):
    """A ``torch.device`` for ``device`` ("auto", "cpu", "cuda" or "cuda:N").

    "auto" is CUDA when torch sees a GPU, else the CPU. A bare "cuda" means ``cuda:<local_rank>``,
    this process's GPU in a data-parallel run. Raises :class:`InputError` (argument ``device``)
    for anything else, or for a GPU this machine does not have.
    """
    if not isinstance(device, str | torch.device):
        raise InputError("device", DEVICES, repr(device))
    if isinstance(device, str) and device.strip().lower() == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError("device", DEVICES, repr(device)) from None
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type != "cuda":
        raise InputError("device", DEVICES, repr(device))
    if not torch.cuda.is_available():
        raise InputError(
            "device",
            detail=f"{str(device)!r} asked for, but torch sees no CUDA GPU; use 'cpu' or 'auto'",
        )
    index = local_rank if dev.index is None else dev.index
    if index >= torch.cuda.device_count():
        raise InputError(
            "device",
            detail=f"cuda:{index} asked for, but torch sees {torch.cuda.device_count()} GPU(s)",
        )
    return torch.device("cuda", index)
