"""Restricted Boltzmann machines trained in Torch (CD-k, PCD-k, parallel tempering)."""
