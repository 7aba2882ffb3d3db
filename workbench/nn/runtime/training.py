"""Old import path kept only for ``workbench.nn.rbm`` until it moves onto the runtime
(branch ``rbm-train`` deletes this file): use :mod:`workbench.nn.runtime` instead."""

from workbench.nn.runtime.distributed import distributed_context, init_distributed
from workbench.nn.runtime.launch import launch_torchrun

__all__ = ["distributed_context", "init_distributed", "launch_torchrun"]
