"""The Torch runtime shared by every model family, one concept per module:

- :mod:`.device`: ``resolve_device`` ("auto", "cpu", "cuda", "cuda:N");
- :mod:`.threads`: the thread policy (``torch_threads``, ``set_process_threads``);
- :mod:`.distributed`: rank, world and the process group (``init_distributed``);
- :mod:`.interrupts`: SIGINT/SIGTERM between whole steps, agreed by every rank;
- :mod:`.seeds`: every random stream derived from one seed through ``SeedSequence``;
- :mod:`.checkpoint`: the one versioned checkpoint format and its loader;
- :mod:`.launch`: the one torchrun relaunch, forwarding the command line as typed;
- :mod:`.training`: the training loop.
"""

from workbench.nn.runtime.checkpoint import check_config, load_checkpoint, save_checkpoint
from workbench.nn.runtime.device import resolve_device
from workbench.nn.runtime.distributed import (
    Distributed,
    all_reduce,
    collective_device,
    distributed_context,
    init_distributed,
    under_torchrun,
)
from workbench.nn.runtime.interrupts import Interrupts
from workbench.nn.runtime.launch import command_line, launch_torchrun, torchrun_command
from workbench.nn.runtime.seeds import (
    derive_seed,
    numpy_rng,
    resolve_seed,
    seed_sequence,
    torch_generator,
    torch_seeded,
)
from workbench.nn.runtime.threads import (
    blas_threads_like_torch,
    default_threads,
    set_process_threads,
    torch_threads,
)

__all__ = [
    "Distributed",
    "Interrupts",
    "all_reduce",
    "blas_threads_like_torch",
    "check_config",
    "collective_device",
    "command_line",
    "default_threads",
    "derive_seed",
    "distributed_context",
    "init_distributed",
    "launch_torchrun",
    "load_checkpoint",
    "numpy_rng",
    "resolve_device",
    "resolve_seed",
    "save_checkpoint",
    "seed_sequence",
    "set_process_threads",
    "torch_generator",
    "torch_seeded",
    "torch_threads",
    "torchrun_command",
    "under_torchrun",
]
