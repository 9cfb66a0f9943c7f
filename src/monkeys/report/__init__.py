"""Plots, terminal tables and HTML reports rendered from the store alone (never calls a sampler).

`report_runs` is what `monkeys run` and `monkeys report` call; the other modules are its parts:
`data` reads a run, `analyze` computes (and gives the JSON/CSV forms), `terminal`, `plots` and `html` render.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

from monkeys._terminal import cell

if TYPE_CHECKING:
    from rich.console import Console

    from monkeys.report.analyze import RunAnalysis, RunsComparison
    from monkeys.report.data import RunData

__all__ = ["report_runs"]

Format = Literal["table", "json", "csv"]


def report_runs(run_dirs: list[Path], *, console: Console, html_path: Path | None = None,
                pricing: Path | None = None, ks: list[int] | None = None, fmt: Format = "table",
                verifier: str | None = None, out: TextIO | None = None, csv_dir: Path | None = None,
                timings: dict[str, float] | None = None) -> None:
    """Report runs: `fmt="table"` prints a summary of each run (and a ranked comparison) on `console` and
    writes coverage/heatmap/selection .png/.svg into each run dir; "json" writes one document to `out`
    (default stdout), "csv" one CSV per table to `out` (each after a `# table: NAME` line, blank line
    between) or, with `csv_dir`, to `csv_dir/NAME.csv`; json/csv draw figures only for `html_path`, and
    `console` then only carries status. `ks` replaces the default k = 1, 2, 4, …; `verifier` reports another
    verifier's verdicts stored in the runs. `pricing` (JSON/YAML) gives dollars per million tokens and may
    override a model's shape for FLOPs. `timings`, when given, receives seconds per stage. Raises
    `StoreError` / `DataError` naming the bad input.
    """
    from monkeys.analysis.cost import load_cost_file
    from monkeys.report.analyze import analyze_run, compare_runs
    from monkeys.report.terminal import print_summary

    clock = _Clock(timings)
    prices, specs = load_cost_file(pricing) if pricing is not None else (None, None)
    with console.status("reading run stores…"):
        runs = [_load(Path(d), verifier) for d in run_dirs]
    _unique_names(runs)
    clock.lap("load")
    with console.status("computing coverage, bands and fits…"):
        analyses = [analyze_run(r, ks=ks, prices=prices, specs=specs) for r in runs]
        comparison = compare_runs(analyses, ks=ks)
    clock.lap("analyse")
    if fmt == "json":
        _write_json(analyses, comparison, out or sys.stdout)
    elif fmt == "csv":
        _write_csv(analyses, comparison, out or sys.stdout, csv_dir)
        if csv_dir is not None:
            console.print(cell(f"CSV tables: {csv_dir}/*.csv"))
    else:
        print_summary(analyses, console, comparison)
    clock.lap("print")
    unwritable: list[str] = []
    figures: dict[str, list[tuple[str, bytes]]] = {}
    with console.status("drawing figures…"):
        if fmt == "table" or html_path is not None:
            figures = _run_figures(analyses, save_into_runs=fmt == "table", unwritable=unwritable)
        clock.lap("figures")
        if html_path is not None:
            _write_html(Path(html_path), analyses, comparison, figures)
            clock.lap("html")
    if html_path is not None:
        console.print(cell(f"HTML report: {html_path}"))
    for where in unwritable:
        console.print(cell(f"note: figures not written into {where}; use --html FILE to have them elsewhere"))


class _Clock:
    """Wall and CPU seconds per stage ("load", "load cpu", ...) into `sink`, for benchmarks."""

    def __init__(self, sink: dict[str, float] | None) -> None:
        self.sink, self.t, self.cpu = sink, time.perf_counter(), time.process_time()

    def lap(self, stage: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        if self.sink is not None:
            self.sink[stage] = self.sink.get(stage, 0.0) + now - self.t
            self.sink[f"{stage} cpu"] = self.sink.get(f"{stage} cpu", 0.0) + cpu - self.cpu
        self.t, self.cpu = now, cpu


def _load(run_dir: Path, verifier: str | None) -> RunData:
    from monkeys.errors import DataError
    from monkeys.report.data import load_run

    run = load_run(run_dir, verifier=verifier)
    if verifier is not None and verifier not in run.verifiers:
        stored = ", ".join(run.verifiers) or "none"
        raise DataError(f"{run_dir}: no verdicts by verifier {verifier!r} (stored: {stored})")
    return run


def _unique_names(runs: list[RunData]) -> None:
    """Two run dirs with the same last component get their full paths as names."""
    seen: dict[str, int] = {}
    for r in runs:
        seen[r.name] = seen.get(r.name, 0) + 1
    for r in runs:
        if seen[r.name] > 1:
            r.name = str(r.run_dir)


def _run_figures(analyses: list[RunAnalysis], *, save_into_runs: bool,
                 unwritable: list[str]) -> dict[str, list[tuple[str, bytes]]]:
    """Each run's figures, drawn and rendered to PNG once for both its run dir (PNG + SVG, with
    `save_into_runs`) and the HTML page; a run dir that cannot be written is listed in `unwritable`."""
    from monkeys.report import plots

    out: dict[str, list[tuple[str, bytes]]] = {}
    for a in analyses:
        if not (a.ks or a.grid_ks):
            continue
        what = "resolved rate vs attempts (coverage vs k)" if a.run.swe is not None else "coverage vs k"
        drawn = [("coverage", plots.coverage_figure([a], title=f"{a.run.name}: {what}")),
                 ("heatmap", plots.heatmap_figure(a)), ("selection", plots.selection_figure(a))]
        pngs = out[a.run.name] = []
        writable = save_into_runs
        for name, fig in drawn:
            if fig is None:
                continue
            png = plots.png_bytes(fig)
            pngs.append((name, png))
            if writable:
                try:
                    plots.save(fig, a.run.run_dir / f"{name}.png", png=png)
                except OSError as exc:  # an archived, read-only run: the report needs no file there
                    unwritable.append(f"{a.run.run_dir} ({exc.strerror or exc})")
                    writable = False
    return out


def _write_json(analyses: list[RunAnalysis], comparison: RunsComparison, out: TextIO) -> None:
    from monkeys.report.analyze import report_document

    json.dump(report_document(analyses, comparison), out, indent=2, ensure_ascii=False)
    out.write("\n")
    out.flush()


def _csv_text(columns: list[str], rows: list[list[object]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return buf.getvalue()


def _write_csv(analyses: list[RunAnalysis], comparison: RunsComparison, out: TextIO, csv_dir: Path | None) -> None:
    from monkeys._userfiles import write_output
    from monkeys.errors import DataError
    from monkeys.report.analyze import report_tables

    tables = report_tables(analyses, comparison)
    if csv_dir is not None:
        for name, (columns, rows) in tables.items():
            text = _csv_text(columns, rows)  # each file whole or not at all, 0600; a bad path is one line

            def fill(tmp: Path, text: str = text) -> None:
                tmp.write_text(text, encoding="utf-8")

            write_output(Path(csv_dir) / f"{name}.csv", f"the {name} table", DataError, fill)
        return
    blocks = [f"# table: {name}\n{_csv_text(columns, rows)}" for name, (columns, rows) in tables.items()]
    out.write("\n".join(blocks))
    out.flush()


def _write_html(path: Path, analyses: list[RunAnalysis], comparison: RunsComparison,
                run_figures: dict[str, list[tuple[str, bytes]]]) -> None:
    from monkeys.report import plots
    from monkeys.report.html import figure_tag, render_html, write_html

    captions = {"selection": "selection methods vs coverage", "heatmap": "per-problem pass@k (solved/unsolved)"}
    overview = [figure_tag(plots.coverage_figure(analyses, title="coverage vs samples per problem"),
                           "coverage vs k (log x) with 95% bootstrap bands (problems and samples) and fits")]
    for unit, caption in (("flops", "coverage vs total inference FLOPs"), ("usd", "coverage vs total cost")):
        fig = plots.cost_figure(analyses, unit)
        if fig is not None:
            overview.append(figure_tag(fig, caption))
    figures = {"overview": overview}
    for a in analyses:
        drawn = dict(run_figures.get(a.run.name, []))
        figures[a.run.name] = [figure_tag(drawn[name], caption) for name, caption in captions.items()
                               if name in drawn]
    write_html(path, render_html(analyses, comparison, figures))
