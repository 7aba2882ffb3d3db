"""Test-session settings and shared helpers.

The session runs with ``WORKBENCH_QUICK=1`` (unless set otherwise in the environment), so the
tutorials and the demo pick their reduced sizes (:mod:`workbench.sizes`); notebook kernels
started by the tests inherit it. Tests marked ``requires_fashion_mnist`` skip, with the install
command, when Debian's Fashion-MNIST files are absent.

``estimates`` (session scope) runs :func:`workbench.estimate` once per distinct call and caches
the result, so that the closed-form and behaviour test modules share the expensive NUTS runs.
The UserWarnings an estimate emits are recorded (so tests can check them) and then re-emitted
unchanged: nothing is hidden from pytest's warning summary.
"""

import os
import warnings

import numpy as np
import pytest

import models
import workbench
import workbench.bayes
from workbench.data import fashion_mnist_available
from workbench.data.datasets import FASHION_MNIST_ENV, FASHION_MNIST_INSTALL
from workbench.sizes import QUICK_ENV

os.environ.setdefault(QUICK_ENV, "1")

SEED = 20261122
SAMPLING = {"draws": 1000, "tune": 1000, "chains": 4}

_CACHE = {}
_EMITTED = {}

SKIP_FASHION_MNIST = pytest.mark.skip(
    reason=f"Debian's Fashion-MNIST is not installed: {FASHION_MNIST_INSTALL} "
    f"(or point ${FASHION_MNIST_ENV} at the IDX files)"
)


def pytest_collection_modifyitems(config, items):
    """Skip the tests marked ``requires_fashion_mnist`` when the data are absent."""
    if fashion_mnist_available():
        return
    for item in items:
        if item.get_closest_marker("requires_fashion_mnist"):
            item.add_marker(SKIP_FASHION_MNIST)


def run_estimate(
    name, *, data=None, methods=workbench.bayes.METHODS, seed=SEED, sampling=None, **settings
):
    """``workbench.estimate(models.build(name, data, **settings), ...)``, cached per call."""
    sampling = {**SAMPLING, **(sampling or {})}
    key = (
        name,
        None if data is None else np.asarray(data, dtype=float).tobytes(),
        tuple(methods),
        seed,
        tuple(sorted(sampling.items())),
        tuple(sorted(settings.items())),
    )
    if key not in _CACHE:
        model = models.build(name, data=data, **settings)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = workbench.estimate(model, methods=methods, seed=seed, **sampling)
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        _CACHE[key] = result
        _EMITTED[id(result)] = [
            str(w.message) for w in caught if issubclass(w.category, UserWarning)
        ]
    return _CACHE[key]


def emitted_warnings(result):
    """Messages of the UserWarnings emitted while ``result`` was computed by ``run_estimate``."""
    return _EMITTED[id(result)]


@pytest.fixture(scope="session")
def estimates():
    """The cached ``run_estimate`` helper."""
    return run_estimate


def cm_ml_value(result, name):
    """The reported cm_ml of ``name``: None when not reported (whole method or this name)."""
    means = result.point.get("cm_ml")
    if means is None:
        return None
    value = means.get(name)
    if value is None or np.all(np.isnan(np.asarray(value, dtype=float))):
        return None
    return np.asarray(value, dtype=float)


def flat_mcse(result, name):
    """MCSE of the mean of ``name`` under the flat-prior draws (``result.flat_posterior``)."""
    import arviz_stats as azs

    mcse = azs.mcse(result.flat_posterior, var_names=[name], method="mean")
    return np.asarray(mcse[name].values, dtype=float)


def assert_within_mcse(estimate, exact, mcse, *, k=4.0, k_all=5.0, max_outside=0):
    """|estimate - exact| <= k * mcse componentwise; for vectors, up to ``max_outside``
    components may exceed k (multiple testing) but none may exceed ``k_all``."""
    estimate, exact, mcse = (np.asarray(v, dtype=float) for v in (estimate, exact, mcse))
    assert estimate.shape == exact.shape == mcse.shape, (estimate.shape, exact.shape, mcse.shape)
    assert np.all(np.isfinite(mcse)) and np.all(mcse > 0), mcse
    z = np.abs(estimate - exact) / mcse
    outside = np.flatnonzero(z > k)
    detail = f"z-scores {np.round(z, 2)}; estimate {estimate}; exact {exact}"
    assert outside.size <= max_outside, f"{outside.size} component(s) beyond {k} MCSE: {detail}"
    assert np.all(z <= k_all), f"component(s) beyond {k_all} MCSE: {detail}"
