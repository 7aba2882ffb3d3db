"""Generated binary pattern data sets with a known distribution."""

import itertools

import numpy as np

from workbench.errors import InputError

__all__ = ["bars_stripes"]


def bars_stripes(n):
    """All distinct bars-and-stripes patterns of an ``n`` x ``n`` grid, as float rows.

    A stripe pattern switches whole rows on or off, a bar pattern whole columns; the empty and
    the full grid are both, so there are ``2 ** (n + 1) - 2`` distinct patterns. Under the
    uniform distribution over them, the best possible mean log-likelihood is
    ``-log(2 ** (n + 1) - 2)``.

    Returns
    -------
    ndarray of shape (2 ** (n + 1) - 2, n * n), values in {0, 1}, row-major pixels.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise InputError("n", "an integer >= 1", repr(n))
    patterns = []
    for on in itertools.product((0.0, 1.0), repeat=n):
        lines = np.repeat(np.asarray(on)[:, None], n, axis=1)  # (n, n): row i is on[i]
        patterns.extend([lines.ravel(), lines.T.ravel()])
    return np.unique(np.asarray(patterns), axis=0)
