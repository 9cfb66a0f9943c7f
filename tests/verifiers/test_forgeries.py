"""The forgery suite (issue 10) through the real `code-tests` verifier: 0 forged passes, controls pass.

Programs live in tests/cases/forgeries/forgeries.py. Function-assert forgeries target real HumanEval
records loaded by the real task loader; stdio forgeries target two small problems defined there.
Channel and memory forgeries run right after a correct program on a one-worker pool, so both land on
the same worker (the strongest setting for an attacker).
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import monkeys.sandbox as sandbox_mod
import monkeys.verifiers.code_tests as code_tests_mod
from monkeys.core import Outcome, Problem, Prompt, Sample, Verdict
from monkeys.sandbox import ForkServerPool
from monkeys.tasks.humaneval import HumanEval
from monkeys.verifiers.code_tests import CodeTests

ROOT = Path(__file__).parents[2]
HUMANEVAL = ROOT / "../shared/data/humaneval/HumanEval.jsonl"
sys.path.insert(0, str(ROOT / "tests/cases/forgeries"))
from forgeries import (  # noqa: E402
    ASSERT_PROBLEMS,
    CONTROLS,
    FORGERIES,
    RANDOM_SEARCH,
    STDIO_PROBLEMS,
    channel_names,
    planted,
)

# Tamper forgeries whose trick cannot help (the tests still fail on their own): they must not pass, but
# the verifier need not flag them. The tests run in a namespace of their own (globals() of the program is
# not theirs), and top-level calls such as sys.settrace(...) are stripped before the program runs.
# The prompt's helpers and the builtins the tests call are the tests' own (`_assert_values`, and the harness
# gives the tests the builtins it took before any program): a redefined `poly` or `abs` is not what they
# call, and a fake `math` breaks the tests' `poly` before any assert passes.
TAMPER_INEFFECTIVE = {"globals_replace_check_from_call", "patch_builtins_many", "globals_replace_poly_from_call",
                      "settrace_jumps_over_asserts", "setprofile_swaps_candidate", "abs_patched_from_call",
                      "sys_modules_math_replaced", "global_abs_shadows_builtin", "prompt_helper_poly_redefined",
                      # the tests' `random` is their own (seeded from the OS, out of a program's reach): a program
                      # that copied, reseeded, set or bent the shared one predicts nothing the tests draw
                      "shared_random_state_predicted", "random_reseeded_in_call", "random_setstate_in_call",
                      "random_reseeded_after_fixed_asserts", "random_instance_attribute_set",
                      "random_reseeded_by_a_thread", "tests_random_searched_for",
                      "fake_builtins_module_in_sys_modules",  # the tests' builtins: the harness's snapshot
                      "import_hook_fakes_math",  # ... their `__import__` too: a replaced one is not what they call
                      "builtins_module_class_swapped", "builtin_abs_puts_itself_back", "patch_builtins_abs"}


def _names(attacks: tuple[str, ...]) -> list[str]:
    return sorted(n for n, f in FORGERIES.items() if f.attack in attacks)


@pytest.fixture(scope="module")
def problems() -> dict[str, Problem]:
    if not HUMANEVAL.exists():
        pytest.skip(f"HumanEval data not found at {HUMANEVAL}")
    out = {p.problem_id: p for p in HumanEval(data=str(HUMANEVAL)).load_problems()
           if p.problem_id in ASSERT_PROBLEMS}
    for name, reference in STDIO_PROBLEMS.items():
        out[name] = Problem(name, Prompt(), reference)
    return out


@pytest.fixture(scope="module")
def verifier() -> CodeTests:
    return CodeTests(timeout_s=3.0, memory_mb=512, cache=False, retry_timeouts=False)


def _verify(verifier: CodeTests, problem: Problem, text: str, index: int = 0) -> Verdict:
    return verifier.verify(problem, Sample(problem.problem_id, index, index, text))


@pytest.mark.parametrize("name", _names(("exit",)))
def test_exit_tricks_fail(problems: dict, verifier: CodeTests, name: str) -> None:
    forgery = FORGERIES[name]
    verdict = _verify(verifier, problems[forgery.problem], forgery.text)
    assert verdict.outcome is not Outcome.PASS, f"forged pass: {name}: {verdict}"
    assert verdict.outcome is Outcome.FAIL, verdict


@pytest.mark.parametrize("name", _names(("exit", "tamper")))
def test_exit_and_tamper_tricks_fail_with_top_level_code_kept(problems: dict, name: str) -> None:
    """The harness's report stops them, not the stripping of top-level code (which removes most tricks)."""
    forgery = FORGERIES[name]
    kept = CodeTests(timeout_s=3.0, memory_mb=512, cache=False, retry_timeouts=False, strip_top_level=False)
    verdict = _verify(kept, problems[forgery.problem], forgery.text)
    assert verdict.outcome is Outcome.FAIL, f"{name}: {verdict}"


@pytest.mark.parametrize("name", _names(("tamper",)))
def test_tampering_does_not_pass_and_is_flagged(problems: dict, verifier: CodeTests, name: str) -> None:
    forgery = FORGERIES[name]
    verdict = _verify(verifier, problems[forgery.problem], forgery.text)
    assert verdict.outcome is not Outcome.PASS, f"forged pass: {name}: {verdict}"
    assert verdict.outcome is not Outcome.ERROR, verdict
    if name not in TAMPER_INEFFECTIVE:  # the tests completed: only the flag can stop it
        assert verdict.details.get("flags"), f"{name} not flagged: {verdict}"
        # flagged after the tests passed, or stopped by the guard (sys.settrace raises) and flagged
        assert verdict.reason.startswith(("flagged", "runtime error")), verdict.reason


@pytest.mark.parametrize("name", _names(("exit", "tamper")))
def test_wrong_implementation_fails_without_its_trick(problems: dict, verifier: CodeTests, name: str) -> None:
    """The suite can fail: each asserts-forgery's implementation, without the trick, is really wrong."""
    forgery = FORGERIES[name]
    assert forgery.kind == "asserts" and forgery.plain
    verdict = _verify(verifier, problems[forgery.problem], forgery.plain)
    assert verdict.outcome is Outcome.FAIL, verdict


@pytest.mark.parametrize("name", _names(("comparator",)))
def test_comparator_and_exit_status_tricks_fail(problems: dict, verifier: CodeTests, name: str) -> None:
    forgery = FORGERIES[name]
    verdict = _verify(verifier, problems[forgery.problem], forgery.text)
    assert verdict.outcome is not Outcome.PASS, f"forged pass: {name}: {verdict}"
    assert verdict.outcome is Outcome.FAIL, verdict


@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_correct_programs_pass(problems: dict, verifier: CodeTests, name: str) -> None:
    control = CONTROLS[name]
    verdict = _verify(verifier, problems[control.problem], control.text)
    assert verdict.outcome is Outcome.PASS, f"false negative: {name}: {verdict}"
    assert not verdict.details.get("flags"), verdict


@pytest.mark.parametrize("use_gc", [False, True])
def test_the_tests_random_is_out_of_reach_by_reference_and_a_reseed_is_flagged(problems: dict, use_gc: bool) -> None:
    """Without the guard (its refusals are not what is checked here): no reference a program can follow leads to
    the tests' own `random`; the garbage collector's list does, and a call that reseeded it is flagged. (With the
    guard the collector refuses: `tests_random_searched_for` above.)"""
    unguarded = CodeTests(timeout_s=5.0, memory_mb=512, cache=False, retry_timeouts=False, guard=False)
    verdict = _verify(unguarded, problems["HumanEval/53"], RANDOM_SEARCH.format(use_gc=use_gc))
    assert verdict.outcome is Outcome.FAIL, verdict
    if use_gc:
        flag = "a call into the program changed the tests' own random numbers"
        assert verdict.details.get("flags") == [flag], verdict
    else:
        assert verdict.reason.startswith("wrong answer"), verdict


# --- one worker: channels and memory between executions ----------------------------------------------


@pytest.fixture(scope="module")
def one_worker() -> ForkServerPool:
    pool = ForkServerPool(size=1)
    yield pool
    pool.close()


@pytest.fixture
def on_one_worker(one_worker: ForkServerPool, monkeypatch: pytest.MonkeyPatch) -> CodeTests:
    """A verifier whose every execution runs on the same single worker."""
    monkeypatch.setattr(sandbox_mod, "get_sandbox", lambda: one_worker)
    monkeypatch.setattr(sandbox_mod, "_sandbox", one_worker, raising=False)
    if hasattr(code_tests_mod, "get_sandbox"):
        monkeypatch.setattr(code_tests_mod, "get_sandbox", lambda: one_worker)
    # guard=False: channels and memory must be closed by the operating-system layer (namespaces, seccomp,
    # the clean template) alone, not by the in-process guard refusing ctypes or gc walks
    return CodeTests(timeout_s=3.0, memory_mb=512, cache=False, retry_timeouts=False, guard=False)


def _clean_channels() -> None:
    """Remove whatever a channel sender may have left on the host (nothing, once IPC is namespaced)."""
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        rt = ctypes.CDLL("librt.so.1", use_errno=True)
    except OSError:
        rt = None
    for test in STDIO_PROBLEMS["sum"]["tests"]:
        names = channel_names(test["stdin"])
        for path in names["paths"]:
            try:
                os.unlink(path)
            except OSError:
                pass
        ikey = names["ikey"]
        shm = libc.shmget(ikey, 0, 0)
        if shm >= 0:
            libc.shmctl(shm, 0, None)  # IPC_RMID
        msg = libc.msgget(ikey, 0)
        if msg >= 0:
            libc.msgctl(msg, 0, None)
        sem = libc.semget(ikey, 0, 0)
        if sem >= 0:
            libc.semctl(sem, 0, 0)
        if rt is not None:
            rt.mq_unlink(names["mq"].encode())


@pytest.mark.parametrize("name", _names(("channel",)))
def test_no_channel_between_executions(problems: dict, on_one_worker: CodeTests, name: str) -> None:
    forgery = FORGERIES[name]
    problem = problems[forgery.problem]
    _clean_channels()
    try:
        sent = _verify(on_one_worker, problem, forgery.first or "", 0)
        assert sent.outcome is Outcome.PASS, f"the sender is a correct program: {sent}"
        time.sleep(0.5)  # let a daemon the sender left (if it survived) act
        received = _verify(on_one_worker, problem, forgery.text, 1)
        assert received.outcome is not Outcome.PASS, f"forged pass through {name}: {received}"
        assert received.outcome is Outcome.FAIL, received
    finally:
        _clean_channels()


@pytest.mark.parametrize("name", _names(("memory",)))
def test_no_memory_carried_between_executions(problems: dict, on_one_worker: CodeTests, name: str) -> None:
    forgery = FORGERIES[name]
    problem = problems[forgery.problem]
    first = _verify(on_one_worker, problem, forgery.first or "", 0)
    assert first.outcome is Outcome.PASS, first
    copied = _verify(on_one_worker, problem, forgery.text, 1)
    assert copied.outcome is not Outcome.PASS, f"copycat {name} found the earlier program: {copied}"


@pytest.mark.parametrize("name", sorted(set(_names(("memory",))) - {"proc_self_mem"}))
def test_copycat_finds_a_solver_planted_in_its_own_memory(name: str) -> None:
    """The copycats work: run unconfined with the solver in their own memory, they find it and answer.
    (Outside the sandbox on purpose: this checks the program, not the sandbox; proc_self_mem is left out,
    /proc/self/mem being unreadable to some users.)"""
    proc = subprocess.run([sys.executable, "-S", "-c", planted(FORGERIES[name].text)], input=b"2 3\n",
                          capture_output=True, timeout=60)
    assert proc.stdout == b"5\n", proc.stderr[-2000:]


@pytest.mark.parametrize("name", _names(("cache",)))
def test_cache_is_keyed_by_exact_program_bytes(problems: dict, verifier: CodeTests, name: str) -> None:
    forgery = FORGERIES[name]
    problem = problems[forgery.problem]
    fresh = _verify(verifier, problem, forgery.text)  # no cache: the coding cookie makes the comment code
    assert fresh.outcome is Outcome.FAIL, f"the forgery should be wrong on its own: {fresh}"
    cached = CodeTests(timeout_s=3.0, memory_mb=512, cache=True, retry_timeouts=False)
    first = _verify(cached, problem, forgery.first or "", 0)
    assert first.outcome is Outcome.PASS, first
    second = _verify(cached, problem, forgery.text, 1)
    assert second.details.get("cached") is not True, f"{name} reused a cached verdict: {second}"
    assert second.outcome is not Outcome.PASS, second


def test_suite_size() -> None:
    assert len(FORGERIES) >= 40
    assert {f.attack for f in FORGERIES.values()} == {"exit", "tamper", "comparator", "channel", "memory", "cache"}


def test_mbpp_tests_import_what_the_solution_imports(verifier: CodeTests) -> None:
    """MBPP/596's tests call `sys.getsizeof` and import no `sys`: it was the program's global, any object of its
    making (an eighth audit round). The tests now import what the reference solution imports."""
    import json

    row = next(r for r in map(json.loads, (ROOT / "../shared/data/mbpp/mbpp.jsonl").open()) if r["task_id"] == 596)
    problem = Problem("mbpp/596", Prompt(), {"kind": "asserts", "prompt_code": "", "entry_point": None,
                                             "test_code": "\n".join(row["test_list"]),
                                             "setup_code": row["test_setup_code"], "solution": row["code"]})
    forged = ("import types\nsys = types.SimpleNamespace(getsizeof=lambda obj: 0)\n\n"
              "def tuple_size(tuple_list):\n    return 0\n")
    assert _verify(verifier, problem, forged).outcome is Outcome.FAIL
    assert _verify(verifier, problem, row["code"]).outcome is Outcome.PASS
