"""`swe-tests` end to end on a real repository (toolz with a real bug planted, see `swe_fixture`): real git,
a real virtual environment built offline, the real command sandbox running the repository's pytest."""

from __future__ import annotations

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


def test_a_pass_to_pass_test_that_fails_once_is_reported_flaky(verifier: SweTests, world: dict[str, Any]) -> None:
    text = (world["repo"] / SOURCE_FILE).read_text().replace(BUGGY, FIXED, 1)
    text = text.replace("        d[item] += 1\n", "        d[item] += 2 if _FIRST_RUN else 1\n", 1)
    text += ("\nimport os as _os\n_FIRST_RUN = not _os.path.exists('first-run.marker')\n"
             "open('first-run.marker', 'w').close()\n")  # in the worktree: only the first run sees it absent
    verdict = check(verifier, world, patch(world, {SOURCE_FILE: text}))
    assert verdict.outcome is Outcome.PASS, verdict
    assert verdict.details["flaky"] == [f"{TEST_FILE}::test_frequencies"]
