"""The store writer and the samplers fail loudly and at once: a store that cannot be written (locked by
another program, a full disk) or a sampler that raises ends the run with one `error:` line, exit 2 and the
resume hint; nothing hangs, `flush()` never blocks on a dead writer and `close()` says what was not written."""

from __future__ import annotations

import importlib.util
import resource
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from monkeys.core import Completion, Problem, Prompt
from monkeys.errors import StoreError
from monkeys.store import connect
from monkeys.store.writer import StoreWriter, write_header

_spec = importlib.util.spec_from_file_location("monkeys_e2e_conftest", Path(__file__).parents[1] / "conftest.py")
assert _spec is not None and _spec.loader is not None
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
MONKEYS, monkeys = _e2e.MONKEYS, _e2e.monkeys

pytestmark = pytest.mark.timeout(120)

RESUME_HINT = "run the same command again to resume"


def _count(run_dir: Path, table: str = "samples") -> int:
    db = sqlite3.connect(run_dir / "monkeys.db")
    try:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        db.close()


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def _completion(i: int) -> Completion:
    return Completion(i, i, f"text {i}", 3, 2, "stop", 0.01)


def test_a_store_locked_by_another_program_fails_the_writer_at_once(tmp_path: Path):
    run_dir = tmp_path / "r"
    connect(run_dir, create=True).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys\n"
         f"db = sqlite3.connect({str(run_dir / 'monkeys.db')!r}, isolation_level=None)\n"
         "db.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\nsys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        writer = StoreWriter(run_dir, busy_timeout_s=0.2)
        writer.put_sample("p", _completion(0), "m")
        with pytest.raises(StoreError, match=r"monkeys\.db: writing the run store failed: database is locked"):
            writer.flush()  # not a wait forever: the writer's failure is the answer
        with pytest.raises(StoreError, match="database is locked"):
            writer.put_sample("p", _completion(1), "m")  # nothing more is taken
        with pytest.raises(StoreError, match=r"\(1 records not written\)"):
            writer.close()  # and close says so, instead of returning as if all was written
    finally:
        holder.communicate("", timeout=30)
    assert _count(run_dir) == 0


def test_a_writer_that_cannot_open_the_store_says_so_at_once(tmp_path: Path):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "monkeys.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"monkeys\.db"):
        StoreWriter(run_dir)


def test_a_writer_that_keeps_up_writes_everything_and_flush_returns(tmp_path: Path):
    run_dir = tmp_path / "r"
    db = connect(run_dir, create=True)
    write_header(db, {}, [Problem("p", Prompt(text="?"), {})])
    db.close()
    writer = StoreWriter(run_dir, max_queued=8)  # producers wait for room rather than queue without bound
    for i in range(300):
        writer.put_sample("p", _completion(i), "m")
    writer.flush(timeout=60)
    writer.close()
    assert _count(run_dir) == 300


def _limit_file_size() -> None:
    # a "full disk" for this process only: writes past 1 MiB fail (Python ignores SIGXFSZ: EFBIG)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


def test_a_full_disk_mid_run_ends_it_with_one_line_and_it_resumes(tmp_path: Path):
    out = tmp_path / "full"
    big = "x " * 2000  # 4 kB per sample: the WAL passes 1 MiB after a few hundred
    args = ["run", "--sampler", "scripted", "--sampler-option", f"responses=[{big!r}]", "--problems", "2",
            "-n", "300", "--batch-size", "10", "--max-tokens", "5000", "--out", str(out), "--no-report"]
    proc = subprocess.run([MONKEYS, *args], capture_output=True, text=True, timeout=90,
                          preexec_fn=_limit_file_size)
    line = _one_error_line(proc)
    assert str(out / "monkeys.db") in line and "writing the run store failed" in line, line
    assert RESUME_HINT in line
    stored = _count(out)
    assert stored < 600
    resumed = monkeys(*args, timeout=90)
    assert resumed.returncode == 0, resumed.stderr
    assert _count(out) == 600 and _count(out, "verdicts") == 600


FLAKY = '''
import sys
import threading

from monkeys.core import Completion, Problem, Prompt
from monkeys.errors import SamplerError
from monkeys.registry import register_sampler


@register_sampler("flaky")
class Flaky:
    """Of its first three calls, one never returns, one answers and one raises (like a server going down)."""

    redraw_whole_batch = False
    concurrency = 3
    model_name = "flaky"

    def __init__(self, **options):
        self.calls = 0
        self.lock = threading.Lock()

    def sample(self, prompt, requests, *, temperature, top_p, max_tokens):
        with self.lock:
            self.calls += 1
            call = self.calls
        if call == 1:
            threading.Event().wait()  # a request the server never answers
        if call >= 3:
            raise SamplerError("http://127.0.0.1:9/v1: the server failed 5 times in a row; giving up")
        return [Completion(r.index, r.seed, "def f():\\n    return 1\\n", 3, 4, "stop", 0.01) for r in requests]

    def close(self):
        pass


from monkeys.cli import main

sys.argv = ["monkeys", *sys.argv[1:]]
main()
'''


def test_a_sampler_that_raises_ends_the_run_though_another_call_hangs(tmp_path: Path):
    script = tmp_path / "flaky_monkeys.py"
    script.write_text(textwrap.dedent(FLAKY))
    out = tmp_path / "flaky"
    proc = subprocess.run([sys.executable, str(script), "run", "--sampler", "flaky", "--problems", "2", "-n", "8",
                           "--batch-size", "2", "--out", str(out), "--no-report"],
                          capture_output=True, text=True, timeout=90)  # the stuck call must not keep it alive
    line = _one_error_line(proc)
    assert "giving up" in line and RESUME_HINT in line, line
    assert _count(out) in (0, 2)  # the call that answered is kept (or had not been answered yet)
    assert sorted(p.name for p in out.iterdir()) == ["monkeys.db"]
