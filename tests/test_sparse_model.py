"""The catalogue's `sparse-coding`: its MAP is the lasso code that sparse_code computes (FISTA,
an independent solver), and its posterior mean is not sparse."""

import json

import numpy as np
import pytest

import models
from models.builders import dct_dictionary
from workbench.cli import main
from workbench.errors import InputError
from workbench.nn.runtime import torch_threads
from workbench.sparse import sparse_code

SETTINGS = models.get_spec("sparse-coding").settings


def fista_code(y, n_atoms=SETTINGS["n_atoms"], b=SETTINGS["b"], sigma=SETTINGS["sigma"]):
    """The lasso code with alpha = sigma^2 / b, by FISTA to a relative gap of 1e-14."""
    with torch_threads(1):
        result = sparse_code(y, dct_dictionary(n_atoms, y.size), sigma**2 / b, max_iter=100_000,
                             tol=1e-14)  # fmt: skip
    assert result.converged.all()
    return result.codes[0]


def test_dct_dictionary_has_unit_cosine_atoms():
    D = dct_dictionary(12, 8)
    np.testing.assert_allclose(np.linalg.norm(D, axis=1), 1.0)
    np.testing.assert_allclose(D[0], np.full(8, 8**-0.5))
    square = dct_dictionary(8, 8)  # the orthonormal DCT-II when square
    np.testing.assert_allclose(square @ square.T, np.eye(8), atol=1e-12)


def test_estimate_map_is_the_fista_code(capsys):
    assert main(["estimate", "sparse-coding", "--methods", "map", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    h_map = np.asarray(out["estimates"]["h"]["map"])
    h_fista = fista_code(models.default_data("sparse-coding"))
    np.testing.assert_allclose(h_map, h_fista, rtol=0, atol=1e-4)
    zeros = h_fista == 0
    assert 3 <= zeros.sum() < zeros.size  # sparse, not empty
    assert np.abs(h_map[zeros]).max() < 1e-4


def test_bad_settings_name_themselves():
    with pytest.raises(InputError, match="n_atoms"):
        models.build("sparse-coding", n_atoms=0)
    with pytest.raises(InputError, match="sigma"):
        models.build("sparse-coding", sigma=-1.0)


@pytest.mark.slow  # NUTS on 12 parameters: about a minute
def test_posterior_mean_is_not_sparse(estimates):
    result = estimates("sparse-coding", methods=("map", "cm"))
    h_map, h_cm = np.asarray(result.point["map"]["h"]), np.asarray(result.point["cm"]["h"])
    mcse = np.asarray(result.mcse["h"])
    assert result.diagnostics["r_hat_max"] < 1.01
    zeros = np.abs(h_map) < 1e-6
    assert zeros.sum() >= 3
    # where the MAP is exactly zero the posterior mean is not: some of those atoms sit many
    # Monte Carlo errors away from zero, and no posterior mean is zero to 1e-6
    assert (np.abs(h_cm[zeros]) > 5 * mcse[zeros]).any()
    assert np.abs(h_cm).min() > 1e-6
