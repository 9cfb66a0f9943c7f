"""Rich terminal summary of one or many runs: coverage per k with a confidence interval, fits, selection,
cost, and for several runs a ranked runs × ks matrix. Coverage is printed with `analyze.pct`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape

from monkeys._terminal import cell, printable
from monkeys.report.analyze import RunAnalysis, RunsComparison, pct
from monkeys.report.swe import print_swe

if TYPE_CHECKING:
    from rich.console import Console

MAX_SELECTION_ROWS = 12  # ks shown in the selection table; more are thinned to a log-spaced subset


def run_title(a: RunAnalysis) -> str:
    run = a.run
    others = [v for v in run.verifiers if v != run.verifier]
    also = f" (also stored: {', '.join(others)})" if others else ""
    title = f"{run.name}: {run.model} · {len(run.problem_ids)} problems · verifier {run.verifier or '?'}{also}"
    return printable(title, one_line=True)  # names from the store: shown, never obeyed by the terminal


def print_summary(analyses: list[RunAnalysis], console: Console, comparison: RunsComparison | None = None) -> None:
    """One table per run (k, coverage, 95% CI, fit) with its notes and selection table; a ranked matrix and
    the comparison lines when there are several runs."""
    from rich.table import Table

    for a in analyses:
        title = run_title(a)
        if not a.ks and not a.missing_ks:
            console.print(f"[bold]{escape(title)}[/bold]\n  no verified samples yet", highlight=False)
            for line in a.notes():
                console.print(f"  {printable(line)}", highlight=False, markup=False)
            continue
        console.print(f"[bold]{escape(title)}[/bold]", highlight=False)
        table = Table()
        table.add_column("k (attempts)" if a.run.swe is not None else "k", justify="right")
        table.add_column("coverage (resolved rate)" if a.run.swe is not None else "coverage", justify="right")
        table.add_column("95% CI", justify="right")
        if a.fit is not None:
            table.add_column("fit", justify="right")
        rows = [(k, i) for i, k in enumerate(a.ks)] + [(k, None) for k in a.missing_ks]
        for k, i in sorted(rows, key=lambda r: r[0]):
            if i is None:
                cells = [str(k), "–", "beyond samples"]
            else:
                cells = [str(k), pct(a.coverage[i]),
                         f"{pct(a.band.lo[i])} – {pct(a.band.hi[i])}" if a.band is not None else ""]
            if a.fit is not None:
                cells.append(pct(float(a.fit.predict(k))) if i is not None else "")
            table.add_row(*cells)
        console.print(table)
        for line in a.notes():
            console.print(f"  {printable(line)}", highlight=False, markup=False)
        _print_selection(a, console)
        print_swe(a, console)
    if len(analyses) > 1 and comparison is not None:
        _print_matrix(comparison, console)
    for line in comparison.lines if comparison else []:
        console.print(f"  {printable(line)}", highlight=False, markup=False)


def selection_ks(a: RunAnalysis) -> list[int]:
    """The ks the selection table shows: every k its curves have, thinned when there are many."""
    ks = sorted({k for pts in a.run.selection.values() for k in pts})
    if len(ks) > MAX_SELECTION_ROWS:
        step = (len(ks) - 1) / (MAX_SELECTION_ROWS - 1)
        ks = sorted({ks[round(i * step)] for i in range(MAX_SELECTION_ROWS)})
    return ks


def _print_selection(a: RunAnalysis, console: Console) -> None:
    """Selection methods (majority vote, best-of-N, …) per k beside coverage: the selection gap."""
    from rich.table import Table

    if not a.run.selection:
        return
    methods = sorted(a.run.selection)
    ks = selection_ks(a)
    console.print("selection: success rate of one chosen answer", highlight=False)  # a title would wrap
    table = Table()
    table.add_column("k", justify="right")
    for m in methods:
        table.add_column(cell(m), justify="right")
    table.add_column("coverage (oracle)", justify="right")
    usable = [k for k in ks if k <= a.n_min]
    cov = dict(zip(usable, a.problem_coverage(usable).mean(axis=0).tolist(), strict=True))
    for k in ks:
        table.add_row(str(k), *(pct(a.run.selection[m].get(k)) for m in methods), pct(cov.get(k)))
    console.print(table)


def _print_matrix(comparison: RunsComparison, console: Console) -> None:
    """Runs ranked by coverage at the largest k they all have; a column per k, then cost."""
    from rich.table import Table

    console.print("[bold]comparison (ranked by coverage at the largest shared k)[/bold]", highlight=False)
    table = Table()
    for col in ("#", "run", "model", "problems", "max k", "coverage@max k"):
        table.add_column(col, justify="left" if col in ("run", "model") else "right", overflow="fold")
    for k in comparison.matrix_ks:
        table.add_column(f"k={k:,}", justify="right")
    table.add_column("FLOPs", justify="right")
    table.add_column("cost", justify="right")
    for i, r in enumerate(comparison.matrix, 1):
        table.add_row(str(i), cell(r["run"]), cell(r["model"]), str(r["problems"]), str(r["max_k"] or "-"),
                      pct(r["coverage_at_max_k"]) if r["max_k"] else "-",
                      *(pct(r["coverage"][k]) for k in comparison.matrix_ks),
                      "-" if r["flops"] is None else f"{r['flops']:.3g}",
                      "-" if r["usd"] is None else f"${r['usd']:,.2f}")
    console.print(table)
    if any(v is None for r in comparison.matrix if r["max_k"] for v in r["coverage"].values()):
        console.print("  –: k beyond that run's samples (not extrapolated)", highlight=False)
