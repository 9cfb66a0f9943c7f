"""sanitize(): top-level code that would break a correct function is removed, definitions are kept."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from monkeys.verifiers._sanitize import MAX_CHARS, Sanitized, sanitize

DATA = Path(__file__).parents[2] / "../shared/data"

HUMANEVAL_FN = '''from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)  # symmetric
                if distance < threshold:
                    return True

    return False
'''


def _statements(code: str) -> list[str]:
    return [ast.dump(s) for s in ast.parse(code).body]


def _is_subsequence(kept: list[str], original: list[str]) -> bool:
    it = iter(original)
    return all(any(k == o for o in it) for k in kept)


def test_print_after_humaneval_function_is_removed() -> None:
    code = HUMANEVAL_FN + "\n\nprint(has_close_elements([1.0, 2.8, 3.0], 0.3))\n"
    result = sanitize(code, "has_close_elements")
    assert result.code == HUMANEVAL_FN.rstrip("\n") + "\n"
    assert result.removed == ("line 20: call print(...)",)
    assert "# symmetric" in result.code  # source text kept, not unparsed


def test_main_guard_with_doctest_is_removed() -> None:
    code = HUMANEVAL_FN + "\n\nif __name__ == '__main__':\n    import doctest\n    doctest.testmod()\n"
    result = sanitize(code, "has_close_elements")
    assert result.code == HUMANEVAL_FN.rstrip("\n") + "\n"
    assert result.removed == ("line 20: if __name__ == '__main__' block",)


@pytest.mark.parametrize(
    "guard",
    [
        'if __name__ == "__main__":',
        "if __name__ == '__main__':",
        'if "__main__" == __name__:',
        "if (__name__ == '__main__'):",
    ],
)
def test_main_guard_any_spelling_is_removed(guard: str) -> None:
    code = f"import sys\n\ndef main():\n    return 0\n\n{guard}\n    sys.exit(main())\n"
    result = sanitize(code, "main")
    assert result.code == "import sys\n\ndef main():\n    return 0\n"
    assert result.removed == ("line 6: if __name__ == '__main__' block",)


def test_main_guard_with_only_safe_statements_is_still_removed() -> None:
    result = sanitize("def f():\n    return 1\nif __name__ == '__main__':\n    pass\n")
    assert result.code == "def f():\n    return 1\n"


def test_mbpp_function_followed_by_own_asserts() -> None:
    code = (
        "def next_power(n):\r\n"
        "    p = 1\r\n"
        "    while p < n:\r\n"
        "        p *= 2\r\n"
        "    return p\r\n"
        "\r\n"
        "assert next_power(1) == 2\r\n"
        "assert next_power(5) == 8\r\n"
    )
    result = sanitize(code, "next_power")
    assert result.code == "def next_power(n):\r\n    p = 1\r\n    while p < n:\r\n        p *= 2\r\n    return p\r\n"
    assert result.removed == ("line 7: assert", "line 8: assert")


def test_top_level_input_reads_and_what_depends_on_them_are_removed() -> None:
    code = (
        "def solve(n):\n"
        "    return n * (n + 1) // 2\n"
        "\n"
        "n = int(input())\n"
        "arr = [0] * n\n"
        "print(solve(n))\n"
    )
    result = sanitize(code, "solve")
    assert result.code == "def solve(n):\n    return n * (n + 1) // 2\n"
    assert result.removed == (
        "line 4: assignment that calls input(...)",
        "line 5: uses n, bound only by a removed statement",
        "line 6: call print(...)",
    )


@pytest.mark.parametrize(
    "line",
    [
        "data = sys.stdin.read().split()",
        "input = sys.stdin.readline",
        "f = open('input.txt')",
        "status = sys.exit(0)",
        "_ = os._exit(1)",
        "x: int = print('hi')",
        "total += len(input())",
    ],
)
def test_assignments_with_io_or_exit_are_removed(line: str) -> None:
    code = f"import os\nimport sys\n\ntotal = 0\n{line}\n"
    result = sanitize(code)
    assert result.code == "import os\nimport sys\n\ntotal = 0\n"
    assert len(result.removed) == 1 and result.removed[0].startswith("line 5: assignment that ")


def test_safe_assignments_and_lambdas_are_kept() -> None:
    code = (
        "MOD = 10**9 + 7\n"
        "memo: dict[int, int] = {}\n"
        "squares = [i * i for i in range(10)]\n"
        "debug = lambda *a: print(*a)\n"
        "MOD += 0\n"
    )
    assert sanitize(code) == Sanitized(code, ())


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("sys.exit()", "call sys.exit(...)"),
        ("exit(0)", "call exit(...)"),
        ("quit()", "call quit(...)"),
        ("f(3)", "call f(...)"),
        ("f", "expression"),
        ("del g", "del"),
        ("raise SystemExit(1)", "raise"),
        ("for i in range(3):\n    f(i)", "for loop"),
        ("while False:\n    pass", "while loop"),
        ("await f(1)", "await"),
        ("unittest.main()", "call unittest.main(...)"),
    ],
)
def test_other_top_level_statements_are_removed(line: str, reason: str) -> None:
    code = f"import sys\nimport unittest\n\ndef f(x):\n    return x + 1\n\ng = f\n{line}\n"
    result = sanitize(code, "f")
    assert result.code == "import sys\nimport unittest\n\ndef f(x):\n    return x + 1\n\ng = f\n"
    assert result.removed == (f"line 8: {reason}",)


def test_optional_import_in_try_is_kept() -> None:
    code = (
        "try:\n"
        "    import numpy as np\n"
        "except ImportError:\n"
        "    ...\n"
        "\n"
        "def mean(xs):\n"
        "    return sum(xs) / len(xs)\n"
    )
    assert sanitize(code, "mean").code is code


def test_blocks_containing_removed_statements_are_removed() -> None:
    code = (
        "try:\n"
        "    from math import comb\n"
        "except ImportError:\n"
        "    print('no comb')\n"
        "with open('x') as fh:\n"
        "    pass\n"
        "if True:\n"
        "    pass\n"
        "\n"
        "def f():\n"
        "    return 1\n"
    )
    result = sanitize(code, "f")
    assert result.code == "if True:\n    pass\n\ndef f():\n    return 1\n"
    assert result.removed == (
        "line 1: try block (line 4: call print(...))",
        "line 5: with block whose header calls open(...)",
    )


def test_recursion_limit_and_int_digits_calls_are_kept() -> None:
    code = (
        "import sys\n"
        "from sys import setrecursionlimit\n"
        "sys.setrecursionlimit(10**6)\n"
        "setrecursionlimit(10000)\n"
        "sys.set_int_max_str_digits(0)\n"
        "\n"
        "def fib(n):\n"
        "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
    )
    assert sanitize(code, "fib").code is code


def test_docstrings_global_and_pass_are_kept() -> None:
    code = '"""Module docstring."""\nglobal counter\npass\n...\n\ndef f():\n    return 1\n'
    assert sanitize(code).code is code


def test_decorators_and_comments_inside_functions_are_kept() -> None:
    code = (
        "from functools import lru_cache\n"
        "\n"
        "@lru_cache(maxsize=None)\n"
        "def count(n):\n"
        "    # base case\n"
        "    if n <= 1:\n"
        "        return 1\n"
        "\n"
        "    return count(n - 1) + count(n - 2)  # recurse\n"
        "\n"
        "\n"
        "print(count(10))\n"
        "@dataclass_like\n"
        "class Point:\n"
        "    x: int = 0\n"
    )
    result = sanitize(code, "count")
    assert result.code == code.replace("\n\n\nprint(count(10))\n", "\n")
    assert result.removed == ("line 12: call print(...)",)


def test_statements_sharing_a_line_are_split_exactly() -> None:
    result = sanitize("x = 'é'; print(x); y = 2\ndef f():\n    return x, y\n")
    assert result.code == "x = 'é'\ny = 2\ndef f():\n    return x, y\n"
    assert result.removed == ("line 1: call print(...)",)


def test_entry_point_inside_main_guard_returns_code_unchanged() -> None:
    code = "if __name__ == '__main__':\n    def f(x):\n        return x\n    print(f(1))\n"
    assert sanitize(code, "f") == Sanitized(code, ())
    assert sanitize(code).code == ""  # without an entry point, the policy alone applies


def test_nothing_removed_returns_the_same_object() -> None:
    code = HUMANEVAL_FN + "\nTHRESHOLD = 0.5\n"
    result = sanitize(code, "has_close_elements")
    assert result.code is code
    assert result.removed == ()


@pytest.mark.parametrize(
    "code",
    [
        "def f(:\n    print(1)\n",  # syntax error
        "print(1)\x00\n",  # null byte: ValueError in 3.11, SyntaxError later
        "x = " + "(" * 500 + ")" * 500 + "\nprint(x)\n",  # too deep for the parser
        "x = " + "-" * 100_000 + "1\nprint(x)\n",  # deep unary chain
        "print(1)\n" * (MAX_CHARS // 9 + 1),  # over the size bound
    ],
)
def test_unparsable_or_huge_code_is_returned_unchanged(code: str) -> None:
    result = sanitize(code)
    assert result.code is code
    assert result.removed == ()


def test_deep_but_valid_nesting_is_handled() -> None:
    code = "x = " + "[" * 150 + "]" * 150 + "\nprint(x)\n"
    result = sanitize(code)
    if result.removed:  # parsed: only the print goes
        assert result.code == code.splitlines()[0] + "\n"
    else:  # the parser refused the nesting: unchanged
        assert result.code is code


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _check_only_removes(code: str, entry_point: str | None) -> Sanitized:
    result = sanitize(code, entry_point)
    if result.code is not code:
        assert result.removed
        assert _is_subsequence(_statements(result.code), _statements(code))
        assert len(_statements(result.code)) == len(_statements(code)) - len(result.removed)
    return result


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::SyntaxWarning")  # "\d" in references
def test_real_references_are_unchanged_or_only_lose_statements() -> None:
    humaneval, mbpp = DATA / "humaneval/HumanEval.jsonl", DATA / "mbpp/mbpp.jsonl"
    if not humaneval.exists() or not mbpp.exists():
        pytest.skip(f"HumanEval/MBPP data not found under {DATA.resolve()}")
    he_changed = [
        row["task_id"]
        for row in _rows(humaneval)
        if _check_only_removes(row["prompt"] + row["canonical_solution"], row["entry_point"]).removed
    ]
    mbpp_changed = {row["task_id"]: _check_only_removes(row["code"], None).removed for row in _rows(mbpp)}
    mbpp_changed = {k: v for k, v in mbpp_changed.items() if v}
    print(f"HumanEval references with removed statements: {len(he_changed)} {he_changed}")
    print(f"MBPP references with removed statements: {len(mbpp_changed)} {mbpp_changed}")
    assert he_changed == []  # canonical solutions are prompt + body: nothing at top level to strip
