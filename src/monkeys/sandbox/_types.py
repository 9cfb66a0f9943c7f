"""Plain records of the sandbox interface: what a run may use (`Limits`) and what it did (`ExecResult`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Resource limits of one execution. `cpu_s=None` means "same as `timeout_s`" (wall clock)."""

    timeout_s: float = 10.0
    cpu_s: float | None = None
    memory_mb: int = 1024
    max_processes: int = 32
    max_file_mb: int = 16
    max_output_bytes: int = 1 << 20
    max_open_files: int = 64

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ExecResult:
    """What one execution did. A failing program is a result, never an exception.

    `signal` is set when the program died of a signal (ours on timeout/output cap, or its own).
    `memory_exceeded` is set when the memory limit is known to have been hit (cgroup OOM, or the harness
    saw the program end in MemoryError; never what the program printed).

    `ending` is the harness's report (see `_harness`), the only evidence of how the program ended that
    the program cannot forge: "completed" (the program, and its tests if any, ran to the end),
    "exit" (SystemExit, code in `report_code`), "exception" (type name in `detail`), "harness" (the
    tests themselves do not compile), "tampered" (bytes on the report pipe that are not exactly one
    report with this execution's nonce), or None: no report (os._exit, a signal, killed at a limit).
    `flags` name tampering the tests cannot see (see `_harness`). `sandbox_killed`: the program took its
    worker down (it failed the same way on a fresh worker); a result, not a sandbox error.
    """

    exit_code: int | None
    signal: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    memory_exceeded: bool = False
    output_truncated: bool = False
    wall_s: float = 0.0
    cpu_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    ending: str | None = None
    report_code: int | None = None
    detail: str = ""
    flags: list[str] = field(default_factory=list)
    sandbox_killed: bool = False

    @property
    def ok(self) -> bool:
        """Exited normally with status 0 and nothing was cut off."""
        return self.exit_code == 0 and not self.timed_out and not self.output_truncated

    @property
    def completed(self) -> bool:
        """The harness reported that the program (and its tests) ran to the end, within every limit."""
        return self.ending == "completed" and not self.timed_out and not self.output_truncated
