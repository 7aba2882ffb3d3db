"""Tables, saved results and the self-contained HTML report.

>>> table = Table(["method", "MSE"], [["MAP", 0.0123], ["CM", 0.0101]], title="risk")
>>> print(table.text())                      # stdout: a fixed-width text table
>>> report = HtmlReport("demo")
>>> report.heading("Risk", look="the CM has the lowest MSE")   # a section, listed in the contents
>>> report.table(table)                      # an HTML table, numbers right-aligned
>>> report.save("report.html")

The page is one file: figures are inline PNGs, the style sheet is inline, and a content security
policy forbids loading anything else (no network, no fonts, no scripts).
"""

import base64
import html
import re
from dataclasses import dataclass, field
from numbers import Number
from pathlib import Path

import numpy as np

from workbench.output import figure_png, save_figure, write_json, write_netcdf, write_text

__all__ = ["HtmlReport", "Table", "estimate_tables", "format_table", "save_result"]

COLUMNS = ("map", "ml", "cm", "cm_ml")


def _is_number(value):
    return isinstance(value, Number | np.number) and not isinstance(value, bool | np.bool_)


@dataclass
class Table:
    """Rows of cells under column names; numbers stay numbers until rendered.

    ``rows`` is a list of lists (one cell per column): numbers (formatted with ``formats``,
    ``.4g`` for floats by default), strings, or None (shown as "-", as is NaN). A column with a
    number in it is a numeric column: right-aligned, tabular figures. ``formats`` maps a column
    name (or its position) to a format spec (``".3f"``, ``",d"``); ``title`` is the caption,
    ``notes`` are lines shown under the table; ``numeric`` names columns to align as numbers
    even when none of their cells is one (e.g. every cell says "no MAP").
    """

    columns: list
    rows: list
    formats: dict = field(default_factory=dict)
    title: str = ""
    notes: list = field(default_factory=list)
    numeric: list = field(default_factory=list)

    def __post_init__(self):
        bad = [i for i, row in enumerate(self.rows) if len(row) != len(self.columns)]
        if bad:
            raise ValueError(
                f"rows: expected {len(self.columns)} cells per row (columns {self.columns}), "
                f"got {len(self.rows[bad[0]])} in row {bad[0]}"
            )

    def numeric_columns(self):
        """One bool per column: is it a column of numbers (one is in it, or it is listed in
        ``numeric`` as one whose cells may all say why there is no number)?"""
        return [
            c in self.numeric or any(_is_number(row[j]) for row in self.rows)
            for j, c in enumerate(self.columns)
        ]

    def cell(self, i, j):
        """Row ``i``, column ``j`` as displayed."""
        value = self.rows[i][j]
        if value is None or (_is_number(value) and not np.isfinite(float(value))):
            return "-"
        if _is_number(value):
            value = value + 0  # -0.0 shows as 0
            spec = self.formats.get(j, self.formats.get(self.columns[j]))
            if spec is None:
                spec = "d" if isinstance(value, int | np.integer) else ".4g"
            return format(value, spec)
        return str(value)

    def text(self):
        """Fixed-width text: title, header, a rule, rows (numbers right-aligned), notes."""
        cells = [[self.cell(i, j) for j in range(len(self.columns))] for i in range(len(self.rows))]
        widths = [
            max([len(str(c)), *(len(row[j]) for row in cells)]) for j, c in enumerate(self.columns)
        ]
        numeric = self.numeric_columns()

        def line(values):
            return "  ".join(
                v.rjust(w) if num else v.ljust(w)
                for v, w, num in zip(values, widths, numeric, strict=True)
            ).rstrip()

        head = line([str(c) for c in self.columns])
        lines = [self.title] if self.title else []
        lines += [head, "-" * len(head), *(line(row) for row in cells), *self.notes]
        return "\n".join(lines)


def _cell(result, method, name, index):
    """A point estimate's table cell: its value, or why there is none (no MAP)."""
    value = result.point.get(method, {}).get(name)
    if value is None:
        return None
    value = float(np.asarray(value)[index])
    if np.isnan(value) and result.method_diagnostics.get(method, {}).get("exists") is False:
        return f"no {method.upper()}"
    return value


def _label(name, index):
    return name if index == () else f"{name}[{','.join(map(str, index))}]"


def _rows(result, name, methods, max_components):
    """Rows of one parameter: label, the ``methods``' estimates, then (with a CM) sd, MCSE
    and the HDI; the number of components left out."""
    cm = "cm" in methods
    ref = next(v for m in methods if (v := result.point[m].get(name)) is not None)
    indices = list(np.ndindex(np.shape(ref)))
    rows = []
    for index in indices[:max_components]:
        row = [_label(name, index), *(_cell(result, m, name, index) for m in methods)]
        if cm and result.point["cm"].get(name) is not None:
            lo, hi = result.hdi[name]
            row += [float(np.asarray(a)[index]) for a in (result.sd[name], result.mcse[name])]
            row += [float(np.asarray(lo)[index]), float(np.asarray(hi)[index])]
        elif cm:
            row += [None] * 4
        rows.append(row)
    return rows, len(indices) - len(rows)


def _nuts_note(result):
    """The CM draws' convergence in one line (none when there is no diagnose() report)."""
    diag = result.diagnostics
    if not diag:  # one chain or constant draws give None
        return []

    def number(key, fmt):
        return "-" if diag.get(key) is None else format(diag[key], fmt)

    verdict = "converged" if diag["converged"] else "NOT converged"
    return [
        f"NUTS: {verdict} (R-hat max {number('r_hat_max', '.4f')}, bulk ESS min "
        f"{number('ess_bulk_min', '.0f')}, tail ESS min {number('ess_tail_min', '.0f')}, "
        f"divergences {number('divergences', 'd')})"
    ]


def estimate_tables(result, max_components=12):
    """An :class:`~workbench.bayes.EstimateResult` as :class:`Table` objects: the point
    estimates with sd, MCSE and HDI (vectors: the first ``max_components`` entries), then, if
    approximations were run, their mean, sd and interval beside NUTS's with each one's k-hat.
    The convergence verdict of the CM draws and the warnings are notes."""
    pct = f"{100 * result.hdi_prob:g}%"
    title = f"model: {result.model_name}"
    tables = []
    methods = [m for m in COLUMNS if m in result.point]  # the columns of the methods run
    if methods:
        columns = ["parameter", *(m.upper().replace("_", "-") for m in methods)]
        columns += ["sd", "mcse", f"{pct} HDI from", "to"] if "cm" in methods else []
        rows, notes = [], []
        for name in result.var_names:
            found, hidden = _rows(result, name, methods, max_components)
            rows += found
            if hidden:
                notes.append(f"... {hidden} more components of {name} (see --json or --out)")
        notes += _nuts_note(result)
        tables.append(Table(columns, rows, title=title, notes=notes, numeric=columns[1:]))
    if result.approximations:
        tables.append(_approximation_table(result, max_components, "" if tables else title))
    if not tables:
        tables.append(Table(["parameter"], [], title=title))
    tables[-1].notes += [f"warning: {w}" for w in result.warnings]
    return tables


def _approximation_table(result, max_components, title):
    """The approximations' mean, sd and interval beside NUTS's, then each one's k-hat."""
    pct = f"{100 * result.hdi_prob:g}%"
    rows = []
    for name in result.var_names:
        shape = np.shape(next(iter(result.approx_sd.values()))[name])
        for index in list(np.ndindex(shape))[:max_components]:
            fits = [(m, result.point[m][name], result.approx_sd[m][name],
                     result.approx_interval[m][name]) for m in result.approximations]  # fmt: skip
            if "cm" in result.point and result.sd:
                fits.append(("NUTS", result.point["cm"][name], result.sd[name], result.hdi[name]))
            rows += [
                [_label(name, index), method]
                + [float(np.asarray(a)[index]) for a in (mean, sd, lo, hi)]
                for method, mean, sd, (lo, hi) in fits
            ]
    notes = []
    for method, fit in result.approximations.items():
        khat = "-" if fit.khat == -np.inf else f"{fit.khat:.2f}"
        notes.append(f"k-hat {method}: {khat}: {result.method_diagnostics[method]['verdict']}")
    heading = "approximations (Gaussian on the unconstrained scale, draws mapped back)"
    return Table(
        ["parameter", "method", "mean", "sd", f"{pct} interval from", "to"],
        rows,
        title=f"{title}\n{heading}" if title else heading,
        notes=notes,
    )


def format_table(result, max_components=12):
    """Human-readable text of a :class:`~workbench.bayes.EstimateResult`: its
    :func:`estimate_tables`, one after the other."""
    return "\n\n".join(t.text() for t in estimate_tables(result, max_components))


def save_result(result, out_dir):
    """Write estimates.json, estimates.png, posterior.nc (+ flat_posterior.nc) atomically."""
    out = Path(out_dir)
    paths = {"json": write_json(out / "estimates.json", result.to_dict())}
    paths["figure"] = save_figure(result.plot(), out / "estimates.png")
    for key, tree in (("posterior", result.posterior), ("flat_posterior", result.flat_posterior)):
        if tree is not None:
            paths[key] = write_netcdf(tree, out / f"{key}.nc")
    return {k: str(v) for k, v in paths.items()}


STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0}
.page{display:grid;grid-template-columns:16rem minmax(0,1fr);gap:2rem;max-width:84rem;
margin:0 auto;padding:0 1.5rem}
#contents{position:sticky;top:0;align-self:start;max-height:100vh;overflow-y:auto;
font-size:.88rem;padding:1rem 0}
#contents h2{font-size:1rem;border:0;margin:.4rem 0}
#contents ol{padding-left:1.3rem;margin:.2rem 0}#contents li{margin:.25rem 0}
a{color:#0b57d0;text-decoration:none}a:hover{text-decoration:underline}
h1{font-size:1.7rem;margin:1rem 0 .5rem}
h2{font-size:1.35rem;margin:0 0 .4rem;padding-bottom:.2rem;border-bottom:1px solid #ddd}
h3{font-size:1.1rem;margin:1.4rem 0 .4rem}
section{margin:2.5rem 0;scroll-margin-top:1rem}h3{scroll-margin-top:1rem}
.look{background:#eef4ff;border-left:4px solid #0b57d0;padding:.4rem .8rem;margin:.6rem 0}
.table-wrap{overflow-x:auto;margin:.8rem 0}
table{border-collapse:collapse;font-size:.85rem}
caption{caption-side:top;text-align:left;font-weight:600;padding:.2rem 0;white-space:pre-line}
th,td{padding:.2rem .65rem;border-bottom:1px solid #e4e4e4;text-align:left;white-space:nowrap}
thead th{border-bottom:2px solid #999;background:#f5f5f5}
tbody tr:nth-child(even){background:#fafafa}
.num{text-align:right;font-variant-numeric:tabular-nums}
.note{font-size:.85rem;color:#555;margin:.15rem 0}
pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:12px}
figure{margin:1rem 0}img{max-width:100%;height:auto}figcaption{color:#555;font-size:.85rem}
.top{font-size:.8rem}
@media (max-width:60rem){.page{display:block}#contents{position:static;max-height:none}}
@media print{
#contents,.top{display:none}.page{display:block;max-width:none;padding:0}
body{font-size:10pt}section{break-before:page;margin:0}
figure,table,.look{break-inside:avoid}thead{display:table-header-group}
h2,h3,caption{break-after:avoid}.table-wrap{overflow:visible}a{color:inherit}
}
"""
# Nothing but this page and its inline images: the browser refuses any other load.
POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _png_size(png):
    """(width, height) from a PNG's IHDR chunk."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


class HtmlReport:
    """A self-contained HTML page: sections listed in a table of contents, each opened by a
    "what to look at" line, with paragraphs, tables (:class:`Table`) and inline figures; a
    print style sheet puts each section on a new page and keeps figures and tables whole."""

    def __init__(self, title):
        self.title, self.intro, self.sections, self._ids = title, [], [], set()

    def _anchor(self, text):
        slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
        anchor, k = slug, 2
        while anchor in self._ids:
            anchor, k = f"{slug}-{k}", k + 1
        self._ids.add(anchor)
        return anchor

    def _add(self, part):
        (self.sections[-1]["parts"] if self.sections else self.intro).append(part)

    def heading(self, text, level=2, *, look=None):
        """Level 2 opens a section, listed in the contents; ``look`` is one line on what to
        look at in it. Level 3 is a subsection of the current one (also listed)."""
        if level not in (2, 3):
            raise ValueError(f"level: expected 2 (section) or 3 (subsection), got {level!r}")
        anchor = self._anchor(text)
        if level == 2 or not self.sections:
            self.sections.append({"id": anchor, "title": text, "parts": [], "subsections": []})
        else:
            self.sections[-1]["subsections"].append((anchor, text))
            self._add(f'<h3 id="{anchor}">{html.escape(text)}</h3>')
        if look:
            self._add(f'<p class="look"><strong>What to look at:</strong> {html.escape(look)}</p>')

    def paragraph(self, text):
        self._add(f"<p>{html.escape(text)}</p>")

    def pre(self, text):
        """Preformatted text (code, logs); tables go through :meth:`table`."""
        self._add(f"<pre>{html.escape(text)}</pre>")

    def table(self, *tables):
        """One HTML table per :class:`Table`: caption, header, numbers right-aligned in
        tabular figures, first column as row headers, notes below."""
        for t in tables:
            numeric = t.numeric_columns()
            kind = ['class="num" ' if num else "" for num in numeric]
            head = "".join(
                f'<th {k}scope="col">{html.escape(str(c))}</th>'
                for c, k in zip(t.columns, kind, strict=True)
            )
            body = []
            for i in range(len(t.rows)):
                cells = [html.escape(t.cell(i, j)) for j in range(len(t.columns))]
                row = [f'<th {kind[0]}scope="row">{cells[0]}</th>'] if cells else []
                row += [f"<td {k}>{c}</td>" for c, k in zip(cells[1:], kind[1:], strict=True)]
                body.append(f"<tr>{''.join(row)}</tr>")
            caption = f"<caption>{html.escape(t.title)}</caption>" if t.title else ""
            notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in t.notes)
            self._add(
                f'<div class="table-wrap"><table>{caption}<thead><tr>{head}</tr></thead>'
                f"<tbody>{''.join(body)}</tbody></table></div>{notes}"
            )

    def figure(self, fig, caption=""):
        """A matplotlib Figure as an inline PNG (``data:`` URI), with its caption."""
        png = figure_png(fig)
        data = base64.b64encode(png).decode("ascii")
        width, height = _png_size(png)
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        alt = html.escape(caption or "figure", quote=True)
        self._add(
            f'<figure><img src="data:image/png;base64,{data}" width="{width}" '
            f'height="{height}" alt="{alt}"/>{cap}</figure>'
        )

    def _contents(self):
        items = []
        for s in self.sections:
            subs = "".join(
                f'<li><a href="#{a}">{html.escape(t)}</a></li>' for a, t in s["subsections"]
            )
            items.append(
                f'<li><a href="#{s["id"]}">{html.escape(s["title"])}</a>'
                + (f"<ol>{subs}</ol>" if subs else "")
                + "</li>"
            )
        return (
            '<nav id="contents" aria-label="Contents"><h2>Contents</h2>'
            f"<ol>{''.join(items)}</ol></nav>"
        )

    def html(self):
        title = html.escape(self.title)
        sections = "\n".join(
            f'<section id="{s["id"]}"><h2>{html.escape(s["title"])}</h2>\n'
            + "\n".join(s["parts"])
            + '\n<p class="top"><a href="#contents">Back to contents</a></p></section>'
            for s in self.sections
        )
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{title}</title><style>{STYLE}</style></head>\n<body><div class="page">'
            f"{self._contents()}\n<main><header><h1>{title}</h1>{''.join(self.intro)}</header>"
            f"\n{sections}\n</main></div></body></html>\n"
        )

    def save(self, path):
        return write_text(path, self.html())
