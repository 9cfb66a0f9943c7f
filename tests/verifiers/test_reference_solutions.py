"""Every reference solution passes the real `code-tests` verifier, with problems built by the real task loaders
(as a run builds them): 164 HumanEval canonical solutions, 974 MBPP reference programs (except the records
known to be broken upstream, listed below with why, which must fail) and the CodeContests solutions in
tests/cases/code_contests/."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from monkeys.core import Outcome, Problem, Sample, Verdict
from monkeys.tasks.code_contests import CodeContests
from monkeys.tasks.humaneval import HumanEval
from monkeys.tasks.mbpp import MBPP
from monkeys.verifiers.code_tests import CodeTests

ROOT = Path(__file__).parents[2]
DATA = ROOT / "../shared/data"
CASES = ROOT / "tests/cases/code_contests"
CODE_CONTESTS = {"1342C": "CODEFORCES/1342_C. Yet Another Counting Problem",
                 "1238B": "CODEFORCES/1238_B. Kill 'Em All", "1000A": "CODEFORCES/1000_A. Codehorses T-shirts",
                 "12B": "CODEFORCES/12_B. Correct Solution?"}

# MBPP records whose reference `code` fails its own `test_list` upstream (google-research MBPP), and why.
# With ../shared/data/mbpp/mbpp.jsonl (974 records, test_setup_code applied) none does: all 974 pass today's
# verifier (about 5 s for the whole file on 2 cores), so the set is empty; add an entry, with its reason, only
# after reading the record. (The whole file runs in seconds: not marked slow.)
MBPP_BROKEN: dict[str, str] = {}


def _data(path: str) -> Path:
    full = DATA / path
    if not full.exists():
        pytest.skip(f"shared data not found: {full}")
    return full


def _verify_all(pairs: list[tuple[Problem, str]]) -> dict[str, Verdict]:
    verifier = CodeTests(timeout_s=10.0, cache=False)

    def one(pair: tuple[Problem, str]) -> tuple[str, Verdict]:
        problem, text = pair
        return problem.problem_id, verifier.verify(problem, Sample(problem.problem_id, 0, 0, text))

    with ThreadPoolExecutor(4) as pool:
        return dict(pool.map(one, pairs))


def _failures(verdicts: dict[str, Verdict]) -> dict[str, str]:
    return {pid: f"{v.outcome.value}: {v.reason}" for pid, v in verdicts.items() if v.outcome is not Outcome.PASS}


def test_humaneval_canonical_solutions_pass() -> None:
    path = _data("humaneval/HumanEval.jsonl")
    solutions = {r["task_id"]: r["canonical_solution"] for r in map(json.loads, path.read_text().splitlines())}
    problems = HumanEval(data=str(path)).load_problems()
    assert len(problems) == 164
    verdicts = _verify_all([(p, solutions[p.problem_id]) for p in problems])
    assert _failures(verdicts) == {}
    assert not [pid for pid, v in verdicts.items() if v.details.get("flags")], "a canonical solution was flagged"


def test_mbpp_reference_solutions_pass_except_the_known_broken() -> None:
    path = _data("mbpp/mbpp.jsonl")
    code = {f"mbpp/{r['task_id']}": r["code"] for r in map(json.loads, path.read_text().splitlines())}
    problems = MBPP(data=str(path)).load_problems()
    assert len(problems) == 974
    verdicts = _verify_all([(p, code[p.problem_id]) for p in problems])
    failures = _failures(verdicts)
    assert set(failures) == set(MBPP_BROKEN), {pid: failures.get(pid, "passed") for pid in
                                                set(failures) ^ set(MBPP_BROKEN)}


def test_code_contests_solutions_pass() -> None:
    problems = {p.problem_id: p for p in
                CodeContests(data=str(_data("code_contests/code_contests_sample.jsonl"))).load_problems()}
    verdicts = _verify_all([(problems[pid], (CASES / f"{name}.py").read_text()) for name, pid in
                            CODE_CONTESTS.items()])
    assert _failures(verdicts) == {}
    assert len(list(CASES.glob("*.py"))) == len(CODE_CONTESTS), "a solution in tests/cases/code_contests is unlisted"
