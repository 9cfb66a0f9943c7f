"""`monkeys view`: browse stored runs' problems and samples in a local web page (read-only)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def view(
        run_dirs: Annotated[list[Path], typer.Argument(help="One or more run directories to browse.")],
        port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8765,
        host: Annotated[str, typer.Option(
            help="Address to listen on. The viewer has no authentication: keep it on 127.0.0.1 unless the "
                 "network is yours.")] = "127.0.0.1",
        browser: Annotated[bool, typer.Option(help="Open the page in a web browser.")] = True,
    ) -> None:
        """Browse runs in a local web page: problems with coverage, samples with verdicts, answers, diffs."""
        from monkeys.view import serve

        def ready(url: str) -> None:
            typer.echo(f"monkeys view: {url} (Ctrl-C to stop)", err=True)
            if host not in ("127.0.0.1", "localhost", "::1"):
                typer.echo(f"warning: listening on {host}: anyone who can reach it can read these runs' samples",
                           err=True)
            if browser:
                import webbrowser

                webbrowser.open(url)

        serve(run_dirs, host=host, port=port, ready=ready)
