"""report_runs end to end on real run stores: terminal table, coverage.png/.svg, HTML."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from monkeys.report import report_runs


def test_report_writes_coverage_png_and_table(make_run) -> None:
    run = make_run("run-a", [0.0, 0.01, 0.2, 0.9], n=64)
    console = Console(record=True, width=120)
    report_runs([run], console=console)
    text = console.export_text()
    assert "coverage" in text and "64" in text
    assert (run / "coverage.png").stat().st_size > 1000
    assert (run / "coverage.svg").exists()


def test_report_of_empty_run_says_so(make_run, tmp_path: Path) -> None:
    run = make_run("empty", [], n=0)
    console = Console(record=True, width=120)
    report_runs([run], console=console)
    assert "no verified samples" in console.export_text()
