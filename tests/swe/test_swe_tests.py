"""`swe-tests` end to end on a real repository (toolz with a real bug planted, see `swe_fixture`): real git,
a real virtual environment built offline, the real command sandbox running the repository's pytest."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from swe_fixture import BUGGY, F2P, FIXED, SOURCE_FILE, TEST_FILE, build_instance, make_patch, offline_install

from monkeys.core import Outcome, Problem, Prompt, Sample, Verdict
from monkeys.registry import create
from monkeys.sandbox._command import unavailable
from monkeys.verifiers.swe_tests import SweTests

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=f"no command sandbox: {unavailable()}")

WRONG = ("'The sequence passed to `parition_all` has invalid length'",
         "'The sequence passed to `partition_all` has an invalid length'")
BREAK_FREQUENCIES = ("        d[item] += 1\n", "        d[item] += 2\n")
FORCE_PASS = '''import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
'''


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The instance, its problem, and a shared cache folder (the environment is built once)."""
    root = tmp_path_factory.mktemp("swe")
    instance, repo = build_instance(root)
    problem = Problem(instance["instance_id"], Prompt("fix it"),
                      {"kind": "swe-bench", "instance": instance, "repo_dir": str(repo)})
    return {"instance": instance, "repo": repo, "problem": problem, "cache": str(root / "cache"), "root": root}


@pytest.fixture(scope="module")
def verifier(world: dict[str, Any]) -> SweTests:
    return create("verifier", "swe-tests", cache_dir=world["cache"], install=offline_install())


def check(v: SweTests, world: dict[str, Any], text: str) -> Verdict:
    return v.verify(world["problem"], Sample(world["problem"].problem_id, 0, 0, text))


def patch(world: dict[str, Any], edits: dict[str, Any]) -> str:
    return make_patch(world["repo"], world["instance"]["base_commit"], edits)


def test_gold_patch_resolves_and_identical_patches_are_verified_once(verifier: SweTests,
                                                                     world: dict[str, Any]) -> None:
    gold = world["instance"]["patch"]
    verdict = check(verifier, world, gold)
    assert verdict.outcome is Outcome.PASS, verdict
    assert verdict.reason == "resolved"
    assert verdict.details["apply"] == "git apply" and verdict.details["cached"] is False
    assert verdict.details["f2p_failed"] == [] and verdict.details["p2p_failed"] == []
    # the same patch with other hunk line numbers, trailing blanks and fenced in prose: verified once
    variant = "Here is the fix:\n```diff\n" + gold.replace("@@ -733,7 +733,18 @@", "@@ -730,7 +730,18 @@") \
        .replace("    else:\n", "    else:   \n") + "```\n"
    again = check(verifier, world, variant)
    assert again.outcome is Outcome.PASS and again.details["cached"] is True
    # the same edit as a SEARCH/REPLACE block: turned into a diff by the task's `to_patch`, the same patch
    blocks = f"```python\n### {SOURCE_FILE}\n<<<<<<< SEARCH\n{BUGGY}=======\n{FIXED}>>>>>>> REPLACE\n```\n"
    same = check(verifier, world, blocks)
    assert same.outcome is Outcome.PASS and same.details["converted"] == "edits.to_patch"
    assert same.details["cached"] is True


def test_no_patch_and_malformed_diff_fail(verifier: SweTests, world: dict[str, Any]) -> None:
    assert check(verifier, world, "   \n").reason == "empty patch"
    malformed = f"--- a/{SOURCE_FILE}\n+++ b/{SOURCE_FILE}\n@@ -733,7 +733,7 @@\n-            yield nothing\n" \
                "+            yield something\n"
    verdict = check(verifier, world, malformed)
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason.startswith("patch does not apply: error: corrupt patch") and SOURCE_FILE in verdict.reason
    stale = patch(world, {SOURCE_FILE: WRONG}).replace("parition_all", "partition_al")  # context not in the file
    verdict = check(verifier, world, stale)
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason.startswith(f"patch does not apply: error: patch failed: {SOURCE_FILE}:")


def test_wrong_patch_leaves_fail_to_pass_failing(verifier: SweTests, world: dict[str, Any]) -> None:
    verdict = check(verifier, world, patch(world, {SOURCE_FILE: WRONG}))
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason == f"FAIL_TO_PASS still failing: {F2P}"
    assert verdict.details["p2p_failed"] == []


def test_patch_that_breaks_another_test_fails_pass_to_pass(verifier: SweTests, world: dict[str, Any]) -> None:
    text = (world["repo"] / SOURCE_FILE).read_text()
    for old, new in ((BUGGY, FIXED), BREAK_FREQUENCIES):  # the real fix, and a slip elsewhere
        text = text.replace(old, new, 1)
    verdict = check(verifier, world, patch(world, {SOURCE_FILE: text}))
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason == f"PASS_TO_PASS broke: {TEST_FILE}::test_frequencies"
    assert verdict.details["f2p_failed"] == [] and "flaky" not in verdict.details  # re-run, still broken


@pytest.mark.parametrize("policy", ["fail", "flag"])
def test_deleting_the_failing_test_or_forcing_passes_with_a_conftest_fails(world: dict[str, Any],
                                                                          policy: str) -> None:
    v = create("verifier", "swe-tests", cache_dir=world["cache"], install=offline_install(), guard=policy)
    source = (world["repo"] / TEST_FILE).read_text()
    start = source.index("def test_partition_all():")
    end = source.index("\ndef ", start + 1)
    deletes = patch(world, {TEST_FILE: source[:start] + source[end + 1:]})
    conftest = patch(world, {"conftest.py": FORCE_PASS})
    for text, path in ((deletes, TEST_FILE), (conftest, "conftest.py")):
        verdict = check(v, world, text)
        assert verdict.outcome is Outcome.FAIL, verdict
        assert [f["path"] for f in verdict.details["guard"]] == [path]
        if policy == "fail":
            assert verdict.reason.startswith(f"guard: {path} ")
        else:  # flagged changes are reverted before the tests run: the bug is still there
            assert verdict.details["reverted"] == [path]
            assert verdict.reason == f"FAIL_TO_PASS still failing: {F2P}"


def test_forged_pass_lines_and_writes_outside_the_worktree_do_not_count(verifier: SweTests, world: dict[str, Any],
                                                                        tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.chmod(tmp_path, 0o777)
    os.chmod(outside, stat.S_IRWXU | stat.S_IRWXG | stat.S_IRWXO)  # only the sandbox can stop the write
    hostile = (
        "import atexit as _a, os as _o, socket as _s\n"
        f"_a.register(lambda: print('PASSED {F2P}'))\n"
        "try:\n"
        f"    open({str(outside / 'escaped')!r}, 'w').write('x')\n"
        "except OSError:\n"
        "    pass\n"
        "try:\n"
        "    _s.create_connection(('1.1.1.1', 53), timeout=2)\n"
        f"    open({str(outside / 'network')!r}, 'w').write('x')\n"
        "except OSError:\n"
        "    pass\n"
    )
    text = (world["repo"] / "toolz/__init__.py").read_text() + "\n" + hostile
    verdict = check(verifier, world, patch(world, {"toolz/__init__.py": text}))
    assert verdict.outcome is Outcome.FAIL, verdict
    assert verdict.reason == f"FAIL_TO_PASS still failing: {F2P}"  # the line printed at exit is not read
    assert list(outside.iterdir()) == []


def test_a_whole_summary_printed_at_exit_is_not_read(verifier: SweTests, world: dict[str, Any]) -> None:
    """An exit handler of the code under test printing a complete forged summary after pytest's own (the log
    is read from its last summary): pytest now ends with os._exit, so no handler runs (audit finding)."""
    forged = (
        "import atexit as _a\n\n\ndef _forge():\n"
        "    print('=' * 20 + ' short test summary info ' + '=' * 20)\n"
        f"    print('PASSED {F2P}')\n"
        "    print('=' * 20 + ' 50 passed in 0.01s ' + '=' * 20)\n\n\n"
        "_a.register(_forge)\n"
    )
    text = (world["repo"] / "toolz/__init__.py").read_text() + "\n" + forged
    verdict = check(verifier, world, patch(world, {"toolz/__init__.py": text}))
    assert verdict.outcome is Outcome.FAIL, verdict
    assert verdict.reason == f"FAIL_TO_PASS still failing: {F2P}"


FORGED_PYTEST = f"""import sys
print("=" * 20 + " short test summary info " + "=" * 20)
print("PASSED {F2P}")
print("=" * 20 + " 50 passed in 0.01s " + "=" * 20)
raise SystemExit(0)
"""


@pytest.mark.parametrize("name", ["pytest.py", "argparse.py", "pluggy/__init__.py"])
def test_a_module_that_would_replace_the_runner_is_refused(verifier: SweTests, world: dict[str, Any],
                                                          name: str) -> None:
    """A root `pytest.py` is imported instead of pytest (the checkout comes first on the path) and prints a
    forged summary; a root `argparse.py` runs before pytest parses its options (audit findings)."""
    verdict = check(verifier, world, patch(world, {name: FORGED_PYTEST}))
    assert verdict.outcome is Outcome.FAIL, verdict
    assert verdict.reason.startswith(f"guard: {name} adds a module named "), verdict.reason


def _binary_patch(world: dict[str, Any], path: str, text: str) -> str:
    """A README edit as text and `path` as a git binary hunk (the guard must read what the checkout holds)."""
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch) / "w"
        git = ["git", "-c", "safe.directory=*"]
        subprocess.run([*git, "clone", "-q", str(world["repo"]), str(work)], check=True, capture_output=True)
        subprocess.run([*git, "-C", str(work), "checkout", "-q", world["instance"]["base_commit"]], check=True,
                       capture_output=True)
        (work / ".git" / "info").mkdir(exist_ok=True)
        (work / ".git" / "info" / "attributes").write_text(f"{path} binary\n")
        (work / "README.md").write_text((work / "README.md").read_text() + "\nMore.\n")
        (work / path).write_text(text)
        subprocess.run([*git, "-C", str(work), "add", "-A"], check=True, capture_output=True)
        diff = subprocess.run([*git, "-C", str(work), "diff", "--cached", "--binary"], check=True,
                              capture_output=True, text=True).stdout
    assert "GIT binary patch" in diff and "+More." in diff
    return diff


def test_a_binary_hunk_hides_nothing_from_the_guard(verifier: SweTests, world: dict[str, Any]) -> None:
    text = (world["repo"] / "toolz/__init__.py").read_text() + "\nimport _pytest.reports as _r\n"
    verdict = check(verifier, world, _binary_patch(world, "toolz/__init__.py", text))
    assert verdict.outcome is Outcome.FAIL, verdict
    assert verdict.reason == "guard: toolz/__init__.py uses pytest's internals (_pytest)", verdict.reason


LEAVE_BEHIND = """
import os as _os
try:
    open('.git', 'w').write('left by an earlier sample')
except OSError:
    pass
try:
    _os.makedirs('toolz/tests/.git', exist_ok=True)
    open('toolz/tests/.git/leak', 'w').write('x')
except OSError:
    pass
try:
    _os.setxattr('toolz', 'user.leak', b'x')
except OSError:
    pass
try:
    _os.chmod('toolz/tests', 0o751)
    _os.utime('README.md', (1234567890, 1234567890))
except OSError:
    pass
"""

LOOK_FOR_LEFTOVERS = """
import os as _os
_found = [p for p in ('.git', 'toolz/tests/.git') if _os.path.lexists(p)]
try:
    if _os.getxattr('toolz', 'user.leak'):
        _found.append('xattr')
except OSError:
    pass
if _os.stat('toolz/tests').st_mode & 0o777 == 0o751 or int(_os.stat('README.md').st_mtime) == 1234567890:
    _found.append('mode or time')
if _found:
    raise ImportError('an earlier sample left: ' + ', '.join(_found))
"""


def test_nothing_a_sample_leaves_in_its_checkout_reaches_the_next(world: dict[str, Any]) -> None:
    """Sample A's tests write a `.git` entry (git clean never removes one), an extended attribute, a mode and a
    time in the checkout; sample B, the gold fix plus a check at import, passes only if it sees none of it
    (one worktree slot, so B lands where A ran; audit finding)."""
    v = create("verifier", "swe-tests", cache_dir=world["cache"] + "-leak", install=offline_install(),
               cache=False)
    init = (world["repo"] / "toolz/__init__.py").read_text()
    first = check(v, world, patch(world, {"toolz/__init__.py": init + LEAVE_BEHIND}))
    assert first.outcome is Outcome.FAIL and first.reason == f"FAIL_TO_PASS still failing: {F2P}", first
    gold_and_look = patch(world, {SOURCE_FILE: (BUGGY, FIXED), "toolz/__init__.py": init + LOOK_FOR_LEFTOVERS})
    second = check(v, world, gold_and_look)
    assert second.outcome is Outcome.PASS, second


def test_fuzzy_apply_is_used_and_said(verifier: SweTests, world: dict[str, Any]) -> None:
    gold = world["instance"]["patch"]
    stale = gold.replace("                 )\n             yield prev[:end]\n",
                         "                 )  # a context line that changed since\n             yield prev[:end]\n")
    assert stale != gold
    verdict = check(verifier, world, stale)
    assert verdict.outcome is Outcome.PASS, verdict
    assert verdict.details["apply"] == "patch --fuzz=5"


def test_timeout_and_environment_failure(world: dict[str, Any]) -> None:
    slow = create("verifier", "swe-tests", cache_dir=world["cache"], install=offline_install(), timeout_s=3.0)
    loops = patch(world, {SOURCE_FILE: ("    it = zip_longest(*args, fillvalue=no_pad)\n",
                                               "    while True:\n        pass\n")})
    verdict = check(slow, world, loops)
    assert verdict.outcome is Outcome.TIMEOUT and verdict.reason == "tests ran past the time limit (3 s)"
    broken = create("verifier", "swe-tests", cache_dir=world["cache"], python="/nonexistent/python3")
    verdict = check(broken, world, world["instance"]["patch"])
    assert verdict.outcome is Outcome.ERROR and verdict.reason.startswith("environment build failed:")


def test_docker_backend(world: dict[str, Any]) -> None:
    from monkeys.swe.docker import docker_usable

    why = docker_usable()
    if why is not None:
        pytest.skip(f"docker backend not usable here: {why}")
    v = create("verifier", "swe-tests", backend="docker", namespace=None)
    assert check(v, world, world["instance"]["patch"]).outcome in (Outcome.PASS, Outcome.ERROR)


def test_a_pass_to_pass_test_that_fails_once_is_reported_flaky(world: dict[str, Any],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A flake from outside the checkout (here an environment variable the first run alone is given): the
    re-run passes, so the test is flaky, not broken."""
    v = create("verifier", "swe-tests", cache_dir=world["cache"], install=offline_install(), cache=False)
    real, calls = v._run_tests, []

    def first_one_flakes(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            args = (*args[:4], {**args[4], "MONKEYS_TEST_FLAKE": "1"}, *args[5:])
        return real(*args)

    monkeypatch.setattr(v, "_run_tests", first_one_flakes)
    text = (world["repo"] / SOURCE_FILE).read_text().replace(BUGGY, FIXED, 1)
    text = text.replace("        d[item] += 1\n", "        d[item] += 2 if _FLAKE else 1\n", 1)
    text += "\nimport os as _os\n_FLAKE = bool(_os.environ.get('MONKEYS_TEST_FLAKE'))\n"
    verdict = check(v, world, patch(world, {SOURCE_FILE: text}))
    assert verdict.outcome is Outcome.PASS, verdict
    assert verdict.details["flaky"] == [f"{TEST_FILE}::test_frequencies"] and len(calls) == 2


@pytest.mark.parametrize("how", ["argv", "marker"])
def test_a_patch_cannot_tell_the_rerun_from_the_first_run(world: dict[str, Any], how: str) -> None:
    """A patch that breaks a PASS_TO_PASS test except in the verifier's re-run, told apart by its arguments
    (it named only the failed tests) or by a marker the first run left in the checkout: the re-run is now
    the same command on a fresh checkout, so the test stays broken (audit finding)."""
    v = create("verifier", "swe-tests", cache_dir=world["cache"], install=offline_install(), cache=False)
    cond = {"argv": "any('::' in _a for _a in __import__('sys').argv)",
            "marker": "__import__('os').path.exists('m.txt') or open('m.txt', 'w').close()"}[how]
    text = (world["repo"] / SOURCE_FILE).read_text().replace(BUGGY, FIXED, 1)
    text = text.replace("        d[item] += 1\n", f"        d[item] += 1 if ({cond}) else 2\n", 1)
    verdict = check(v, world, patch(world, {SOURCE_FILE: text}))
    assert verdict.outcome is Outcome.FAIL, verdict
    assert verdict.reason == f"PASS_TO_PASS broke: {TEST_FILE}::test_frequencies"


REWRITE_TESTS = {
    # the parent package is imported before pytest reads its test module: it rewrites the test on disk
    "source": """
import os as _o
_t = _o.path.join(_o.path.dirname(__file__), "tests", "test_itertoolz.py")
_s = open(_t).read()
if "_FORGED_" not in _s:
    _s = _s.replace("def test_partition_all():", "def test_partition_all():\\n    return  # _FORGED_\\n", 1)
    open(_t, "w").write(_s)
""",
    # a bytecode cache of a forged test module (pytest reads __pycache__ even when it writes none), in place
    # of the `__pycache__` file the watch puts there
    "bytecode": """
import os as _o, sys as _sy, marshal as _m, importlib.util as _iu, importlib.metadata as _md
_d = _o.path.join(_o.path.dirname(__file__), "tests")
_t = _o.path.join(_d, "test_itertoolz.py")
if _o.path.isfile(_o.path.join(_d, "__pycache__")):
    _o.unlink(_o.path.join(_d, "__pycache__"))
_raw = open(_t, "rb").read()
_co = compile(_raw.decode().replace("def test_partition_all():", "def test_partition_all():\\n    return\\n", 1), _t,
              "exec")
_o.makedirs(_o.path.join(_d, "__pycache__"), exist_ok=True)
_tag = _sy.implementation.cache_tag + "-py" "test-" + _md.version("py" "test")
with open(_o.path.join(_d, "__pycache__", "test_itertoolz." + _tag + ".pyc"), "wb") as _f:
    _f.write(_iu.MAGIC_NUMBER + b"\\3\\0\\0\\0" + _iu.source_hash(_raw)[:8] + _m.dumps(_co))
""",
    # the test folder swapped for a forged copy, the original put back once the forgery was imported: at
    # the end every file is the original one
    "folder": """
import os as _o, shutil as _sh, threading as _th, time as _ti
_d = _o.path.dirname(__file__)
if not _o.path.exists(_o.path.join(_d, "t0")):
    _o.rename(_o.path.join(_d, "tests"), _o.path.join(_d, "t0"))
    _sh.copytree(_o.path.join(_d, "t0"), _o.path.join(_d, "tests"))
    _p = _o.path.join(_d, "tests", "test_itertoolz.py")
    _s = open(_p).read().replace("def test_partition_all():", "def test_partition_all():\\n    return\\n", 1)
    open(_p, "w").write(_s)

    def _back():
        _ti.sleep(1.0)
        _sh.rmtree(_o.path.join(_d, "tests"))
        _o.rename(_o.path.join(_d, "t0"), _o.path.join(_d, "tests"))
    _th.Thread(target=_back, daemon=True).start()
""",
}


@pytest.mark.parametrize("how", sorted(REWRITE_TESTS))
def test_tests_rewritten_while_they_run_are_caught(verifier: SweTests, world: dict[str, Any], how: str) -> None:
    """The checkout is writable while the tests run and the code under test runs before pytest reads the
    test module: it rewrote the test file, wrote a forged bytecode cache for it, or swapped the folder and
    put it back. Each forged a pass with plain file writes; the test files are watched while they run
    (audit finding)."""
    text = (world["repo"] / "toolz/__init__.py").read_text() + REWRITE_TESTS[how]
    verdict = check(verifier, world, patch(world, {"toolz/__init__.py": text}))
    assert verdict.outcome is Outcome.FAIL, verdict
    assert verdict.reason.startswith("guard: the tests' run changed the tests: toolz/tests"), verdict.reason
    assert any(f["why"].startswith("changed while the tests ran") for f in verdict.details["guard"])


def test_helper_modules_of_the_test_folder_are_watched_too(verifier: SweTests, world: dict[str, Any]) -> None:
    """A test imports helpers from its folder; rewriting one at run time (here through a hard link made
    outside the watched folders) changes the test as much as rewriting the test file, while the tests' own
    output files there are theirs to write."""
    write = ("\nimport os as _o\n_d = _o.path.join(_o.path.dirname(__file__), 'tests')\n"
             "open(_o.path.join(_d, 'output.txt'), 'w').write('the tests own file')\n")
    init = (world["repo"] / "toolz/__init__.py").read_text()
    fine = check(verifier, world, patch(world, {SOURCE_FILE: (BUGGY, FIXED), "toolz/__init__.py": init + write}))
    assert fine.outcome is Outcome.PASS, fine
    helper = write + "_o.link(_o.path.join(_d, 'test_utils.py'), 'hl')\nopen('hl', 'a').write('# rewritten')\n"
    verdict = check(verifier, world, patch(world, {SOURCE_FILE: (BUGGY, FIXED), "toolz/__init__.py": init + helper}))
    assert verdict.outcome is Outcome.FAIL, verdict
    assert verdict.reason == "guard: the tests' run changed the tests: toolz/tests/test_utils.py: written"


def test_a_file_name_that_is_not_utf8_leaves_a_verdict_the_store_can_write(verifier: SweTests,
                                                                         world: dict[str, Any]) -> None:
    """A path git quotes with octal bytes (`"b/toolz/tests/\\377.py"`) is made by git apply; it reached the
    verdict's reason as a lone surrogate, which the run store (Arrow) refused to write (audit finding)."""
    diff = world["instance"]["patch"] + (
        'diff --git "a/toolz/tests/\\377.py" "b/toolz/tests/\\377.py"\nnew file mode 100644\n--- /dev/null\n'
        '+++ "b/toolz/tests/\\377.py"\n@@ -0,0 +1 @@\n+x = 1\n')
    verdict = check(verifier, world, diff)
    assert verdict.reason == "guard: toolz/tests/\\xff.py edits a file under a test directory", verdict
    json.dumps(verdict.details, ensure_ascii=False).encode("utf-8")  # no lone surrogate anywhere


def test_a_sitecustomize_package_is_refused(verifier: SweTests, world: dict[str, Any]) -> None:
    """`sitecustomize/__init__.py` is imported at interpreter start like `sitecustomize.py` (audit finding)."""
    forged = ("_t = 'toolz/tests/test_itertoolz.py'\n_s = open(_t).read()\nopen(_t, 'w').write(_s.replace("
              "'def test_partition_all():', 'def test_partition_all():\\n    return\\n', 1))\n")
    verdict = check(verifier, world, patch(world, {"sitecustomize/__init__.py": forged}))
    assert verdict.outcome is Outcome.FAIL, verdict
    assert verdict.reason.startswith("guard: sitecustomize/__init__.py adds or edits a sitecustomize module")




def _forged_lines(world: dict[str, Any]) -> str:
    names = world["instance"]["FAIL_TO_PASS"] + world["instance"]["PASS_TO_PASS"]
    return "".join(f"\\nPASSED {n}" for n in names)


def _harness_like(log: str, _spec: Any = None) -> dict[str, str]:
    """The swebench harness's `parse_log_pytest`: the last line of a test wins."""
    found: dict[str, str] = {}
    for line in log.split("\n"):
        if line.startswith(("PASSED", "FAILED", "SKIPPED", "ERROR", "XFAIL")):
            words = line.replace(" - ", " ").split() if line.startswith("FAILED") else line.split()
            if len(words) > 1:
                found[words[1]] = words[0]
    return found


@pytest.mark.parametrize("how", ["skip reason", "collection error", "failure message", "stderr summary"])
def test_report_lines_the_code_under_test_writes_are_not_read(world: dict[str, Any], how: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest's short summary prints text the code under test controls: a skip reason raw
    (`unittest.SkipTest`), a failure's whole message once `CI` is set (the collection error of the test
    module, or the failing test's own message, read last-wins by the harness's parser), and the log's
    stderr came after it. Each put PASSED lines where they were read, with no pytest name used; results
    now come from pytest's own tallies, written after it returns under a nonce (audit finding)."""
    from monkeys.swe import grading

    v = create("verifier", "swe-tests", cache_dir=world["cache"], install=offline_install(), cache=False)
    init = (world["repo"] / "toolz/__init__.py").read_text()
    source = (world["repo"] / SOURCE_FILE).read_text()
    lines = _forged_lines(world)
    if how == "skip reason":
        edits = {SOURCE_FILE: source.replace(BUGGY, f"            import unittest as _u\n"
                                             f"            raise _u.SkipTest('x\\nPASSED {F2P}')\n", 1)}
    elif how == "collection error":
        edits = {"toolz/__init__.py": init + "\nimport os as _o\n_o.environ['CI'] = '1'\n"
                 f"raise ValueError('x{lines}')\n"}
    elif how == "failure message":
        monkeypatch.setattr(grading, "harness_parser", lambda repo: _harness_like)
        edits = {"toolz/__init__.py": init + "\nimport os as _o\n_o.environ['CI'] = '1'\n",
                 SOURCE_FILE: source.replace(BUGGY, "            try:\n"
                                             "                yield prev[:prev.index(no_pad)]\n"
                                             "            except ValueError:\n"
                                             f"                raise ValueError('x\\nPASSED {F2P}')\n", 1)}
    else:
        text = "=" * 10 + " short test summary info " + "=" * 10 + lines.replace("\\n", "\n") + "\n" + "=" * 10 \
            + " 50 passed in 0.1s " + "=" * 10 + "\n"
        edits = {"toolz/__init__.py": init + f"\nimport os as _o, stat as _st\n_txt = {text!r}.encode()\n"
                 "for _fd in range(3, 64):\n    try:\n        if _st.S_ISFIFO(_o.fstat(_fd).st_mode):\n"
                 "            _o.write(_fd, _txt)\n    except OSError:\n        pass\n"}
    verdict = check(v, world, patch(world, edits))
    assert verdict.outcome is Outcome.FAIL, verdict
    assert verdict.reason.startswith(f"FAIL_TO_PASS still failing: {F2P}"), verdict.reason


def test_deep_folders_neither_crash_the_grader_nor_reach_the_next_sample(world: dict[str, Any]) -> None:
    """A patch adding a file 1,400 folders deep overflowed the grader's recursive walk (every sample of the
    repository after it failed the same way: the old checkout could not be removed); a test run nesting
    3,000 folders did the same through the removal (audit finding)."""
    v = create("verifier", "swe-tests", cache_dir=world["cache"] + "-deep", install=offline_install(), cache=False)
    try:
        _deep_folders(v, world)
    finally:  # pytest's own clean-up of old temporary folders is a recursive removal
        subprocess.run(["rm", "-rf", world["cache"] + "-deep"], check=False)


def _deep_folders(v: SweTests, world: dict[str, Any]) -> None:
    deep = "/".join(["d"] * 1400) + "/x.txt"
    added = f"diff --git a/{deep} b/{deep}\nnew file mode 100644\n--- /dev/null\n+++ b/{deep}\n@@ -0,0 +1 @@\n+x\n"
    verdict = check(v, world, world["instance"]["patch"] + added)
    assert verdict.outcome is Outcome.FAIL and verdict.reason.endswith("is 1400 folders deep (more than 64)"), verdict
    nest = ("\nimport os as _o\n_here = _o.getcwd()\ntry:\n    for _i in range(3000):\n        _o.mkdir('d')\n"
            "        _o.chdir('d')\nfinally:\n    _o.chdir(_here)\n")
    init = (world["repo"] / "toolz/__init__.py").read_text()
    assert check(v, world, patch(world, {"toolz/__init__.py": init + nest})).outcome is Outcome.FAIL
    for _ in range(2):
        assert check(v, world, world["instance"]["patch"]).outcome is Outcome.PASS


def test_a_patch_that_would_write_too_much_is_refused_before_it_is_applied(verifier: SweTests,
                                                                          world: dict[str, Any]) -> None:
    """A 240 kB binary literal inflating to 40 MB, and 700 `copy from` headers of a 27 kB file: the guard read
    the inflated file whole on the host (a 20 MB one took 45 s and 325 MB; zlib inflates 1000-fold)."""
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch) / "w"
        subprocess.run(["git", "-c", "safe.directory=*", "clone", "-q", str(world["repo"]), str(work)], check=True,
                       capture_output=True)
        (work / ".git" / "info").mkdir(exist_ok=True)
        (work / ".git" / "info" / "attributes").write_text("*.bin binary\n")
        (work / "toolz" / "blob.bin").write_bytes(b"\n" * (40 << 20))
        subprocess.run(["git", "-C", str(work), "add", "-A"], check=True)
        bomb = subprocess.run(["git", "-C", str(work), "diff", "--cached", "--binary"], check=True,
                              capture_output=True, text=True).stdout
    verdict = check(verifier, world, world["instance"]["patch"] + bomb)
    assert verdict.outcome is Outcome.FAIL, verdict
    assert verdict.reason == "patch too large: its binary hunks and copies would write 41,943,040 bytes (at most " \
                             "16,777,216)"
    copies = "".join(f"diff --git a/{SOURCE_FILE} b/toolz/c{i}.py\nsimilarity index 100%\ncopy from {SOURCE_FILE}\n"
                     f"copy to toolz/c{i}.py\n" for i in range(700))
    verdict = check(verifier, world, world["instance"]["patch"] + copies)
    assert verdict.outcome is Outcome.FAIL and verdict.reason.startswith("patch too large: its binary hunks"), verdict
    huge = world["instance"]["patch"] + "\n" + "+" * 5_000_000
    assert check(verifier, world, huge).reason.startswith("patch too large: ")


def _problem_with_tests(world: dict[str, Any], extra: str, p2p: tuple[str, ...] = ()) -> Problem:
    """The instance with `extra` appended to the test patch's test file (and `p2p` added to PASS_TO_PASS)."""
    import toolz

    instance = json.loads(json.dumps(world["instance"]))
    text = (Path(toolz.__file__).parent / "tests" / "test_itertoolz.py").read_text() + extra
    instance["test_patch"] = make_patch(world["repo"], instance["base_commit"], {TEST_FILE: text})
    instance["PASS_TO_PASS"] += [f"{TEST_FILE}::{name}" for name in p2p]
    return Problem(instance["instance_id"], Prompt("fix it"),
                   {"kind": "swe-bench", "instance": instance, "repo_dir": str(world["repo"])})


def test_a_child_that_writes_bytecode_does_not_fail_a_gold_patch(verifier: SweTests, world: dict[str, Any]) -> None:
    """A test of the test patch starts a child interpreter with an environment of its own (no
    PYTHONDONTWRITEBYTECODE): it imports the package and the test module and writes their bytecode caches
    into watched folders, which failed the gold patch as a run that changed the tests (audit item). Each
    watched folder now holds a `__pycache__` file that no cache can be written or read through."""
    extra = '''

def test_a_child_imports_the_package():
    import os, subprocess, sys
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", "import toolz.tests.test_itertoolz, toolz; print('ok')"],
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": top}, capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
'''
    problem = _problem_with_tests(world, extra, ("test_a_child_imports_the_package",))
    verdict = verifier.verify(problem, Sample(problem.problem_id, 0, 0, world["instance"]["patch"]))
    assert verdict.outcome is Outcome.PASS, verdict
    assert verdict.details.get("tampered") is None


SHADOW_TEST_MODULE = {
    # a package wins over a module of the same name; pytest's check that it imported the file it collected
    # is turned off by an environment variable the code under test sets (its name built at run time)
    "package": """
import os as _o
_d = _o.path.join(_o.path.dirname(__file__), "tests")
_o.environ["PY_IGNORE_" + "IMPORTMISMATCH"] = "1"
if not _o.path.isdir(_o.path.join(_d, "test_itertoolz")):
    _s = open(_o.path.join(_d, "test_itertoolz.py")).read()
    _o.mkdir(_o.path.join(_d, "test_itertoolz"))
    with open(_o.path.join(_d, "test_itertoolz", "__init__.py"), "w") as _f:
        _f.write(_s.replace("def test_partition_all():", "def test_partition_all():\\n    return\\n", 1))
""",
    # an extension module is found before the source (a real one is built with the system's cc; its name
    # alone is what the watch sees)
    "extension": """
import os as _o, sysconfig as _sc
_d = _o.path.join(_o.path.dirname(__file__), "tests")
open(_o.path.join(_d, "test_itertoolz" + _sc.get_config_var("EXT_SUFFIX")), "wb").write(b"\\x7fELF")
""",
}


@pytest.mark.parametrize("how", sorted(SHADOW_TEST_MODULE))
def test_a_module_made_beside_the_test_module_at_run_time_is_caught(verifier: SweTests, world: dict[str, Any],
                                                                    how: str) -> None:
    """The code under test made, beside test_itertoolz.py, what the import system finds first under that
    name: a package folder holding a forged copy of the tests (a forged pass before), or an extension
    module. Neither name is a .py file, and the folder's own __init__.py was in no watched folder (audit)."""
    text = (world["repo"] / "toolz/__init__.py").read_text() + SHADOW_TEST_MODULE[how]
    verdict = check(verifier, world, patch(world, {"toolz/__init__.py": text}))
    assert verdict.outcome is Outcome.FAIL, verdict
    assert verdict.reason.startswith("guard: the tests' run changed the tests: toolz/tests/test_itertoolz"), verdict


@pytest.mark.parametrize("parity", [0, 1])
def test_the_rerun_must_pass_every_test_itself(world: dict[str, Any], parity: int) -> None:
    """A patch that passes FAIL_TO_PASS with a hack that breaks a PASS_TO_PASS test, and behaves as before
    otherwise, choosing per run (here by the parity of the run's uid: the first run and its re-run have
    consecutive ones; a coin flip does as well a quarter of the time): the first run's FAIL_TO_PASS and
    the re-run's PASS_TO_PASS made it resolved, for one of the two parities (audit finding)."""
    v = create("verifier", "swe-tests", cache_dir=world["cache"], install=offline_install(), cache=False)
    mode = f"__import__('os').getuid() % 2 == {parity}"
    text = (world["repo"] / SOURCE_FILE).read_text()
    text = text.replace(BUGGY, f"            yield (tuple(x for x in prev if x is not no_pad) if {mode} else "
                        "prev[:prev.index(no_pad)])\n", 1)
    text = text.replace("        d[item] += 1\n", f"        d[item] += 2 if {mode} else 1\n", 1)
    verdict = check(v, world, patch(world, {SOURCE_FILE: text}))
    assert verdict.outcome is Outcome.FAIL, verdict
    assert "flaky" not in verdict.details


def test_a_run_that_fills_the_disk_limit_fails_and_leaves_the_host_clean(world: dict[str, Any]) -> None:
    """The code under test writes 96 files of 1 MiB into the checkout with `disk_mb=64` (each file is far
    under the 1 GiB file limit; before, nothing capped the total and all of it landed on the host's disk):
    the run's writes go to a capped tmpfs of its own mount namespace, so they stop at the limit, the
    sample fails saying so, and the host's checkout never holds them (audit item)."""
    v = create("verifier", "swe-tests", cache_dir=world["cache"], install=offline_install(), cache=False, disk_mb=64)
    fill = ("\nimport os as _o\ntry:\n    for _i in range(96):\n"
            "        open('fill%d.bin' % _i, 'wb').write(b'x' * (1 << 20))\nexcept OSError:\n    pass\n")
    init = (world["repo"] / "toolz/__init__.py").read_text()
    verdict = check(v, world, patch(world, {SOURCE_FILE: (BUGGY, FIXED), "toolz/__init__.py": init + fill}))
    assert verdict.outcome is Outcome.FAIL, verdict
    assert verdict.reason.startswith("the tests' run filled the disk limit (64 MiB"), verdict.reason
    assert not list(Path(world["cache"]).glob("worktrees/*/*/fill*.bin"))
    assert check(v, world, world["instance"]["patch"]).outcome is Outcome.PASS


def test_a_results_block_from_a_run_that_was_killed_does_not_count(verifier: SweTests, world: dict[str, Any]) -> None:
    """The code under test found the nonce (walking the stack to the launcher; before, it was a global of
    __main__), wrote a whole block of PASSED lines to the pipe it found among its descriptors (pytest's
    capture had saved the real stdout there) and killed its own process before the launcher wrote the real
    block: the last block counted (a forged pass, audit round 3). The block now names pytest's exit code,
    and a run that did not exit with it, here one killed, has no results. Reaching into the launcher at run
    time remains the known limit: such code could leave by os._exit with the code it named."""
    names = [t.split("::")[1] for t in [*world["instance"]["FAIL_TO_PASS"], *world["instance"]["PASS_TO_PASS"]]]
    forge = f'''
import os as _o, stat as _st, sys as _s
_f = _s._getframe()
while _f is not None and not ({{"nonce", "_nonce"}} & set(_f.f_locals)):
    _f = _f.f_back
_n = _f.f_locals.get("nonce") or _f.f_locals.get("_nonce")
_names = ["{TEST_FILE}::" + t for t in {names!r}]
_code = " 0" if "nonce" in _f.f_locals else ""  # the head as this launcher writes it
_b = "\\n@@monkeys-results %s %d%s\\n" % (_n, len(_names), _code) + "".join("PASSED " + t + "\\n" for t in _names)
for _fd in range(3, 64):
    try:
        if _st.S_ISFIFO(_o.fstat(_fd).st_mode):
            _o.write(_fd, (_b + "@@monkeys-results-end %s\\n" % _n).encode())
    except OSError:
        pass
_o.kill(_o.getpid(), 9)
'''
    text = (world["repo"] / "toolz/__init__.py").read_text() + forge
    verdict = check(verifier, world, patch(world, {"toolz/__init__.py": text}))
    assert verdict.outcome is Outcome.FAIL, verdict
    assert verdict.details["parser"] == "none (the run recorded no results)", verdict.details


def test_a_path_too_long_for_the_host_fails_the_sample_not_the_run(verifier: SweTests, world: dict[str, Any]) -> None:
    """A file 40 folders of 100 characters deep (under the 64-folder cap): git made it (relative paths), but
    the checkout's folder and it overran PATH_MAX, and reading it for the guard raised ENAMETOOLONG out of
    `verify`, which stops a run, and again on every resume (audit round 3)."""
    deep = "/".join(["d" * 100] * 40) + "/x.py"
    text = world["instance"]["patch"] + (f"diff --git a/{deep} b/{deep}\nnew file mode 100644\n--- /dev/null\n"
                                         f"+++ b/{deep}\n@@ -0,0 +1 @@\n+x = 1\n")
    verdict = check(verifier, world, text)
    assert verdict.outcome is Outcome.FAIL, verdict
    assert verdict.reason.startswith("patch too large: a path of 4,044 bytes (at most 3,072)"), verdict.reason
