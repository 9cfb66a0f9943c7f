"""math-answer on MATH: hand-written equivalence cases in both modes, extraction, deadlines, threads.

Cases live in `tests/cases/math_equivalence.json`: `equal` is the mathematical truth; a `math_verify` or
`minerva` field overrides it where that mode is known to differ, with a `note` saying why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from monkeys.core import Outcome, Problem, Prompt, Sample
from monkeys.errors import ConfigError
from monkeys.tasks.math import MATH
from monkeys.verifiers._answer_extract import last_boxed, math_answer
from monkeys.verifiers.math_answer import MathAnswer

CASES = json.loads((Path(__file__).resolve().parents[1] / "cases" / "math_equivalence.json").read_text())
DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "math"
needs_data = pytest.mark.skipif(not (DATA / "test.jsonl").exists(), reason="../shared/data/math not present")


@pytest.fixture(scope="module", params=["math-verify", "minerva"])
def verifier(request: pytest.FixtureRequest) -> Iterator[MathAnswer]:
    v = MathAnswer(mode=request.param, timeout_s=20)
    yield v
    v.close()


def check(v: MathAnswer, gold: str, text: str) -> tuple[bool, dict]:
    verdict = v.verify(Problem("p", Prompt(), {"answer": gold, "task": "math"}), Sample("p", 0, 0, text))
    assert verdict.outcome in (Outcome.PASS, Outcome.FAIL), verdict.reason
    return verdict.passed, verdict.details


def test_has_enough_cases() -> None:
    assert len(CASES) >= 100
    assert sum(not c["equal"] for c in CASES) >= 30


def test_equivalence_cases(verifier: MathAnswer) -> None:
    key = verifier.mode.replace("-", "_")
    with ThreadPoolExecutor(4) as pool:  # also exercises calls from several threads at once
        got = list(pool.map(lambda c: check(verifier, c["gold"], f"so \\boxed{{{c['answer']}}}.")[0], CASES))
    wrong = [(c["gold"], c["answer"]) for c, ok in zip(CASES, got) if ok != c.get(key, c["equal"])]
    assert wrong == []


def test_equivalent_answers_share_a_vote_key(verifier: MathAnswer) -> None:
    keys = {check(verifier, "2", f"\\boxed{{{a}}}")[1]["answer_key"] for a in ("0.5", "\\frac12", "1/2", "\\dfrac{1}{2}")}
    assert keys == {"n:0.5"}
    assert check(verifier, "2", "\\boxed{x+1}")[1]["answer_key"] == check(verifier, "2", "\\boxed{1+x}")[1]["answer_key"]


def test_hostile_answer_times_out_without_crashing() -> None:
    v = MathAnswer(timeout_s=1)
    try:
        problem = Problem("p", Prompt(), {"answer": "2", "task": "math"})
        with ThreadPoolExecutor(2) as pool:  # no SIGALRM: works from worker threads
            verdicts = list(pool.map(lambda t: v.verify(problem, Sample("p", 0, 0, t)),
                                     ["\\boxed{9^{9^{9^{9^{9}}}}}", "\\boxed{2}"]))
        assert verdicts[0].outcome is Outcome.TIMEOUT and "timed out" in verdicts[0].reason
        assert verdicts[1].passed
        assert v.verify(problem, Sample("p", 1, 0, "\\boxed{\\frac{4}{2}}")).passed  # replaced worker works
    finally:
        v.close()
        v.close()


@pytest.mark.parametrize(("text", "expected"), [
    ("thus \\boxed{\\frac{1}{2}} and later \\boxed{3}", "3"),
    ("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),
    ("\\fbox{7}", "7"),
    ("\\boxed 5$", "5"),
    ("Final Answer: The final answer is $[2,5)$. I hope it is correct.", "[2,5)"),
    ("...\\boxed{4}.\nFinal Answer: The final answer is $4$. I hope it is correct.", "4"),
    ("unfinished \\boxed{\\frac{1}{", None),
    ("no answer at all", None),
])
def test_extracts_final_answer(text: str, expected: str | None) -> None:
    assert math_answer(text) == expected


def test_missing_answer_is_a_fail_with_reason() -> None:
    v = MathAnswer()
    verdict = v.verify(Problem("p", Prompt(), {"answer": "2"}), Sample("p", 0, 0, "I give up"))
    assert verdict.outcome is Outcome.FAIL and "boxed" in verdict.reason
    assert verdict.details["answer"] is None
    v.close()


def test_bad_mode_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="mode"):
        MathAnswer(mode="exact")  # type: ignore[arg-type]


@needs_data
@pytest.mark.parametrize("name", ["test", "math500"])
def test_every_reference_solution_matches_its_gold(verifier: MathAnswer, name: str) -> None:
    """MATH test: gold is the solution's last box (quick). MATH-500: a separate `answer` field (real checks)."""
    problems = MATH(data=str(DATA / f"{name}.jsonl")).load_problems()
    solutions = [json.loads(line)["solution"] for line in (DATA / f"{name}.jsonl").read_text().splitlines()]
    assert last_boxed(solutions[0]) is not None
    with ThreadPoolExecutor(4) as pool:
        verdicts = list(pool.map(lambda ps: verifier.verify(ps[0], Sample(ps[0].problem_id, 0, 0, ps[1])),
                                 zip(problems, solutions)))
    failed = [p.problem_id for p, v in zip(problems, verdicts) if not v.passed]
    assert failed == []


@pytest.mark.parametrize(("answer", "key"), [
    ("\\frac12", "n:0.5"), ("1/2", "n:0.5"), ("0.5", "n:0.5"), ("-0", "n:0"), ("2^{10}", "n:1024"),
    ("10^{-3}", "n:0.001"), ("\\frac{3+\\sqrt{5}}{2}", "n:2.618033989"), ("\\frac12\\pi", "n:1.570796327"),
    ("90^\\circ", "n:90"), ("\\$32,\\!348", "n:32348"), ("10{,}000", "n:10000"), (".5", "n:0.5"),
    # not plain arithmetic, or not safely so: left to sympy under the deadline
    ("3\\frac{1}{2}", None), ("1/2\\pi", None), ("\\sqrt[3]{8}", None), ("9^{9^{9^{9^{9}}}}", None),
    ("2^3^2", None), ("1,2", None), ("\\sqrt{-1}", None), ("x", None), ("6!", None), ("5\\%", None),
])
def test_plain_arithmetic_is_evaluated_in_process(answer: str, key: str | None) -> None:
    from monkeys.verifiers._math_normalize import light_normalize, numeric_value
    value = numeric_value(light_normalize(answer))
    assert (value.key() if value is not None else None) == key


def test_in_process_keys_match_the_workers() -> None:
    from monkeys.verifiers._math_normalize import answer_key, light_normalize, numeric_value
    for answer in ("\\frac{2}{4}", "0.125", "2\\sqrt{2}", "\\frac{\\pi}{6}", "10^{-3}", "1,234,567", "-\\frac{2}{3}"):
        assert numeric_value(light_normalize(answer)).key() == answer_key(answer)  # type: ignore[union-attr]


def test_spaced_commas_are_a_list_not_thousands() -> None:
    from monkeys.verifiers._math_normalize import light_normalize, numeric_verdict, spaced_comma
    assert spaced_comma("111, 111") and not spaced_comma("111,111")
    assert numeric_verdict("111111", light_normalize("111,111"), "math-verify", True, True) is True
    assert numeric_verdict("111111", light_normalize("111, 111"), "math-verify", True, False) is None


def test_numeric_verdict_leaves_close_calls_to_sympy() -> None:
    from monkeys.verifiers._math_normalize import numeric_verdict
    assert numeric_verdict("\\frac{1}{3}", "0.3333333", "math-verify") is None  # math-verify rounds to 6 places
    assert numeric_verdict("\\frac{1}{3}", "0.33", "math-verify") is False
    assert numeric_verdict("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", "math-verify") is True
    assert numeric_verdict("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", "minerva") is None  # simplify's call
    assert numeric_verdict("\\frac{1}{2}", "\\frac{2}{4}", "minerva") is True


def test_same_check_from_many_threads_goes_to_the_pool_once() -> None:
    v = MathAnswer(workers=2)
    calls = []
    real = v._pool.call

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)

    v._pool.call = counting  # type: ignore[method-assign]
    try:
        problem = Problem("p", Prompt(), {"answer": "x^2+1", "task": "math"})
        with ThreadPoolExecutor(8) as pool:
            verdicts = list(pool.map(lambda i: v.verify(problem, Sample("p", i, 0, "\\boxed{1+x^2}")), range(16)))
        assert all(x.passed for x in verdicts) and len({x.details["answer_key"] for x in verdicts}) == 1
        assert len(calls) == 1
        assert v.verify(problem, Sample("p", 0, 0, "\\boxed{7.}")).details["answer_key"] == "n:7"
        assert v.verify(problem, Sample("p", 0, 0, "\\boxed{7}")).details["answer_key"] == "n:7"
    finally:
        v.close()
