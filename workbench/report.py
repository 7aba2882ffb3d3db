"""Text tables, saved results and the self-contained HTML report."""

import base64
import html
from pathlib import Path

import numpy as np

from workbench.output import figure_png, save_figure, write_json, write_netcdf, write_text

__all__ = ["HtmlReport", "format_table", "save_result"]

COLUMNS = ("map", "ml", "cm", "cm_ml")


def _cell(result, method, name, index):
    """A point estimate's table cell: its value, or why there is none (no MAP)."""
    value = result.point.get(method, {}).get(name)
    if value is None:
        return None
    value = float(np.asarray(value)[index])
    if np.isnan(value) and result.method_diagnostics.get(method, {}).get("exists") is False:
        return f"no {method.upper()}"
    return value


def _fmt(value, width=10):
    if isinstance(value, str):
        return value.rjust(width)
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-".rjust(width)
    return f"{value:>{width}.4g}"


def _rows(result, name, max_components):
    cm = result.point.get("cm", {}).get(name)
    ref = next(v for m in COLUMNS if (v := result.point.get(m, {}).get(name)) is not None)
    shape = np.shape(ref)
    if shape == ():
        labels, indices = [name], [()]
    else:
        indices = list(np.ndindex(shape))
        labels = [f"{name}[{','.join(map(str, i))}]" for i in indices]
    rows = []
    for label, index in list(zip(labels, indices, strict=True))[:max_components]:
        cells = [_cell(result, method, name, index) for method in COLUMNS]
        extra = [None] * 4
        if cm is not None:
            lo, hi = result.hdi[name]
            extra = [
                float(np.asarray(result.sd[name])[index]),
                float(np.asarray(result.mcse[name])[index]),
                float(np.asarray(lo)[index]),
                float(np.asarray(hi)[index]),
            ]
        rows.append((label, cells, extra))
    hidden = len(labels) - len(rows)
    return rows, hidden


def format_table(result, max_components=12):
    """Human-readable table of a :class:`~workbench.bayes.EstimateResult`."""
    pct = f"{100 * result.hdi_prob:g}%"
    head = (
        f"{'parameter':<16}"
        + "".join(c.upper().replace("_", "-").rjust(10) for c in COLUMNS)
        + f"{'sd':>10}{'mcse':>10}   {pct + ' HDI':<22}"
    )
    lines = [f"model: {result.model_name}", head, "-" * len(head)]
    if not any(m in result.point for m in COLUMNS):  # approximations only
        lines = [f"model: {result.model_name}"]
    for name in result.var_names if len(lines) > 1 else ():
        rows, hidden = _rows(result, name, max_components)
        for label, cells, (sd, mcse, lo, hi) in rows:
            hdi = "" if lo is None else f"[{lo:.4g}, {hi:.4g}]"
            lines.append(
                f"{label:<16}"
                + "".join(_fmt(c) for c in cells)
                + _fmt(sd)
                + _fmt(mcse)
                + f"   {hdi}"
            )
        if hidden:
            lines.append(f"{'':<16}... {hidden} more components (see --json or --out)")
    diag = result.diagnostics
    if diag:  # the diagnose() report of the CM draws; one chain or constant draws give None

        def number(key, fmt):
            return "-" if diag.get(key) is None else format(diag[key], fmt)

        verdict = "converged" if diag["converged"] else "NOT converged"
        lines.append(
            f"NUTS: {verdict} (R-hat max {number('r_hat_max', '.4f')}, bulk ESS min "
            f"{number('ess_bulk_min', '.0f')}, tail ESS min {number('ess_tail_min', '.0f')}, "
            f"divergences {number('divergences', 'd')})"
        )
    lines += _approximation_lines(result, max_components)
    lines += [f"warning: {w}" for w in result.warnings]
    return "\n".join(lines)


def _approximation_lines(result, max_components):
    """The approximations' mean, sd and interval beside NUTS's, then each one's k-hat."""
    if not result.approximations:
        return []
    pct = f"{100 * result.hdi_prob:g}%"
    head = f"{'parameter':<16}{'method':<16}{'mean':>10}{'sd':>10}   {pct + ' interval (HDI)'}"
    lines = ["", "approximations (Gaussian on the unconstrained scale, draws mapped back):"]
    lines += [head, "-" * len(head)]
    for name in result.var_names:
        shape = np.shape(next(iter(result.approx_sd.values()))[name])
        indices = list(np.ndindex(shape))[:max_components]
        for index in indices:
            label = name if shape == () else f"{name}[{','.join(map(str, index))}]"
            rows = [(m, result.point[m][name], result.approx_sd[m][name],
                     result.approx_interval[m][name]) for m in result.approximations]  # fmt: skip
            if "cm" in result.point and result.sd:
                rows.append(("NUTS", result.point["cm"][name], result.sd[name], result.hdi[name]))
            for method, mean, sd, (lo, hi) in rows:
                lo, hi = float(np.asarray(lo)[index]), float(np.asarray(hi)[index])
                lines.append(
                    f"{label:<16}{method:<16}{_fmt(float(np.asarray(mean)[index]))}"
                    f"{_fmt(float(np.asarray(sd)[index]))}   [{lo:.4g}, {hi:.4g}]"
                )
    for method, fit in result.approximations.items():
        khat = "-" if fit.khat == -np.inf else f"{fit.khat:.2f}"
        lines.append(f"k-hat {method}: {khat}: {result.method_diagnostics[method]['verdict']}")
    return lines


def save_result(result, out_dir):
    """Write estimates.json, estimates.png, posterior.nc (+ flat_posterior.nc) atomically."""
    out = Path(out_dir)
    paths = {"json": write_json(out / "estimates.json", result.to_dict())}
    paths["figure"] = save_figure(result.plot(), out / "estimates.png")
    for key, tree in (("posterior", result.posterior), ("flat_posterior", result.flat_posterior)):
        if tree is not None:
            paths[key] = write_netcdf(tree, out / f"{key}.nc")
    return {k: str(v) for k, v in paths.items()}


class HtmlReport:
    """A self-contained HTML page: headings, paragraphs, preformatted tables, inline figures."""

    def __init__(self, title):
        self.title, self.parts = title, []

    def heading(self, text, level=2):
        self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def paragraph(self, text):
        self.parts.append(f"<p>{html.escape(text)}</p>")

    def pre(self, text):
        self.parts.append(f"<pre>{html.escape(text)}</pre>")

    def figure(self, fig, caption=""):
        data = base64.b64encode(figure_png(fig)).decode("ascii")
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self.parts.append(f'<figure><img src="data:image/png;base64,{data}"/>{cap}</figure>')

    def html(self):
        style = (
            "body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;"
            "padding:0 1em;color:#222}pre{background:#f6f6f6;padding:.8em;overflow-x:auto;"
            "font-size:12px}img{max-width:100%}figcaption{color:#555;font-size:13px}"
        )
        body = "\n".join(self.parts)
        return (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}"
            f"</title><style>{style}</style></head><body><h1>{html.escape(self.title)}</h1>"
            f"\n{body}\n</body></html>\n"
        )

    def save(self, path):
        return write_text(path, self.html())
