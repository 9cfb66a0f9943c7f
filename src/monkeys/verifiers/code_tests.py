"""The `code-tests` verifier: runs a sample's program in the sandbox against the problem's tests.

Two reference kinds (see `monkeys.core.Problem`): "asserts" (HumanEval/MBPP: the program plus its test
code must exit 0) and "stdio" (CodeContests: every stdin must give the expected stdout, compared as the
paper's harness does, stopping at the first failing test). Outcomes:

- PASS; FAIL with a reason (wrong answer, runtime error, syntax error, memory/output limit, killed);
- TIMEOUT: the time limit was hit twice (a first time-out is retried once, `details["retried_timeout"]`,
  and the first attempt is kept in `details["first_attempt"]`). Limits are CPU time scaled by the
  sandbox's start-up calibration (`details["time_scale"]`), so verdicts do not depend on the machine;
  `details["time_limit"]` says which limit ended the run ("cpu" or "wall");
- ERROR: the problem's reference is unusable (not the sample's fault). A sandbox that cannot run at all
  raises `SandboxError` instead, so it is never stored as the sample failing.
"""

from __future__ import annotations

import ast
import json
import signal as _signal
import threading
import time
from collections import OrderedDict
from typing import Any

from monkeys.core import Outcome, Problem, Sample, Verdict
from monkeys.registry import register_verifier
from monkeys.sandbox import ExecResult, Limits, get_sandbox
from monkeys.verifiers._code_extract import cache_key, defines, extract_code
from monkeys.verifiers._compare import outputs_match

_SYNTAX = ("SyntaxError", "IndentationError", "TabError")


def build_assert_program(code: str, reference: dict[str, Any]) -> str:
    """Program for an "asserts" reference: code, setup, tests, then `check(entry_point)`.

    A completion that does not define the entry point continues the prompt (HumanEval style), so the
    prompt is prepended as is. A full solution that does define it still gets the prompt's imports and
    helpers: the prompt (trusted dataset text, parsed here, never run) goes first and is overridden.
    """
    entry = reference.get("entry_point") or None
    prompt_code = reference.get("prompt_code") or ""
    if prompt_code and entry and not defines(code, entry):
        code = prompt_code + code
    elif prompt_code and _parses(prompt_code):
        code = prompt_code + "\n\n" + code
    parts = [code, reference.get("setup_code") or "", reference.get("test_code") or ""]
    if entry:
        parts.append(f"check({entry})")
    return "\n\n".join(p for p in parts if p) + "\n"


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
        return True
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


def _tail(stderr: bytes, n: int = 3) -> str:
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return " | ".join(line.strip() for line in lines[-n:])


def classify(result: ExecResult) -> tuple[Outcome, str] | None:
    """Why an execution failed, or None when it exited 0 within its limits."""
    if result.timed_out or result.signal == _signal.SIGXCPU:
        return Outcome.TIMEOUT, "time limit"
    if result.memory_exceeded:
        return Outcome.FAIL, "memory limit"
    if result.output_truncated:
        return Outcome.FAIL, "output limit exceeded"
    if result.signal is not None:
        return Outcome.FAIL, f"killed by {_signal.Signals(result.signal).name}"
    if result.exit_code == 0:
        return None
    last = _tail(result.stderr, 1)
    if last.startswith(_SYNTAX):
        return Outcome.FAIL, f"syntax error: {last}"
    if last.startswith("AssertionError"):
        return Outcome.FAIL, f"wrong answer: {_tail(result.stderr, 2)}"
    if last.startswith("RecursionError"):
        return Outcome.FAIL, f"runtime error: {last}"
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
    limit with twice as much wall clock; both in reference-machine seconds (see `ForkServerPool`). Identical programs
    (after normalising comments/layout) against the same tests are run once per verifier (`cache`).
    """

    def __init__(self, timeout_s: float = 10.0, cpu_s: float | None = None, memory_mb: int = 1024,
                 max_processes: int = 32, max_output_mb: int = 1, cache: bool = True,
                 cache_size: int = 100_000, retry_timeouts: bool = True) -> None:
        self.limits = Limits(timeout_s=timeout_s, cpu_s=cpu_s, memory_mb=memory_mb,
                             max_processes=max_processes, max_output_bytes=max_output_mb << 20)
        self.cache_enabled, self.cache_size, self.retry_timeouts = cache, cache_size, retry_timeouts
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
        program = build_assert_program(code, reference) if kind == "asserts" else code
        key = cache_key(program, self._reference_hash(reference), json.dumps(self.limits.to_dict()))
        if self.cache_enabled:
            with self._lock:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    return Verdict(hit.outcome, hit.reason, {**hit.details, "cached": True},
                                   time.monotonic() - start)
        outcome, reason, details = self._check(kind, program, reference)
        retried = False
        if outcome is Outcome.TIMEOUT and self.retry_timeouts:
            retried, first = True, {"reason": reason, **details}
            outcome, reason, details = self._check(kind, program, reference)
            details["first_attempt"] = first
        details.update(cached=False, retried_timeout=retried, cache_key=key)
        verdict = Verdict(outcome, reason, details, time.monotonic() - start)
        if self.cache_enabled:
            with self._lock:
                self._cache[key] = verdict
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return verdict

    def _check(self, kind: str, program: str, reference: dict[str, Any]) -> tuple[Outcome, str, dict]:
        sandbox = get_sandbox()
        if kind == "asserts":
            result = sandbox.run(program, limits=self.limits)
            failure = classify(result)
            details: dict[str, Any] = {"wall_s": round(result.wall_s, 4), "cpu_s": round(result.cpu_s, 4),
                                       **_time_details(result)}
            if failure is None:
                return Outcome.PASS, "passed", details
            details["stderr_tail"] = _tail(result.stderr, 5)
            return failure[0], failure[1], details
        tests = reference["tests"]
        stdins = [str(t.get("stdin", "")).encode() for t in tests]
        failed: dict[str, Any] = {}

        def stop(i: int, result: ExecResult) -> bool:
            failure = classify(result)
            if failure is None and not outputs_match(result.stdout, str(tests[i].get("stdout", ""))):
                failure = (Outcome.FAIL, f"wrong answer on test {i}")
            if failure is not None:
                failed.update(index=i, failure=failure, result=result)
            return failure is not None

        results = sandbox.run_many(program, stdins, limits=self.limits, stop=stop)
        details = {"tests_run": len(results), "tests_total": len(tests),
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
