"""One self-contained HTML file for one or many runs: tables, notes and figures embedded as base64 PNG.

No scripts, no external assets: the file opens offline and can be mailed or attached to an issue.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from monkeys._userfiles import write_output
from monkeys.errors import DataError
from monkeys.report.analyze import RunAnalysis, RunsComparison, pct
from monkeys.report.swe import html as swe_html

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .7em;border-bottom:1px solid #eee;
text-align:right}th{background:#f5f5f5}figure{margin:1em 0}img{max-width:100%;border:1px solid #eee}
pre{background:#f7f7f7;padding:.7em;overflow:auto;font-size:.85em}.note{color:#444;margin:.2em 0}
"""


def figure_tag(fig: Figure | bytes, caption: str) -> str:
    """`<figure>` holding `fig` (or its PNG bytes) as an embedded PNG."""
    if not isinstance(fig, bytes):
        from monkeys.report.plots import png_bytes

        fig = png_bytes(fig)
    data = base64.b64encode(fig).decode("ascii")
    return (f'<figure><img alt="{escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _coverage_table(a: RunAnalysis) -> str:
    rows = [(k, i) for i, k in enumerate(a.ks)] + [(k, None) for k in a.missing_ks]
    out = []
    for k, i in sorted(rows, key=lambda r: r[0]):
        if i is None:
            out.append(f"<tr><td>{k}</td><td>–</td><td>beyond samples</td><td></td></tr>")
            continue
        ci = f"{pct(a.band.lo[i])} – {pct(a.band.hi[i])}" if a.band is not None else ""
        fit = pct(float(a.fit.predict(k))) if a.fit is not None else ""
        out.append(f"<tr><td>{k}</td><td>{pct(a.coverage[i])}</td><td>{ci}</td><td>{fit}</td></tr>")
    return ("<table><tr><th>k</th><th>coverage</th><th>95% CI</th><th>fit</th></tr>"
            + "".join(out) + "</table>")


def _selection_table(a: RunAnalysis) -> str:
    from monkeys.report.terminal import selection_ks

    if not a.run.selection:
        return ""
    methods = sorted(a.run.selection)
    ks = selection_ks(a)
    usable = [k for k in ks if k <= a.n_min]
    cov = dict(zip(usable, a.problem_coverage(usable).mean(axis=0).tolist(), strict=True))
    head = "".join(f"<th>{escape(m)}</th>" for m in methods)
    rows = "".join(f"<tr><td>{k}</td>" + "".join(f"<td>{pct(a.run.selection[m].get(k))}</td>" for m in methods)
                   + f"<td>{pct(cov.get(k))}</td></tr>" for k in ks)
    return (f"<h3>selection: success rate of one chosen answer</h3><table><tr><th>k</th>{head}"
            f"<th>coverage (oracle)</th></tr>{rows}</table>")


def _matrix_table(comparison: RunsComparison) -> str:
    ks = comparison.matrix_ks
    head = ("<tr><th>#</th><th>run</th><th>model</th><th>problems</th><th>samples</th><th>max k</th>"
            "<th>coverage@max k</th>" + "".join(f"<th>k={k:,}</th>" for k in ks) + "<th>FLOPs</th><th>cost</th></tr>")
    rows = []
    for i, r in enumerate(comparison.matrix, 1):
        flops = "-" if r["flops"] is None else f"{r['flops']:.3g}"
        usd = "-" if r["usd"] is None else f"${r['usd']:,.2f}"
        rows.append(f"<tr><td>{i}</td><td>{escape(r['run'])}</td><td>{escape(r['model'])}</td><td>{r['problems']}</td>"
                    f"<td>{r['samples']:,}</td><td>{r['max_k'] or '-'}</td>"
                    f"<td>{pct(r['coverage_at_max_k']) if r['max_k'] else '-'}</td>"
                    + "".join(f"<td>{pct(r['coverage'][k])}</td>" for k in ks)
                    + f"<td>{escape(flops)}</td><td>{escape(usd)}</td></tr>")
    return "<table>" + head + "".join(rows) + "</table>"


def _json_block(title: str, value: object) -> str:
    if value in (None, {}, []):
        return f"<p class=note>{escape(title)}: not recorded</p>"
    return f"<h3>{escape(title)}</h3><pre>{escape(json.dumps(value, indent=2, sort_keys=True, default=str))}</pre>"


def render_html(analyses: list[RunAnalysis], comparison: RunsComparison, figures: dict[str, list[str]]) -> str:
    """The whole page; `figures` maps a section ("overview" or a run name) to ready `<figure>` tags."""
    from monkeys.report.terminal import run_title

    names = ", ".join(a.run.name for a in analyses)
    head = (f"<!doctype html><html><head><meta charset=utf-8><title>monkeys report: {escape(names)}</title>"
            f"<style>{_CSS}</style></head><body>")
    parts = [head,
             f"<h1>monkeys report: {escape(names)}</h1>",
             f"<p class=note>generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the run stores alone</p>"]
    parts.append(_matrix_table(comparison))
    parts += [f"<p class=note>{escape(line)}</p>" for line in comparison.lines]
    parts += figures.get("overview", [])
    for a in analyses:
        parts.append(f"<h2>{escape(run_title(a))}</h2>")
        parts.append(f"<p class=note>{escape(str(a.run.run_dir))}</p>")
        if not a.ks and not a.missing_ks:
            parts.append("<p>no verified samples yet</p>")
        else:
            parts.append(_coverage_table(a))
        parts += [f"<p class=note>{escape(line)}</p>" for line in a.notes()]
        parts.append(_selection_table(a))
        parts.append(swe_html(a))
        parts += figures.get(a.run.name, [])
        parts.append(_json_block("config", a.run.config))
        parts.append(_json_block("protections", a.run.protections))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(path: Path, html: str) -> Path:
    """Write the page whole or not at all, 0600 (it quotes samples and the config); a path that cannot take
    it (a directory, a run store, a full disk) is one `DataError` line (`_userfiles.write_output`)."""
    write_output(path, "the HTML report", DataError, lambda tmp: tmp.write_text(html, encoding="utf-8"))
    return Path(path)
