"""The `monkeys` command: typer app assembled from one module per command group.

Errors are handled in one place (`main`): a `MonkeysError` or a usage error (an unknown flag, a missing
argument, `-n abc`: typer raises them as its own vendored click's exceptions, older typers as click's)
prints one line `error: <message>` on stderr and exits 2; Ctrl-C exits 130 after the pipeline has
committed what it had, SIGTERM and SIGHUP the same way with 143 and 129; anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import warnings
from typing import Any

import typer

from monkeys._terminal import printable
from monkeys.cli import data_cmd, info, plan_cmd, report_cmd, run_cmd, serve_cmd, verify_cmd, view_cmd
from monkeys.errors import InputWarning, MonkeysError

app = typer.Typer(
    name="monkeys",
    help="Repeated sampling with verification: sample many, verify each, measure coverage vs k.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
run_cmd.register(app)
verify_cmd.register(app)
report_cmd.register(app)
plan_cmd.register(app)
data_cmd.register(app)
serve_cmd.register(app)
view_cmd.register(app)
info.register(app)


def _classes(name: str) -> tuple[type[BaseException], ...]:
    """`name` from every click the CLI may raise: typer's vendored copy (`typer._click`, `typer.exceptions`)
    and the standalone package; whichever are installed."""
    found = []
    for module in ("typer._click.exceptions", "typer.exceptions", "click.exceptions"):
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        if isinstance(cls, type) and issubclass(cls, BaseException) and cls not in found:
            found.append(cls)
    return tuple(found)


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """An `InputWarning` is one `warning: ...` line on stderr (the command goes on); any other warning is
    shown as Python shows it."""
    if issubclass(category, InputWarning):
        print(f"warning: {printable(' '.join(str(message).split()))}", file=sys.stderr)  # may quote input
        return
    _python_show_warning(message, category, filename, lineno, file, line)


_python_show_warning = warnings.showwarning


def _error(message: str) -> None:
    """The one line a user error prints; exit 2."""
    print(f"error: {printable(' '.join(str(message).split()))}", file=sys.stderr)  # may quote data or a server
    sys.stdout.flush()
    sys.exit(2)


_COERCION = (("integer", "expected an integer"), ("number", "expected a number"),
             ("boolean", "expected true or false"))


def _given(opts: list[str], argv: list[str]) -> str | None:
    """The value the command line gave an option (`-n abc`, `--n=abc`, `-nabc`), if it can be found."""
    value = None
    for i, arg in enumerate(argv):
        for opt in opts:
            if arg == opt and i + 1 < len(argv):
                value = argv[i + 1]
            elif arg.startswith(f"{opt}=") and opt.startswith("--"):
                value = arg.partition("=")[2]
            elif len(opt) == 2 and arg.startswith(opt) and not arg.startswith("--") and len(arg) > 2:
                value = arg[2:]
    return value


def usage_message(exc: Any, argv: list[str]) -> str:
    """One line for a click usage error: `-n: expected an integer, got 'abc' (see 'monkeys run --help')`."""
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", None) or "monkeys"
    if " " not in command and argv and argv[0] in getattr(typer.main.get_command(app), "commands", {}):
        command = f"monkeys {argv[0]}"  # raised while parsing the subcommand's flags (no context then)
    names = {cls.__name__ for cls in type(exc).__mro__}
    param = getattr(exc, "param", None)
    text = exc.format_message().strip().rstrip(".")
    if "BadParameter" in names and "MissingParameter" not in names and param is not None:
        opts = list(getattr(param, "opts", None) or [])
        raw = str(getattr(exc, "message", "") or text)
        problem = next((words for key, words in _COERCION if re.search(rf"valid {key}", raw)), raw.rstrip("."))
        got = _given(opts, argv) if opts else None
        text = f"{'/'.join(opts) or param.name}: {problem}" + (f", got {got!r}" if got is not None else "")
    elif "MissingParameter" in names and param is not None:
        kind = "argument" if getattr(param, "param_type_name", "") == "argument" else "option"
        name = "/".join(getattr(param, "opts", None) or []) if kind == "option" else str(param.name).upper()
        text = f"missing {kind} {name or param.name}"
    return f"{text} (see '{command} --help')"


_STOPPED_BY: list[int] = []  # the signal (SIGTERM, SIGHUP) that asked this process to stop, if one did


def _stop(signum: int, frame: Any) -> None:
    """SIGTERM (`kill`, a batch scheduler's time limit, systemd) and SIGHUP (the terminal closed) stop a
    command as Ctrl-C does: what the pipeline produced is committed, one line says so, and the exit status
    is 128 + the signal. Python's default for both ends the process on the spot, without a word. A second
    such signal while stopping is ignored (the first one's clean-up is under way)."""
    if _STOPPED_BY:
        return
    _STOPPED_BY.append(signum)
    raise KeyboardInterrupt


def _stop_on_signals() -> None:
    import signal

    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:  # an ignored SIGHUP (`nohup monkeys run ...`) stays ignored
            signal.signal(sig, _stop)


def _check_argv(argv: list[str]) -> None:
    """Every argument is UTF-8 text: Python carries a byte that is not (`--model $'m\\xff'`, a Latin-1 file
    name) as a lone surrogate, which can be neither stored in a run nor written, and failed deep inside.
    And none is empty: an empty argument is a shell variable that was never set (`--out "$RUN"`), and read
    as a path it is the current directory (`--out ''` wrote a run store into it, `import FILE ''` too)."""
    from monkeys._userfiles import unicode_flaw

    for i, arg in enumerate(argv):
        option, eq, value = arg.partition("=")
        if arg == "" or (eq and option.startswith("--") and value == ""):
            after = argv[i - 1] if not eq and i and argv[i - 1].startswith("-") else option if eq else ""
            what = (f"{after}: an empty value" if after else f"the argument after {argv[i - 1]!r} is empty" if i
                    else "the first argument is empty")
            _error(f"{what} (an unset shell variable?); expected a value (see 'monkeys {argv[0] if argv else ''}"
                   " --help')")
        flaw = unicode_flaw(arg)
        if flaw:
            raw = os.fsencode(arg)  # the bytes as given
            byte = next(b for b in raw if b >= 0x80 and not _utf8_at(raw, b))
            option = argv[i - 1] if i and argv[i - 1].startswith("-") and "=" not in argv[i - 1] else ""
            shown = repr(raw)[2:-1]
            _error(f"command line argument {f'{option} ' if option else ''}'{shown}': not UTF-8 text (byte"
                   f" 0x{byte:02x}); monkeys reads its arguments as UTF-8 (rename the file, or give the value in a"
                   " UTF-8 config file)")


def _utf8_at(raw: bytes, byte: int) -> bool:
    """Is every occurrence of `byte` in `raw` part of valid UTF-8? (Which byte to name in the message.)"""
    text = raw.decode("utf-8", "surrogateescape")
    return chr(0xDC00 + byte) not in text


def main() -> None:
    usage_errors = _classes("ClickException")
    aborts = _classes("Abort")
    warnings.showwarning = _show_warning
    _stop_on_signals()
    _check_argv(sys.argv[1:])
    try:
        rc = app(standalone_mode=False)
        if rc == 130:  # typer turns Ctrl-C into Exit(130)
            _interrupted()
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except MonkeysError as exc:
        _error(str(exc))
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit:
        raise
    except Exception as exc:
        if aborts and isinstance(exc, aborts):  # click's wrapping of Ctrl-C
            _interrupted()
        if usage_errors and isinstance(exc, usage_errors):
            if type(exc).__name__ == "NoArgsIsHelpError" and getattr(exc, "ctx", None) is not None:
                print(exc.ctx.get_help())  # type: ignore[attr-defined]
                sys.exit(0)
            _error(usage_message(exc, sys.argv[1:]))
        raise


_WRITERS = frozenset({"run", "verify", "import"})  # the commands that store samples and resume


def _interrupted() -> None:
    """Ctrl-C (or SIGTERM/SIGHUP, see `_stop`): the pipeline has already committed what it had. Leave at once,
    since a sampler thread may be in the middle of a long generation and a normal exit would wait for it."""
    import signal

    how = f"stopped by {signal.Signals(_STOPPED_BY[0]).name}" if _STOPPED_BY else "interrupted"
    writes = len(sys.argv) > 1 and sys.argv[1] in _WRITERS  # `serve`, `view`, `report` have nothing to resume
    print(f"{how}: stored samples are kept; run the same command again to resume" if writes else how,
          file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(128 + _STOPPED_BY[0] if _STOPPED_BY else 130)
