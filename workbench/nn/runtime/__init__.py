"""The Torch runtime shared by every model family: devices, threads, interrupts, seeds,
checkpoints, the torchrun relaunch and the one training loop."""
