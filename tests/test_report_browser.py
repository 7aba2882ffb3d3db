"""The HTML report as a reader meets it: tables that hold numbers (text for stdout, HTML for the
page), a table of contents whose links all land, and a page that loads nothing from outside.

The browser tests open ``report.html`` in headless Chromium (Selenium; skipped with the install
command where no browser is present) and check that the console stays free of errors, that
every image decodes, that every section is reachable from the contents and opens with a "what
to look at" line, that numbers are right-aligned in tabular figures, and that the print layout
hides the contents and starts each section on a new page. Each saves a screenshot and the
printed PDF under pytest's ``tmp_path`` (and ``$WORKBENCH_ARTEFACTS`` when set). The default
tier runs two cheap demo sections (the quick demo is opened by ``test_demo.py``); the slow tier
opens the full demo.
"""

import base64
import io
import math
import re

import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure

from workbench import demo
from workbench.cli import main
from workbench.errors import InputError
from workbench.report import HtmlReport, Table
from workbench.sizes import QUICK_ENV


def cells(page):
    """Each table body row of a page as its cells' displayed text."""
    rows = re.findall(r"<tr>(.*?)</tr>", page.split("<tbody>", 1)[1].split("</tbody>")[0])
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row) for row in rows]


def test_table_formats_numbers_and_aligns_them_right():
    t = Table(
        ["name", "x", "n", "p"],
        [["a", 1.23456, 3, -0.0], ["bb", math.nan, None, 0.5], ["c", "no MAP", 12, np.float32(2)]],
        formats={"p": ".2f", 1: ".3f"},
        title="caption",
        notes=["a note"],
    )
    assert t.numeric_columns() == [False, True, True, True]
    assert [t.cell(0, j) for j in range(4)] == ["a", "1.235", "3", "0.00"]
    assert [t.cell(1, j) for j in range(4)] == ["bb", "-", "-", "0.50"]
    lines = t.text().splitlines()
    assert lines[0] == "caption" and lines[-1] == "a note"
    assert lines[1].split() == ["name", "x", "n", "p"] and set(lines[2]) == {"-"}
    body = lines[3:6]
    assert len({len(line) for line in body}) == 1  # right-aligned numbers end in one column
    assert body[2].startswith("c ") and body[2].endswith("no MAP  12  2.00")
    with pytest.raises(ValueError, match="expected 4 cells per row"):
        Table(["a", "b", "c", "d"], [[1, 2]])


def test_html_tables_escape_and_mark_number_columns():
    report = HtmlReport("t")
    report.heading("One", look="the <b> stays text")
    report.table(Table(["k", "v"], [["<x>", 1.5], ["y", None]], title="T", notes=["n & m"]))
    page = report.html()
    assert cells(page) == [["&lt;x&gt;", "1.5"], ["y", "-"]]
    assert '<th class="num" scope="col">v</th>' in page and '<td class="num" >1.5</td>' in page
    assert "<caption>T</caption>" in page and '<p class="note">n &amp; m</p>' in page
    assert "the &lt;b&gt; stays text" in page


def test_contents_list_every_heading_under_a_unique_anchor():
    report = HtmlReport("t")
    report.paragraph("before any section: the header")
    for title in ("Same", "Same", "Ünïcode & co"):
        report.heading(title, look="x")
        report.heading("sub", level=3)
    page = report.html()
    anchors = re.findall(r'<a href="#([^"]+)">', page)
    assert anchors[:6] == ["same", "sub", "same-2", "sub-2", "n-code-co", "sub-3"]
    assert anchors[6:] == ["contents"] * 3  # each section ends with a link back
    for anchor in anchors:
        assert f'id="{anchor}"' in page
    assert page.index("before any section") < page.index('<section id="same">')
    with pytest.raises(ValueError, match="level"):
        report.heading("too deep", level=4)


def test_the_page_loads_nothing_from_outside():
    report = HtmlReport("t")
    report.heading("figure", look="x")
    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1])
    report.figure(fig, "a line")
    page = report.html()
    refs = re.findall(r'(?:src|href)="([^"]*)"', page) + re.findall(r"url\(([^)]*)\)", page)
    assert refs and all(r.startswith(("data:image/png;base64,", "#")) for r in refs), refs
    assert "default-src 'none'; img-src data:" in page  # the browser enforces it
    assert "<script" not in page and "@import" not in page
    width, height = (int(x) for x in re.findall(r'width="(\d+)" height="(\d+)"', page)[0])
    data = next(r for r in refs if r.startswith("data:"))
    png = base64.b64decode(data.removeprefix("data:image/png;base64,"))
    assert matplotlib.image.imread(io.BytesIO(png)).shape[:2] == (height, width)


def test_unknown_section_names_the_flag(tmp_path, capsys):
    with pytest.raises(InputError, match="sections: expected names from beta_binomial, "):
        demo.run_demo(tmp_path, sections=[], echo=False)
    assert main(["demo", "--out", str(tmp_path), "--section", "energy", "--section", "nope"]) == 2
    err = capsys.readouterr().err
    assert "workbench: error: --section: expected names from beta_binomial, " in err
    assert "got ['energy', 'nope']" in err and not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    """The demo's energy and PPCA sections (about 15 s): tables, a subsection, figures."""
    out = tmp_path_factory.mktemp("small-demo")
    summary = demo.run_demo(out, seed=1, sections=["energy", "ppca"], echo=False)
    return out / "report.html", summary


def test_small_demo_reads_well_in_a_browser(small_demo, open_report):
    path, summary = small_demo
    facts = open_report(path, "report-small")
    assert facts["problems"] == []
    assert [s["name"] for s in summary["sections"]] == [
        "section_ppca",
        "section_energy",
    ]  # demo order
    assert len(facts["sections"]) == 2 and len(facts["subsections"]) == 1
    assert len(facts["images"]) == 3 and facts["tables"] == 4 and facts["pre"] == 0
    assert len(facts["numbers"]) > 50
    assert facts["screenshot"].stat().st_size > 10_000
    assert facts["pdf"].read_bytes().startswith(b"%PDF")


def test_a_broken_page_is_caught(tmp_path, open_report):
    """The checks can fail: a missing image, a dead link, a section left out of the contents."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<html><body><nav id="contents"><a href="#gone">x</a></nav><main>'
        '<section id="kept"><img src="missing.png" alt="lost"></section></main></body></html>'
    )
    problems = open_report(page, "report-broken")["problems"]
    assert "image not decoded: 'lost'" in problems
    assert "contents link '#gone' has no target" in problems
    assert "section 'kept' is not in the contents" in problems
    assert any(p.startswith("console: ") and "missing.png" in p for p in problems)
    assert "printed figure 0 may split" not in problems  # no figure on this page


@pytest.mark.slow
def test_full_demo_reads_well_in_a_browser(tmp_path, monkeypatch, open_report):
    """Every section at full size (several minutes)."""
    monkeypatch.delenv(QUICK_ENV, raising=False)
    summary = demo.run_demo(tmp_path / "demo", seed=1, echo=False)
    facts = open_report(summary["report"], "report-full")
    assert facts["problems"] == []
    assert len(facts["sections"]) == len(demo.SECTIONS) and facts["pre"] == 0
    assert len(facts["images"]) >= 20
