"""`monkeys tasks / models / plugins / doctor`: what is installed and what this machine can protect."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table


def _table(kind: str, title: str) -> Table:
    from monkeys.registry import list_plugins

    table = Table(title=title)
    table.add_column("name", style="bold")
    table.add_column("description")
    table.add_column("from", style="dim")
    for name, info in list_plugins(kind).items():
        table.add_row(name, info.summary, info.origin)
    return table


def register(app: typer.Typer) -> None:
    @app.command()
    def tasks() -> None:
        """List registered tasks (datasets)."""
        Console().print(_table("task", "tasks"))

    @app.command()
    def models() -> None:
        """List registered samplers (model backends) and the embedded model."""
        console = Console()
        console.print(_table("sampler", "samplers"))
        try:
            from monkeys.extras import missing
            from monkeys.samplers.local import embedded_model_path

            absent = missing("torch", "gguf", "tokenizers")
            note = f" [yellow](needs {', '.join(absent)}: pip install 'monkeys\\[local]')[/]" if absent else ""
            console.print(f"embedded model: {embedded_model_path()}{note}", soft_wrap=True)
        except Exception as exc:  # the listing must work even without the embedded model installed
            console.print(f"embedded model: not available ({exc})")

    @app.command()
    def plugins() -> None:
        """List every registered plug-in: tasks, samplers, verifiers, scorers."""
        from monkeys.registry import KINDS

        console = Console()
        for kind in KINDS:
            console.print(_table(kind, f"{kind}s"))

    @app.command()
    def doctor() -> None:
        """Show which sandbox protections are active on this machine (exit 1 when untrusted code cannot be
        contained here: then `monkeys run` refuses code tasks)."""
        from monkeys.sandbox import detect_protections

        table = Table(title="sandbox protections")
        table.add_column("protection", style="bold")
        table.add_column("status")
        protections = detect_protections()
        for name, status in protections.items():
            style = "green" if status.startswith(("active", "fork-server", "subprocess")) else "yellow"
            table.add_row(name, f"[{style}]{status}[/]")
        Console().print(table)
        from rich.markup import escape

        from monkeys.swe.checks import swe_tests_checks

        swe = Table(title="swe-tests (SWE-bench verifier)")
        swe.add_column("check", style="bold")
        swe.add_column("status")
        for name, status in swe_tests_checks().items():
            swe.add_row(name, f"[{'green' if status.startswith('active') else 'yellow'}]{escape(status)}[/]")
        Console().print(swe)
        if protections.get("containment", "").startswith("unavailable"):
            raise typer.Exit(1)  # nothing here can contain untrusted code: code tasks are refused
