"""A real SWE-bench-style instance built offline: toolz's source with a real bug planted.

The repository is the `toolz` package as installed in this venv (its sdist's `toolz/` folder, with its
own test suite), committed with git. `base_commit` brings back the bug of pytoolz/toolz#387:
`partition_all` found the padding with `tuple.index`, which calls `__eq__` on the elements and fails
on objects whose `__eq__` raises; the real fix (`patch`) is the identity-based bisection toolz ships, and
`test_patch` is the regression test that came with it. FAIL_TO_PASS is that test, PASS_TO_PASS every
other test of `toolz/tests/test_itertoolz.py`.

`build_instance(root)` makes the repository under `root` and returns (instance record, repo_dir);
`make_patch(repo_dir, base_commit, edits)` turns {path: (old text, new text)} or {path: None (delete)} or
{path: "new file text"} into a diff against the base. The other tests of `tests/swe/` import this module
(`from swe_fixture import build_instance`).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

TEST_FILE = "toolz/tests/test_itertoolz.py"
SOURCE_FILE = "toolz/itertoolz.py"
F2P = f"{TEST_FILE}::test_partition_all"

FIXED = '''            # Get first index of no_pad without using .index()
            # https://github.com/pytoolz/toolz/issues/387
            # Binary search from CPython's bisect module,
            # modified for identity testing.
            lo, hi = 0, n
            while lo < hi:
                mid = (lo + hi) // 2
                if prev[mid] is no_pad:
                    hi = mid
                else:
                    lo = mid + 1
            yield prev[:lo]
'''
BUGGY = '''            yield prev[:prev.index(no_pad)]
'''
REGRESSION_START = "    # Regression test: https://github.com/pytoolz/toolz/issues/387\n"
REGRESSION_END = "    assert list(partition_all(4, iter([obj]*7))) == result\n"


def _git(repo: Path, *args: str, input: str | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "fixture", "GIT_AUTHOR_EMAIL": "f@x", "GIT_COMMITTER_NAME": "fixture",
           "GIT_COMMITTER_EMAIL": "f@x", "GIT_AUTHOR_DATE": "2024-01-01T00:00:00", "GIT_COMMITTER_DATE":
           "2024-01-01T00:00:00"}
    out = subprocess.run(["git", "-c", "safe.directory=*", "-C", str(repo), *args], env=env, input=input,
                         capture_output=True, text=True, check=True)
    return out.stdout


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if text.count(old) != 1:
        raise AssertionError(f"fixture: {old[:40]!r} is not in {path} exactly once")
    path.write_text(text.replace(old, new))


def make_patch(repo_dir: Path, base_commit: str, edits: dict[str, Any]) -> str:
    """A `git diff` of `edits` against `base_commit` (made in a scratch clone; the repository is untouched).
    An edit is (old, new) text to replace once, None to delete the file, or a string: the whole new file."""
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch) / "w"
        subprocess.run(["git", "-c", "safe.directory=*", "clone", "-q", "--no-checkout", str(repo_dir), str(work)],
                       check=True, capture_output=True)
        _git(work, "checkout", "-q", base_commit)
        for path, edit in edits.items():
            target = work / path
            if edit is None:
                target.unlink()
            elif isinstance(edit, tuple):
                _replace(target, *edit)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(edit)
        _git(work, "add", "-A")
        return _git(work, "diff", "--cached", base_commit)


def test_names(path: Path) -> list[str]:
    """The top-level test functions of a test module (its PASS_TO_PASS candidates), found without running it."""
    tree = ast.parse(path.read_text())
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test")]


def build_instance(root: Path) -> tuple[dict[str, Any], Path]:
    """Build the repository under `root` (once per `root`) and return (SWE-bench record, repo_dir)."""
    import pytest

    toolz = pytest.importorskip("toolz", reason="the SWE-bench fixture is toolz's source (test extra: toolz==1.1.0)")
    repo = root / "pytoolz__toolz"
    if not (repo / ".git").exists():
        shutil.rmtree(repo, ignore_errors=True)
        repo.mkdir(parents=True)
        shutil.copytree(Path(toolz.__file__).parent, repo / "toolz",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (repo / "README.md").write_text("toolz, with pytoolz/toolz#387 planted back (a monkeys test fixture)\n")
        _replace(repo / SOURCE_FILE, FIXED, BUGGY)
        test_file = repo / TEST_FILE
        text = test_file.read_text()
        start, end = text.index(REGRESSION_START), text.index(REGRESSION_END) + len(REGRESSION_END)
        test_file.write_text(text[:start] + text[end + 1:])  # the block and the blank line after it
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "toolz with #387 planted back")
    base = _git(repo, "rev-parse", "HEAD").strip()
    installed = Path(toolz.__file__).parent
    patch = make_patch(repo, base, {SOURCE_FILE: (BUGGY, FIXED)})
    test_patch = make_patch(repo, base, {TEST_FILE: (installed / "tests" / "test_itertoolz.py").read_text()})
    names = test_names(installed / "tests" / "test_itertoolz.py")
    instance = {
        "instance_id": "pytoolz__toolz-387",
        "repo": "pytoolz/toolz",
        "base_commit": base,
        "patch": patch,
        "test_patch": test_patch,
        "problem_statement": "partition_all fails on objects whose __eq__ raises (it uses tuple.index)",
        "FAIL_TO_PASS": [F2P],
        "PASS_TO_PASS": [f"{TEST_FILE}::{n}" for n in names if n != "test_partition_all"],
        "version": "1.1",
        "environment_setup_commit": base,
    }
    return instance, repo


def offline_install() -> list[str]:
    """Environment build commands that need no network: the new venv sees this interpreter's
    site-packages (pytest) through a .pth file; the package itself comes from the worktree."""
    import pytest

    site = Path(pytest.__file__).resolve().parent.parent
    return [f"python -c \"import site; open(site.getsitepackages()[0] + '/monkeys_test.pth', 'w')"
            f".write('{site}\\n')\""]


if __name__ == "__main__":  # build into a folder and print the record (to look at it by hand)
    import json

    print(json.dumps(build_instance(Path(sys.argv[1]))[0], indent=1)[:3000])
