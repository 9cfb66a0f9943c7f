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


def _he_row() -> dict:
    return json.loads((DATA / "humaneval/HumanEval.jsonl").read_text().splitlines()[0])


@pytest.mark.parametrize(("change", "message"), [
    ({"test": ""}, r"he.jsonl:1: field 'test': empty"),
    ({"test": "# no check function here\n"}, r"he.jsonl:1: field 'test': defines no top-level `def check"),
    ({"test": "def check(candidate):\n    pass\n"}, r"he.jsonl:1: field 'test': no assert statement"),
    ({"test": "def check(:\n"}, r"he.jsonl:1: field 'test': not valid Python \(line 1"),
    ({"entry_point": "nosuchfn"}, r"he.jsonl:1: field 'entry_point': 'nosuchfn' is not defined by the prompt"
                                  r" \+ canonical_solution"),
])
def test_humaneval_problem_that_cannot_test_anything_is_refused_at_load(tmp_path: Path, change: dict,
                                                                        message: str) -> None:
    """No tests would pass every sample; no `check` or a missing entry point would fail every sample with
    NameError: bad data, named with its line and field, never a verdict on the samples."""
    path = tmp_path / "he.jsonl"
    path.write_text(json.dumps({**_he_row(), **change}) + "\n")
    with pytest.raises(DataError, match=message):
        HumanEval(data=str(path)).load_problems()


@pytest.mark.parametrize(("tests", "message"), [
    ([], r"mbpp.jsonl:2: field 'test_list': no tests"),
    (["", "  "], r"mbpp.jsonl:2: field 'test_list': no tests"),
    (["x = 1"], r"mbpp.jsonl:2: field 'test_list': no assert statement"),
])
def test_mbpp_problem_without_asserts_is_refused_at_load(tmp_path: Path, tests: list[str], message: str) -> None:
    rows = [json.loads(line) for line in (DATA / "mbpp/mbpp.jsonl").read_text().splitlines()[:2]]
    rows[1]["test_list"] = tests
    path = tmp_path / "mbpp.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=message):
        MBPP(data=str(path)).load_problems()
