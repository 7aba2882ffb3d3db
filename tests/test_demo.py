"""`workbench demo` writes a self-contained report, and its numbers match independent oracles:
the beta-binomial posterior in closed form, the Tipping-Bishop closed form of the PPCA
likelihood, and the bound -ln 14 on the bars-and-stripes likelihood (the energy section is
checked against enumeration in test_energy_demo.py).

The test session sets ``WORKBENCH_QUICK=1``: the demo leaves out ``QUICK_SKIPS`` (the sections
whose catalogue models tutorial 01 runs)."""

import json
import re

import numpy as np
import pytest

from workbench import demo
from workbench.data import linear_factor_data

SEED = 2


def numbers(line):
    """The decimal numbers in a summary line, in order."""
    return [float(x) for x in re.findall(r"-?\d+\.\d+", line)]


def ppca_mean_loglik(X, q):
    """Tipping and Bishop: the maximised PPCA log-likelihood per sample, from the eigenvalues
    of the (biased) sample covariance."""
    n, d = X.shape
    eig = np.sort(np.linalg.eigvalsh(np.cov(X, rowvar=False, bias=True)))[::-1]
    s2 = eig[q:].mean()
    return -0.5 * (d * np.log(2 * np.pi) + np.log(eig[:q]).sum() + (d - q) * np.log(s2) + d)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    summary = demo.run_demo(out_dir=out, seed=SEED, replicates=8, echo=False)
    return out, summary, {s["name"]: s["summary"] for s in summary["sections"]}


def test_report_is_self_contained_and_lists_the_sections(run):
    out, summary, _ = run
    html = (out / "report.html").read_text()
    expected = [s.__name__ for s in demo.SECTIONS if s not in demo.QUICK_SKIPS]
    assert [s["name"] for s in summary["sections"]] == expected
    assert html.count('<img src="data:image/png;base64,') >= 5  # figures inline, no side files
    assert not list(out.glob("*.png"))
    assert json.loads((out / "summary.json").read_text())["report"].endswith("report.html")


def test_beta_binomial_matches_the_closed_form(run):
    """3 heads in 10, Beta(2, 2): MAP 1/3, ML 3/10, posterior mean 5/14. The CM is a NUTS
    average: with a bulk ESS of at least 400 (the convergence rule) its MCSE is at most
    sd / 20, and sd = sqrt(5 * 9 / (14^2 * 15)) = 0.124; allow 4 MCSE."""
    map_, ml, cm = numbers(run[2]["section_beta_binomial"])
    assert map_ == pytest.approx(1 / 3, abs=6e-5) and ml == pytest.approx(0.3, abs=6e-5)
    assert cm == pytest.approx(5 / 14, abs=4 * 0.124 / 20)


def test_ppca_section_matches_the_closed_form(run):
    line = run[2]["section_ppca"]
    closed, em = numbers(line)[:2]
    truth = linear_factor_data(5000, 12, 3, seed=SEED)
    exact = ppca_mean_loglik(truth.X[:3000], 3)
    assert closed == pytest.approx(exact, abs=6e-6) and em == pytest.approx(exact, abs=1e-4)
    assert "best held-out q 3, ARD 3 (true 3)" in line


def test_rbm_training_stays_below_the_bound(run):
    """No distribution on 9 bits gives 14 distinct patterns a mean log-probability above
    -ln 14 (Gibbs' inequality); persistent chains get closer to it than CD-1."""
    cd, pcd, optimum = numbers(run[2]["section_rbm_training"])
    assert optimum == pytest.approx(-np.log(14), abs=6e-4)
    assert cd < pcd <= optimum + 6e-4


def test_diagnostics_and_cnn_verdicts(run):
    lines = run[2]
    assert "healthy run converged; funnel NOT converged" in lines["section_diagnostics"]
    accuracy, rbm_accuracy = numbers(lines["section_cnn"])
    assert accuracy > 0.9 and 0.5 < rbm_accuracy <= 1.0  # 10 classes: chance is 0.1


def test_quick_demo_reads_well_in_a_browser(run, open_report):
    """The quick demo's report in headless Chromium (checks in ``conftest.page_problems``):
    no console error, every figure decoded, every section reachable from the contents with a
    "what to look at" line, numbers right-aligned; every table is an HTML table."""
    out, summary, _ = run
    facts = open_report(out / "report.html", "report-quick-demo")
    assert facts["problems"] == []
    assert len(facts["sections"]) == len(summary["sections"]) and facts["pre"] == 0
    assert len(facts["images"]) >= 5 and facts["tables"] >= len(summary["sections"]) - 1
