"""Runs untrusted Python programs fast and contained: limits, isolation, timeouts, output caps.

It knows processes, not problems: verifiers turn problems into programs and results into verdicts.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from monkeys.errors import SandboxError
from monkeys.sandbox._pool import ForkServerPool
from monkeys.sandbox._simple import SubprocessSandbox
from monkeys.sandbox._types import ExecResult, Limits

__all__ = ["ExecResult", "ForkServerPool", "Limits", "Sandbox", "SubprocessSandbox", "detect_protections",
           "get_sandbox"]

Sandbox = ForkServerPool | SubprocessSandbox  # same methods: run, run_many, protections, close

_lock = threading.Lock()
_sandbox: Any = None
_refused: SandboxError | None = None  # nothing here can contain a program: said once, kept


def _choose() -> Sandbox:
    """The pool when it starts and contains; else the per-execution fallback when it contains; else
    `SandboxError` with one line saying what is missing. Never a sandbox that does not contain."""
    try:
        pool = ForkServerPool()
    except SandboxError as exc:
        why = f"the fork-server pool cannot start: {exc}"
    else:
        uncontained = pool.containment()
        if uncontained is None:
            return pool
        pool.close()
        why = f"the fork-server pool cannot contain here: {uncontained}"
    why = " ".join(why.split())  # one line
    try:
        return SubprocessSandbox(reason=why)
    except SandboxError as exc:
        raise SandboxError(f"{exc} [{why}]") from None


def get_sandbox() -> Sandbox:
    """The process-wide sandbox, started on first use and closed at exit. Thread-safe.

    Raises `SandboxError` (one line: what is missing) when nothing on this machine can contain an
    untrusted program; untrusted code never runs uncontained."""
    global _sandbox, _refused
    with _lock:
        if _refused is not None:
            raise SandboxError(str(_refused))
        if _sandbox is None:
            try:
                _sandbox = _choose()
            except SandboxError as exc:
                _refused = exc
                raise
            atexit.register(_sandbox.close)
        return _sandbox


def detect_protections() -> dict[str, str]:
    """Protection name -> "active" or "unavailable: why", as the real sandbox applies them here.
    When nothing can contain a program, a single "containment" row says why (for `monkeys doctor`)."""
    try:
        return dict(get_sandbox().protections())
    except SandboxError as exc:
        return {"backend": "unavailable: no sandbox can run untrusted code here",
                "containment": f"unavailable: {exc}"}
