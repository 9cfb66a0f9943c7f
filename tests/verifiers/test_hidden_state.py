"""Values whose comparison reads objects the harness's check did not look at (a ninth audit round): a dict's
views (compared as sets of what the dict holds), a slice (its start, stop and step), a weak reference (what it
refers to; `histogram` returning a WeakValueDictionary of always-equal objects passed HumanEval/111, see the
forgery suite). Each holds an object of the program's whose class overrides `__eq__`: flagged, not passed."""

from __future__ import annotations

import pytest

from monkeys.core import Problem, Prompt, Sample
from monkeys.verifiers.code_tests import CodeTests

YES = ("class _Yes:\n    def __init__(self, k):\n        self.k = k\n"
       "    def __eq__(self, other):\n        return True\n"
       "    def __hash__(self):\n        return hash(self.k)\n\n")
CASES = {
    # tests, a program answering through the hidden objects, the same program answering plainly
    "dict_keys": ("def check(candidate):\n    assert candidate() == {1, 2}\n",
                  YES + "def f():\n    return {_Yes(1): 0, _Yes(2): 0}.keys()\n", "def f():\n    return {1, 2}\n"),
    "dict_items": ("def check(candidate):\n    assert candidate() == {(1, 'a')}\n",
                   YES + "def f():\n    return {1: _Yes('a')}.items()\n", "def f():\n    return {1: 'a'}.items()\n"),
    "slice": ("def check(candidate):\n    assert candidate() == slice(1, 2)\n",
              YES + "def f():\n    return slice(_Yes(0), _Yes(0))\n", "def f():\n    return slice(1, 2)\n"),
}


@pytest.fixture(scope="module")
def verifier() -> CodeTests:
    return CodeTests(timeout_s=10, cache=False, retry_timeouts=False)


def _problem(tests: str) -> Problem:
    return Problem("hidden", Prompt(), {"kind": "asserts", "prompt_code": "", "entry_point": "f",
                                        "setup_code": "", "test_code": tests})


@pytest.mark.parametrize("name", ["dict_keys", "dict_items", "slice"])
def test_an_always_equal_object_behind_a_view_or_slice_is_flagged(verifier: CodeTests, name: str) -> None:
    tests, hidden, plain = CASES[name]
    verdict = verifier.verify(_problem(tests), Sample("hidden", 0, 0, hidden))
    assert not verdict.passed
    assert "_Yes.__eq__" in verdict.reason, verdict.reason
    fair = verifier.verify(_problem(tests), Sample("hidden", 1, 1, plain))
    assert fair.passed, (fair.reason, fair.details.get("flags"))
