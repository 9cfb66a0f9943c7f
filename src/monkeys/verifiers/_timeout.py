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
    def __init__(self, target: str, memory_mb: int | None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monkeys.verifiers._timeout", target, str(memory_mb or 0)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.replies: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, daemon=True, name="monkeys-math-worker-reader").start()
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

    Arguments and results travel as JSON. Workers start on first use. Raises `CheckTimeout`,
    `WorkerDied`, or `RuntimeError` carrying the worker's exception text.
    """

    def __init__(self, target: str, workers: int = 2, memory_mb: int | None = 2048) -> None:
        self._target = target
        self._memory_mb = memory_mb
        self._idle: queue.Queue[_Worker | None] = queue.Queue()
        for _ in range(max(1, workers)):
            self._idle.put(None)  # a slot; its process starts on first use
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False

    def start(self) -> None:
        """Start every worker now instead of on first use (a run's start-up, not a check's deadline)."""
        slots = []
        while True:
            try:
                slots.append(self._idle.get_nowait())
            except queue.Empty:
                break
        try:
            for i, worker in enumerate(slots):
                if worker is None:
                    slots[i] = worker = _Worker(self._target, self._memory_mb)
                    with self._lock:
                        self._all.add(worker)
        finally:
            for worker in slots:
                self._idle.put(worker)

    def call(self, *args: Any, timeout_s: float) -> Any:
        if self._closed:
            raise RuntimeError("DeadlinePool is closed")
        worker = self._idle.get()
        try:
            if worker is None:
                worker = _Worker(self._target, self._memory_mb)
                with self._lock:
                    self._all.add(worker)
            return worker.call(list(args), timeout_s)
        except (CheckTimeout, WorkerDied):
            if worker is not None:
                self._discard(worker)
            worker = None
            raise
        finally:
            self._idle.put(worker)  # None: a fresh worker starts on the next call

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)

    def close(self) -> None:
        """Stop every worker. Safe to call twice."""
        self._closed = True
        with self._lock:
            workers, self._all = list(self._all), set()
        for worker in workers:
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
