"""The energy section of `workbench demo` on its own."""

from workbench.energy.demo import section_energy
from workbench.report import HtmlReport


def test_section_rbm_writes_table_and_summary():
    report = HtmlReport("energy")
    line = section_energy(report, seed=1)
    html = report.html()
    assert "log Z" in html and "reverse_ais" in html
    assert line.startswith("rbm: log-likelihood -1.943 -> ") and "AIS within" in line
