"""code-tests time limits: derived from the reference solution, CPU time-outs final, wall time-outs retried."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from monkeys.core import Outcome, Problem, Prompt, Sample
from monkeys.registry import create
from monkeys.tasks.humaneval import HumanEval
from monkeys.verifiers.code_tests import MIN_TIMEOUT_S, CodeTests, derive_limit

DATA = Path(__file__).parents[2] / "../shared/data"
LOOP = "def truncate_number(number: float) -> float:\n    while True:\n        pass\n"
SLEEP = "def truncate_number(number: float) -> float:\n    import time\n    time.sleep(60)\n    return number % 1.0\n"


@pytest.fixture(scope="module")
def record() -> dict:
    rows = [json.loads(line) for line in (DATA / "humaneval/HumanEval.jsonl").read_text().splitlines()]
    return rows[2]  # truncate_number: one return statement


def problem(r: dict, solution: bool = True) -> Problem:
    reference = {"kind": "asserts", "prompt_code": r["prompt"], "test_code": r["test"],
                 "entry_point": r["entry_point"], "setup_code": ""}
    if solution:
        reference["solution"] = r["prompt"] + r["canonical_solution"]
    return Problem(r["task_id"], Prompt(text=r["prompt"]), reference)


def check(verifier: CodeTests, p: Problem, text: str) -> object:
    return verifier.verify(p, Sample(p.problem_id, 0, 0, text))


@pytest.mark.parametrize("measured, want", [
    (None, 10.0),  # nothing measured: the user's limit
    (0.003, 1.0),  # a typical HumanEval reference: the floor
    (0.25, 2.5),  # a heavy reference: factor x its time
    (2.5, 10.0),  # heavier still: never above the ceiling
])
def test_derive_limit(measured: float | None, want: float) -> None:
    assert derive_limit(measured, factor=10.0, floor=1.0, ceiling=10.0) == pytest.approx(want)


def test_loop_times_out_at_the_derived_limit_once(record: dict) -> None:
    # cpu_s=10 with timeout_s=30: a wall clock no load on this machine reaches before 1 s of CPU
    verdict = check(CodeTests(cpu_s=10.0, timeout_s=30.0, cache=False), problem(record), LOOP)
    d = verdict.details
    assert verdict.outcome is Outcome.TIMEOUT, verdict
    assert d["limit_from"] == "reference" and d["limit_s"] == MIN_TIMEOUT_S  # the floor, not cpu_s=10
    assert 0 < d["reference_cpu_s"] < MIN_TIMEOUT_S / 10
    assert d["time_limit"] == "cpu" and d["retried_timeout"] is False and "first_attempt" not in d
    assert d["cpu_limit_s"] == pytest.approx(MIN_TIMEOUT_S * d["time_scale"], rel=1e-3)  # scaled as before
    default = check(CodeTests(cache=False), problem(record), LOOP)  # wall 3 s: a loaded machine may retry
    assert default.outcome is Outcome.TIMEOUT and default.details["limit_s"] == MIN_TIMEOUT_S


def test_wall_clock_time_out_is_retried_once(record: dict) -> None:
    verifier = CodeTests(cpu_s=10.0, timeout_s=0.5, cache=False)  # 1 s CPU, 0.5 s wall
    verdict = check(verifier, problem(record), SLEEP)  # sleeping burns no CPU: only the wall clock can end it
    d = verdict.details
    assert verdict.outcome is Outcome.TIMEOUT, verdict
    assert d["time_limit"] == "wall" and d["retried_timeout"] is True
    assert d["first_attempt"]["time_limit"] == "wall" and d["limit_s"] == MIN_TIMEOUT_S
    never = check(CodeTests(cpu_s=10.0, timeout_s=0.5, cache=False, retry_timeouts=False), problem(record), SLEEP)
    assert never.outcome is Outcome.TIMEOUT and never.details["retried_timeout"] is False


def test_pass_records_the_limit_and_where_it_came_from(record: dict) -> None:
    text = record["prompt"] + record["canonical_solution"]
    derived = check(CodeTests(), problem(record), text)
    assert derived.passed and derived.details["limit_from"] == "reference", derived
    assert {"limit_s", "reference_cpu_s", "time_scale"} <= set(derived.details)
    assert "time_limit" not in derived.details
    fixed = check(CodeTests(timeout_s=3.0), problem(record, solution=False), text)
    assert fixed.passed and fixed.details["limit_from"] == "timeout_s" and fixed.details["limit_s"] == 3.0
    off = check(CodeTests(timeout_s=3.0, limits_from_reference=False), problem(record), text)
    assert off.details["limit_from"] == "timeout_s" and "reference_cpu_s" not in off.details


def test_factor_floor_and_ceiling_options(record: dict) -> None:
    d = check(CodeTests(min_timeout_s=0.5, timeout_s=0.3), problem(record), LOOP).details
    assert d["limit_s"] == 0.3 and d["limit_from"] == "reference"  # timeout_s is the ceiling
    d = check(CodeTests(min_timeout_s=0.01, reference_factor=50), problem(record), "x = 1\n").details
    assert d["limit_from"] == "reference" and d["limit_s"] == pytest.approx(50 * d["reference_cpu_s"], abs=50 * 1e-4)


def test_failing_reference_falls_back_to_timeout_s(record: dict) -> None:
    p = problem(record)
    p.reference["solution"] = record["prompt"] + "    return 0.0\n"  # wrong: the tests fail
    verdict = check(CodeTests(cpu_s=0.5, timeout_s=30.0, cache=False), p, LOOP)
    d = verdict.details
    assert verdict.outcome is Outcome.TIMEOUT and d["limit_from"] == "timeout_s" and d["limit_s"] == 0.5
    assert d["reference_note"].startswith("reference solution: wrong answer"), d


def test_reference_is_measured_once_per_problem_across_threads(record: dict) -> None:
    verifier, p = CodeTests(), problem(record)
    with ThreadPoolExecutor(8) as ex:
        chosen = list(ex.map(lambda _: verifier.problem_limits("asserts", p.reference), range(16)))
    assert all(c is chosen[0] for c in chosen) and chosen[0].details["limit_from"] == "reference"


def test_task_file_without_solutions_uses_timeout_s(tmp_path: Path, record: dict) -> None:
    path = tmp_path / "he.jsonl"
    path.write_text(json.dumps({k: record[k] for k in ("task_id", "prompt", "entry_point", "test")}) + "\n")
    (bare,) = HumanEval(data=str(path)).load_problems()
    assert "solution" not in bare.reference
    verdict = check(create("verifier", "code-tests", cpu_s=0.5, timeout_s=30.0, cache=False), bare, LOOP)
    assert verdict.outcome is Outcome.TIMEOUT and verdict.details["limit_from"] == "timeout_s"
    assert verdict.details["limit_s"] == 0.5 and verdict.details["retried_timeout"] is False


def test_stdio_limit_from_reference_solution() -> None:
    tests = [{"stdin": f"{i} {i}\n", "stdout": f"{2 * i}\n"} for i in range(3)]
    p = Problem("sum", Prompt(), {"kind": "stdio", "tests": tests,
                                  "solution": "a, b = map(int, input().split())\nprint(a + b)\n"})
    verifier = CodeTests(cpu_s=10.0, timeout_s=30.0, cache=False)
    ok = check(verifier, p, "print(sum(map(int, input().split())))")
    assert ok.passed and ok.details["limit_from"] == "reference" and ok.details["limit_s"] == MIN_TIMEOUT_S
    loop = check(verifier, p, "while True:\n    pass\n")
    assert loop.outcome is Outcome.TIMEOUT and loop.details["time_limit"] == "cpu"
    assert loop.details["retried_timeout"] is False and loop.reason == "time limit on test 0"
