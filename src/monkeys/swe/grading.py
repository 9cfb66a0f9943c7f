"""Which tests to run for an instance, how to read their log, and how to grade it, as the harness does.

Command: the harness's `test_cmd` for (repo, version) when `swebench` is installed and knows it, else
`pytest -rA --tb=no -p no:cacheprovider`; followed by the test directives (the files the test patch
touches, as the harness's `get_test_directives` finds them). Log: the harness's parser for the
repository when `swebench` is installed, else `parse_pytest`.

What a pytest run's parser reads is not pytest's own text: the verifier's launcher (`LAUNCHER`) hands
pytest a recorder that takes every report from pytest's own tallies and, after pytest returns, writes
them as `-rA` lines ("PASSED <id>", one line per report, the id's line breaks escaped) between two
marker lines that carry a nonce the code under test never sees (`results_block`). pytest's short
summary prints text the code under test controls (a skip reason, a failure's whole message when `CI`
is set, a test name holding a newline), so any line of it can be a forged "PASSED ..." line; the
recorded block cannot. A pytest run without a whole block (killed, or ended by the code under test)
has no results. `summary_section` is kept for logs made elsewhere.

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


def parse_log(log: str, repo: str, use_harness: bool = True,
              results: str | None = None) -> tuple[dict[str, str], str]:
    """(status map, parser name) for a test log (see the module docstring). `results`: the recorded
    `-rA` lines of a pytest run (`results_block`), read instead of the log; a test with two different
    statuses there is ERROR whichever parser reads them."""
    parser = harness_parser(repo) if use_harness else None
    if results is not None:
        text = "\n".join(["", results, ""])
        own = _status_lines(results)
    else:
        section = summary_section(log)
        text = log if section is None else "\n".join(["", section, ""])
        own = parse_pytest(log)
    if parser is not None:
        try:
            status = {k: str(getattr(v, "value", v)) for k, v in parser(text).items()}
        except Exception:  # a parser that needs the harness's TestSpec: ours reads the same -rA lines
            pass
        else:
            if results is not None:
                status.update({k: "ERROR" for k, v in own.items() if v == "ERROR"})
            return status, "swebench"
    return own, "pytest -rA"


# The recorder the launcher hands pytest: every report of pytest's own tallies, as `-rA` writes them.
RECORDER = r'''
class _MonkeysRecorder:
    lines = None

    def pytest_terminal_summary(self, terminalreporter):
        tr, out = terminalreporter, []
        for key, word in (("passed", "PASSED"), ("skipped", "SKIPPED"), ("xfailed", "XFAIL"),
                          ("xpassed", "XPASS"), ("error", "ERROR"), ("failed", "FAILED")):
            for rep in tr.stats.get(key, ()):
                nodeid = getattr(rep, "nodeid", None)
                if not isinstance(nodeid, str) or not nodeid:
                    continue
                try:
                    name = tr.config.cwd_relative_nodeid(nodeid)
                except Exception:
                    name = nodeid
                name = "".join(c if c.isprintable() else "\\x%02x" % ord(c) if ord(c) < 256 else
                               "\\u%04x" % (ord(c) & 0xFFFF) for c in str(name))
                out.append(word + " " + name)
        self.lines = out
'''

# `python -m pytest ARGS` with the recorder, then `os._exit` with pytest's exit code (no exit handler of the
# code under test runs after it). argv[1] is a file holding the nonce: read and removed before pytest or any
# code of the checkout is imported, and kept in a local of the launcher's function (no module's global).
# The block's head names pytest's exit code, which must be the process's own: a run killed after it printed
# a block of its own (from a pipe it found among its descriptors) leaves none that counts.
LAUNCHER = ("import os, sys\n" + RECORDER +
            "def _monkeys_main():\n"
            "    with open(sys.argv[1]) as f:\n        nonce = f.read().strip()\n"
            "    os.unlink(sys.argv[1])\n    del sys.argv[1]\n"
            "    import pytest\n"
            "    rec = _MonkeysRecorder()\n"
            "    code = int(pytest.main(sys.argv[1:], plugins=[rec]))\n"
            "    sys.stdout.flush()\n    sys.stderr.flush()\n"
            "    lines = rec.lines if rec.lines is not None else []\n"
            "    block = ('\\n@@monkeys-results %s %d %d\\n' % (nonce, len(lines), code)\n"
            "             + ''.join(line + '\\n' for line in lines)\n"
            "             + '@@monkeys-results-end %s\\n' % nonce).encode('utf-8', 'backslashreplace')\n"
            "    while block:\n        block = block[os.write(1, block):]\n"
            "    os._exit(code)\n"
            "_monkeys_main()\n")


def results_block(stdout: str, nonce: str, exit_code: int | None = None, *, check_exit: bool = False) -> str | None:
    """The recorded `-rA` lines the launcher wrote under `nonce`, or None when the run wrote no whole
    block (the last one counts; its line count must match). With `check_exit`, the block must also name
    `exit_code`, the process's own exit status (None: it did not exit, it was killed)."""
    end = stdout.rfind(f"\n@@monkeys-results-end {nonce}\n")
    start = stdout.rfind(f"\n@@monkeys-results {nonce} ", 0, end + 1)
    if end < 0 or start < 0:
        return None
    head, _, body = stdout[start + 1:end + 1].partition("\n")
    words = head.split(" ")
    lines = body.splitlines()
    if len(words) < 3 or not words[2].isdigit() or int(words[2]) != len(lines):
        return None
    if check_exit and (exit_code is None or words[3:] != [str(exit_code)]):
        return None
    return "\n".join(lines)


def _status_lines(text: str) -> dict[str, str]:
    """Test id -> status of `STATUS id` lines; a test with two different statuses is ERROR."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) < 2 or words[0] not in STATUSES:
            continue
        status, test = words[0], words[1]
        out[test] = "ERROR" if test in out and out[test] != status else status
    return out


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
