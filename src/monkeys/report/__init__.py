"""Plots, terminal tables and HTML reports rendered from the store alone (never calls a sampler).

`report_runs` is what `monkeys run` and `monkeys report` call; the other modules are its parts:
`data` reads a run, `analyze` computes, `terminal`, `plots` and `html` render.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from monkeys.report.analyze import RunAnalysis, RunsComparison
    from monkeys.report.data import RunData

__all__ = ["report_runs"]


def report_runs(run_dirs: list[Path], *, console: Console, html_path: Path | None = None,
                pricing: Path | None = None) -> None:
    """Print a summary of each run (and a comparison), write coverage.png/.svg into each run dir, and with
    `html_path` one self-contained HTML report. `pricing` (JSON/YAML) gives dollars per million tokens and
    may override a model's shape for FLOPs (`analysis.cost.load_cost_file`). Raises `StoreError` /
    `DataError` naming the bad input.
    """
    from monkeys.analysis.cost import load_cost_file
    from monkeys.report import plots
    from monkeys.report.analyze import analyze_run, compare_runs
    from monkeys.report.data import load_run
    from monkeys.report.terminal import print_summary

    prices, specs = load_cost_file(pricing) if pricing is not None else (None, None)
    runs = []
    with console.status("reading run stores…"):
        for d in run_dirs:
            runs.append(load_run(Path(d)))
    _unique_names(runs)
    with console.status("computing coverage, bands and fits…"):
        analyses = [analyze_run(r, prices=prices, specs=specs) for r in runs]
        comparison = compare_runs(analyses)
    print_summary(analyses, console, comparison)
    unwritable: list[str] = []
    with console.status("drawing figures…"):
        for a in analyses:
            if a.ks:
                figures = [("coverage", plots.coverage_figure([a], title=f"{a.run.name}: coverage vs k")),
                           ("heatmap", plots.heatmap_figure(a)), ("selection", plots.selection_figure(a))]
                for name, fig in figures:
                    if fig is None:
                        continue
                    try:
                        plots.save(fig, a.run.run_dir / f"{name}.png")
                    except OSError as exc:  # an archived, read-only run: the report needs no file there
                        unwritable.append(f"{a.run.run_dir} ({exc.strerror or exc})")
                        break
        if html_path is not None:
            _write_html(Path(html_path), analyses, comparison)
    if html_path is not None:
        console.print(f"HTML report: {html_path}")
    for where in unwritable:
        console.print(f"note: figures not written into {where}; use --html FILE to have them elsewhere")


def _unique_names(runs: list[RunData]) -> None:
    """Two run dirs with the same last component get their full paths as names."""
    seen: dict[str, int] = {}
    for r in runs:
        seen[r.name] = seen.get(r.name, 0) + 1
    for r in runs:
        if seen[r.name] > 1:
            r.name = str(r.run_dir)


def _write_html(path: Path, analyses: list[RunAnalysis], comparison: RunsComparison) -> None:
    from monkeys.report import plots
    from monkeys.report.html import figure_tag, render_html, write_html

    overview = [figure_tag(plots.coverage_figure(analyses, title="coverage vs samples per problem"),
                           "coverage vs k (log x) with 95% bootstrap bands (problems and samples) and fits")]
    for unit, caption in (("flops", "coverage vs total inference FLOPs"), ("usd", "coverage vs total cost")):
        fig = plots.cost_figure(analyses, unit)
        if fig is not None:
            overview.append(figure_tag(fig, caption))
    figures = {"overview": overview}
    for a in analyses:
        tags = []
        for fig, caption in ((plots.selection_figure(a), "selection methods vs coverage"),
                             (plots.heatmap_figure(a), "per-problem pass@k (solved/unsolved)")):
            if fig is not None:
                tags.append(figure_tag(fig, caption))
        figures[a.run.name] = tags
    write_html(path, render_html(analyses, comparison, figures))
