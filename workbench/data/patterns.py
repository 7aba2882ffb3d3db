"""Generated binary pattern data sets with a known distribution."""

import itertools

import numpy as np

from workbench.energy.states import check_enumerable
from workbench.errors import InputError

__all__ = ["bars", "bars_distribution", "bars_stripes"]


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
    # 2^(n+1) candidate rows of n*n doubles, held about three times (list, array, unique)
    check_enumerable(n + 1, None, f"a {n}x{n} bars-and-stripes grid", bytes_per_state=24 * n * n,
                     argument="n")  # fmt: skip
    patterns = []
    for on in itertools.product((0.0, 1.0), repeat=n):
        lines = np.repeat(np.asarray(on)[:, None], n, axis=1)  # (n, n): row i is on[i]
        patterns.extend([lines.ravel(), lines.T.ravel()])
    return np.unique(np.asarray(patterns), axis=0)


def _check_bars(n, p):
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 1 <= n <= 10:
        raise InputError("n", "an integer from 1 to 10", repr(n))
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 < p < 1:
        raise InputError("p", "a probability strictly between 0 and 1", repr(p))


def bars_distribution(n, p=0.5):
    """The exact distribution of the ``n`` x ``n`` bars images: each of the 2n bars (n rows,
    then n columns) is on independently with probability ``p``, and a pixel is on when its row
    or its column is. Different bar sets can draw the same image (all rows on hides the
    columns), so the images' entropy is below 2n bits; it is the floor of any model's
    expected negative log-likelihood.

    Returns
    -------
    patterns : ndarray (K, n * n), the distinct images (row-major pixels, sorted)
    probabilities : ndarray (K,), summing to 1
    """
    _check_bars(n, p)
    on = np.array(list(itertools.product((0.0, 1.0), repeat=2 * n)))  # (2^(2n), 2n)
    rows, cols = on[:, :n], on[:, n:]
    images = np.maximum(rows[:, :, None], cols[:, None, :]).reshape(len(on), n * n)
    k = on.sum(axis=1)
    weight = p**k * (1 - p) ** (2 * n - k)
    patterns, index = np.unique(images, axis=0, return_inverse=True)
    return patterns, np.bincount(index.ravel(), weights=weight, minlength=len(patterns))


def bars(n, n_samples, p=0.5, seed=0):
    """``n_samples`` independent draws of :func:`bars_distribution` (each bar on with probability
    ``p``), from ``numpy.random.default_rng(seed)``: ndarray (n_samples, n * n) of 0.0 / 1.0."""
    _check_bars(n, p)
    on = np.random.default_rng(seed).random((n_samples, 2 * n)) < p
    images = on[:, :n, None] | on[:, None, n:]
    return images.reshape(n_samples, n * n).astype(float)
