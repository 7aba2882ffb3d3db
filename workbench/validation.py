"""The scikit-learn contract shared by the workbench's estimators: input checks and tags.

Every estimator checks its data here, through scikit-learn's own ``validate_data`` (so the
messages, ``n_features_in_``, feature names, NaN/inf, complex, sparse, 1-D and empty-data
refusals are scikit-learn's), and raises :class:`~workbench.errors.InputError` naming the
argument, so the CLI can map it to a flag.

>>> X = check_data(self, X, reset=True)                 # in fit: (n_samples, n_features)
>>> X = check_data(self, X, reset=False, name="X_val")  # elsewhere: as many features as fitted

Checks that an estimator cannot pass are listed, with the reason, by its
``_expected_failed_checks()`` (the dictionary ``check_estimator(expected_failed_checks=...)``
takes); ``tests/test_sklearn_contract.py`` runs ``check_estimator`` on each estimator.
"""

import numpy as np

from workbench.errors import InputError

__all__ = [
    "binarized",
    "expected_failures",
    "check_binarize",
    "check_data",
    "check_labels",
    "torch_tags",
]


def check_data(
    estimator,
    X,
    *,
    reset,
    name="X",
    dtype=np.float32,
    min_samples=1,
    min_features=1,
    writable=False,
):
    """``X`` as a 2-D, finite array of ``dtype`` (a dtype or a list of accepted ones) through
    ``sklearn.utils.validation.validate_data``; ``reset`` records ``n_features_in_`` (and
    feature names), else they must match; ``writable``: copy read-only memory (for
    ``torch.from_numpy``). A torch tensor is taken as its NumPy values. Raises InputError
    naming ``name`` (TypeError for sparse input, as scikit-learn does)."""
    from sklearn.utils.validation import validate_data

    if type(X).__module__.startswith("torch"):
        X = X.detach().cpu().numpy()
    try:
        X = validate_data(estimator, X, reset=reset, dtype=dtype, ensure_min_samples=min_samples,
                          ensure_min_features=min_features)  # fmt: skip
    except ValueError as err:
        raise InputError(name, detail=str(err)) from None
    return X.copy() if writable and not X.flags.writeable else X


def check_labels(y, n_samples):
    """Class labels ``y`` as a 1-D array of ``n_samples`` entries (scikit-learn's messages:
    "Unknown label type" for continuous targets); InputError naming ``y``."""
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import column_or_1d

    if y is None:
        raise InputError(
            "y", detail="this estimator requires y to be passed, but the target y is None"
        )
    try:
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
    except ValueError as err:
        raise InputError("y", detail=str(err)) from None
    if len(y) != n_samples:
        raise InputError("y", f"{n_samples} labels (one per row of X)", len(y))
    return y


def check_binarize(binarize):
    """The ``binarize`` threshold: None or a finite number (InputError otherwise)."""
    if binarize is None:
        return None
    ok = isinstance(binarize, (int, float, np.number)) and not isinstance(binarize, bool)
    if not ok or not np.isfinite(binarize):
        raise InputError("binarize", "None or a finite threshold (e.g. 0.5)", repr(binarize))
    return float(binarize)


def binarized(X, binarize, *, name="X", binary=False):
    """Data for Bernoulli visible units: ``X > binarize`` as 0/1 when a threshold is given
    (any real data); otherwise ``X`` as it is, which must lie in [0, 1] (probabilities, as
    scikit-learn's BernoulliRBM takes them), or in {0, 1} with ``binary``. InputError naming
    ``name``."""
    if binarize is not None:
        return (X > binarize).astype(X.dtype)
    if binary and not np.isin(X, (0, 1)).all():
        got = f"[{X.min():.3g}, {X.max():.3g}]"
        raise InputError(name, detail=f"binary data in {{0, 1}} expected, got values in {got}; "
                         "binarise them: binarize=0.5")  # fmt: skip
    if X.size and not ((X >= 0) & (X <= 1)).all():
        kind = "Negative values in data" if (X < 0).any() else "Values above 1 in data"
        raise InputError(name, detail=f"{kind} (range [{X.min():.3g}, {X.max():.3g}]): "
                         "probabilities in [0, 1] expected; scale them, set binarize=threshold, "
                         "or use visible='gaussian' for real-valued data")  # fmt: skip
    return X


def torch_tags(tags, *, positive_only=False):
    """Tags of a Torch estimator: it computes in float32 (so a transformer preserves that
    dtype), and ``positive_only`` when it refuses negative input."""
    if tags.transformer_tags is not None:
        tags.transformer_tags.preserves_dtype = ["float32"]
    tags.input_tags.positive_only = positive_only
    return tags


def expected_failures(estimator):
    """{check name: reason} of the ``check_estimator`` checks ``estimator`` cannot pass."""
    return {}
