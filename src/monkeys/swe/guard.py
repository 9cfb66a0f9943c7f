"""The guard against forged passes: which changes of a model patch touch how tests run or report.

A patch is judged by the repository's own tests, so a patch that edits those tests, or the machinery
that collects and reports them, can make any patch look resolved. `check` names each such change;
`swe-tests` then fails the sample (policy `guard=fail`) or reverts the flagged files before the tests
run and keeps the flags in the verdict (`guard=flag`). It looks at the files the worktree really has
changed after applying (so a fuzzy apply cannot hide one) and at the lines the patch adds.
"""

from __future__ import annotations

import importlib.machinery
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from monkeys.swe.patching import FileChange

TEST_DIRS = {"tests", "test", "testing"}
# every file pytest reads its configuration from (pytest 9 adds pytest.toml and .pytest.toml)
CONFIG_FILES = {"pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml", "tox.ini", "setup.cfg", "pyproject.toml",
                "noxfile.py"}
# what runs the tests, whatever the environment holds besides: never to be shadowed by a module of the patch
RUNNER_MODULES = frozenset({"pytest", "_pytest", "pluggy", "py", "iniconfig", "packaging", "exceptiongroup",
                            "tomli", "colorama", "xdist", "pytest_xdist", "execnet", "hypothesis"})
STARTUP_FILES = {"sitecustomize.py", "usercustomize.py", "conftest.py"}
# modules `site` imports at interpreter start, in whatever form: a package, a .pyc, an extension module
STARTUP_MODULES = {"sitecustomize", "usercustomize"}
MAX_DEPTH = 64  # folders; a deeper path is no source tree's (walking it overflowed the host's recursion)
# what the import system finds a module `m` by besides `m.py`: the folder `m/` (a package, found first), an
# extension module (found before the source), bytecode
IMPORT_SUFFIXES = tuple(sorted(set(importlib.machinery.all_suffixes()) | {".pyc", ".pyo", ".pyw", ".pyd", ".so"}))
_PYTHON = (".py", ".pyi", ".pyx", ".pxd")
# Text that changes collection or reporting wherever a patch adds it (the bare name: in Python sources only).
_ADDED = (
    (re.compile(r"\bpytest_plugins\b"), "declares pytest plug-ins (pytest_plugins)"),
    (re.compile(r"^\s*def\s+pytest_\w+\s*\("), "defines a pytest hook"),
    (re.compile(r"\b_pytest\b"), "uses pytest's internals (_pytest)"),
    # the code under test has no business with the runner: `pytest.xfail()` from the fixed function turns a
    # failing test into a pass, `pytest.TestReport` patched rewrites every outcome
    (_PYTEST := re.compile(r"\bimport\s+pytest\b|\bfrom\s+pytest\b|\bpytest\s*\.\s*\w|[\"']pytest[\"']"),
     "uses pytest from the code under test"),
    (re.compile(r"\bpytest11\b"), "registers a pytest plug-in entry point (pytest11)"),
    (re.compile(r"^\s*\[(tool:pytest|pytest|tool\.pytest[\w.]*)\]"), "adds a pytest configuration section"),
    (re.compile(r"\b(addopts|python_files|python_functions|python_classes|testpaths|norecursedirs)\s*="),
     "sets a pytest collection option"),
    (re.compile(r"\bsys\.(settrace|setprofile|excepthook)\b|\bos\._exit\b"), "replaces tracing or exit hooks"),
    # where the import system and pytest read bytecode caches from (a forged cache in the private /tmp), and
    # pytest's check that a test module is the file it collected (a package made beside it is imported instead)
    (_CACHES := re.compile(r"\b(pycache_prefix|PYTHONPYCACHEPREFIX|dont_write_bytecode|PY_IGNORE_IMPORTMISMATCH)\b"),
     "changes where bytecode caches are read from, or pytest's check of what it imports"),
)
_PYTHON_ONLY = (_PYTEST, _CACHES)


def module_name(path: str, packages: Iterable[str]) -> str | None:
    """The top-level module `path` would be imported as from the directory that holds it, or None: a
    `.py` (or extension) file or a package's `__init__.py` in a directory that is itself no package
    (`packages`: the directories holding an `__init__.py`), so that directory can be on `sys.path`."""
    p = PurePosixPath(path)
    package_dirs = set(packages)
    if p.name == "__init__.py" and len(p.parts) >= 2:
        folder = str(p.parent.parent) if len(p.parts) > 2 else "."
        return p.parent.name if folder not in package_dirs else None
    stem = p.name.split(".", 1)[0]
    if not p.name.endswith((".py", ".pyc", ".so", ".pyd")) or not stem.isidentifier():
        return None
    folder = str(p.parent) if len(p.parts) > 1 else "."
    return stem if folder not in package_dirs else None


def shadowing(changed: Iterable[str], packages: Iterable[str], protected: Iterable[str]) -> list[Flag]:
    """Changed files that would be imported instead of a module the tests' run needs: the standard library,
    the test runner and its plug-ins, or anything installed in the environment (`protected`). A root
    `pytest.py` replaces pytest itself, a root `argparse.py` runs before pytest reads its options."""
    names = set(protected) | RUNNER_MODULES | set(sys.stdlib_module_names) | set(sys.builtin_module_names)
    package_dirs = list(packages)
    flags = []
    for path in changed:
        name = module_name(path, package_dirs)
        if name is not None and name in names:
            flags.append(Flag(path, f"adds a module named {name}, which would be imported instead of the real one"))
    return flags


@dataclass(frozen=True)
class Flag:
    """One suspicious change: the file and why."""

    path: str
    why: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "why": self.why}


def path_reason(path: str, test_files: Iterable[str] = ()) -> str | None:
    """Why changing `path` can change how the tests run or report, or None."""
    p = PurePosixPath(path)
    name = p.name
    tests = set(test_files)
    if path in tests:
        return "edits a file of the test patch"
    shadowed = _shadowed(p, tests)
    if shadowed:
        return f"would be imported instead of {shadowed}"
    if ".git" in p.parts:
        return "writes git metadata (.git)"
    if name in (".gitattributes", ".gitmodules"):
        return f"edits {name} (changes how git checks files out and applies the tests)"
    if name in STARTUP_FILES:
        return f"adds or edits {name}"
    startup = next((part.split(".", 1)[0] for part in p.parts if part.split(".", 1)[0] in STARTUP_MODULES), None)
    if startup:
        return f"adds or edits a {startup} module (imported at interpreter start)"
    if len(p.parts) > MAX_DEPTH:
        return f"is {len(p.parts) - 1} folders deep (more than {MAX_DEPTH})"
    if name.endswith(".pth"):
        return "adds or edits a .pth file (runs at interpreter start)"
    if any(part.endswith((".dist-info", ".egg-info")) for part in p.parts):
        return "adds package metadata (entry points can load plug-ins)"
    if name in CONFIG_FILES:
        return f"edits test configuration ({name})"
    if any(part in TEST_DIRS for part in p.parts[:-1]):
        return "edits a file under a test directory"
    if name.startswith("test_") and name.endswith(".py") or name.endswith("_test.py"):
        return "edits a test module"
    return None


def _shadowed(p: PurePosixPath, test_files: Iterable[str]) -> str | None:
    """The test module or conftest.py that `p` would be imported in place of: a package folder of its name
    (anything under `tests/test_x/` beside `tests/test_x.py`; pytest imports a test module by its name) or
    the same module in another form (`test_x.cpython-311-x86_64-linux-gnu.so`, `conftest.pyc`)."""
    for other in [*test_files, *(str(p.parents[i] / "conftest.py") for i in range(len(p.parts)))]:
        t = PurePosixPath(other)
        if t.suffix != ".py" or p == t:
            continue
        stem = t.name[:-3]
        other_form = p.name.startswith(stem + ".") and p.name.endswith(IMPORT_SUFFIXES)
        if p.parent == t.parent and (p.name == stem or other_form):
            return str(t)
        if p.parts[:len(t.parts)] == (*t.parts[:-1], stem) and len(p.parts) > len(t.parts):
            return str(t)
    return None


def check(changed: Iterable[str], changes: Iterable[FileChange], test_files: Iterable[str] = (),
          repo: str = "") -> list[Flag]:
    """Every flagged change: `changed` are the worktree paths the patch changed (added, edited, deleted),
    `changes` the parsed patch (for its added lines), `test_files` the test patch's files. In the
    pytest repository itself, uses of pytest's internals are its own code and not flagged."""
    tests = set(test_files)
    flags: dict[str, Flag] = {}
    for path in changed:
        why = path_reason(path, tests)
        if why:
            flags[path] = Flag(path, why)
    for change in changes:
        path = change.path
        if path in flags:
            continue
        for line in change.added:
            for pattern, why in _ADDED:
                if why.startswith("uses pytest") and repo == "pytest-dev/pytest":
                    continue
                if pattern in _PYTHON_ONLY and not path.endswith(_PYTHON):  # docs and changelogs name them freely
                    continue
                if pattern.search(line):
                    flags[path] = Flag(path, why)
                    break
            if path in flags:
                break
    return list(flags.values())
