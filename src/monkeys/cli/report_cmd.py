"""`monkeys report`: re-render coverage tables, plots and HTML from run stores alone."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from monkeys._userfiles import check_output
from monkeys.errors import ConfigError


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


MAX_K = 10**12  # samples per problem: far beyond any run, and within the int64 arithmetic of the analysis


def parse_ks(text: str | None) -> list[int] | None:
    """'1,10,100,1e4' → [1, 10, 100, 10000]; None for None; BadParameter for anything but positive integers."""
    if text is None or not text.strip():
        return None
    ks = []
    for part in text.replace(" ", "").split(","):
        try:
            value = float(part.replace("_", ""))
        except ValueError:
            raise typer.BadParameter(f"{part!r} is not a number (expected e.g. 1,10,100,1000)",
                                     param_hint="--k") from None
        if not 1 <= value <= MAX_K or value != int(value):  # also NaN and inf
            raise typer.BadParameter(f"k must be a positive integer up to {MAX_K:.0e}, got {part!r}",
                                     param_hint="--k")
        ks.append(int(value))
    return sorted(set(ks))


def check_out_dir(out_dir: Path) -> None:
    """`--out-dir` can take the CSV tables: a directory (made if missing), not a file or under one."""
    target = Path(os.path.realpath(out_dir))
    if target.exists() and not target.is_dir():
        raise ConfigError(f"--out-dir {out_dir}: is a file; expected a directory for the CSV tables")
    parent = target
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"--out-dir {out_dir}: cannot make it: {parent} is a file, not a directory")


_FORMAT_HELP = (
    "table: rich tables and figures. json: one document on stdout (every table and number: coverage as a "
    "fraction with its interval, fits with their k grid or why there is none, cost, selection, time-outs, "
    "ranking, comparisons). csv: one CSV per table (coverage, power_law_fit, beta_fit, selection, timeouts, "
    "flagged, ranking, pairs, cheapest) on stdout, each after a '# table: NAME' line with a blank line "
    "between, or one file per table with --out-dir. json and csv print nothing else on stdout (status goes "
    "to stderr) and draw figures only for --html.")


def register(app: typer.Typer) -> None:
    @app.command()
    def report(
        run_dirs: Annotated[list[Path], typer.Argument(help="One or more run directories to report/compare.")],
        k: Annotated[str | None, typer.Option(
            "--k", help="Comma-separated ks to show, e.g. 1,10,100,1000,10000 (default 1, 2, 4, …, n). A k "
                        "beyond a run's samples is listed as such, never extrapolated.")] = None,
        fmt: Annotated[ReportFormat, typer.Option("--format", help=_FORMAT_HELP)] = ReportFormat.table,
        out_dir: Annotated[Path | None, typer.Option(
            help="With --format csv: write NAME.csv per table into this directory instead of stdout.")] = None,
        verifier: Annotated[str | None, typer.Option(
            help="Report this verifier's verdicts stored in the runs (default: the run's own verifier).")] = None,
        html: Annotated[Path | None, typer.Option(help="Write a self-contained HTML report here.")] = None,
        pricing: Annotated[Path | None, typer.Option(help="Pricing file (USD per million tokens).")] = None,
    ) -> None:
        """Coverage vs k (pass@k) of stored runs, as tables (or JSON/CSV) and plots; never calls a model."""
        from monkeys.report import report_runs
        from monkeys.store import open_readonly

        ks = parse_ks(k)
        if out_dir is not None and fmt is not ReportFormat.csv:
            raise typer.BadParameter("--out-dir goes with --format csv", param_hint="--out-dir")
        if html is not None:  # a directory, a device, a run store: refused before anything is read or drawn
            check_output(html, "the HTML report", ConfigError, "--html")
        if out_dir is not None:
            check_out_dir(out_dir)
        for run_dir in run_dirs:  # one clear line for any that is not a run, before anything is drawn
            open_readonly(run_dir).close()
        console = Console(stderr=fmt is not ReportFormat.table)
        report_runs(list(run_dirs), console=console, html_path=html, pricing=pricing, ks=ks, fmt=fmt.value,
                    verifier=verifier, csv_dir=out_dir)
