"""Sigmoid belief nets and Helmholtz machines (wake-sleep); see :mod:`workbench.nn.sbn.model`."""
