"""`monkeys view`: a local, read-only web viewer of run stores (problems, samples, verdicts, answers).

The public surface is `create_app` (a Starlette app, for tests and embedding) and `serve`.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

from monkeys._hosts import loopback_hosts
from monkeys.errors import ConfigError
from monkeys.view.app import create_app

__all__ = ["create_app", "serve"]


def serve(run_dirs: list[Path], *, host: str = "127.0.0.1", port: int = 8765,
          ready: Callable[[str], None] | None = None) -> None:
    """Serve the viewer over `run_dirs` on `host:port` (port 0: any free one) until Ctrl-C; `ready` gets the
    URL once the socket listens. The socket is bound here, so a port in use is one error line. Ctrl-C stops
it and returns."""
    import uvicorn

    app = create_app(run_dirs, loopback_hosts(host))  # a bad run directory fails here, before anything listens
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (choose another --port)") from exc
    sock.listen(128)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound}/"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    if ready is not None:
        ready(url)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shut down cleanly, then re-raised Ctrl-C: nothing was being written
        pass
    finally:
        sock.close()
