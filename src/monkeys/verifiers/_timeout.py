"""A pool of worker processes that runs one function under a hard deadline, callable from any thread.

SIGALRM only works in the main thread of a process, and sympy can hang inside loops that nothing in
Python interrupts. Each call goes to an idle worker (`python -m monkeys.verifiers._timeout`, JSON lines on
its pipes, so no `__main__` re-import and any platform); past the deadline the worker is killed and
replaced, so a hostile answer costs one process start, never a stuck verifier.
"""

from __future__ import annotations

import importlib
import json
import queue
import subprocess
import sys
import threading
from typing import Any

_START_TIMEOUT_S = 120.0  # importing sympy on a loaded machine can take a while; not a check's time


class CheckTimeout(Exception):
    """The call ran past its deadline; its worker was killed."""


class WorkerDied(Exception):
    """The worker exited mid-call (memory limit, crash) or could not start; it was replaced."""


class _Worker:
    def __init__(self, target: str, memory_mb: int | None, wait: bool = True) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monkeys.verifiers._timeout", target, str(memory_mb or 0)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.replies: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, daemon=True, name="monkeys-math-worker-reader").start()
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        if self._reply(_START_TIMEOUT_S) != b'"ready"\n':
            self.kill()
            raise WorkerDied("math worker failed to start")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.replies.put(line)
        self.replies.put(b"")  # EOF: the process is gone

    def _reply(self, timeout_s: float) -> bytes | None:
        try:
            return self.replies.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def call(self, args: list[Any], timeout_s: float) -> Any:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(args).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError as exc:
            raise WorkerDied("math worker is gone") from exc
        line = self._reply(timeout_s)
        if line is None:
            raise CheckTimeout(f"no result within {timeout_s:g} s")
        if not line:
            raise WorkerDied("math worker exited during the check (memory limit or crash)")
        ok, value = json.loads(line)
        if not ok:
            raise RuntimeError(value)
        return value

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(5)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


class DeadlinePool:
    """`call(*args, timeout_s=...)` runs `target` ("module:function") in a worker; thread-safe.

    A module-level `warmup()` in the target's module runs once at worker start, outside any deadline.
    `prefer` (any int, e.g. a hash of the gold answer) picks the same worker for related calls when it is
    idle, so the caches inside that worker (parsed answers) are hit; a busy preferred worker is not waited for.

    Arguments and results travel as JSON. Workers start on first use (or all at once with `start`). Raises
    `CheckTimeout`, `WorkerDied`, or `RuntimeError` carrying the worker's exception text.
    """

    def __init__(self, target: str, workers: int = 2, memory_mb: int | None = 2048) -> None:
        self._target = target
        self._memory_mb = memory_mb
        self._slots: list[_Worker | None] = [None] * max(1, workers)  # None: starts on first use
        self._busy = [False] * len(self._slots)
        self._cond = threading.Condition()
        self._closed = False

    def start(self) -> None:
        """Start every worker now, in parallel, instead of on first use (a run's start-up, not a check's)."""
        with self._cond:
            free = [i for i, w in enumerate(self._slots) if w is None and not self._busy[i]]
            for i in free:
                self._busy[i] = True
        started: list[_Worker] = []
        try:
            for _ in free:
                started.append(_Worker(self._target, self._memory_mb, wait=False))
            for worker in started:
                worker.wait_ready()
        except BaseException:
            for worker in started:
                worker.kill()
            raise
        finally:
            with self._cond:
                for i in free:
                    self._busy[i] = False
                self._cond.notify_all()
        with self._cond:
            for i, worker in zip(free, started, strict=True):
                self._slots[i] = worker

    def _acquire(self, prefer: int | None) -> int:
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("DeadlinePool is closed")
                if prefer is not None and not self._busy[prefer % len(self._slots)]:
                    i = prefer % len(self._slots)
                else:
                    i = next((j for j, busy in enumerate(self._busy) if not busy), -1)
                if i >= 0:
                    self._busy[i] = True
                    return i
                self._cond.wait()

    def _release(self, i: int, worker: _Worker | None) -> None:
        with self._cond:
            self._slots[i] = worker
            self._busy[i] = False
            self._cond.notify()

    def call(self, *args: Any, timeout_s: float, prefer: int | None = None) -> Any:
        i = self._acquire(prefer)
        worker = self._slots[i]
        try:
            if worker is None:
                worker = _Worker(self._target, self._memory_mb)
            return worker.call(list(args), timeout_s)
        except (CheckTimeout, WorkerDied):
            if worker is not None:
                worker.kill()
            worker = None  # a fresh worker starts on the next call
            raise
        finally:
            if self._closed and worker is not None:
                worker.kill()
                worker = None
            self._release(i, worker)

    def close(self) -> None:
        """Stop every worker (a busy one when its call returns). Safe to call twice."""
        with self._cond:
            self._closed = True
            idle = [w for w, busy in zip(self._slots, self._busy, strict=True) if w is not None and not busy]
            self._slots = [None if w in idle else w for w in self._slots]
            self._cond.notify_all()
        for worker in idle:
            worker.kill()


def _serve(target: str, memory_mb: int) -> None:
    if memory_mb:
        try:
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
        except (ImportError, ValueError, OSError):
            pass  # not on this platform: the deadline still holds
    module, _, name = target.partition(":")
    mod = importlib.import_module(module)
    fn = getattr(mod, name)
    if hasattr(mod, "warmup"):  # heavy imports now, so the first check's deadline is not spent on them
        mod.warmup()
    out = sys.stdout
    out.write('"ready"\n')
    out.flush()
    for line in sys.stdin:
        try:
            reply = [True, fn(*json.loads(line))]
        except BaseException as exc:  # the caller decides; the worker survives
            reply = [False, f"{type(exc).__name__}: {exc}"]
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
