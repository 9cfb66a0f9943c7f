"""One self-contained HTML file for one or many runs: tables, notes and figures embedded as base64 PNG.

No scripts, no external assets: the file opens offline and can be mailed or attached to an issue.
"""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from monkeys.report.analyze import RunAnalysis, RunsComparison
from monkeys.store import private_file

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .7em;border-bottom:1px solid #eee;
text-align:right}th{background:#f5f5f5}figure{margin:1em 0}img{max-width:100%;border:1px solid #eee}
pre{background:#f7f7f7;padding:.7em;overflow:auto;font-size:.85em}.note{color:#444;margin:.2em 0}
"""


def figure_tag(fig: Figure, caption: str) -> str:
    """`<figure>` holding `fig` as an embedded PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f'<figure><img alt="{escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _coverage_table(a: RunAnalysis) -> str:
    rows = []
    for i, k in enumerate(a.ks):
        ci = f"{a.band.lo[i]:.3f} – {a.band.hi[i]:.3f}" if a.band is not None else ""
        fit = f"{float(a.fit.predict(k)):.3f}" if a.fit is not None else ""
        rows.append(f"<tr><td>{k}</td><td>{a.coverage[i]:.3f}</td><td>{ci}</td><td>{fit}</td></tr>")
    return ("<table><tr><th>k</th><th>coverage</th><th>95% CI</th><th>fit</th></tr>"
            + "".join(rows) + "</table>")


def _json_block(title: str, value: object) -> str:
    if value in (None, {}, []):
        return f"<p class=note>{escape(title)}: not recorded</p>"
    return f"<h3>{escape(title)}</h3><pre>{escape(json.dumps(value, indent=2, sort_keys=True, default=str))}</pre>"


def render_html(analyses: list[RunAnalysis], comparison: RunsComparison, figures: dict[str, list[str]]) -> str:
    """The whole page; `figures` maps a section ("overview" or a run name) to ready `<figure>` tags."""
    names = ", ".join(a.run.name for a in analyses)
    head = (f"<!doctype html><html><head><meta charset=utf-8><title>monkeys report: {escape(names)}</title>"
            f"<style>{_CSS}</style></head><body>")
    parts = [head,
             f"<h1>monkeys report: {escape(names)}</h1>",
             f"<p class=note>generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the run stores alone</p>"]
    parts.append("<table><tr><th>run</th><th>model</th><th>problems</th><th>samples</th><th>max k</th>"
                 "<th>coverage@max k</th><th>FLOPs</th><th>cost</th></tr>")
    for a in analyses:
        cov = f"{a.coverage[-1]:.3f}" if a.ks else "-"
        parts.append(f"<tr><td>{escape(a.run.name)}</td><td>{escape(a.run.model)}</td>"
                     f"<td>{len(a.run.problem_ids)}</td><td>{a.run.n_samples:,}</td>"
                     f"<td>{a.ks[-1] if a.ks else '-'}</td><td>{cov}</td><td>{escape(a.cost_text('flops'))}</td>"
                     f"<td>{escape(a.cost_text('usd'))}</td></tr>")
    parts.append("</table>")
    parts += [f"<p class=note>{escape(line)}</p>" for line in comparison.lines]
    parts += figures.get("overview", [])
    for a in analyses:
        verifier = escape(a.run.verifier or "?")
        parts.append(f"<h2>{escape(a.run.name)} · {escape(a.run.model)} · verifier {verifier}</h2>")
        parts.append(f"<p class=note>{escape(str(a.run.run_dir))}</p>")
        if not a.ks:
            parts.append("<p>no verified samples yet</p>")
        else:
            parts.append(_coverage_table(a))
        parts += [f"<p class=note>{escape(line)}</p>" for line in a.notes()]
        parts += figures.get(a.run.name, [])
        parts.append(_json_block("config", a.run.config))
        parts.append(_json_block("protections", a.run.protections))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(path: Path, html: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    private_file(path).write_text(html, encoding="utf-8")  # 0600: it quotes samples and the config
    return path
