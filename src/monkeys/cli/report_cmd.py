"""`monkeys report`: re-render coverage tables, plots and HTML from run stores alone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def register(app: typer.Typer) -> None:
    @app.command()
    def report(
        run_dirs: Annotated[list[Path], typer.Argument(help="One or more run directories to report/compare.")],
        html: Annotated[Path | None, typer.Option(help="Write a self-contained HTML report here.")] = None,
        pricing: Annotated[Path | None, typer.Option(help="Pricing file (USD per million tokens).")] = None,
    ) -> None:
        """Coverage vs k (pass@k) of stored runs, as a table and plots; never calls a model."""
        from monkeys.report import report_runs
        from monkeys.store import open_readonly

        for run_dir in run_dirs:  # one clear line for any that is not a run, before anything is drawn
            open_readonly(run_dir).close()
        report_runs(list(run_dirs), console=Console(), html_path=html, pricing=pricing)
