"""`monkeys export` / `monkeys import`: move samples and verdicts between run stores and files.

Mounted by `data_cmd.register(app)` in `cli/__init__.py`. Import validates the whole input before writing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


@contextmanager
def _progress(console: Console, what: str) -> Iterator[Callable[[int, int | None], None]]:
    """A rich progress bar fed by the library's `progress(done, total)` callbacks."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(what, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export(
        run_dir: Annotated[Path, typer.Argument(help="Run directory to export.")],
        out: Annotated[Path, typer.Argument(help="Output file: .parquet or .jsonl.")],
        format: Annotated[str | None, typer.Option("--format", help="parquet or jsonl (default: from OUT).")] = None,
        verifier: Annotated[str | None, typer.Option(help="Verdicts of this verifier (default: the run's).")] = None,
    ) -> None:
        """Write every sample with its verdict to Parquet or JSONL (one row per sample)."""
        from monkeys.store.export import export_run

        console = Console(stderr=True)
        with _progress(console, "exporting") as progress:
            rows = export_run(run_dir, out, format, verifier=verifier, progress=progress)
        console.print(f"exported {rows:,} samples to {out}", markup=False)

    @app.command("import")
    def import_(
        source: Annotated[Path, typer.Argument(help="Table (.parquet/.csv/.jsonl[.gz]) or a dir of llmonk YAML.")],
        run_dir: Annotated[Path, typer.Argument(help="New run directory to create.")],
        model: Annotated[str | None, typer.Option(help="Model name when the input has no model column.")] = None,
        verifier: Annotated[str, typer.Option(help="Verifier name to store the verdicts under.")] = "imported",
    ) -> None:
        """Import correctness results (problem_id, sample_index, correct, ...) into a new run store."""
        from monkeys.store.importer import import_results

        console = Console(stderr=True)
        with _progress(console, "importing") as progress:
            s = import_results(source, run_dir, model=model, verifier=verifier, progress=progress)
        console.print(f"imported {s.samples:,} samples of {s.problems:,} problems ({s.passes:,} correct)"
                      f" into {run_dir}; next: monkeys report {run_dir}", markup=False)
