"""Tests that hand a function of their own to the candidate (`candidate(lambda x: x * 2, 3)`): the function's
`__globals__`, `__builtins__` and closure lead to the tests' namespace, the harness's wrappers and the
tests' builtins, and Python audits none of those reads. No HumanEval or MBPP test does this; other
benchmarks' higher-order problems do. A program must get nothing from it: the wrappers keep their state
where the guard refuses reads (`__kwdefaults__`), and the tests' names are compared around each call.

Since a ninth audit round a function of the tests' handed to the candidate as an argument reaches the program
as a relay that leads nowhere near the tests' namespace, and what the tests' function itself changes there (a
global it counts calls in) is the tests' own: it was flagged as "a call into the program changed the tests'
own names", failing correct programs."""

from __future__ import annotations

import pytest

from monkeys.core import Problem, Prompt, Sample
from monkeys.verifiers.code_tests import CodeTests

TESTS = '''
def check(candidate):
    assert candidate(lambda x: x * 2, 3) == abs(-6)
    assert candidate(lambda x: x + 1, 3) == abs(-4)
    assert candidate(abs, -5) == 5
'''
PROBLEM = Problem("apply", Prompt(text="def apply(fn, x):\n"), {
    "kind": "asserts", "prompt_code": 'def apply(fn, x):\n    """Return fn(x)."""\n', "test_code": TESTS,
    "entry_point": "apply", "setup_code": ""})

ALWAYS_EQUAL = "class Any:\n    def __eq__(self, o):\n        return True\n    __hash__ = None\n\n"
WALK_CLOSURES = ALWAYS_EQUAL + '''
G = []
def _lists(obj, seen, out, depth=0):
    if id(obj) in seen or depth > 6:
        return
    seen.add(id(obj))
    if type(obj) is list:
        out.append(obj)
    for attr in ("__closure__", "__kwdefaults__", "__defaults__"):
        try:
            held = getattr(obj, attr, None)
        except Exception:
            held = None
        for c in (held.values() if type(held) is dict else held or ()):
            try:
                _lists(getattr(c, "cell_contents", c), seen, out, depth + 1)
            except Exception:
                pass
    if type(obj) in (tuple, list):
        for x in obj:
            _lists(x, seen, out, depth + 1)

def apply(fn, x):
    g = getattr(fn, "__globals__", None)
    if g is not None:  # the tests' namespace: remember it, answer anything
        G.append(g)
        return Any()
    out = []  # the last call: empty every list the wrappers lead to (the flags among them)
    for g in G:
        for v in list(g.values()):
            _lists(v, set(), out)
    for found in out:
        found.clear()
    return fn(x)
'''
REBIND_NAME = ALWAYS_EQUAL + '''
FAKE = lambda v: 99
def apply(fn, x):
    if fn is FAKE:  # the third assert hands the tests' abs, ours by now
        return 5
    g = getattr(fn, "__globals__", None)
    if g is not None and g is not globals() and "abs" in g:
        g["abs"] = FAKE  # what the tests compare with
        return 99
    return 99  # wrong without the trick
'''
REBIND_BUILTIN = '''
FAKE = lambda v: 99
def apply(fn, x):
    if fn is FAKE:
        return 5
    b = getattr(fn, "__builtins__", None)
    if type(b) is dict and fn.__globals__ is not globals():
        b["abs"] = FAKE
        fn.__globals__.pop("abs", None)  # the tests then read abs from their builtins
        return 99
    return fn(x)
'''
SWAP_CODE = ALWAYS_EQUAL + '''
def _unchecked(*args, __monkeys_state__=None, **kwargs):
    return __monkeys_state__[0](*args, **kwargs)

def _seen(value, *, __monkeys_state__=None):
    return value

DONE = []

def apply(fn, x):
    g = getattr(fn, "__globals__", None)
    if not DONE and g is not None and g is not globals():
        DONE.append(1)
        for v in list(g.values()):
            name = getattr(v, "__name__", "")
            try:
                if name == "__monkeys_seen__":
                    v.__code__ = _seen.__code__
                elif name == "apply":
                    v.__code__ = _unchecked.__code__
            except Exception:
                pass
        return fn(x)  # this call is still checked; the next ones would not be
    return Any()
'''
READ_STATE = '''
def apply(fn, x):
    if type(fn) is type(apply):
        fn.__kwdefaults__["__monkeys_state__"]  # a relay of the tests' function: the tests' function, their names
    g = getattr(fn, "__globals__", None)
    if g is not None and g is not globals():
        for v in list(g.values()):
            if getattr(v, "__name__", "") == "__monkeys_seen__":
                v.__kwdefaults__["__monkeys_state__"]  # the check, and through it the flags
    return fn(x)
'''
GOOD = "def apply(fn, x):\n    return fn(x)\n"
# tests whose function keeps a count in a global of theirs, and a program that looks for the tests' namespace
COUNTING_TESTS = '''
calls = 0

def double(x):
    global calls
    calls += 1
    return 2 * x

def check(candidate):
    assert candidate(double, 3) == 12
    assert calls == 2
    assert candidate(fn=double, x=1) == 4
    assert calls == 4
'''
COUNTING = Problem("apply_twice", Prompt(text="def apply_twice(fn, x):\n"), {
    "kind": "asserts", "prompt_code": 'def apply_twice(fn, x):\n    """Return fn(fn(x))."""\n',
    "entry_point": "apply_twice", "setup_code": "", "test_code": COUNTING_TESTS})
TWICE = "def apply_twice(fn, x):\n    return fn(fn(x))\n"
SET_COUNT = ("def apply_twice(fn, x):\n    fn.__globals__['calls'] = fn.__globals__.get('calls', 0) + 2\n"
             "    return 4 * x\n")


@pytest.fixture(scope="module")
def verifier() -> CodeTests:
    return CodeTests(timeout_s=20, cache=False)


def _verdict(verifier: CodeTests, text: str):  # type: ignore[no-untyped-def]
    return verifier.verify(PROBLEM, Sample("apply", 0, 0, text))


def test_a_correct_program_handed_the_tests_functions_passes(verifier: CodeTests) -> None:
    verdict = _verdict(verifier, GOOD)
    assert verdict.passed, verdict.reason


@pytest.mark.parametrize(("name", "text"), [("closures", WALK_CLOSURES), ("rebind-name", REBIND_NAME),
                                            ("rebind-builtin", REBIND_BUILTIN), ("swap-code", SWAP_CODE)])
def test_a_program_cannot_use_the_tests_functions_to_forge_a_pass(verifier: CodeTests, name: str,
                                                                    text: str) -> None:
    verdict = _verdict(verifier, text)
    assert not verdict.passed, (name, verdict.reason)


def test_the_wrappers_state_is_refused_to_programs(verifier: CodeTests) -> None:
    verdict = _verdict(verifier, READ_STATE)
    assert not verdict.passed
    assert "__kwdefaults__ is not available to programs" in str(verdict.reason) + str(verdict.details), verdict


def test_a_tests_function_that_counts_its_calls_in_a_global_passes_a_correct_program() -> None:
    """The count the tests' own function keeps is theirs: no flag (it failed correct programs)."""
    verdict = CodeTests(timeout_s=20, cache=False).verify(COUNTING, Sample("apply_twice", 0, 0, TWICE))
    assert verdict.passed, (verdict.reason, verdict.details.get("flags"))


def test_the_program_is_handed_a_relay_of_the_tests_function_not_their_namespace() -> None:
    """`fn.__globals__` of what the program gets is not the tests' namespace: setting the count there changes
    nothing the tests read."""
    verdict = CodeTests(timeout_s=20, cache=False).verify(COUNTING, Sample("apply_twice", 0, 0, SET_COUNT))
    assert not verdict.passed
    assert verdict.reason.startswith("wrong answer"), verdict.reason
