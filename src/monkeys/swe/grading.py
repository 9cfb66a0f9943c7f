"""Which tests to run for an instance, how to read their log, and how to grade it, as the harness does.

Command: the harness's `test_cmd` for (repo, version) when `swebench` is installed and knows it, else
`pytest -rA --tb=no -p no:cacheprovider`; followed by the test directives (the files the test patch
touches, as the harness's `get_test_directives` finds them). Log: the harness's parser for the
repository when `swebench` is installed, else `parse_pytest`. A pytest log is first cut to its short
summary section (see `summary_section`), so a line the code under test prints (captured output of a
passing test shown by `-rA`, or anything printed at exit after the summary) cannot add a result.

Grading (the harness's `test_passed`/`test_failed`): a FAIL_TO_PASS or PASS_TO_PASS test counts as passing
only when the log reports it PASSED or XFAIL; a test missing from the log counts as failing.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from monkeys.swe.patching import paths

PYTEST_DEFAULT = ("pytest", "-rA", "--tb=no", "-p", "no:cacheprovider")
PASSING = {"PASSED", "XFAIL"}
STATUSES = ("PASSED", "FAILED", "SKIPPED", "ERROR", "XFAIL", "XPASS")
NON_TEST_EXTS = (".json", ".png", "csv", ".txt", ".md", ".jpg", ".jpeg", ".pkl", ".yml", ".yaml", ".toml")
_SUMMARY = re.compile(r"^=+ short test summary info =+$")
_FINAL = re.compile(r"^=+ .*\b(passed|failed|error|errors|skipped|xfailed|xpassed|deselected|no tests ran)\b.* "
                    r"in [\d.]+s.* =+$")


@dataclass(frozen=True)
class TestCommand:
    """argv after the interpreter (`-m pytest ...` or a script), extra environment, whether it is pytest."""

    args: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    pytest: bool = True


def directives(instance: dict[str, Any]) -> list[str]:
    """The test files of the test patch (Django: dotted test modules), as the harness's directives."""
    found = [p for p in paths(instance.get("test_patch") or "") if not p.endswith(NON_TEST_EXTS)]
    if instance.get("repo") == "django/django":
        out = []
        for d in found:
            d = d.removesuffix(".py").removeprefix("tests/")
            out.append(d.replace("/", "."))
        return out
    return found


def test_command(instance: dict[str, Any], specs: dict[str, Any] | None) -> TestCommand:
    """The command that runs this instance's tests, without the interpreter (see the module docstring)."""
    raw = (specs or {}).get("test_cmd")
    if isinstance(raw, list):
        raw = raw[-1]
    words = shlex.split(raw) if raw else list(PYTEST_DEFAULT)
    env: dict[str, str] = {}
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    is_pytest = bool(words) and words[0] in ("pytest", "py.test")
    args = ["-m", "pytest", *words[1:]] if is_pytest else words
    if is_pytest and "-rA" not in args:
        args.insert(2, "-rA")
    return TestCommand(tuple(args) + tuple(directives(instance)), env, is_pytest)


def summary_section(log: str) -> str | None:
    """The lines between pytest's "short test summary info" header and its final "N passed in Xs" line,
    or None when the log has no such section (not pytest, or killed before the end)."""
    lines = log.splitlines()
    start = max((i for i, line in enumerate(lines) if _SUMMARY.match(line)), default=None)
    if start is None:
        return None
    for j in range(start + 1, len(lines)):
        if _FINAL.match(lines[j]):
            return "\n".join(lines[start + 1:j])
    return None


def parse_pytest(log: str) -> dict[str, str]:
    """Test id -> status from a `pytest -rA` log's summary section; a test reported twice with different
    statuses is ERROR (a forged line)."""
    section = summary_section(log)
    out: dict[str, str] = {}
    for line in (section or "").splitlines():
        words = line.split()
        if len(words) < 2 or words[0] not in STATUSES:
            continue
        status, test = words[0], words[1]
        if status == "SKIPPED" and re.match(r"^\[\d+\]$", test):
            continue  # "SKIPPED [2] file:line: reason" counts skips, names no test
        out[test] = "ERROR" if test in out and out[test] != status else status
    return out


def harness_parser(repo: str) -> Callable[[str], dict[str, str]] | None:
    """The harness's log parser for `repo` (called the way its version expects), or None."""
    try:
        from swebench.harness.log_parsers import MAP_REPO_TO_PARSER  # type: ignore[import-not-found]
    except ImportError:
        return None
    parser = MAP_REPO_TO_PARSER.get(repo)
    if parser is None:
        return None

    def parse(log: str) -> dict[str, str]:
        try:
            return dict(parser(log, None))
        except TypeError:  # swebench 2: parser(log)
            return dict(parser(log))

    return parse


def parse_log(log: str, repo: str, use_harness: bool = True) -> tuple[dict[str, str], str]:
    """(status map, parser name) for a test log (see the module docstring)."""
    parser = harness_parser(repo) if use_harness else None
    section = summary_section(log)
    if parser is not None:
        text = log if section is None else "\n".join(["", section, ""])
        try:
            return {k: str(getattr(v, "value", v)) for k, v in parser(text).items()}, "swebench"
        except Exception:  # a parser that needs the harness's TestSpec: ours reads the same -rA lines
            pass
    return parse_pytest(log), "pytest -rA"


@dataclass(frozen=True)
class Grade:
    """The FAIL_TO_PASS and PASS_TO_PASS tests that did not pass, and those the log does not mention."""

    f2p_failed: tuple[str, ...]
    p2p_failed: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def resolved(self) -> bool:
        return not self.f2p_failed and not self.p2p_failed


def grade(status: dict[str, str], fail_to_pass: Iterable[str], pass_to_pass: Iterable[str]) -> Grade:
    """Grade as the harness does: passing means PASSED or XFAIL in the log; absent means failing."""
    f2p = [t for t in fail_to_pass if status.get(t) not in PASSING]
    p2p = [t for t in pass_to_pass if status.get(t) not in PASSING]
    missing = [t for t in [*fail_to_pass, *pass_to_pass] if t not in status]
    return Grade(tuple(f2p), tuple(p2p), tuple(dict.fromkeys(missing)))
