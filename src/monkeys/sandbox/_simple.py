"""Fallback sandbox: one fresh interpreter per execution (slow, few protections).

Used when the fork-server pool cannot start. Still: new session, rlimits, empty environment, private
temporary directory, wall-clock timeout and a kill of the whole process group.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence

from monkeys.sandbox._types import ExecResult, Limits

PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else shutil.which("python3") or "python3"


def _rlimits(limits: Limits) -> Callable[[], None]:
    cpu = int(limits.cpu_s if limits.cpu_s is not None else limits.timeout_s) + 1

    def apply() -> None:
        mem = limits.memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_mb << 20,) * 2)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.max_open_files,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if os.geteuid() != 0:  # root ignores RLIMIT_NPROC; a non-root uid counts all its processes
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes,) * 2)

    return apply


class SubprocessSandbox:
    """Runs each program in a new `/usr/bin/python3 -I -S` process. Thread-safe (no shared state)."""

    def __init__(self, reason: str = "") -> None:
        self.reason = reason  # why the fork-server pool is not used

    def run(self, source: str, *, stdin: bytes = b"", limits: Limits | None = None) -> ExecResult:
        limits = limits or Limits()
        workdir = tempfile.mkdtemp(prefix="monkeys-sbx-")
        try:
            with open(os.path.join(workdir, "main.py"), "w", encoding="utf-8") as f:
                f.write(source)
            return self._exec(workdir, stdin, limits)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def run_many(self, source: str, stdins: Sequence[bytes], *, limits: Limits | None = None,
                 stop: Callable[[int, ExecResult], bool] | None = None) -> list[ExecResult]:
        """Run `source` once per stdin; stop after the first result for which `stop(i, result)` is true."""
        results = []
        for i, data in enumerate(stdins):
            results.append(self.run(source, stdin=data, limits=limits))
            if stop is not None and stop(i, results[-1]):
                break
        return results

    def _exec(self, workdir: str, stdin: bytes, limits: Limits) -> ExecResult:
        start = time.monotonic()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.Popen(
            [PYTHON, "-I", "-S", "main.py"], cwd=workdir, env={}, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            preexec_fn=_rlimits(limits),
        )
        timed_out = False
        try:
            out, err = proc.communicate(stdin, timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _killpg(proc.pid)
            out, err = proc.communicate()
        _killpg(proc.pid)  # daemons left in the group
        wall = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)  # approximate
        truncated = len(out) > limits.max_output_bytes or len(err) > limits.max_output_bytes
        rc = proc.returncode
        return ExecResult(
            exit_code=rc if rc >= 0 else None, signal=-rc if rc < 0 else None,
            stdout=out[: limits.max_output_bytes], stderr=err[: limits.max_output_bytes],
            timed_out=timed_out, memory_exceeded=b"MemoryError" in err[-2000:],
            output_truncated=truncated, wall_s=wall, cpu_s=max(cpu, 0.0),
        )

    def protections(self) -> dict[str, str]:
        return {"backend": f"subprocess per execution (fallback{': ' + self.reason if self.reason else ''})",
                "fork_server": f"unavailable: {self.reason or 'not selected'}", "rlimits": "active",
                "session": "active", "empty_env": "active", "private_dir": "active",
                "time_limits": "unavailable: wall clock and whole-second RLIMIT_CPU, not calibrated (fallback)"}

    def close(self) -> None:
        pass


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
