"""MATH task: local loading of the full test set and MATH-500, the Minerva prompt, errors naming fields."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from monkeys.errors import ConfigError, DataError
from monkeys.registry import create
from monkeys.tasks.math import MATH

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "math"
needs_data = pytest.mark.skipif(not (DATA / "test.jsonl").exists(), reason="../shared/data/math not present")


@needs_data
def test_full_test_set_golds_come_from_the_last_box() -> None:
    problems = create("task", "math", data=str(DATA / "test.jsonl")).load_problems()
    assert len(problems) == 5000 and len({p.problem_id for p in problems}) == 5000
    assert problems[0].reference["answer"] == "2" and problems[0].reference["task"] == "math"
    lists = {p.problem_id: p.reference["answer"] for p in problems if ", " in p.reference["answer"]
             and not p.reference["answer"].startswith(("(", "\\left", "[", "\\{"))}
    assert lists["test/414"] == "-2, 1" and lists["test/2703"] == "3, \\frac{2}{5}"


def test_a_list_answer_boxed_item_by_item_is_the_whole_list(tmp_path: Path) -> None:
    """MATH test/414 asks for all solutions "separated by comma(s)" and its solution boxes each: the gold is
    both, not the last box, which a sample naming one root (or hedging between them) would pass. A problem
    that asks for one answer keeps the last box even where its solution boxes two."""
    records = [
        {"problem": "Find all solutions to $\\sqrt{3x+6}=x+2$. If there are multiple solutions, order them from "
                    "least to greatest, separated by comma(s).",
         "solution": "Both check out.\n\nTherefore, the answers are $\\boxed{-2}$ and $\\boxed{1}$.", "idx": 0},
        {"problem": "Find one of the foci. (Enter only one of the foci, not both.)",
         "solution": "The foci are $\\boxed{(10, 0)}$ and $\\boxed{(0,0)}$.", "idx": 1},
        {"problem": "Simplify $(5x+3) - 2(2x-4)$.", "solution": "$\\boxed{x+11}$ or $\\boxed{11+x}$", "idx": 2},
    ]
    path = tmp_path / "math.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    golds = [p.reference["answer"] for p in MATH(data=str(path)).load_problems()]
    assert golds == ["-2, 1", "(0,0)", "11+x"]


@needs_data
def test_math500_uses_its_answer_field_and_ids() -> None:
    problems = MATH(data=str(DATA / "math500.jsonl"), subset="math500").load_problems()
    assert len(problems) == 500
    assert problems[0].problem_id == "test/precalculus/807.json"
    assert problems[0].reference["answer"] == "\\left( 3, \\frac{\\pi}{2} \\right)"


@needs_data
def test_minerva_four_shot_prompt() -> None:
    prompt = MATH(data=str(DATA / "math500.jsonl")).load_problems()[0].prompt
    assert prompt.text.count("Problem:\n") == 5
    assert prompt.text.count("Final Answer: The final answer is") == 4
    assert prompt.text.startswith("Problem:\nFind the domain of the expression")
    assert prompt.text.endswith("0 \\le \\theta < 2 \\pi.$\n\nSolution:")
    assert prompt.stop == ("Problem:",)
    assert len(prompt.messages) == 9


def test_record_without_an_answer_names_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "math.jsonl"
    path.write_text(json.dumps({"problem": "p", "solution": "no box"}) + "\n")
    with pytest.raises(DataError, match=r"math.jsonl:1: field 'solution' has no \\boxed"):
        MATH(data=str(path)).load_problems()
    path.write_text(json.dumps({"problem": 3, "solution": "\\boxed{1}"}) + "\n")
    with pytest.raises(DataError, match=r"math.jsonl:1: field 'problem' must be a non-empty string, got int"):
        MATH(data=str(path)).load_problems()


def test_options_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="subset"):
        MATH(subset="easy")  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(DataError, match="--data"):
        MATH(subset="math500").load_problems()
