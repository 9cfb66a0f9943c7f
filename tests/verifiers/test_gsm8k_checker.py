"""GSM8K numeric checker: agreement with the labelled example solutions, and the number formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monkeys.core import Outcome, Problem, Prompt, Sample
from monkeys.verifiers._answer_extract import canonical_number, gsm8k_answer
from monkeys.verifiers.math_answer import MathAnswer

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "gsm8k"
MODELS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


@pytest.mark.parametrize(("text", "expected"), [
    ("#### 1,000", "1000"), ("A: $18.00", "18"), ("The answer is -3.50.", "-3.5"), ("so 5 then 7", "7"),
    ("#### 12\nnoise 99", "12"), ("answer is $ 2,345", "2345"), ("no digits", None), ("A: .5", "0.5"),
    # a time is one token: the hour when on the hour, else a time that equals no number
    ("A: 7:00 p.m.", "7"), ("A: 7:30 p.m.", "7:30"), ("she eats at 7:30 pm.", "7:30"), ("dinner at 7:00.", "7"),
    ("A: 10:05:30 am", "10:05:30"), ("ratio 3:2", "2"), ("at 12:75 then", "75"), ("so 1,234.50 at 10:45", "10:45"),
])
def test_extracts_canonical_numbers(text: str, expected: str | None) -> None:
    assert gsm8k_answer(text) == expected


def test_a_time_is_not_its_hour() -> None:
    verifier = MathAnswer()
    try:
        problem = Problem("p", Prompt(), {"answer": "7", "task": "gsm8k"})
        verdicts = [verifier.verify(problem, Sample("p", 0, 0, t)) for t in ("A: 7:00 p.m.", "A: 7:30 p.m.")]
    finally:
        verifier.close()
    assert [v.passed for v in verdicts] == [True, False]
    assert [v.details["answer_key"] for v in verdicts] == ["n:7", "t:7:30"]


def test_canonical_number_rejects_noise() -> None:
    assert canonical_number("1" * 500) is None
    assert canonical_number("0.10") == "0.1"
    assert canonical_number("-0") == "0"


@pytest.mark.skipif(not (DATA / "example_model_solutions.jsonl").exists(), reason="../shared/data absent")
def test_agrees_with_labels_on_example_solutions() -> None:
    verifier = MathAnswer()
    agree = total = 0
    try:
        for line in (DATA / "example_model_solutions.jsonl").read_text().splitlines():
            record = json.loads(line)
            gold = gsm8k_answer(record["ground_truth"])
            problem = Problem("p", Prompt(), {"answer": gold, "task": "gsm8k"})
            for model in MODELS:
                verdict = verifier.verify(problem, Sample("p", 0, 0, record[model]["solution"]))
                assert verdict.outcome in (Outcome.PASS, Outcome.FAIL)
                agree += verdict.passed == record[model]["is_correct"]
                total += 1
    finally:
        verifier.close()
    assert total == 5276
    assert agree / total >= 0.995
