"""scikit-learn's own ``check_estimator`` on every estimator, and clone, Pipeline and
GridSearchCV on workbench estimators.

Each instance runs with the checks it cannot pass listed (with reasons) by its
``_expected_failed_checks()``; a listed check that passes everywhere fails the test (the list is
stale). The default tier runs the instances whose checks take seconds; the full defaults (with
the training monitors on), and the slow families, run under ``-m slow``. Torch runs on one
thread (on a shared machine two threads contend and take ten times longer).
"""

import numpy as np
import pytest
from scipy.special import expit
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils import estimator_checks as checks

from workbench.data import load_dataset
from workbench.linear import PPCA, FactorAnalysis
from workbench.nn import DBM, DBN, RBM, Autoencoder, CNNClassifier, SigmoidBeliefNet
from workbench.nn.runtime.threads import torch_threads
from workbench.sparse import DictionaryLearning

QUIET = {"verbose": False}
QUICK = {
    "PPCA": lambda: PPCA(),
    "PPCA-1": lambda: PPCA(1),
    "RBM-grey": lambda: RBM(monitor=False, **QUIET),
    "RBM-binarize": lambda: RBM(binarize=0.5, monitor=False, **QUIET),
    "DBN": lambda: DBN(**QUIET),
    "SBN": lambda: SigmoidBeliefNet(monitor=False, **QUIET),
    "SBN-binarize": lambda: SigmoidBeliefNet(binarize=0.5, monitor=False, **QUIET),
    "DBM": lambda: DBM(monitor=False, **QUIET),
    "CNN": lambda: CNNClassifier(device="cpu", progress=False),
}
SLOW = {
    "FactorAnalysis": lambda: FactorAnalysis(),
    "FactorAnalysis-1": lambda: FactorAnalysis(1),
    "RBM-defaults": lambda: RBM(binarize=0.5, **QUIET),
    "RBM-gaussian": lambda: RBM(visible="gaussian", **QUIET),
    "DBM-binarize": lambda: DBM(binarize=0.5, monitor=False, **QUIET),
    "Autoencoder": lambda: Autoencoder(**QUIET),
    "DictionaryLearning": lambda: DictionaryLearning(**QUIET),
}
# for the slow families in the default tier: the refusals of bad input (no full training run)
INPUT_CHECKS = (
    checks.check_estimators_empty_data_messages,
    checks.check_complex_data,
    checks.check_estimator_sparse_array,
)


def run_checks(estimator):
    """check_estimator with the estimator's expected failures; the results (list of dict)."""
    expected = estimator._expected_failed_checks()
    with torch_threads(1):
        results = checks.check_estimator(
            estimator, expected_failed_checks=expected, on_skip=None, on_fail="raise"
        )
    failed = {r["check_name"] for r in results if r["status"] == "xfail"}
    assert set(expected) <= failed, f"listed but passing: {sorted(set(expected) - failed)}"
    assert all(reason for reason in expected.values())
    return results


@pytest.mark.parametrize("name", QUICK)
def test_check_estimator(name):
    results = run_checks(QUICK[name]())
    assert sum(r["status"] == "passed" for r in results) >= 20


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_check_estimator_slow(name):
    results = run_checks(SLOW[name]())
    assert sum(r["status"] == "passed" for r in results) >= 20


@pytest.mark.parametrize("name", SLOW)
def test_slow_families_refuse_bad_input_as_scikit_learn_does(name):
    estimator = SLOW[name]()
    with torch_threads(1):
        for check in INPUT_CHECKS:
            check(type(estimator).__name__, estimator)


def test_clone_gives_an_unfitted_twin_that_fits_to_the_same_model():
    X = load_dataset("bars-stripes-3").X
    rbm = RBM(6, n_epochs=3, batch_size=5, random_state=2, **QUIET).fit(X)
    twin = clone(rbm)
    assert twin.get_params() == rbm.get_params()
    assert not hasattr(twin, "n_features_in_")
    np.testing.assert_array_equal(twin.fit(X).weights_, rbm.weights_)


def test_pipeline_of_ppca_and_logistic_regression_equals_the_manual_composition():
    digits = load_dataset("digits")
    X, y = digits.X[:600], digits.y[:600]
    pipe = make_pipeline(PPCA(8), LogisticRegression(max_iter=2000)).fit(X, y)
    codes = PPCA(8).fit(X).transform(X)
    manual = LogisticRegression(max_iter=2000).fit(codes, y)
    np.testing.assert_array_equal(pipe.predict(X), manual.predict(codes))
    assert pipe.score(X, y) > 0.8


def test_grid_search_over_rbm_hidden_units_matches_cross_validation():
    """GridSearchCV over n_hidden of an RBM (grey digits taken as probabilities) in a pipeline:
    each mean test score equals cross_val_score of the same pipeline with that setting."""
    digits = load_dataset("digits")
    X, y = digits.X[:300], digits.y[:300]
    pipe = Pipeline([
        ("rbm", RBM(n_epochs=2, monitor=False, random_state=0, **QUIET)),
        ("clf", LogisticRegression(max_iter=500)),
    ])  # fmt: skip
    folds = KFold(2)
    with torch_threads(1):
        search = GridSearchCV(pipe, {"rbm__n_hidden": [4, 16]}, cv=folds).fit(X, y)
        for n_hidden, score in zip((4, 16), search.cv_results_["mean_test_score"], strict=True):
            each = cross_val_score(clone(pipe).set_params(rbm__n_hidden=n_hidden), X, y, cv=folds)
            assert score == pytest.approx(each.mean(), abs=1e-12)
    assert search.best_params_["rbm__n_hidden"] in (4, 16)
    assert search.best_estimator_.named_steps["rbm"].n_features_in_ == X.shape[1]


def test_dbn_takes_grey_pixels_as_probabilities():
    """Grey rows in [0, 1] train a DBN and go up through p(h | v) of each layer (checked
    against the sigmoid up-pass written out from the fitted weights)."""
    P = np.random.default_rng(0).random((20, 9))
    dbn = DBN((4, 3), n_epochs=2, random_state=0, rbm_params={"batch_size": 5}, **QUIET).fit(P)
    low, top = dbn.rbms_
    expected = expit(expit(P @ low.weights_ + low.hidden_bias_) @ top.weights_ + top.hidden_bias_)
    np.testing.assert_allclose(dbn.transform(P), expected, rtol=1e-5)
    assert not hasattr(dbn, "predict")  # until fine_tune
