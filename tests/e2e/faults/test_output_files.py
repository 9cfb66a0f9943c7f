"""Files monkeys writes where the user says (`export FILE`, `report --html FILE`, `report --out-dir DIR`,
`plan --plot FILE`): a path whose writing would destroy something is refused before any work, and a write
that fails is one `error:` line; either way exit 2, no traceback, no partial file, and the run store is
byte-identical afterwards.

At bf5ecf5 `monkeys export RUN RUN/monkeys.db --format jsonl` and `monkeys report RUN --html RUN/monkeys.db`
overwrote the run store with the export or the page (every sample lost), `monkeys export RUN /dev/stdout`
(as root) replaced the device link with a plain file, and `--html DIR`, an `--out-dir` that is a file or a
read-only/full disk under `--html` ended in tracebacks.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import resource
import shutil
import subprocess
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("monkeys_e2e_conftest", Path(__file__).parents[1] / "conftest.py")
assert _spec is not None and _spec.loader is not None
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
MONKEYS, monkeys = _e2e.MONKEYS, _e2e.monkeys

pytestmark = pytest.mark.timeout(300)


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def _digest(run: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(run.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small finished run: a GSM8K-style file, the scripted sampler and math-answer (no sandbox needed)."""
    base = tmp_path_factory.mktemp("outputs")
    data = _e2e.addition_problems(base, 3)
    out = base / "run"
    proc = monkeys("run", "--task", "gsm8k", "--data", str(data), "--task-option", "shots=0", "--sampler",
                   "scripted", "--sampler-option", 'responses=["#### 40", "#### 41"]', "-n", "4", "--out",
                   str(out))
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture
def run(good_run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(good_run, dst)
    return dst


# (id, arguments after `monkeys` with {run} the run directory, what the error line must say)
ONTO_THE_STORE = [
    ("export-onto-its-store", ["export", "{run}", "{run}/monkeys.db", "--format", "jsonl"],
     ["{run}/monkeys.db", "is a SQLite database", "the export"]),
    ("export-parquet-onto-its-store", ["export", "{run}", "{run}/monkeys.db", "--format", "parquet"],
     ["is a SQLite database"]),
    ("html-onto-its-store", ["report", "{run}", "--html", "{run}/monkeys.db"],
     ["--html {run}/monkeys.db", "is a SQLite database", "the HTML report"]),
    ("plot-onto-a-store-named-png", ["plan", "{run}", "--plot", "{run}/store.png"], ["is a SQLite database"]),
    ("csv-table-onto-a-store", ["report", "{run}", "--format", "csv", "--out-dir", "{run}/tables"],
     ["{run}/tables/coverage.csv", "is a SQLite database"]),
    ("export-onto-the-lock", ["export", "{run}", "{run}/monkeys.lock", "--format", "jsonl"],
     ["belongs to the run store"]),
    ("html-onto-the-wal", ["report", "{run}", "--html", "{run}/monkeys.db-wal"], ["belongs to the run store"]),
    ("html-is-a-directory", ["report", "{run}", "--html", "{run}"], ["--html {run}: is a directory"]),
    ("export-to-a-directory", ["export", "{run}", "{run}", "--format", "jsonl"], ["{run}: is a directory"]),
    ("html-under-a-file", ["report", "{run}", "--html", "{run}/monkeys.db/page.html"],
     ["--html {run}/monkeys.db/page.html", "not a directory"]),
    ("csv-out-dir-is-a-file", ["report", "{run}", "--format", "csv", "--out-dir", "{run}/monkeys.db"],
     ["--out-dir {run}/monkeys.db: is a file"]),
    ("csv-table-is-a-directory", ["report", "{run}", "--format", "csv", "--out-dir", "{run}/dirs"],
     ["{run}/dirs/coverage.csv: is a directory"]),
    ("export-to-a-fifo", ["export", "{run}", "{run}/pipe.jsonl"], ["{run}/pipe.jsonl: not a regular file"]),
    ("plot-to-a-fifo", ["plan", "{run}", "--plot", "{run}/pipe.png"], ["--plot {run}/pipe.png: not a regular file"]),
]


@pytest.mark.parametrize(("args", "named"), [pytest.param(a, n, id=i) for i, a, n in ONTO_THE_STORE])
def test_an_output_that_would_destroy_something_is_refused(run: Path, args: list[str], named: list[str]):
    shutil.copy(run / "monkeys.db", run / "store.png")  # a store by another name
    (run / "tables").mkdir()
    shutil.copy(run / "monkeys.db", run / "tables" / "coverage.csv")
    (run / "dirs" / "coverage.csv").mkdir(parents=True)
    (run / "monkeys.lock").write_text("")
    (run / "monkeys.db-wal").write_bytes(b"")
    os.mkfifo(run / "pipe.jsonl")
    os.mkfifo(run / "pipe.png")
    before = _digest(run)
    proc = monkeys(*[a.format(run=run) for a in args], timeout=120)
    line = _one_error_line(proc)
    for part in named:
        assert part.format(run=run) in line, line
    assert _digest(run) == before, "a file of the run changed"
    assert not [p for p in run.rglob("*partial*")], "a partial file was left"


def test_an_export_through_a_symlink_writes_the_file_it_points_to(run: Path, tmp_path: Path):
    real = tmp_path / "exports" / "real.jsonl"
    real.parent.mkdir()
    real.write_text("old\n")
    link = tmp_path / "latest.jsonl"
    link.symlink_to(real)
    proc = monkeys("export", str(run), str(link))
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and link.resolve() == real
    rows = [json.loads(line) for line in real.read_text().splitlines()]
    assert len(rows) == 12


def _small_files() -> None:
    # a "full disk" for this process only: a file past 100 bytes fails with EFBIG (Python ignores SIGXFSZ)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


@pytest.mark.parametrize("args", [
    pytest.param(["export", "{run}", "{out}/x.jsonl"], id="export"),
    pytest.param(["report", "{run}", "--html", "{out}/x.html"], id="html"),
    pytest.param(["plan", "{run}", "--plot", "{out}/x.png"], id="plot"),
    pytest.param(["report", "{run}", "--format", "csv", "--out-dir", "{out}/tables"], id="csv"),
])
def test_a_write_that_fails_midway_is_one_line_and_leaves_no_file(run: Path, tmp_path: Path, args: list[str]):
    """The disk fills up (EFBIG past 100 bytes) while the output is written: one line naming the file, exit 2,
    nothing at the output's name and no partial file beside it. The figures `report` redraws into the run
directory fail the same way and are kept as they were (a note says so)."""
    out = tmp_path / "out"
    out.mkdir()
    before = _digest(run)
    proc = subprocess.run([MONKEYS, *[a.format(run=run, out=out) for a in args]], capture_output=True, text=True,
                          timeout=120, preexec_fn=_small_files)
    line = _one_error_line(proc)
    assert str(out) in line and "cannot write" in line, line
    assert [p.name for p in out.rglob("*") if p.is_file()] == [], "a partial or truncated output was left"
    assert _digest(run) == before


def test_an_export_to_a_link_to_a_pipe_is_refused(run: Path, tmp_path: Path):
    """`/dev/stdout` is a link to /proc/self/fd/1: with stdout a pipe its "real path" is `pipe:[N]`, which
    names no file; the link itself must be looked at. (At bf5ecf5, as root, the export replaced the link.)"""
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    line = _one_error_line(monkeys("export", str(run), str(link), "--format", "jsonl"))
    assert f"{link}: not a regular file" in line, line
    assert link.is_symlink()


def test_what_a_killed_export_left_is_removed_by_the_next_one(run: Path, tmp_path: Path):
    """kill -9 leaves the hidden partial file beside the output (no clean-up runs); the next write of the same
    output removes those of processes that are gone and keeps a live writer's."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    out = tmp_path / "x.jsonl"
    stale = tmp_path / f".x.jsonl.{gone.pid}.partial.jsonl"
    stale.write_text('{"half": ')
    live = tmp_path / f".x.jsonl.{os.getpid()}.partial.jsonl"
    live.write_text("")
    proc = monkeys("export", str(run), str(out))
    assert proc.returncode == 0, proc.stderr
    assert not stale.exists() and live.exists()
    assert len(out.read_text().splitlines()) == 12
