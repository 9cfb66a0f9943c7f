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
    `memory_exceeded` is set when the memory limit is known to have been hit (cgroup OOM or MemoryError).
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

    @property
    def ok(self) -> bool:
        """Exited normally with status 0 and nothing was cut off."""
        return self.exit_code == 0 and not self.timed_out and not self.output_truncated
