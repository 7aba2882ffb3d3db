"""Deep Boltzmann machines (Torch): pre-training, joint training, exact and AIS evaluation."""
