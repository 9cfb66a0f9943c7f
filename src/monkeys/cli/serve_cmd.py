"""`monkeys serve`: put any registered sampler (default: the embedded model) behind an OpenAI-style API."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        sampler: Annotated[str, typer.Option(help="Sampler to serve.")] = "local",
        model: Annotated[str | None, typer.Option(help="Model name or path for the sampler.")] = None,
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    ) -> None:
        """Serve /v1/chat/completions, /v1/completions and /v1/models until Ctrl-C."""
        from monkeys.registry import create
        from monkeys.serve import OpenAIServer

        backend = create("sampler", sampler, **({"model": model} if model else {}))
        server = OpenAIServer(backend, host=host, port=port)
        typer.echo(f"serving sampler {sampler!r} at http://{host}:{port}/v1", err=True)
        try:
            server.serve_forever()
        finally:
            backend.close()
