"""Final-answer equivalence for GSM8K and MATH, with each sympy check under a hard deadline.

GSM8K answers are compared as exact decimals in-process (fast, bounded). MATH answers go to a pool of
worker processes (`_timeout`) unless a cheap string test settles them; results are cached, because
repeated sampling produces the same few answers thousands of times. The verdict carries the extracted
answer and a vote key (`details["answer"]`, `details["answer_key"]`) that selection methods read back.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Literal

from monkeys.core import Outcome, Problem, Sample, Verdict
from monkeys.errors import ConfigError
from monkeys.registry import register_verifier
from monkeys.verifiers._answer_extract import canonical_number, gsm8k_answer, math_answer
from monkeys.verifiers._math_normalize import (
    light_normalize,
    minerva_normalize,
    plain_numbers_differ,
)
from monkeys.verifiers._timeout import CheckTimeout, DeadlinePool, WorkerDied

MODES = ("math-verify", "minerva")
_MAX_ANSWER_CHARS = 2000  # longer "answers" are rambling, not answers; they still get a verdict


@register_verifier("math-answer")
class MathAnswer:
    """Final-answer equivalence for GSM8K/MATH; the reference is compared after normalisation.

    `mode`: "math-verify" (sympy-backed, robust) or "minerva" (lm-eval `is_equiv`, the paper's grader).
    `reference["task"]` picks the checker: "gsm8k" (numeric) or "math" (the default).
    `timeout_s` bounds each sympy check; `workers` is the number of checking processes.
    """

    def __init__(self, mode: Literal["math-verify", "minerva"] = "math-verify", timeout_s: float = 5.0,
                 workers: int = 2, cache_size: int = 100_000, memory_mb: int | None = 2048) -> None:
        if mode not in MODES:
            raise ConfigError(f"verifier math-answer: mode {mode!r} is not one of {', '.join(MODES)}")
        if timeout_s <= 0:
            raise ConfigError(f"verifier math-answer: timeout_s must be > 0, got {timeout_s}")
        self.mode = mode
        self.timeout_s = float(timeout_s)
        self._pool = DeadlinePool("monkeys.verifiers._math_normalize:check_and_key", workers,
                                  memory_mb=memory_mb)
        self._cache: OrderedDict[tuple[str, str], tuple[bool, str]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def verify(self, problem: Problem, sample: Sample) -> Verdict:
        start = time.perf_counter()
        ref = problem.reference
        gold = ref.get("answer")
        if not isinstance(gold, str) or not gold.strip():
            return Verdict(Outcome.ERROR, f"problem {problem.problem_id}: reference has no 'answer' string")
        if ref.get("task") == "gsm8k":
            verdict = self._verify_gsm8k(gold, sample.text)
        else:
            verdict = self._verify_math(gold, sample.text)
        return Verdict(verdict.outcome, verdict.reason, verdict.details, time.perf_counter() - start)

    def _verify_gsm8k(self, gold: str, text: str) -> Verdict:
        expected = canonical_number(gold)
        if expected is None:
            return Verdict(Outcome.ERROR, f"GSM8K gold answer {gold!r} is not a number")
        answer = gsm8k_answer(text)
        if answer is None:
            return Verdict(Outcome.FAIL, "no number in the completion", {"answer": None, "answer_key": None})
        details = {"answer": answer, "answer_key": "n:" + answer, "gold": expected}
        if answer == expected:
            return Verdict(Outcome.PASS, f"answer {answer} equals the reference", details)
        return Verdict(Outcome.FAIL, f"answer {answer} != reference {expected}", details)

    def _verify_math(self, gold: str, text: str) -> Verdict:
        raw = math_answer(text)
        if raw is None:
            return Verdict(Outcome.FAIL, "no \\boxed{} answer and no 'The final answer is' phrase",
                           {"answer": None, "answer_key": None})
        raw = raw[:_MAX_ANSWER_CHARS]
        shown = minerva_normalize(raw) if self.mode == "minerva" else light_normalize(raw)
        details: dict[str, Any] = {"answer": shown, "gold": gold, "mode": self.mode}
        gold_l, raw_l = light_normalize(gold), light_normalize(raw)
        if gold_l == raw_l:  # same string up to spacing: equal in every mode, and the same vote key
            try:
                _, key = self._cached_or_check(gold, raw, key_only=True)
            except (CheckTimeout, WorkerDied, RuntimeError):
                key = "s:" + raw_l
            return self._verdict(True, key, details)
        if plain_numbers_differ(gold_l, raw_l):
            return self._verdict(False, "n:" + format(float(raw_l), ".10g"), details)
        try:
            ok, key = self._cached_or_check(gold, raw)
        except CheckTimeout as exc:
            details["answer_key"] = "s:" + raw_l
            return Verdict(Outcome.TIMEOUT, f"equivalence check timed out: {exc}", details)
        except (WorkerDied, RuntimeError) as exc:
            details["answer_key"] = "s:" + raw_l
            return Verdict(Outcome.ERROR, f"equivalence check failed: {exc}", details)
        return self._verdict(ok, key, details)

    @staticmethod
    def _verdict(ok: bool, key: str, details: dict[str, Any]) -> Verdict:
        details["answer_key"] = key
        if ok:
            return Verdict(Outcome.PASS, f"answer {details['answer']!r} is equivalent to the reference", details)
        return Verdict(Outcome.FAIL, f"answer {details['answer']!r} is not equivalent to "
                                     f"{details['gold']!r} ({details['mode']})", details)

    def _cached_or_check(self, gold: str, answer: str, key_only: bool = False) -> tuple[bool, str]:
        cache_key = ("" if key_only else light_normalize(gold), light_normalize(answer))
        with self._lock:
            hit = self._cache.get(cache_key)
            if hit is not None:
                self._cache.move_to_end(cache_key)
                return hit
        result = tuple(self._pool.call("key" if key_only else self.mode, gold, answer,
                                               timeout_s=self.timeout_s))
        with self._lock:
            self._cache[cache_key] = result
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result

    def start(self) -> None:
        """Start the checking processes now (they otherwise start on first use)."""
        self._pool.start()

    def close(self) -> None:
        """Stop the checking processes."""
        self._pool.close()
