"""workbench.nn.DBN: greedy stacking, top-down sampling, fine-tuning, bad input."""

import numpy as np
import pytest

from workbench.data import load_dataset
from workbench.nn.dbn.model import DBN


@pytest.fixture(scope="module")
def digits_dbn():
    from workbench.nn.runtime import torch_threads

    train = load_dataset("digits", split="train", binarize=True)
    test = load_dataset("digits", split="test", binarize=True)
    with torch_threads(1):
        dbn = DBN((32, 16), n_epochs=5, rbm_params={"batch_size": 20}, random_state=0,
                  verbose=False).fit(train.X)  # fmt: skip
        yield train, test, dbn


def test_layers_are_stacked_on_the_layer_below(digits_dbn):
    train, _, dbn = digits_dbn
    assert [(r.n_features_in_, r.n_hidden) for r in dbn.rbms_] == [(64, 32), (32, 16)]
    features = dbn.transform(train.X[:5])
    top = dbn.rbms_[1]
    below = dbn.rbms_[0].transform(train.X[:5])
    expected = 1 / (1 + np.exp(-(below @ top.weights_ + top.hidden_bias_)))
    np.testing.assert_allclose(features, expected, rtol=1e-5)


def test_top_down_samples_are_images_and_reproducible(digits_dbn):
    _, _, dbn = digits_dbn
    samples = dbn.sample(6, n_steps=50, random_state=2)
    assert samples.shape == (6, 64) and ((samples >= 0) & (samples <= 1)).all()
    np.testing.assert_array_equal(samples, dbn.sample(6, n_steps=50, random_state=2))


def test_fine_tuning_learns_to_classify(digits_dbn):
    train, test, dbn = digits_dbn
    dbn.fine_tune(train.X, train.y, n_epochs=15, learning_rate=1e-2, random_state=0)
    assert dbn.fine_tune_loss_[-1] < dbn.fine_tune_loss_[0]
    assert dbn.score(test.X, test.y) > 0.8  # chance is 0.1
    assert dbn.predict_proba(test.X[:3]).sum(1) == pytest.approx(np.ones(3), abs=1e-5)


def test_bad_layers_and_labels(digits_dbn):
    train, _, dbn = digits_dbn
    with pytest.raises(ValueError, match="layers: expected a non-empty tuple"):
        DBN((8, 0), verbose=False).fit(train.X)
    with pytest.raises(ValueError, match="y: expected"):
        dbn.fine_tune(train.X, train.y[:-1])
