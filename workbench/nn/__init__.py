"""Torch backend: models too large for symbolic graphs (RBMs, deep belief nets)."""
