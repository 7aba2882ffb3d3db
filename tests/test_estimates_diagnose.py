"""One convergence rule: `workbench estimate --out D` and `workbench diagnose D/posterior.nc`
print the same diagnostics (same verdict, same numbers) for every catalogue model.

Few draws keep it quick, so some runs converge and some do not: both verdicts are compared.
Two models run in the quick tier, the others under ``-m slow`` (about 15 s each, mostly the
nutpie compilation).
"""

import json

import pytest

import models
from workbench.cli import main

QUICK = ("beta-binomial", "normal")
MODELS = [
    pytest.param(name, marks=() if name in QUICK else pytest.mark.slow) for name in models.CATALOGUE
]


def run(capsys, *args):
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", MODELS)
def test_estimate_and_diagnose_agree(name, tmp_path, capsys):
    estimate = run(
        capsys, "estimate", name, "--methods", "cm", "--draws", "500", "--tune",
        "300", "--chains", "2", "--seed", "3", "--json", "--out", str(tmp_path),
    )  # fmt: skip
    diagnosed = run(capsys, "diagnose", str(tmp_path / "posterior.nc"), "--json")
    assert estimate["diagnostics"] == diagnosed
    assert set(diagnosed["variables"]) >= set(estimate["estimates"])
    for var, entry in estimate["estimates"].items():
        for key in ("r_hat", "ess_bulk", "ess_tail"):
            assert entry[key] == diagnosed["variables"][var][key], (var, key)
    saved = json.loads((tmp_path / "estimates.json").read_text())
    assert saved["diagnostics"] == diagnosed
    if not diagnosed["converged"]:
        assert any("did not converge" in w for w in estimate["warnings"])
