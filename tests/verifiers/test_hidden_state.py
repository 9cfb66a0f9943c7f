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


# A value checked clean, then changed before the tests compare it: by the program's next call in the same assert
# (which also undoes the change while the comparison runs), or by the program's code run by a garbage collection
# anywhere the tests allocate (a collector callback, a finalizer).
BOTH_WAYS = "def check(candidate):\n    assert candidate('abc') == candidate('cba')\n    assert candidate('aab') == 2\n"
ADDS_EQ = '''
class A:
    pass

def _eq(self, other):
    del A.__eq__  # gone before anything looks again
    return True

_calls = [0]

def f(s):
    _calls[0] += 1
    if _calls[0] == 1:
        return A()  # checked: a plain object
    if _calls[0] == 2:
        A.__eq__ = _eq  # after the first value's check, before the comparison
        return 0
    return len(set(s))
'''
SWAPS_CLASS = '''
class A:
    pass

class B:
    def __eq__(self, other):
        self.__class__ = A  # back before anything looks again
        return True
    __hash__ = object.__hash__

_calls = [0]
_first = []

def f(s):
    _calls[0] += 1
    if _calls[0] == 1:
        _first.append(A())
        return _first[0]
    if _calls[0] == 2:
        _first[0].__class__ = B
        return 0
    return len(set(s))
'''
COLLECTIONS = ("def check(candidate):\n    first = candidate()\n    junk = [[i] for i in range(500)]\n"
               "    assert candidate() == first\n")
COUNTS_COLLECTIONS = '''
import gc
_n = [0]

def _callback(phase, info):
    _n[0] += 1

def _install():
    gc.callbacks.append(_callback)
    gc.set_threshold(1)

def f(_x=_install()):
    return _n[0]
'''
TURNS_GC_ON = "import gc\n\ndef f():\n    gc.enable()\n    return 0\n"


@pytest.mark.parametrize(("name", "text"), [("adds_eq", ADDS_EQ), ("swaps_class", SWAPS_CLASS)])
def test_a_value_changed_after_its_check_is_flagged(verifier: CodeTests, name: str, text: str) -> None:
    verdict = verifier.verify(_problem(BOTH_WAYS), Sample("hidden", 0, 0, text))
    assert not verdict.passed
    assert verdict.reason.startswith("flagged"), verdict.reason
    fair = verifier.verify(_problem(BOTH_WAYS), Sample("hidden", 1, 1, "def f(s):\n    return len(set(s))\n"))
    assert fair.passed, (fair.reason, fair.details.get("flags"))


def test_no_collection_runs_the_programs_code_between_the_tests_steps(verifier: CodeTests) -> None:
    """The tests run with the automatic collector off: the program's collector callback runs in none of their
    allocations (it had changed what a later call returns; a callback can change anything a check read)."""
    verdict = verifier.verify(_problem(COLLECTIONS), Sample("hidden", 0, 0, COUNTS_COLLECTIONS))
    assert verdict.passed, (verdict.reason, verdict.details.get("flags"))
    verdict = verifier.verify(_problem(COLLECTIONS), Sample("hidden", 1, 1, TURNS_GC_ON))
    assert verdict.details.get("flags") == ["turned the garbage collector back on during the tests"], verdict


MAPPED = ("def check(candidate):\n    cases = [(1, 2), (2, 4), (3, 6)]\n"
          "    assert all(map(lambda c: candidate(c[0]) == c[1], cases))\n")


STOPS = ["def f(x):\n    raise StopIteration\n",
         "class f:\n    def __new__(cls, x):\n        raise StopIteration\n",
         "import functools\n\ndef g(x, y):\n    raise StopIteration\n\nf = functools.partial(g, y=0)\n"]


@pytest.mark.parametrize("stops", STOPS)
def test_a_stop_iteration_out_of_the_program_does_not_end_the_tests_iteration(verifier: CodeTests, stops: str) -> None:
    """`all(map(...))` over the cases took the program's StopIteration for the end of the cases: every case
    unchecked, a pass. Out of the program's entry point (a function, a class, a partial: the tests get it
    watched, whatever it is) it is an error now, as PEP 479 makes it out of a generator."""
    verdict = verifier.verify(_problem(MAPPED), Sample("hidden", 0, 0, stops))
    assert not verdict.passed
    assert "raised StopIteration" in verdict.reason, verdict.reason
    assert verifier.verify(_problem(MAPPED), Sample("hidden", 1, 1, "def f(x):\n    return 2 * x\n")).passed


# A value that holds itself (a node's parent link, a doubly linked list): each object is looked at once. Walked
# round its cycle until the check's limit, a correct program's value was flagged "too large to check" after seconds
# per call, and a run of such calls timed out.
LINKED = ("class Node:\n    def __init__(self, v):\n        self.v, self.prev, self.next = v, None, None\n\n"
          "def f(n):\n    nodes = [Node(i) for i in range(n)]\n"
          "    for a, b in zip(nodes, nodes[1:]):\n        a.next, b.prev = b, a\n"
          "    nodes[0].prev, nodes[-1].next = nodes[-1], nodes[0]\n    return nodes\n")
LINKED_TESTS = ("def check(candidate):\n    for n in (1, 2, 50, 3000):\n        nodes = candidate(n)\n"
                "        assert len(nodes) == n\n        assert nodes[0].prev is nodes[-1]\n"
                "        assert nodes[-1].v == n - 1\n        assert nodes[0].next.v == min(1, n - 1)\n")


def test_a_value_that_holds_itself_is_checked_once_per_object(verifier: CodeTests) -> None:
    verdict = verifier.verify(_problem(LINKED_TESTS), Sample("hidden", 0, 0, LINKED))
    assert verdict.passed, (verdict.reason, verdict.details.get("flags"))


def test_an_always_equal_object_behind_a_cycle_is_still_flagged(verifier: CodeTests) -> None:
    tests = "def check(candidate):\n    assert candidate()[2].hidden == 3\n"
    program = YES + ("class Node:\n    pass\n\ndef f():\n    a, b = Node(), Node()\n    a.other, b.other = b, a\n"
                     "    b.hidden = _Yes(0)\n    return [a, a, b]\n")
    verdict = verifier.verify(_problem(tests), Sample("hidden", 0, 0, program))
    assert not verdict.passed
    assert "_Yes.__eq__" in verdict.reason, verdict.reason
