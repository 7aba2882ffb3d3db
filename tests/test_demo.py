"""`workbench demo` writes a self-contained report with every section."""

import json

from workbench.demo import SECTIONS, run_demo


def test_demo_writes_report_and_summary(tmp_path):
    summary = run_demo(out_dir=tmp_path, seed=2, replicates=8, echo=False)
    html = (tmp_path / "report.html").read_text()
    assert html.count('<img src="data:image/png;base64,') >= 5  # figures inline, no side files
    assert [s["name"] for s in summary["sections"]] == [s.__name__ for s in SECTIONS]
    lines = {s["name"]: s["summary"] for s in summary["sections"]}
    assert "ML 0.3000 both" in lines["section_invariance"]
    assert "not reported" in lines["section_normal"]
    assert "healthy run converged; funnel NOT converged" in lines["section_diagnostics"]
    assert json.loads((tmp_path / "summary.json").read_text())["report"].endswith("report.html")
