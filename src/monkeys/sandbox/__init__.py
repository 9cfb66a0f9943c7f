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


def get_sandbox() -> Sandbox:
    """The process-wide sandbox, started on first use and closed at exit. Thread-safe."""
    global _sandbox
    with _lock:
        if _sandbox is None:
            try:
                _sandbox = ForkServerPool()
            except SandboxError as exc:  # degrade, and say so in protections()
                _sandbox = SubprocessSandbox(reason=str(exc))
            atexit.register(_sandbox.close)
        return _sandbox


def detect_protections() -> dict[str, str]:
    """Protection name -> "active" or "unavailable: why", as the real sandbox applies them here."""
    return dict(get_sandbox().protections())
