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
- TIMEOUT: the time limit was hit twice (a first time-out is retried once, `details["retried_timeout"]`,
  and the first attempt is kept in `details["first_attempt"]`). Limits are CPU time scaled by the
  sandbox's start-up calibration (`details["time_scale"]`), so verdicts do not depend on the machine;
  `details["time_limit"]` says which limit ended the run ("cpu" or "wall");
- ERROR: the problem's reference is unusable (not the sample's fault). A sandbox that cannot run at all
  raises `SandboxError` instead, so it is never stored as the sample failing.

Verdicts are cached per verifier by the exact bytes that run (program and tests), the reference and the
limits: two programs share a verdict only when the interpreter would compile the very same bytes.
"""

from __future__ import annotations

import ast
import json
import signal as _signal
import threading
import time
from collections import OrderedDict
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt

from monkeys.core import Outcome, Problem, Sample, Verdict
from monkeys.registry import SPEED_ONLY, check_options, register_verifier
from monkeys.sandbox import ExecResult, Limits, get_sandbox
from monkeys.verifiers._code_extract import cache_key, defines, extract_code
from monkeys.verifiers._compare import outputs_match
from monkeys.verifiers._sanitize import sanitize

_SYNTAX = ("SyntaxError", "IndentationError", "TabError")


def build_assert_program(code: str, reference: dict[str, Any], strip: bool = True) -> tuple[str, str, tuple[str, ...]]:
    """(program, tests, removed) for an "asserts" reference.

    A completion that does not define the entry point continues the prompt (HumanEval style), so the
    prompt is prepended as is. A full solution that does define it still gets the prompt's imports and
    helpers: the prompt (trusted dataset text, parsed here, never run) goes first and is overridden.
    Then top-level code that is not a definition is removed (`_sanitize`), unless `strip` is false.
    The tests are the setup code, the test code and `check(entry_point)`.
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
    parts = [reference.get("setup_code") or "", reference.get("test_code") or ""]
    if entry:
        parts.append(f"check({entry})")
    return code, "\n\n".join(p for p in parts if p) + "\n", removed


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
        return True
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


def _tail(stderr: bytes, n: int = 3) -> str:
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
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
    if result.timed_out:
        out["time_limit"] = extra.get("time_limit") or "wall"
        out["cpu_limit_s"] = round(extra.get("cpu_limit_s", 0.0), 3)
    return out


@register_verifier("code-tests")
class CodeTests:
    """Unit tests in the sandbox: function asserts (HumanEval/MBPP) or stdin/stdout (CodeContests).

    `timeout_s` is per execution (per test for stdin/stdout) and, unless `cpu_s` is given, a CPU-time
    limit with twice as much wall clock; both in reference-machine seconds (see `ForkServerPool`).
    `flagged`: "fail" (default) or "pass", whether a pass that the harness flagged counts.
    `strip_top_level`: remove top-level code after the definitions (asserts problems; see `_sanitize`).
    `guard`: the sandbox's in-process integrity guard (leave it on; off only to test the OS layer alone).
    Identical programs (byte for byte) against the same tests run once per verifier (`cache`).
    """

    def __init__(self, timeout_s: Annotated[float, Gt(0)] = 10.0, cpu_s: Annotated[float, Gt(0)] | None = None,
                 memory_mb: Annotated[int, Ge(16)] = 1024, max_processes: Annotated[int, Ge(1)] = 32,
                 max_output_mb: Annotated[int, Ge(1)] = 1, cache: Annotated[bool, SPEED_ONLY] = True,
                 cache_size: Annotated[int, Ge(0), SPEED_ONLY] = 100_000, retry_timeouts: bool = True,
                 flagged: Literal["fail", "pass"] = "fail", strip_top_level: bool = True,
                 guard: bool = True) -> None:
        # Every limit changes verdicts, so all but the cache are part of a run's identity (see registry).
        check_options("verifier", "code-tests", {k: v for k, v in locals().items() if k != "self"})
        self.limits = Limits(timeout_s=timeout_s, cpu_s=cpu_s, memory_mb=memory_mb,
                             max_processes=max_processes, max_output_bytes=max_output_mb << 20)
        self.cache_enabled, self.cache_size, self.retry_timeouts = cache, cache_size, retry_timeouts
        self.flagged, self.strip, self.guard = flagged, strip_top_level, guard
        self._cache: OrderedDict[str, Verdict] = OrderedDict()
        self._ref_hashes: dict[int, tuple[dict[str, Any], str]] = {}
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
        settings = json.dumps([self.limits.to_dict(), self.flagged, self.guard])
        key = cache_key(code, tests or "", self._reference_hash(reference), settings)
        if self.cache_enabled:
            with self._lock:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    return Verdict(hit.outcome, hit.reason, {**hit.details, "cached": True},
                                   time.monotonic() - start)
        outcome, reason, details = self._check(kind, code, tests, reference)
        retried = False
        if outcome is Outcome.TIMEOUT and self.retry_timeouts:
            retried, first = True, {"reason": reason, **details}
            outcome, reason, details = self._check(kind, code, tests, reference)
            details["first_attempt"] = first
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

    def _check(self, kind: str, program: str, tests: str | None,
               reference: dict[str, Any]) -> tuple[Outcome, str, dict]:
        sandbox = get_sandbox()
        if kind == "asserts":
            result = sandbox.run(program, tests=tests, limits=self.limits, guard=self.guard)
            if result.ending == "harness":
                return Outcome.ERROR, f"unusable reference: {result.detail}", {}
            failure = classify_asserts(result)
            details: dict[str, Any] = {"wall_s": round(result.wall_s, 4), "cpu_s": round(result.cpu_s, 4),
                                       **_time_details(result)}
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

        results = sandbox.run_many(program, stdins, limits=self.limits, stop=stop, guard=self.guard)
        details = {"tests_run": len(results), "tests_total": len(cases),
                   "cpu_s": round(sum(r.cpu_s for r in results), 4), **_time_details(results[-1])}
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
