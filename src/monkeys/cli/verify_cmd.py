"""`monkeys verify`: verify samples made elsewhere (a file), or add a verifier's verdicts to a stored run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from monkeys.errors import ConfigError


def register(app: typer.Typer) -> None:
    @app.command()
    def verify(
        source: Annotated[Path, typer.Argument(
            help="Samples to verify (.jsonl/.parquet/.csv[.gz] with problem_id, sample_index, text; a directory"
                 " of large_language_monkeys .yaml; SWE-bench predictions), or a run directory to add verdicts"
                 " to.")],
        task: Annotated[str | None, typer.Option(help="Task the samples answer (see `monkeys tasks`).")] = None,
        data: Annotated[str | None, typer.Option(help="Local JSONL/Parquet file of the task.")] = None,
        task_option: Annotated[list[str] | None, typer.Option(
            help="Task option KEY=VALUE (repeatable), e.g. prompt_style=completion.")] = None,
        verifier: Annotated[str | None, typer.Option(
            help="Verifier; default: the task's own (a file) or the run's own (a run directory).")] = None,
        verifier_option: Annotated[list[str] | None, typer.Option(
            help="Verifier option KEY=VALUE (repeatable), e.g. timeout_s=10.")] = None,
        model: Annotated[str | None, typer.Option(help="Model name for samples without a model column.")] = None,
        out: Annotated[Path | None, typer.Option(help="New run directory for a samples file.")] = None,
        verify_workers: Annotated[int, typer.Option(min=1, max=256, help="Verifier threads.")] = 2,
        report: Annotated[bool, typer.Option(help="Print the coverage report at the end.")] = True,
        reverify: Annotated[bool, typer.Option(
            help="Run directory only: delete the verifier's stored verdicts and verify every sample again"
                 " (after an upgrade that changed the verifier's rules).")] = False,
    ) -> None:
        """Verify samples monkeys did not draw, or verify a stored run's samples with another verifier.

        A file: `monkeys verify SAMPLES --task humaneval --out RUN` checks every row against the task's
        problems (nothing is written if any row is bad), stores the samples and verifies each.
        A run directory: `monkeys verify RUN --verifier X` adds X's verdicts beside the run's own.
        Running the same command again resumes: only samples without a verdict are verified.
        `monkeys verify RUN --reverify` replaces the verdicts that an older revision of the verifier made.
        """
        from monkeys.cli.data_cmd import _progress
        from monkeys.cli.run_cmd import RichProgress, parse_options, refuse_secrets
        from monkeys.store import DB_NAME
        from monkeys.verify import import_file, verify_file, verify_run

        task_options = parse_options(task_option or [], "task_options")
        verifier_options = parse_options(verifier_option or [], "verifier_options")
        refuse_secrets({"task_options": task_options, "verifier_options": verifier_options})
        console = Console(stderr=True)
        is_run = source.is_dir() and (source / DB_NAME).exists()
        if is_run:
            for flag, value in (("--task", task), ("--data", data), ("--task-option", task_option),
                                ("--out", out), ("--model", model)):
                if value:
                    raise ConfigError(f"{flag}: {source} is a run directory, whose task and samples are stored;"
                                      f" {flag} applies to a samples file")
            run_dir = source
        else:
            if task is None:
                raise ConfigError(f"--task: required to verify the samples file {source} (which task's problems"
                                  " do they answer? see `monkeys tasks`)")
            if out is None:
                raise ConfigError(f"--out: required to verify the samples file {source} (a new run directory)")
            run_dir = out
            if reverify:
                raise ConfigError(f"--reverify: applies to a run directory (its stored verdicts are replaced);"
                                  f" {source} is a samples file")
        display = RichProgress(console, sampling=False)
        try:
            if is_run:
                console.print("[bold]monkeys verify[/] "
                              + escape(f"{run_dir} verifier={verifier or 'the run’s own'}"))
                summary = verify_run(run_dir, verifier=verifier,
                                     verifier_options=verifier_options if verifier_option else None,
                                     verify_workers=verify_workers, progress=display, reverify=reverify)
            else:
                settings = dict(task=task, out=run_dir, data=data, task_options=task_options, verifier=verifier,
                                verifier_options=verifier_options, model=model, verify_workers=verify_workers)
                with _progress(console, "importing") as on_import:
                    import_file(source, **settings, on_import=on_import)  # type: ignore[arg-type]
                console.print("[bold]monkeys verify[/] " + escape(f"{source} task={task} -> {run_dir}"))
                summary = verify_file(source, **settings, progress=display)  # type: ignore[arg-type]
        finally:
            display.stop()
        console.print(f"verified {summary.samples_verified} samples{' (resumed)' if summary.resumed else ''};"
                      f" {len(summary.solved)}/{summary.problems} problems solved; verdicts stored under"
                      f" {summary.verifier!r} (monkeys report {run_dir} --verifier {summary.verifier!r})",
                      markup=False)  # names and paths are the user's text: `math-answer[mode=minerva]`
        if report:
            from monkeys.report import report_runs

            report_runs([run_dir], console=Console(), verifier=summary.verifier)
