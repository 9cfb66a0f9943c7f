"""The fork-server pool: a few long-lived workers, each forking one confined child per execution.

An execution costs a fork instead of an interpreter start. Workers run the system Python (readable by
the dropped uid) with an empty environment; one execution at a time per worker, so a worker's uid,
cgroup and directory belong to one program at a time. A dead worker is replaced on the next call.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from monkeys.errors import SandboxError
from monkeys.sandbox import _readable, _wire
from monkeys.sandbox._simple import PYTHON
from monkeys.sandbox._types import ExecResult, Limits

_ZYGOTE = str(Path(__file__).with_name("_zygote.py"))
# The calibration workload: plain interpreter work (arithmetic, dicts, lists, strings, sorting), as in
# contest solutions. NOMINAL_CPU_S is its CPU time on the reference machine (a 2-core x86_64 VM, Python
# 3.11, the one this project's limits were tuned on); a machine that needs twice as long gets limits
# twice as long, so a sample gets the same verdict on either.
CALIBRATION = """
d, s = {}, 0
for i in range(150000):
    s += i * i % 7
    d[i % 1000] = d.get(i % 1000, 0) + 1
words = sorted(str(i * 7919 % 100003) for i in range(40000))
print(s + len(words) + len("".join(words[:1000])))
"""
NOMINAL_CPU_S = 0.040
SCALE_RANGE = (0.25, 4.0)
_UID_BASE = 1_000_000  # worker uids: a block of 64 per owning process (its pid), unused by real accounts


class _Worker:
    def __init__(self) -> None:
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        # the uid is derived from a number we own (our pid + a counter) so two pools never share one
        self.uid = _UID_BASE + (os.getpid() % 100_000) * 64 + next(_counter) % 64
        try:
            self.proc = subprocess.Popen(
                [PYTHON, "-I", "-S", _ZYGOTE, str(self.uid), str(req_r), str(rep_w),
                 json.dumps(_readable.host_package_dirs())], env={},
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, pass_fds=(req_r, rep_w), close_fds=True, cwd="/")
        finally:
            os.close(req_r)
            os.close(rep_w)
        self.req, self.rep = req_w, rep_r
        header, _ = _wire.recv(self.rep)
        self.protections: dict[str, str] = header["protections"]
        self.template_pid: int | None = header.get("template")  # runs every execution; not our child

        self.job: tuple | None = None  # the program (and tests) the worker holds (sent once per run_many)
        self.busy = False  # an execution was sent and its result not read yet

    def exec(self, job: tuple, stdin: bytes, limits: dict) -> ExecResult:
        """One execution of `job` = (program bytes, tests bytes or None, guard); `limits` are effective
        (scaled) ones, as `ForkServerPool.effective` makes."""
        same, self.job = self.job is job, None  # unknown until the worker answers
        program, tests, guard = job
        blobs = [stdin] if same else [stdin, program] + ([tests] if tests is not None else [])
        self.busy = True
        _wire.send(self.req, {"op": "exec", "limits": limits, "guard": guard}, blobs)
        header, blobs = _wire.recv(self.rep)
        self.busy = False
        self.job = job
        if header.pop("op") == "error":
            raise SandboxError(f"sandbox worker error: {header['message']}")
        out, err = blobs
        extra = {k: header.pop(k) for k in ("max_rss_kb", "time_limit")}
        extra.update(cpu_limit_s=limits["cpu_s"], wall_limit_s=limits["timeout_s"], time_scale=limits["scale"])
        return ExecResult(stdout=out, stderr=err, extra=extra, **header)

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


_counter = itertools.count(1)  # next() on it is atomic in CPython: thread-safe without a lock


class ForkServerPool:
    """`size` workers (default: CPU count). Thread-safe; callers beyond `size` wait for a free worker.

    Time limits are machine-independent: `Limits.cpu_s` (default: `timeout_s`) is CPU time, and every
    time limit is multiplied by `time_scale`, which by default is measured at start-up (the CPU time of
    `CALIBRATION` here over `NOMINAL_CPU_S`; best of 3). Pass `time_scale=1.0` for unscaled limits.
    """

    def __init__(self, size: int | None = None, time_scale: float | None = None) -> None:
        self.size = size or os.cpu_count() or 1
        self._idle: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        self._closed = False
        self._live: set[_Worker] = set()  # for cpu_seconds()
        first = self._spawn()  # fail here, loudly, if workers cannot start at all
        self._protections = {"backend": f"fork-server pool ({self.size} workers, {PYTHON})",
                             **first.protections}
        self.time_scale, self.calibration_cpu_s = 1.0, None
        if time_scale is None:
            self.calibration_cpu_s = self._calibrate(first)
            time_scale = min(max(self.calibration_cpu_s / NOMINAL_CPU_S, SCALE_RANGE[0]), SCALE_RANGE[1])
            how = (f"calibrated: reference workload {self.calibration_cpu_s * 1e3:.0f} ms CPU here, "
                   f"{NOMINAL_CPU_S * 1e3:.0f} ms on the reference machine")
        else:
            how = "given by the caller"
        self.time_scale = float(time_scale)
        self._protections["time_limits"] = (
            f"active: CPU time (exact, polled) and wall clock, both x{self.time_scale:.2f} ({how}); "
            "wall clock gets 2x the CPU limit when only timeout_s is set")
        self._idle.put(first)
        for _ in range(self.size - 1):
            self._idle.put(None)  # started lazily

    def _spawn(self) -> _Worker:
        try:
            worker = _Worker()
            self._live.add(worker)
            return worker
        except (OSError, EOFError, ValueError) as exc:
            raise SandboxError(f"cannot start a sandbox worker ({PYTHON} {_ZYGOTE}): {exc}") from exc

    @staticmethod
    def _calibrate(worker: _Worker) -> float:
        limits = {**Limits(timeout_s=30).to_dict(), "cpu_s": 30.0, "scale": 1.0}
        job = (CALIBRATION.encode(), None, True)
        times = []
        for _ in range(3):
            result = worker.exec(job, b"", limits)
            if not result.ok:
                raise SandboxError(f"calibration workload failed: {result.stderr[-300:]!r}")
            times.append(result.cpu_s)
        return min(times)

    def effective(self, limits: Limits) -> dict:
        """The limits a worker enforces: scaled by `time_scale`; CPU limit = `cpu_s` or `timeout_s`;
        the wall clock gets twice the CPU limit when the caller set only `timeout_s` (so a loaded
        machine, which stretches wall time but not CPU time, does not change the verdict)."""
        cpu = (limits.cpu_s if limits.cpu_s is not None else limits.timeout_s) * self.time_scale
        wall = limits.timeout_s * self.time_scale * (2.0 if limits.cpu_s is None else 1.0)
        return {**limits.to_dict(), "cpu_s": cpu, "timeout_s": wall, "scale": self.time_scale}

    def _with_worker(self, job: Callable[[_Worker], list[ExecResult]]) -> list[ExecResult]:
        """Run `job` on a free worker. A worker that dies during an execution is replaced and the job
        retried once on a fresh one; dying again there is the program's doing ("killed the sandbox",
        a result). A worker that cannot start is a `SandboxError`."""
        if self._closed:
            raise SandboxError("the sandbox is closed")
        worker = self._idle.get()
        for attempt in (1, 2):
            try:
                if worker is None:
                    worker = self._spawn()
                results = job(worker)
                self._idle.put(worker)
                return results
            except (OSError, EOFError, ValueError) as exc:
                died_running = worker is not None and worker.busy
                if worker is not None:
                    worker.close()
                    self._live.discard(worker)
                worker = None
                if attempt == 2:
                    self._idle.put(None)
                    if died_running:
                        return [ExecResult(exit_code=None, signal=9, stdout=b"", stderr=b"", sandbox_killed=True)]
                    raise SandboxError(f"sandbox worker failed twice: {exc}") from exc
            except BaseException:
                self._idle.put(None if worker is None else worker)
                raise
        raise AssertionError("unreachable")

    def run(self, source: str, *, stdin: bytes = b"", limits: Limits | None = None, tests: str | None = None,
            guard: bool = True) -> ExecResult:
        """Run Python `source` with `stdin` in a fresh confined process. With `tests`, run them after the
        program, in a namespace of their own over its globals (function-assert problems); the result's
        `completed` is then the only evidence that they passed. `guard=False` leaves out the in-process
        integrity guard (audit hook), to test what the operating system alone contains."""
        eff = self.effective(limits or Limits())
        job = (source.encode("utf-8", "surrogatepass"),
               None if tests is None else tests.encode("utf-8", "surrogatepass"), guard)
        return self._with_worker(lambda w: [w.exec(job, stdin, eff)])[0]

    def run_many(self, source: str, stdins: Sequence[bytes], *, limits: Limits | None = None,
                 stop: Callable[[int, ExecResult], bool] | None = None, guard: bool = True) -> list[ExecResult]:
        """Run `source` once per stdin, each in a fresh process, on one worker; stop after the first
        result for which `stop(index, result)` is true (e.g. the first failing test)."""
        eff = self.effective(limits or Limits())
        code = (source.encode("utf-8", "surrogatepass"), None, guard)

        def job(worker: _Worker) -> list[ExecResult]:
            results = []
            for i, data in enumerate(stdins):
                results.append(worker.exec(code, data, eff))
                if stop is not None and stop(i, results[-1]):
                    break
            return results

        return self._with_worker(job)

    def containment(self) -> str | None:
        """None when executions are contained (another uid, or a pid namespace, or Landlock scoping of
        signals, so a program can reach no process but its own); else why not, in one line."""
        prot = self._protections
        if any(prot.get(k, "").startswith("active") for k in ("drop_uid", "pid_namespace")):
            return None
        if "signals and abstract sockets scoped" in prot.get("landlock", ""):
            return None
        return ("executions would run as the caller's uid in the caller's pid namespace: not root, no user "
                "namespace, no pid namespace and no Landlock signal scoping (kernel >= 6.12)")

    def protections(self) -> dict[str, str]:
        return dict(self._protections)

    def cpu_seconds(self) -> float:
        """CPU time used so far by the live workers and every program they ran (from /proc; Linux)."""
        total = 0.0
        for worker in list(self._live):
            for pid in (worker.proc.pid, worker.template_pid):  # the template reaps the executions
                try:
                    with open(f"/proc/{pid}/stat", "rb") as f:
                        fields = f.read().rsplit(b")", 1)[1].split()
                except (OSError, TypeError):
                    continue
                total += sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        return total

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                break
            if worker is not None:
                worker.close()
                self._live.discard(worker)
