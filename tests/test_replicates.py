"""Replicates on Dask: the same results on one process, on a local cluster of two workers and
through a scheduler address; each worker compiles the model once."""

import json
import logging

import numpy as np
import pytest

import models
from workbench import replicates
from workbench.bayes.risk import risk_study
from workbench.cli import main
from workbench.diagnostics import sbc_model
from workbench.errors import InputError
from workbench.samplers.pymc_target import observed_data_names


@pytest.fixture(scope="module")
def client():
    """One local cluster of two single-threaded worker processes for the module."""
    from distributed import Client, LocalCluster

    with (
        replicates.quiet_dask(),
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster, set_as_default=False) as made,
    ):
        yield made


def _cache_keys():
    return list(replicates._CACHE)


@pytest.mark.slow  # NUTS compiled in three processes: about a minute of CPU
def test_risk_study_same_on_one_process_and_two_workers(client):
    # the CM: NUTS draws, so each replicate's seed decides the estimate
    settings = dict(replicates=4, seed=5, methods=("cm",), draws=200, tune=200)
    alone = risk_study("beta-binomial", n_workers=1, progressbar=False, **settings)
    spread = risk_study("beta-binomial", client=client, progressbar=False, **settings)
    np.testing.assert_array_equal(alone.truth["p"], spread.truth["p"])
    for method in settings["methods"]:  # bit for bit: each replicate carries its own seed
        np.testing.assert_array_equal(alone.estimates[method]["p"], spread.estimates[method]["p"])
    np.testing.assert_array_equal(alone.converged, spread.converged)
    assert alone.summary() == spread.summary()
    # both workers took replicates, and each holds one compiled estimator for all of them
    held = client.run(_cache_keys)
    assert len(held) == 2
    assert all(len([k for k in keys if k.startswith("risk-")]) == 1 for keys in held.values())


def test_sbc_same_on_one_process_and_through_a_scheduler_address(client):
    model = models.build("beta-binomial")
    containers = observed_data_names(model).values()
    before = {n: model[n].get_value().copy() for n in containers}
    settings = dict(replicates=12, draws=200, warmup=100, thin=4, seed=8, progressbar=False)
    alone = sbc_model(model, n_workers=1, **settings)
    spread = sbc_model(model, scheduler=client.scheduler.address, **settings)
    np.testing.assert_array_equal(alone.ranks["p"], spread.ranks["p"])
    np.testing.assert_array_equal(alone.converged, spread.converged)
    assert alone.to_dict() == spread.to_dict()
    for name, value in before.items():  # the caller's model keeps its data
        np.testing.assert_array_equal(model[name].get_value(), value)


def test_worker_cache_builds_once_per_key():
    built = []

    def build(tag):
        built.append(tag)
        return tag

    for _ in range(3):
        assert replicates.worker_cached("test-a", lambda: build("a")) == "a"
    replicates.worker_cached("test-b", lambda: build("b"))
    assert built == ["a", "b"]
    for i in range(replicates.CACHE_SIZE):  # the oldest entries go first
        replicates.worker_cached(f"test-fill-{i}", lambda: None)
    assert "test-a" not in replicates._CACHE


def test_bad_worker_settings_are_named():
    with pytest.raises(InputError, match="n_workers"):
        replicates.run_replicates(abs, None, [(1,)], n_workers=0)
    with pytest.raises(InputError, match="scheduler"):
        replicates.run_replicates(abs, None, [(1,)], scheduler=8786)


def test_quiet_dask_restores_logger_levels():
    logger = logging.getLogger("distributed")
    saved = logger.level
    with replicates.quiet_dask():
        assert logger.getEffectiveLevel() >= logging.ERROR
    assert logger.level == saved


def test_risk_cli_on_a_scheduler(client, capsys, tmp_path):
    words = ["risk", "beta-binomial", "--replicates", "3", "--methods", "map", "ml",
             "--seed", "4", "--json"]  # fmt: skip
    address = client.scheduler.address
    assert main([*words, "--scheduler", address, "--out", str(tmp_path / "a")]) in (0, None)
    remote = json.loads(capsys.readouterr().out)
    assert main([*words, "--workers", "1", "--out", str(tmp_path / "b")]) in (0, None)
    local = json.loads(capsys.readouterr().out)
    # equal to float rounding: the optimiser's compiled graphs may round differently in a
    # worker process than in this one (BLAS threads); the same engine on 1 and 2 workers is
    # bit-identical for the NUTS draws (test_risk_study_same_on_one_process_and_two_workers)
    assert remote["replicates"] == 3 and remote["risk"].keys() == local["risk"].keys()
    for method, row in local["risk"].items():
        assert remote["risk"][method] == pytest.approx(row, rel=1e-6), method


def test_sbc_cli_on_a_scheduler_matches_the_library(client, capsys):
    words = ["sbc", "beta-binomial", "--replicates", "10", "--draws", "100", "--warmup", "50",
             "--thin", "2", "--seed", "2", "--json"]  # fmt: skip
    assert main([*words, "--scheduler", client.scheduler.address]) in (0, None)
    remote = json.loads(capsys.readouterr().out)
    local = sbc_model(models.build("beta-binomial"), replicates=10, draws=100, warmup=50,
                      thin=2, seed=2, n_workers=1)  # fmt: skip
    assert remote["model"] == "beta-binomial" and remote["replicates"] == 10
    assert remote["variables"] == local.to_dict()["variables"]
    assert main(["sbc", "beta-binomial", "--ci-prob", "2", "--workers", "1"]) == 2
    assert "--ci-prob: expected a probability" in capsys.readouterr().err
