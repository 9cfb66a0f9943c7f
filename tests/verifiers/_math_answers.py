"""One answer's verdict, shared by the math answer-form test files (`from _math_answers import outcome`: pytest
puts this folder on sys.path for its test files; the verifiers themselves are fixtures in conftest.py)."""

from __future__ import annotations

from monkeys.core import Outcome, Problem, Prompt, Sample
from monkeys.verifiers.math_answer import MathAnswer


def outcome(verifier: MathAnswer, gold: str, text: str, task: str = "math") -> Outcome:
    """The outcome of `text` against `gold` on a problem whose prompt asks nothing (`task`: math or gsm8k)."""
    problem = Problem("p", Prompt(text="q"), {"answer": gold, "task": task})
    return verifier.verify(problem, Sample("p", 0, 0, text)).outcome
