"""`monkeys plan`: forecast coverage, the k for a target and its cost from a pilot run; never calls a model."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from monkeys._userfiles import check_output, write_output
from monkeys.cli.report_cmd import parse_ks
from monkeys.errors import ConfigError, MonkeysError


class PlanFormat(StrEnum):
    table = "table"
    json = "json"


def register(app: typer.Typer) -> None:
    @app.command()
    def plan(
        run_dir: Annotated[Path, typer.Argument(help="The pilot run's directory (any n, e.g. 50-200 samples).")],
        k: Annotated[str | None, typer.Option(
            "--k", help="Comma-separated ks to forecast, e.g. 1000,10000 (default 10× and 100× the pilot's n).")
        ] = None,
        target: Annotated[float, typer.Option(
            help="Coverage to reach, in (0, 1): the k it needs and what that costs.")] = 0.9,
        fmt: Annotated[PlanFormat, typer.Option(
            "--format", help="table: terminal text. json: one document on stdout (fractions in [0, 1]; null"
                             " where a number cannot be given, with the reason).")] = PlanFormat.table,
        plot: Annotated[Path | None, typer.Option(
            help="Write a figure of the pilot's curve and the forecast band here (.png, .svg or .pdf).")] = None,
        verifier: Annotated[str | None, typer.Option(
            help="Count this verifier's verdicts (default: the run's own verifier).")] = None,
        pricing: Annotated[Path | None, typer.Option(
            help="Pricing file (USD per million tokens; model shapes for FLOPs), as for `monkeys report`.")
        ] = None,
        seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    ) -> None:
        """Forecast coverage at larger k from a pilot run, with 95% intervals, and the samples, tokens, FLOPs
        and dollars a target coverage needs. Says so instead of printing a number when the pilot cannot
        support a forecast."""
        from rich.console import Console

        from monkeys.forecast.plan import document, make_plan, render
        from monkeys.store import open_readonly

        ks = parse_ks(k)
        if not 0 < target < 1:
            raise typer.BadParameter(f"must lie strictly between 0 and 1, got {target:g}", param_hint="--target")
        if plot is not None and plot.suffix.lower() not in (".png", ".svg", ".pdf"):
            raise typer.BadParameter(f"expected a .png, .svg or .pdf file, got {plot.name!r}", param_hint="--plot")
        if plot is not None:  # a directory, a device, a run store: refused before the pilot is read
            check_output(plot, "the figure", ConfigError, "--plot")
        open_readonly(run_dir).close()  # one clear line when it is not a run
        result = make_plan(run_dir, ks, target, verifier=verifier, pricing=pricing, seed=seed)
        if plot is not None:
            from monkeys.forecast.plot import plot_plan

            title = f"{run_dir.name}: coverage forecast from the pilot"
            write_output(plot, "the figure", MonkeysError,
                         lambda tmp: plot_plan(result.fc, tmp, result.ks, target, title), "--plot")
        if fmt is PlanFormat.json:
            print(json.dumps(document(result), indent=2, allow_nan=False))
        else:
            render(result, Console())
            if plot is not None:
                Console().print(f"figure: {plot}", markup=False)
