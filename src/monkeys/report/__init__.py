"""Plots, terminal tables and HTML reports rendered from the store alone (never calls a sampler).

`report_runs` is what `monkeys run` and `monkeys report` call.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["report_runs"]


def report_runs(run_dirs: list[Path], *, console: Console, html_path: Path | None = None,
                pricing: Path | None = None) -> None:
    """Print a summary of each run (and a comparison), write coverage.png/.svg into each run dir, and with
    `html_path` one self-contained HTML report. Raises `StoreError` / `DataError` naming the bad input.
    """
    from monkeys.report.analyze import analyze_run
    from monkeys.report.data import load_run
    from monkeys.report.plots import coverage_figure, save
    from monkeys.report.terminal import print_summary

    analyses = [analyze_run(load_run(Path(d))) for d in run_dirs]
    print_summary(analyses, console)
    for a in analyses:
        if a.ks:
            save(coverage_figure([a], title=f"{a.run.name}: coverage vs k"), a.run.run_dir / "coverage.png")
