"""humaneval and mbpp tasks carry the data's reference solution, which code-tests times for the limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monkeys.errors import DataError
from monkeys.tasks.humaneval import HumanEval
from monkeys.tasks.mbpp import MBPP

DATA = Path(__file__).parents[2] / "../shared/data"


def test_bundled_humaneval_carries_prompt_plus_canonical_solution() -> None:
    problems = HumanEval().load_problems()
    rows = {r["task_id"]: r for r in map(json.loads, (DATA / "humaneval/HumanEval.jsonl").read_text().splitlines())}
    assert len(problems) == 164
    for p in problems:
        assert p.reference["solution"] == rows[p.problem_id]["prompt"] + rows[p.problem_id]["canonical_solution"]


def test_humaneval_file_without_solutions_has_none(tmp_path: Path) -> None:
    row = json.loads((DATA / "humaneval/HumanEval.jsonl").read_text().splitlines()[0])
    path = tmp_path / "he.jsonl"
    path.write_text(json.dumps({k: row[k] for k in ("task_id", "prompt", "entry_point", "test")}) + "\n"
                    + json.dumps({**row, "task_id": "x/1", "canonical_solution": None}) + "\n")
    assert ["solution" in p.reference for p in HumanEval(data=str(path)).load_problems()] == [False, False]
    path.write_text(json.dumps({**row, "canonical_solution": 3}) + "\n")
    with pytest.raises(DataError, match="canonical_solution"):
        HumanEval(data=str(path)).load_problems()


def test_mbpp_carries_its_code_as_solution(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in (DATA / "mbpp/mbpp.jsonl").read_text().splitlines()[:2]]
    path = tmp_path / "mbpp.jsonl"
    rows[1].pop("code")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with_code, without = MBPP(data=str(path)).load_problems()
    assert with_code.reference["solution"] == rows[0]["code"] and "solution" not in without.reference
