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
    if not X.size:
        return X
    got = f"range [{X.min():.3g}, {X.max():.3g}]"
    if (X < 0).any() or (not binary and (X > 1).any()):
        kind = "Negative values in data" if (X < 0).any() else "Values above 1 in data"
        raise InputError(name, detail=f"{kind} ({got}): probabilities in [0, 1] expected; scale "
                         "them, set binarize=threshold, or use visible='gaussian' for real-valued "
                         "data")  # fmt: skip
    if binary and not np.isin(X, (0, 1)).all():
        raise InputError(name, detail=f"binary data in {{0, 1}} expected, got values in {got}; "
                         "binarise them: binarize=0.5")  # fmt: skip
    return X


def torch_tags(tags, *, positive_only=False):
    """Tags of a Torch estimator: it computes in float32 (so a transformer preserves that
    dtype), and ``positive_only`` when it refuses negative input."""
    if tags.transformer_tags is not None:
        tags.transformer_tags.preserves_dtype = ["float32"]
    tags.input_tags.positive_only = positive_only
    return tags


# check_estimator checks whose data lie outside [0, 1] (after the shift to >= 0 that scikit-learn
# applies for estimators tagged positive_only)
RANGE_CHECKS = (
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_estimators_dtypes",
    "check_estimators_fit_returns_self",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit2d_1feature",
    "check_fit2d_1sample",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_readonly_memmap_input",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformer_preserve_dtypes",
)
# ... and those whose data, though in [0, 1], are not binary
GREY_CHECKS = ("check_dtype_object", "check_estimators_nan_inf", "check_fit_score_takes_y")
# checks that call score (the exact log-likelihood, enumerating the hidden states)
SCORE_CHECKS = ("check_fit_score_takes_y", "check_methods_sample_order_invariance",
                "check_methods_subset_invariance", "check_pipeline_consistency")  # fmt: skip
# checks whose rows (1 to 10 features) are no square images, or too small for the LeNet
IMAGE_CHECKS = (
    "check_classifier_data_not_an_array",
    "check_classifiers_classes",
    "check_classifiers_train",
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_dtype_object",
    "check_estimators_dtypes",
    "check_estimators_fit_returns_self",
    "check_estimators_nan_inf",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit2d_1feature",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
    "check_supervised_y_2d",
)

_REASONS = {
    "range": "Bernoulli visible units take values in [0, 1] as probabilities; the check's data "
    "lie outside (binarize=threshold takes any data)",
    "binary": "binary visible units; the check's real-valued data are refused (binarize="
    "threshold takes any data)",
    "grey": "score is the log-likelihood of binary rows; the check scores grey ones",
    "score": "score is the exact log-likelihood: the check's model is too wide to enumerate "
    "(log p needs 2^(hidden units) states)",
    "images": "a CNN takes images: the check's rows of 1-10 features are no square images or "
    "are smaller than its pooling windows",
}


def expected_failures(estimator):
    """{check name: reason} of the ``check_estimator`` checks that ``estimator`` (an instance,
    with its settings) cannot pass; the test passes it as ``expected_failed_checks``."""
    kind, params = type(estimator).__name__, estimator.get_params()
    bernoulli = params.get("visible", "bernoulli") == "bernoulli" and params.get("binarize") is None
    groups = []
    if kind == "CNNClassifier":
        groups = [("images", IMAGE_CHECKS)]
    elif kind in ("RBM", "DBN") and bernoulli:
        groups = [("range", RANGE_CHECKS)] + [("grey", SCORE_CHECKS[:1])] * (kind == "RBM")
    elif kind in ("SigmoidBeliefNet", "DBM"):
        wide = sum(params["layers"]) > 20
        groups = [("binary", RANGE_CHECKS + GREY_CHECKS)] if bernoulli else []
        groups += [("score", SCORE_CHECKS)] * (wide and not bernoulli)
    return {check: _REASONS[reason] for reason, checks in groups for check in checks}
