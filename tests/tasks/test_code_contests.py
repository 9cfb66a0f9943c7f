"""code-contests task: both data layouts, bad files, and real problems judged by code-tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monkeys.core import Outcome, Sample
from monkeys.errors import DataError
from monkeys.registry import create
from monkeys.tasks.code_contests import CodeContests
from monkeys.verifiers.code_tests import CodeTests

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "../shared/data/code_contests/code_contests_sample.jsonl"
CASES = ROOT / "tests/cases/code_contests"
SOLVED = {"1342C": "CODEFORCES/1342_C. Yet Another Counting Problem",
          "1238B": "CODEFORCES/1238_B. Kill 'Em All", "1000A": "CODEFORCES/1000_A. Codehorses T-shirts",
          "12B": "CODEFORCES/12_B. Correct Solution?"}


@pytest.fixture(scope="module")
def problems() -> dict:
    return {p.problem_id: p for p in CodeContests(data=str(SAMPLE)).load_problems()}


def test_loads_sample_file(problems: dict) -> None:
    assert len(problems) == 20
    p = problems[SOLVED["12B"]]
    assert p.reference["kind"] == "stdio" and len(p.reference["tests"]) == 132
    assert p.prompt.text.endswith("## Solution\n") and p.prompt.text.count("## Problem") == 3
    assert p.prompt.messages[-1]["role"] == "user" and "WRONG_ANSWER" in p.prompt.messages[-1]["content"]
    assert create("task", "code-contests", data=str(SAMPLE)).default_verifier == "code-tests"


def test_hub_layout_tests_are_public_private_generated(tmp_path: Path) -> None:
    record = {"name": "1_A. Sum", "description": "Add.", "public_tests": {"input": ["1 2\n"], "output": ["3\n"]},
              "private_tests": {"input": ["2 2\n"], "output": ["4\n"]},
              "generated_tests": {"input": ["0 0\n"], "output": ["0\n"]}}
    path = tmp_path / "cc.jsonl"
    path.write_text(json.dumps(record) + "\n")
    (p,) = CodeContests(data=str(path)).load_problems()
    assert p.problem_id == "1_A. Sum" and [t["stdin"] for t in p.reference["tests"]] == ["1 2\n", "2 2\n", "0 0\n"]


@pytest.mark.parametrize("content, message", [
    (None, "not found"), ('{"foo": 1}\n', "expected CodeContests records"),
    ('{"content": "x", "test": "not json"}\n', "field 'test'"), ("{nope\n", "not valid JSON"),
])
def test_bad_files_raise_data_error_naming_file(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=message) as info:
        CodeContests(data=str(path)).load_problems()
    assert "bad.jsonl" in str(info.value)


@pytest.fixture(scope="module")
def verifier() -> CodeTests:
    return CodeTests(timeout_s=2.0, cache=False)


@pytest.mark.parametrize("name", sorted(SOLVED))
def test_correct_solutions_pass(problems: dict, verifier: CodeTests, name: str) -> None:
    problem = problems[SOLVED[name]]
    text = f"Sure.\n```python\n{(CASES / f'{name}.py').read_text()}```\nDone."
    verdict = verifier.verify(problem, Sample(problem.problem_id, 0, 0, text))
    assert verdict.passed, verdict
    assert verdict.details["tests_run"] == len(problem.reference["tests"])


@pytest.mark.parametrize("edit, outcome, reason", [
    (lambda s: s.replace('"OK"', '"Ok"'), Outcome.FAIL, "wrong answer on test"),
    (lambda s: "import time\ntime.sleep(30)\n" + s, Outcome.TIMEOUT, "time limit on test 0"),
    (lambda s: s.replace("n = input().strip()", "n = int(input()) // 0"), Outcome.FAIL, "runtime error"),
    (lambda s: s + "\nif m == '0':\n    import os\n    os.abort()\n", Outcome.FAIL, "killed by SIGABRT"),
])
def test_wrong_slow_crashing_variants(problems: dict, edit, outcome: Outcome, reason: str) -> None:
    problem = problems[SOLVED["12B"]]
    verdict = CodeTests(timeout_s=0.5, cache=False).verify(
        problem, Sample(problem.problem_id, 0, 0, edit((CASES / "12B.py").read_text())))
    assert verdict.outcome is outcome, verdict
    assert reason in verdict.reason, verdict.reason
    assert verdict.details["tests_run"] <= len(problem.reference["tests"])
    if outcome is Outcome.FAIL:
        assert verdict.details["tests_run"] == verdict.details["failed_test"] + 1  # stopped at first failure


def test_first_python3_solution_is_the_reference_solution(tmp_path: Path) -> None:
    base = {"description": "Add.", "public_tests": {"input": ["1 2\n"], "output": ["3\n"]}}
    records = [{**base, "name": "py3", "solutions": {"language": [2, 1, 3, 3], "solution": [
                   "int main(){}", "print 3", "print(sum(map(int, input().split())))", "print(3)"]}},
               {**base, "name": "cpp only", "solutions": {"language": [2], "solution": ["int main(){}"]}},
               {**base, "name": "none"}]
    path = tmp_path / "cc.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    py3, cpp, none = CodeContests(data=str(path)).load_problems()
    assert py3.reference["solution"] == "print(sum(map(int, input().split())))"
    assert "solution" not in cpp.reference and "solution" not in none.reference
    verdict = CodeTests().verify(py3, Sample(py3.problem_id, 0, 0, "while True:\n    pass\n"))
    assert verdict.outcome is Outcome.TIMEOUT and verdict.details["limit_from"] == "reference"
    path.write_text(json.dumps({**base, "solutions": {"language": ["3"], "solution": ["x"]}}) + "\n")
    with pytest.raises(DataError, match="solutions"):
        CodeContests(data=str(path)).load_problems()
