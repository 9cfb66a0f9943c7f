"""CodeContests (Li et al. 2022): competitive programming, verified by hidden stdin/stdout tests.

Reads the hub layout (`deepmind/code_contests`: `description`, `public_tests`/`private_tests`/
`generated_tests` as {"input": [...], "output": [...]}) and the flat layout of the shared sample file
(`content`, `test` = JSON list of {"input": {"stdin"}, "output": {"stdout"}}, `labels` JSON).
Tests are public + private + generated. The prompt is the paper's: a few solved problems, then this one.
A record's first Python 3 solution (hub `solutions`: {"language": [3, ...], "solution": [...]}), when there
is one, travels as the reference's `solution`: code-tests times it to set the problem's time limit.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar

from annotated_types import Ge, Le

from monkeys.core import Problem, Prompt
from monkeys.errors import DataError
from monkeys.registry import register_task
from monkeys.tasks._files import check_fields, load_hub, read_records

HUB_DATASET = "deepmind/code_contests"
EXPECTED = ("expected CodeContests records with `description` + `public_tests`/`private_tests`/"
            "`generated_tests` (hub layout) or `content` + `test` (flat layout)")
FEW_SHOT = (
    ("You are given two integers a and b. Print their sum.\n\nInput\nOne line with a and b "
     "(|a|, |b| <= 10^9).\n\nOutput\nPrint a + b.",
     "a, b = map(int, input().split())\nprint(a + b)"),
    ("Given n and a list of n integers, print the maximum sum of a contiguous non-empty subarray.\n\n"
     "Input\nThe first line contains n (1 <= n <= 2*10^5); the second line n integers "
     "(|a_i| <= 10^9).\n\nOutput\nPrint one integer.",
     "import sys\n\ndef main():\n    data = sys.stdin.buffer.read().split()\n    n = int(data[0])\n"
     "    best, cur = None, 0\n    for x in map(int, data[1:n + 1]):\n        cur = max(x, cur + x)\n"
     "        best = cur if best is None else max(best, cur)\n    print(best)\n\nmain()"),
)
INSTRUCTION = ("Solve the programming problem. Read from standard input, write to standard output, "
               "and answer with one complete Python 3 program in a ```python code block.")
STOPS = ("\n## Problem",)


def build_prompt(statement: str, n_shots: int = len(FEW_SHOT)) -> Prompt:
    """Paper-style few-shot prompt; the model continues after "## Solution" with a fenced block."""
    shots = "".join(f"## Problem\n{q}\n\n## Solution\n```python\n{a}\n```\n\n" for q, a in FEW_SHOT[:n_shots])
    text = f"{INSTRUCTION}\n\n{shots}## Problem\n{statement.strip()}\n\n## Solution\n"
    messages: list[dict[str, str]] = [{"role": "system", "content": INSTRUCTION}]
    for q, a in FEW_SHOT[:n_shots]:
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": f"```python\n{a}\n```"}]
    messages.append({"role": "user", "content": statement.strip()})
    return Prompt(text=text, messages=tuple(messages), stop=STOPS)


HUB_FIELDS = {"description": str, "name": str | None, "public_tests": dict | None, "private_tests": dict | None,
              "generated_tests": dict | None, "solutions": dict | None}
FLAT_FIELDS = {"content": str, "test": str | list}
SOLUTIONS = {"language": list[int] | None, "solution": list[str] | None}
PYTHON3 = 3  # CodeContests' Language enum: 1 Python 2, 2 C++, 3 Python 3, 4 Java


def _python_solution(record: dict[str, Any], where: str) -> str | None:
    """The record's first Python 3 solution, or None (none given, or another language only)."""
    block = record.get("solutions") or {}
    check_fields(block, f"{where}: field 'solutions'", {}, SOLUTIONS)
    languages, solutions = block.get("language") or [], block.get("solution") or []
    pairs = zip(languages, solutions, strict=False)
    return next((code for lang, code in pairs if lang == PYTHON3 and code.strip()), None)


def _hub_tests(record: dict[str, Any], where: str) -> list[dict[str, str]]:
    tests = []
    for key in ("public_tests", "private_tests", "generated_tests"):
        block = record.get(key) or {}
        check_fields(block, f"{where}: field {key!r}", {}, {"input": list[str] | None, "output": list[str] | None})
        inputs, outputs = block.get("input") or [], block.get("output") or []
        if len(inputs) != len(outputs):
            raise DataError(f"{where}: {key} has {len(inputs)} inputs but {len(outputs)} outputs")
        tests += [{"stdin": i, "stdout": o} for i, o in zip(inputs, outputs, strict=True)]
    return tests


def _flat_tests(record: dict[str, Any], where: str) -> list[dict[str, str]]:
    raw = record["test"]
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
        tests = [{"stdin": t["input"]["stdin"], "stdout": t["output"]["stdout"]} for t in items]
        if not all(isinstance(v, str) for t in tests for v in t.values()):
            raise TypeError("stdin and stdout must be strings")
        return tests
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise DataError(f"{where}: field 'test': expected a JSON list of "
                        f'{{"input": {{"stdin": ...}}, "output": {{"stdout": ...}}}} ({exc!r})') from None


def to_problem(record: dict[str, Any], where: str, n_shots: int = len(FEW_SHOT)) -> Problem:
    """One record of either layout as a Problem. Raises DataError naming `where` on a bad record."""
    if "description" in record:
        check_fields(record, where, {}, HUB_FIELDS)
        statement, tests = record["description"], _hub_tests(record, where)
        pid = str(record.get("name") or where)
    elif "content" in record and "test" in record:
        check_fields(record, where, FLAT_FIELDS, {"solutions": dict | None})
        statement, tests = record["content"], _flat_tests(record, where)
        labels = record.get("labels") or {}
        try:
            labels = json.loads(labels) if isinstance(labels, str) else labels
        except ValueError:
            labels = {}
        name = labels.get("name") if isinstance(labels, dict) else None
        pid = f"{labels.get('source', 'cc')}/{name}" if name else str(record.get("id", where))
    else:
        raise DataError(f"{where}: {EXPECTED}")
    if not tests:
        raise DataError(f"{where}: problem {pid!r} has no tests")
    solution = _python_solution(record, where)
    return Problem(problem_id=pid, prompt=build_prompt(statement, n_shots),
                   reference={"kind": "stdio", "tests": tests, **({"solution": solution} if solution else {})})


@register_task("code-contests")
class CodeContests:
    """DeepMind CodeContests; each problem is verified against its public, private and generated tests."""

    name: ClassVar[str] = "code-contests"
    default_verifier: ClassVar[str] = "code-tests"

    def __init__(self, data: str | None = None, split: str = "test",
                 n_shots: Annotated[int, Ge(0), Le(len(FEW_SHOT))] = 2, limit: Annotated[int, Ge(1)] | None = None,
                 ) -> None:
        self.data, self.split, self.n_shots, self.limit = data, split, n_shots, limit

    def load_problems(self) -> list[Problem]:
        if self.data:
            records = read_records(self.data)
        else:
            source = f"{HUB_DATASET}[{self.split}]"
            records = [(f"{source}: record {i}", r) for i, r in enumerate(load_hub(HUB_DATASET, None, self.split), 1)]
        problems, seen = [], set()
        for i, (where, record) in enumerate(records[: self.limit] if self.limit else records, 1):
            problem = to_problem(record, where, self.n_shots)
            if problem.problem_id in seen:  # names repeat across sources: keep ids unique and stable
                problem = Problem(f"{problem.problem_id}#{i}", problem.prompt, problem.reference)
            seen.add(problem.problem_id)
            problems.append(problem)
        return problems
