"""Rich terminal summary of one or many runs: coverage per k with a confidence interval, fits, cost."""

from __future__ import annotations

from typing import TYPE_CHECKING

from monkeys.report.analyze import RunAnalysis, RunsComparison

if TYPE_CHECKING:
    from rich.console import Console


def print_summary(analyses: list[RunAnalysis], console: Console, comparison: RunsComparison | None = None) -> None:
    """One table per run (k, coverage, 95% CI) plus a fit line; a comparison table when there are several."""
    from rich.table import Table

    for a in analyses:
        run = a.run
        title = f"{run.name}: {run.model} · {len(run.problem_ids)} problems · verifier {run.verifier or '?'}"
        if not a.ks:
            console.print(f"[bold]{title}[/bold]\n  no verified samples yet")
            continue
        console.print(f"[bold]{title}[/bold]")
        table = Table()
        table.add_column("k", justify="right")
        table.add_column("coverage", justify="right")
        table.add_column("95% CI", justify="right")
        if a.fit is not None:
            table.add_column("fit", justify="right")
        for i, k in enumerate(a.ks):
            cells = [str(k), f"{a.coverage[i]:.3f}"]
            cells.append(f"{a.band.lo[i]:.3f}–{a.band.hi[i]:.3f}" if a.band is not None else "")
            if a.fit is not None:
                cells.append(f"{a.fit.predict(k):.3f}")
            table.add_row(*cells)
        console.print(table)
        for line in a.notes():
            console.print(f"  {line}")
    if len(analyses) > 1:
        _print_comparison(analyses, console)
    for line in comparison.lines if comparison else []:
        console.print(f"  {line}")


def _print_comparison(analyses: list[RunAnalysis], console: Console) -> None:
    from rich.table import Table

    table = Table(title="comparison", title_justify="left")
    for col in ("run", "model", "problems", "max k", "coverage@max k", "flops", "cost"):
        table.add_column(col)
    for a in analyses:
        k = a.ks[-1] if a.ks else 0
        cov = f"{a.coverage[-1]:.3f}" if a.ks else "-"
        table.add_row(a.run.name, a.run.model, str(len(a.run.problem_ids)), str(k), cov,
                      a.cost_text("flops"), a.cost_text("usd"))
    console.print(table)
