"""The fork-server pool: a few long-lived workers, each forking one confined child per execution.

An execution costs a fork instead of an interpreter start. Workers run the system Python (readable by
the dropped uid) with an empty environment; one execution at a time per worker, so a worker's uid,
cgroup and directory belong to one program at a time. A dead worker is replaced on the next call.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from monkeys.errors import SandboxError
from monkeys.sandbox import _wire
from monkeys.sandbox._simple import PYTHON
from monkeys.sandbox._types import ExecResult, Limits

_ZYGOTE = str(Path(__file__).with_name("_zygote.py"))
_UID_BASE = 1_000_000  # worker uid = base + its pid: unique among live workers, unused by real accounts


class _Worker:
    def __init__(self) -> None:
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        # the uid is derived from a number we own (our pid + a counter) so two pools never share one
        self.uid = _UID_BASE + (os.getpid() % 100_000) * 64 + next(_counter) % 64
        try:
            self.proc = subprocess.Popen(
                [PYTHON, "-I", "-S", _ZYGOTE, str(self.uid), str(req_r), str(rep_w)], env={},
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, pass_fds=(req_r, rep_w), close_fds=True, cwd="/")
        finally:
            os.close(req_r)
            os.close(rep_w)
        self.req, self.rep = req_w, rep_r
        header, _ = _wire.recv(self.rep)
        self.protections: dict[str, str] = header["protections"]

    def exec(self, stdin: bytes, limits: Limits) -> ExecResult:
        _wire.send(self.req, {"op": "exec", "limits": limits.to_dict()}, [stdin])
        header, blobs = _wire.recv(self.rep)
        if header.pop("op") == "error":
            raise SandboxError(f"sandbox worker error: {header['message']}")
        out, err = blobs
        rss = header.pop("max_rss_kb")
        return ExecResult(stdout=out, stderr=err, extra={"max_rss_kb": rss}, **header)

    def load(self, source: str) -> None:
        _wire.send(self.req, {"op": "load"}, [source.encode("utf-8", "surrogatepass")])
        _wire.recv(self.rep)

    def close(self) -> None:
        for fd in (self.req, self.rep):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class _Counter:
    def __init__(self) -> None:
        self.n, self.lock = 0, threading.Lock()

    def __next__(self) -> int:
        with self.lock:
            self.n += 1
            return self.n


_counter = _Counter()


class ForkServerPool:
    """`size` workers (default: CPU count). Thread-safe; callers beyond `size` wait for a free worker."""

    def __init__(self, size: int | None = None) -> None:
        self.size = size or os.cpu_count() or 1
        self._idle: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        self._closed = False
        first = self._spawn()  # fail here, loudly, if workers cannot start at all
        self._protections = {"backend": f"fork-server pool ({self.size} workers, {PYTHON})",
                             **first.protections}
        self._idle.put(first)
        for _ in range(self.size - 1):
            self._idle.put(None)  # started lazily

    def _spawn(self) -> _Worker:
        try:
            return _Worker()
        except (OSError, EOFError, ValueError) as exc:
            raise SandboxError(f"cannot start a sandbox worker ({PYTHON} {_ZYGOTE}): {exc}") from exc

    def _with_worker(self, source: str, job: Callable[[_Worker], list[ExecResult]]) -> list[ExecResult]:
        if self._closed:
            raise SandboxError("the sandbox is closed")
        worker = self._idle.get()
        for attempt in (1, 2):
            try:
                if worker is None:
                    worker = self._spawn()
                worker.load(source)
                results = job(worker)
                self._idle.put(worker)
                return results
            except (OSError, EOFError, ValueError) as exc:
                if worker is not None:
                    worker.close()
                worker = None
                if attempt == 2:
                    self._idle.put(None)
                    raise SandboxError(f"sandbox worker failed twice: {exc}") from exc
            except BaseException:
                self._idle.put(None if worker is None else worker)
                raise
        raise AssertionError("unreachable")

    def run(self, source: str, *, stdin: bytes = b"", limits: Limits | None = None) -> ExecResult:
        """Run Python `source` with `stdin` in a fresh confined process."""
        limits = limits or Limits()
        return self._with_worker(source, lambda w: [w.exec(stdin, limits)])[0]

    def run_many(self, source: str, stdins: Sequence[bytes], *, limits: Limits | None = None,
                 stop: Callable[[int, ExecResult], bool] | None = None) -> list[ExecResult]:
        """Run `source` once per stdin, each in a fresh process, on one worker; stop after the first
        result for which `stop(index, result)` is true (e.g. the first failing test)."""
        limits = limits or Limits()

        def job(worker: _Worker) -> list[ExecResult]:
            results = []
            for i, data in enumerate(stdins):
                results.append(worker.exec(data, limits))
                if stop is not None and stop(i, results[-1]):
                    break
            return results

        return self._with_worker(source, job)

    def protections(self) -> dict[str, str]:
        return dict(self._protections)

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                break
            if worker is not None:
                worker.close()
