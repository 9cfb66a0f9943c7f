"""The parts of `swe-tests` that need no repository: diffs, the guard, log parsing and grading, the command
sandbox, and what `monkeys doctor` says about it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monkeys.sandbox._command import CommandLimits, run_command, unavailable
from monkeys.swe import grading, guard, patching

DIFF = """diff --git a/pkg/mod.py b/pkg/mod.py
index 1111111..2222222 100644
--- a/pkg/mod.py
+++ b/pkg/mod.py
@@ -10,3 +10,3 @@ def f():
     a = 1
-    return a
+    return a + 1
     # end
"""

LOG = """============================= test session starts ==============================
collected 3 items

tests/test_m.py .F.                                                      [100%]

==================================== PASSES ====================================
_________________________________ test_printer _________________________________
----------------------------- Captured stdout call -----------------------------
PASSED tests/test_m.py::test_broken
=========================== short test summary info ============================
PASSED tests/test_m.py::test_printer
PASSED tests/test_m.py::test_ok
FAILED tests/test_m.py::test_broken - assert 1 == 2
========================= 1 failed, 2 passed in 0.05s ==========================
PASSED tests/test_m.py::test_broken
"""


def test_diffs_are_found_parsed_and_normalised() -> None:
    fenced = f"The fix:\n```diff\n{DIFF}```\nThat should do it."
    assert patching.extract_diff(fenced) == DIFF
    assert patching.extract_diff("def f():\n    return 1\n") is None
    assert patching.paths(DIFF) == ["pkg/mod.py"]
    [change] = patching.parse(DIFF)
    assert change.added == ["    return a + 1"] and change.removed == ["    return a"]
    moved = DIFF.replace("@@ -10,3 +10,3 @@ def f():", "@@ -12,3 +12,3 @@").replace("# end", "# end   ")
    assert patching.patch_hash(moved) == patching.patch_hash(DIFF)
    assert patching.patch_hash(DIFF.replace("a + 1", "a + 2")) != patching.patch_hash(DIFF)


@pytest.mark.parametrize(("path", "flagged"), [
    ("conftest.py", True), ("pkg/tests/conftest.py", True), ("pytest.ini", True), ("setup.cfg", True),
    ("pyproject.toml", True), ("tox.ini", True), ("sitecustomize.py", True), ("x/usercustomize.py", True),
    ("evil.pth", True), ("evil-1.0.dist-info/entry_points.txt", True), ("tests/test_a.py", True),
    ("pkg/test_b.py", True), ("pkg/b_test.py", True), ("testing/util.py", True),
    ("pytest.toml", True), (".pytest.toml", True), (".git/planted", True), ("pkg/.git", True),
    (".gitattributes", True), ("pkg/.gitattributes", True),
    ("pkg/mod.py", False), ("pkg/testament.py", False), ("docs/index.rst", False),
])
def test_guard_paths(path: str, flagged: bool) -> None:
    assert (guard.path_reason(path) is not None) is flagged


def test_guard_added_lines_and_test_patch_files() -> None:
    hook = patching.parse(DIFF.replace("+    return a + 1", "+def pytest_runtest_makereport(item, call):"))
    assert [f.why for f in guard.check(["pkg/mod.py"], hook)] == ["defines a pytest hook"]
    plugins = patching.parse(DIFF.replace("+    return a + 1", "+pytest_plugins = ['evil']"))
    assert guard.check(["pkg/mod.py"], plugins)[0].path == "pkg/mod.py"
    assert guard.check(["pkg/mod.py"], patching.parse(DIFF)) == []
    assert guard.check(["pkg/data.txt"], [], test_files=["pkg/data.txt"])[0].why == "edits a file of the test patch"
    internals = patching.parse(DIFF.replace("+    return a + 1", "+from _pytest import nodes"))
    assert guard.check(["pkg/mod.py"], internals, repo="pytest-dev/pytest") == []


def test_every_config_file_pytest_reads_is_guarded() -> None:
    """The installed pytest's own list of the files it reads its configuration from (pytest 9 added
    pytest.toml and .pytest.toml): each is one the guard flags."""
    findpaths = pytest.importorskip("_pytest.config.findpaths")
    names = list(getattr(findpaths, "CONFIG_LOADERS_BY_NAME", ()))
    if not names:
        pytest.skip(f"pytest {pytest.__version__} keeps no list of its configuration files to compare with")
    assert [n for n in names if guard.path_reason(n) is None] == []


def test_modules_that_would_shadow_the_runner_or_the_standard_library() -> None:
    assert guard.module_name("pytest.py", []) == "pytest"
    assert guard.module_name("src/argparse.py", []) == "argparse"
    assert guard.module_name("pkg/json.py", ["pkg"]) is None  # pkg.json, a submodule
    assert guard.module_name("numpy/__init__.py", []) == "numpy"
    assert guard.module_name("pkg/sub/__init__.py", ["pkg", "pkg/sub"]) is None
    flagged = guard.shadowing(["pytest.py", "pkg/json.py", "argparse.py", "numpy/__init__.py", "newmod.py"],
                              ["pkg"], ["numpy"])
    assert [f.path for f in flagged] == ["pytest.py", "argparse.py", "numpy/__init__.py"]


def test_pytest_in_the_code_under_test_is_flagged_but_not_in_its_docs() -> None:
    xfail = patching.parse(DIFF.replace("+    return a + 1", "+    __import__('pytest').xfail('later')"))
    assert [f.why for f in guard.check(["pkg/mod.py"], xfail)] == ["uses pytest from the code under test"]
    docs = [patching.FileChange("CHANGES.rst", "CHANGES.rst", ["Fixed a crash seen under pytest."])]
    assert guard.check(["CHANGES.rst"], docs) == []


def test_pytest_log_is_read_from_its_summary_only() -> None:
    status = grading.parse_pytest(LOG)
    assert status == {"tests/test_m.py::test_printer": "PASSED", "tests/test_m.py::test_ok": "PASSED",
                      "tests/test_m.py::test_broken": "FAILED"}  # neither captured output nor the exit line
    assert grading.parse_pytest(LOG.replace("=== 1 failed, 2 passed in 0.05s ===", "")) == {}  # killed mid-run
    forged = LOG.replace("FAILED tests/test_m.py::test_broken", "FAILED tests/test_m.py::test_broken\n"
                         "PASSED tests/test_m.py::test_broken")
    assert grading.parse_pytest(forged)["tests/test_m.py::test_broken"] == "ERROR"


def test_grading_as_the_harness_does() -> None:
    status = {"a": "PASSED", "b": "XFAIL", "c": "FAILED", "d": "SKIPPED"}
    assert grading.grade(status, ["a", "b"], []).resolved
    result = grading.grade(status, ["a", "c"], ["b", "d", "missing"])
    assert result.f2p_failed == ("c",) and result.p2p_failed == ("d", "missing") and result.missing == ("missing",)
    assert not result.resolved


def test_test_commands() -> None:
    instance = {"repo": "o/r", "test_patch": DIFF.replace("pkg/mod.py", "tests/test_mod.py")}
    default = grading.test_command(instance, None)
    assert default.args == ("-m", "pytest", "-rA", "--tb=no", "-p", "no:cacheprovider", "tests/test_mod.py")
    django = {"repo": "django/django", "test_patch": DIFF.replace("pkg/mod.py", "tests/admin_views/tests.py")}
    cmd = grading.test_command(django, {"test_cmd": "./tests/runtests.py --verbosity 2 --parallel 1"})
    assert cmd.args == ("./tests/runtests.py", "--verbosity", "2", "--parallel", "1", "admin_views.tests")
    assert not cmd.pytest
    sympy = grading.test_command({"repo": "sympy/sympy", "test_patch": ""},
                                 {"test_cmd": "PYTHONWARNINGS='ignore::UserWarning' bin/test -C --verbose"})
    assert sympy.env == {"PYTHONWARNINGS": "ignore::UserWarning"} and sympy.args[0] == "bin/test"


@pytest.mark.skipif(unavailable() is not None, reason=f"no command sandbox: {unavailable()}")
def test_command_sandbox_contains(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o777)
    outside.chmod(0o777)
    script = (
        "import os, socket, sys\n"
        "open('inside.txt', 'w').write('ok')\n"
        f"try:\n    open({str(outside / 'x')!r}, 'w')\n    print('ESCAPED')\nexcept OSError:\n    print('blocked')\n"
        "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n    print('ONLINE')\n"
        "except OSError:\n    print('offline')\n"
        "print(sorted(os.environ))\n"
    )
    result = run_command([sys.executable, "-c", script], cwd=work, writable=[work], readable=[sys.prefix,
                         sys.base_prefix], env={"A": "1"}, limits=CommandLimits(timeout_s=60))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[:2] == ["blocked", "offline"]
    assert "'A'" in lines[2] and "'PATH'" not in lines[2] and "'HOME'" not in lines[2]  # only what was given
    assert (work / "inside.txt").read_text() == "ok" and list(outside.iterdir()) == []
    slow = run_command(["/bin/sh", "-c", "sleep 30 & sleep 30"], cwd=work, limits=CommandLimits(timeout_s=1))
    assert slow.timed_out and slow.exit_code is None


def test_command_sandbox_refuses_new_namespaces_but_keeps_what_tests_use(tmp_path: Path) -> None:
    """A repository's code runs here: it must not make a user namespace (where it would hold every
    capability) or any other, nor mount; a test runner's own needs (signal handlers, a socket object,
    subprocesses) still work. Found open before: ctypes' unshare(CLONE_NEWUSER) succeeded."""
    work = tmp_path / "work"
    work.mkdir()
    script = (
        "import ctypes, signal, socket, subprocess, sys\nlibc = ctypes.CDLL(None, use_errno=True)\nopen_ = []\n"
        "for name, flag in (('user', 0x10000000), ('mount', 0x20000), ('net', 0x40000000), ('pid', 0x20000000)):\n"
        "    if libc.unshare(flag) == 0: open_.append(name)\n"
        "if libc.mount(b'none', b'/tmp', b'tmpfs', 0, None) == 0: open_.append('mount')\n"
        "signal.signal(signal.SIGUSR1, lambda *a: None)\nsocket.socket(socket.AF_UNIX).close()\n"
        "child = subprocess.run([sys.executable, '-c', 'print(7)'], capture_output=True, text=True)\n"
        "print('open:', ','.join(open_) or 'none', 'child:', child.stdout.strip())\n")
    result = run_command([sys.executable, "-c", script], cwd=work, writable=[work], readable=[sys.prefix,
                         sys.base_prefix], limits=CommandLimits(timeout_s=60))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.decode().split() == ["open:", "none", "child:", "7"]


def test_doctor_reports_swe_tests() -> None:
    from monkeys.swe.checks import swe_tests_checks

    rows = swe_tests_checks()
    assert rows["git (both backends)"].startswith("active: git version")
    assert rows["backend local (command sandbox)"].startswith("active")
    docker = rows["backend docker (swebench harness)"]
    assert docker == "active" or docker.startswith("unavailable: ")
    monkeys = Path(sys.executable).with_name("monkeys")
    out = subprocess.run([str(monkeys), "doctor"], capture_output=True, text=True, env={"COLUMNS": "200",
                         "PATH": "/usr/bin:/bin"})
    assert "swe-tests (SWE-bench verifier)" in out.stdout and "backend docker (swebench harness)" in out.stdout


def _repo(tmp_path: Path) -> tuple[Path, str, str]:
    repo = tmp_path / "owner__name"
    repo.mkdir()
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], env=env, capture_output=True, text=True,
                              check=True).stdout.strip()

    git("init", "-q")
    (repo / "a.py").write_text("one\n")
    git("add", "-A")
    git("commit", "-q", "-m", "1")
    first = git("rev-parse", "HEAD")
    (repo / "a.py").write_text("two\n")
    git("commit", "-qam", "2")
    return repo, first, git("rev-parse", "HEAD")


def test_worktree_slots_are_private_reset_and_switched(tmp_path: Path) -> None:
    from monkeys.swe.worktree import WorktreePool

    repo, first, second = _repo(tmp_path)
    pool = WorktreePool(tmp_path / "trees")
    with pool.acquire(repo, first) as one, pool.acquire(repo, first) as two:
        assert one.path != two.path  # busy slots are never shared
        (one.path / "a.py").write_text("edited\n")
        (one.path / "new.pth").write_text("x\n")
        assert one.changed() == ["a.py", "new.pth"]
        one.revert(["new.pth"])
        assert one.changed() == ["a.py"]
        assert one.apply("--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-nothing\n+else\n").error.startswith("error:")
    with pool.acquire(repo, second) as tree:  # a free slot, switched to the other commit and cleaned
        assert tree.path in (one.path, two.path)
        assert (tree.path / "a.py").read_text() == "two\n" and tree.changed() == []
    assert subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True,
                          text=True).stdout == ""  # the user's repository is untouched


def test_results_are_read_from_the_recorded_block_only() -> None:
    """The launcher's block (nonce, line count) is what the parsers read; a block under another nonce, an
    unfinished one, or lines around it count for nothing (audit finding: pytest's own summary printed
    skip reasons and, with CI set, whole failure messages holding forged PASSED lines)."""
    nonce = "ab" * 16
    block = f"\n@@monkeys-results {nonce} 2\nPASSED t.py::a\nFAILED t.py::b\n@@monkeys-results-end {nonce}\n"
    forged = f"\n@@monkeys-results {'cd' * 16} 1\nPASSED t.py::b\n@@monkeys-results-end {'cd' * 16}\n"
    stdout = "PASSED t.py::b\n" + forged + block
    assert grading.results_block(stdout, nonce) == "PASSED t.py::a\nFAILED t.py::b"
    assert grading.results_block(stdout.replace(" 2\n", " 3\n"), nonce) is None  # lines lost
    assert grading.results_block(stdout.rsplit("@@monkeys-results-end", 1)[0], nonce) is None  # killed
    named = stdout.replace(f"{nonce} 2\n", f"{nonce} 2 1\n")  # the head names pytest's exit code
    assert grading.results_block(named, nonce, 1, check_exit=True) == "PASSED t.py::a\nFAILED t.py::b"
    for code in (None, 0):  # killed, or ended with another code than the block's
        assert grading.results_block(named, nonce, code, check_exit=True) is None
    assert grading.results_block(stdout, nonce, 1, check_exit=True) is None  # a head without the code
    status, parser = grading.parse_log(stdout, "o/r", use_harness=False, results=grading.results_block(stdout, nonce))
    assert status == {"t.py::a": "PASSED", "t.py::b": "FAILED"} and parser == "pytest -rA"


def test_a_test_recorded_twice_is_an_error_whatever_parser_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def last_wins(log: str, _spec: object = None) -> dict[str, str]:
        return {w[1]: w[0] for w in (line.split() for line in log.splitlines()) if len(w) > 1}

    monkeypatch.setattr(grading, "harness_parser", lambda repo: last_wins)
    status, parser = grading.parse_log("", "o/r", results="FAILED t.py::a\nPASSED t.py::a\nPASSED t.py::b")
    assert parser == "swebench" and status == {"t.py::a": "ERROR", "t.py::b": "PASSED"}


def test_the_launcher_records_what_pytest_tallied(tmp_path: Path) -> None:
    """The launcher run directly: a skip reason holding a PASSED line and a test whose name holds a newline
    are recorded as one line each, under the nonce, and the nonce file is gone before the tests run."""
    (tmp_path / "test_m.py").write_text(
        "import unittest\n\ndef test_ok():\n    pass\n\n"
        "def test_skip():\n    raise unittest.SkipTest('x\\nPASSED test_m.py::test_no')\n\n"
        "def test_no():\n    import os, glob\n    assert not glob.glob('.nonce*')\n    assert 0\n\n"
        "globals()['test_odd\\nPASSED test_m.py::test_no'] = lambda: None\n")
    (tmp_path / ".nonce").write_text("f" * 32)
    out = subprocess.run([sys.executable, "-c", grading.LAUNCHER, ".nonce", "-rA", "--tb=no", "-p", "no:cacheprovider",
                          "test_m.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    block = grading.results_block(out.stdout, "f" * 32)
    assert block is not None, out.stdout[-2000:]
    assert grading.parse_log(out.stdout, "o/r", use_harness=False, results=block)[0] == {
        "test_m.py::test_ok": "PASSED", "test_m.py::test_skip": "SKIPPED", "test_m.py::test_no": "FAILED",
        "test_m.py::test_odd\\x0aPASSED": "PASSED"}
    assert not (tmp_path / ".nonce").exists()


def test_startup_modules_in_any_form_and_deep_paths_are_flagged() -> None:
    for path in ("sitecustomize/__init__.py", "src/usercustomize.pyc", "sitecustomize.cpython-311-x86_64-linux-gnu.so"):
        assert "imported at interpreter start" in (guard.path_reason(path) or ""), path
    assert guard.path_reason("/".join(["d"] * 80) + "/x.txt") == "is 80 folders deep (more than 64)"
    assert guard.path_reason("pkg/site_tools.py") is None


def test_the_watch_names_what_was_done_to_the_tests(tmp_path: Path) -> None:
    from monkeys.swe.watch import TestFilesWatch

    (tmp_path / "pkg" / "tests").mkdir(parents=True)
    (tmp_path / "pkg" / "tests" / "test_a.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "tests" / "test_b.py").write_text("x = 1\n")
    watch = TestFilesWatch(tmp_path, ["pkg/tests/test_a.py", "pkg/tests/test_b.py"])
    watch.start()
    (tmp_path / "pkg" / "tests" / "output.txt").write_text("the tests' own file: ignored\n")
    (tmp_path / "pkg" / "notes.txt").write_text("ignored\n")
    os.link(tmp_path / "pkg" / "tests" / "test_a.py", tmp_path / "elsewhere")
    with open(tmp_path / "elsewhere", "a") as f:  # through a hard link outside the watched folders
        f.write("y = 2\n")
    (tmp_path / "pkg" / "tests" / "__pycache__").mkdir()
    (tmp_path / "pkg" / "conftest.py").write_text("")
    assert watch.stop() == ["pkg/conftest.py: created", "pkg/tests/__pycache__: created",
                            "pkg/tests/test_a.py: written"]
    watch = TestFilesWatch(tmp_path, ["pkg/tests/test_b.py"])
    watch.start()
    os.rename(tmp_path / "pkg" / "tests", tmp_path / "pkg" / "t0")
    os.rename(tmp_path / "pkg" / "t0", tmp_path / "pkg" / "tests")
    assert watch.stop() == ["pkg/tests: moved away"]
    (tmp_path / "pkg" / "tests" / "helpers.py").write_text("x = 1\n")
    watch = TestFilesWatch(tmp_path, ["pkg/tests/test_b.py"])  # every Python file of the test folder
    watch.start()
    (tmp_path / "pkg" / "tests" / "helpers.py").write_text("x = 2\n")
    (tmp_path / "pkg" / "tests" / "data.json").write_text("{}")
    assert watch.stop() == ["pkg/tests/helpers.py: written"]


def test_quoted_paths_of_the_test_patch_are_known_by_their_real_names() -> None:
    """git C-quotes a path that is not plain ASCII (`"b/pkg/ch\\303\\251ck.py"`): the test patch's files were
    kept quoted, so a model patch editing such a test file was not flagged, nor was the file watched or run
    (audit finding)."""
    quoted = '"a/pkg/ch\\303\\251ck.py"'
    test_patch = DIFF.replace("a/pkg/mod.py", quoted).replace("b/pkg/mod.py", quoted.replace("a/", "b/"))
    assert patching.paths(test_patch) == ["pkg/chéck.py"]
    flags = guard.check(["pkg/chéck.py"], [], patching.paths(test_patch))
    assert [f.why for f in flags] == ["edits a file of the test patch"]
    assert patching.paths('--- "a/x\\377\\"y"\n+++ "b/x\\377\\"y"\n@@ -1 +1 @@\n-a\n+b\n') == ['x\udcff"y']


def test_the_watch_names_modules_made_beside_the_tests_and_keeps_bytecode_out(tmp_path: Path) -> None:
    """What the import system would find before a watched module (a package folder or an extension module
    of its name, a link of its name) is named; a `__pycache__` file stops any interpreter from writing or
    reading bytecode there, quietly, and removing it is named (audit round 3)."""
    from monkeys.swe.watch import TestFilesWatch

    tests = tmp_path / "pkg" / "tests"
    tests.mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tests / "test_a.py").write_text("x = 1\n")
    (tests / "helpers.py").write_text("x = 1\n")
    (tests / "data").mkdir()
    watch = TestFilesWatch(tmp_path, ["pkg/tests/test_a.py"])
    watch.plant()
    assert (tests / "__pycache__").is_file() and (tmp_path / "pkg" / "__pycache__").is_file()
    assert not (tests / "data" / "__pycache__").exists()  # no Python file there: nothing to cache
    watch.start()
    child = subprocess.run([sys.executable, "-c", "import pkg.tests.test_a, pkg.tests.helpers"], cwd=tmp_path,
                           env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert child.returncode == 0, child.stderr
    (tests / "output").mkdir()  # the tests' own folder and files: theirs
    (tests / "test_a.log").write_text("")
    assert watch.stop() == []
    watch = TestFilesWatch(tmp_path, ["pkg/tests/test_a.py"])
    watch.start()
    (tests / "test_a").mkdir()
    (tests / "helpers.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    os.symlink("data", tests / "conftest")
    os.unlink(tests / "__pycache__")
    assert watch.stop() == ["pkg/tests/__pycache__: deleted", "pkg/tests/conftest: created",
                            "pkg/tests/helpers.cpython-311-x86_64-linux-gnu.so: created", "pkg/tests/test_a: created"]


def test_a_test_tree_too_large_to_watch_is_refused_not_half_watched(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Past its caps the watch covered only the test files' own folders, so a helper elsewhere in the test
    tree could be rewritten unseen (a forged pass, audit item); now that is a WatchError (an `error`
    verdict, never a pass), and the caps are ten times higher."""
    from monkeys.swe import watch as watch_module

    for i in range(6):
        (tmp_path / "tests" / f"d{i}").mkdir(parents=True)
    (tmp_path / "tests" / "test_a.py").write_text("")
    monkeypatch.setattr(watch_module, "MAX_FOLDERS", 4)
    with pytest.raises(watch_module.WatchError, match="too many to watch"):
        watch_module.TestFilesWatch(tmp_path, ["tests/test_a.py"]).plan()
    monkeypatch.setattr(watch_module, "MAX_FOLDERS", 7)
    assert len(watch_module.TestFilesWatch(tmp_path, ["tests/test_a.py"]).plan()[1]) == 7


@pytest.mark.skipif(unavailable() is not None, reason=f"no command sandbox: {unavailable()}")
def test_command_sandbox_caps_what_a_command_writes_and_keeps_it_off_the_host(tmp_path: Path) -> None:
    """With `disk_mb` the writable folder is an overlay on a capped tmpfs of the command's own mount
    namespace: bytes and files past the cap fail with ENOSPC and `disk_full` says so; the host's folder is
    left as it was; `on_ready` sees the command's view before the command runs (audit item)."""
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "sub" / "a.txt").write_text("before")
    seen: list[list[str]] = []
    script = ("import os\nopen('sub/a.txt', 'a').write(' after')\nn = 0\ntry:\n"
              "    while n < 100000:\n        open('f%d' % n, 'w').close()\n        n += 1\nexcept OSError:\n    pass\n"
              "try:\n    open('big', 'wb').write(b'x' * (80 << 20))\n    print('big written')\nexcept OSError:\n"
              "    print('big refused')\nprint(n, open('sub/a.txt').read())\n")
    limits = CommandLimits(timeout_s=60, disk_mb=64, disk_inodes=500)
    result = run_command([sys.executable, "-c", script], cwd=work, writable=[work], readable=[sys.prefix,
                         sys.base_prefix], limits=limits,
                         on_ready=lambda root: seen.append(os.listdir(root + str(work))))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0] == "big refused" and int(lines[1].split()[0]) < 500 and lines[1].endswith("before after")
    assert result.disk_full and seen == [["sub"]]
    assert sorted(os.listdir(work)) == ["sub"] and (work / "sub" / "a.txt").read_text() == "before"
    fine = run_command([sys.executable, "-c", "open('x', 'w').write('1')"], cwd=work, writable=[work],
                       readable=[sys.prefix, sys.base_prefix], limits=limits)
    assert fine.exit_code == 0 and not fine.disk_full


def test_where_bytecode_is_read_from_is_flagged() -> None:
    """`sys.pycache_prefix` pointed at the private /tmp, where a forged cache of the test module was read by
    pytest (a forged pass, audit round 3), and pytest's import check turned off, are flagged in sources."""
    for line in ("sys.pycache_prefix = '/tmp/p'", "os.environ['PY_IGNORE_IMPORTMISMATCH'] = '1'",
                 "sys.dont_write_bytecode = False"):
        flags = guard.check(["pkg/mod.py"], [patching.FileChange("pkg/mod.py", "pkg/mod.py", [line])])
        assert flags and "bytecode" in flags[0].why, line
    assert not guard.check(["docs/notes.rst"], [patching.FileChange("docs/notes.rst", "docs/notes.rst",
                                                           ["set PYTHONPYCACHEPREFIX"])])


def test_what_would_be_imported_instead_of_a_test_module_is_flagged() -> None:
    """A test file outside any test folder (`pkg/test_a.py`, as a test patch may add) and a package the patch
    adds beside it (`pkg/test_a/__init__.py`): pytest imports the test module by its name and the package
    wins, so its tests ran instead (a forged pass with pytest's import check turned off at run time, audit
    round 3); so does an extension module of that name, and any form of a conftest but its .py file."""
    tests = ["pkg/test_a.py"]
    for path in ("pkg/test_a/__init__.py", "pkg/test_a/sub/x.py", "pkg/test_a.cpython-311-x86_64-linux-gnu.so",
                 "pkg/test_a.pyc", "pkg/conftest.cpython-311-x86_64-linux-gnu.so", "conftest/__init__.py",
                 "pkg/sub/conftest.pyc"):
        assert "would be imported instead of" in (guard.path_reason(path, tests) or ""), path
    for path in ("pkg/test_a.txt", "pkg/test_ab.pyi", "pkg/mod.py", "pkg/sub/test_a/data.json"):
        assert guard.path_reason(path, tests) is None, path


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv") or not os.path.exists("/usr/bin/python3"),
                    reason="needs root, setpriv and /usr/bin/python3 to run the sandbox as nobody")
def test_command_sandbox_caps_writes_without_root_too() -> None:
    """Without root the command sandbox is a user namespace of its own: the overlay there needs `userxattr`
    (and cannot rename a folder of the lower layer); the cap, the host left as it was and `on_ready` hold
    as with root. Run as nobody under the system Python with this checkout's sources."""
    import json
    import tempfile

    site = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    work = Path(tempfile.mkdtemp(prefix="monkeys-nobody-", dir="/tmp"))
    try:
        (work / "w").mkdir()
        (work / "w" / "a.txt").write_text("before")
        for path in (work, work / "w", work / "w" / "a.txt"):  # the runner's own, as a user's checkout is
            os.chown(path, 65534, 65534)
        runner = (
            "import json, os, sys\nfrom monkeys.sandbox._command import CommandLimits, run_command\n"
            "w = sys.argv[1]\nseen = []\n"
            "script = \"open('a.txt', 'a').write(' after')\\ntry:\\n    open('big', 'wb').write(b'x' * (80 << 20))\\n"
            "except OSError:\\n    print('refused')\\nprint(open('a.txt').read())\\n\"\n"
            "r = run_command(['/usr/bin/python3', '-c', script], cwd=w, writable=[w], limits=CommandLimits("
            "timeout_s=60, disk_mb=64), on_ready=lambda root: seen.append(sorted(os.listdir(root + w))))\n"
            "print(json.dumps([r.exit_code, r.stdout.decode(), r.disk_full, seen, r.extra['containment']]))\n")
        src = Path(__file__).resolve().parents[2] / "src"
        out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
                              runner, str(work / "w")], env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{src}:{site}"},
                             cwd="/", capture_output=True, text=True, timeout=120)
        if "cannot contain a command here" in out.stderr or "SandboxError" in out.stderr:
            pytest.skip(f"no user namespaces for nobody here: {out.stderr.strip().splitlines()[-1]}")
        code, stdout, full, seen, how = json.loads(out.stdout.strip().splitlines()[-1])
        assert (code, stdout, full, seen, how) == (0, "refused\nbefore after\n", True, [["a.txt"]], "unshare-userns")
        assert sorted(os.listdir(work / "w")) == ["a.txt"] and (work / "w" / "a.txt").read_text() == "before"
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.skipif(unavailable() is not None, reason=f"no command sandbox: {unavailable()}")
def test_command_sandbox_writes_nothing_of_the_host_but_its_folders_even_without_landlock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the kernel has no Landlock, the command's own uid could still write world-writable host folders
    (/var/tmp: files that outlive the run and fill the host's disk past any cap; without root, the user's
    own files). Every mount of the command's namespace is now read-only but its writable folders, /tmp and
    /dev/shm (audit round 3)."""
    from monkeys.sandbox import _command

    monkeypatch.setattr(_command._launch, "landlock_abi", lambda: 0)
    probe = Path("/var/tmp") / f"monkeys-probe-{os.getpid()}"
    work = tmp_path / "work"
    work.mkdir()
    script = (f"out = []\nfor p in ({str(probe)!r}, 'inside.txt', '/tmp/t', '/dev/shm/s', '/dev/null'):\n    try:\n"
              "        open(p, 'w').write('x')\n        out.append('ok')\n    except OSError as e:\n"
              "        out.append(e.strerror)\nprint(out)\n")
    try:
        for disk in (64, None):
            result = run_command([sys.executable, "-c", script], cwd=work, writable=[work], readable=[sys.prefix,
                                 sys.base_prefix], limits=CommandLimits(timeout_s=60, disk_mb=disk))
            assert result.stdout.decode().strip() == "['Read-only file system', 'ok', 'ok', 'ok', 'ok']", result
            assert not probe.exists()
    finally:
        probe.unlink(missing_ok=True)
