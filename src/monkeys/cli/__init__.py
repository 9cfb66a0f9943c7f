"""The `monkeys` command: typer app assembled from one module per command group.

Errors are handled in one place (`main`): a `MonkeysError` prints `error: <message>` on stderr and exits
2; Ctrl-C exits 130 after the pipeline has committed what it had; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import os
import sys

import typer

from monkeys.cli import data_cmd, info, report_cmd, run_cmd, serve_cmd
from monkeys.errors import MonkeysError

app = typer.Typer(
    name="monkeys",
    help="Repeated sampling with verification: sample many, verify each, measure coverage vs k.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
run_cmd.register(app)
report_cmd.register(app)
data_cmd.register(app)
serve_cmd.register(app)
info.register(app)


def main() -> None:
    try:
        rc = app(standalone_mode=False)
        if rc == 130:  # typer turns Ctrl-C into Exit(130)
            _interrupted()
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except MonkeysError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit:
        raise
    except Exception as exc:
        import click

        if isinstance(exc, click.exceptions.Abort):  # click's wrapping of Ctrl-C
            _interrupted()
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(2)
        raise


def _interrupted() -> None:
    """Ctrl-C: the pipeline has already committed what it had. Leave at once, since a sampler thread may be
    in the middle of a long generation and a normal exit would wait for it."""
    print("interrupted: stored samples are kept; run the same command again to resume", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)
