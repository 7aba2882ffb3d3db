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

from workbench.lazy import lazy_exports

_HOMES = {
    "check_config": "checkpoint",
    "load_checkpoint": "checkpoint",
    "load_estimator": "checkpoint",
    "save_checkpoint": "checkpoint",
    "resolve_device": "device",
    "Distributed": "distributed",
    "all_reduce": "distributed",
    "collective_device": "distributed",
    "distributed_context": "distributed",
    "init_distributed": "distributed",
    "under_torchrun": "distributed",
    "Interrupts": "interrupts",
    "command_line": "launch",
    "launch_torchrun": "launch",
    "torchrun_command": "launch",
    "derive_seed": "seeds",
    "numpy_rng": "seeds",
    "resolve_seed": "seeds",
    "seed_sequence": "seeds",
    "torch_generator": "seeds",
    "torch_seeded": "seeds",
    "blas_threads_like_torch": "threads",
    "default_threads": "threads",
    "set_process_threads": "threads",
    "torch_threads": "threads",
}

__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
