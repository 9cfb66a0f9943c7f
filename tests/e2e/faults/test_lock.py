"""One writer per run directory: a second `monkeys run` / `monkeys import` on a busy directory is refused
with one line naming the holder and changes nothing; the lock dies with its holder, even by `kill -9`."""

from __future__ import annotations

import importlib.util
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from monkeys.errors import StoreError
from monkeys.store.lock import LOCK_NAME, RunLock

_spec = importlib.util.spec_from_file_location("monkeys_e2e_conftest", Path(__file__).parents[1] / "conftest.py")
assert _spec is not None and _spec.loader is not None
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
MONKEYS, monkeys, stored_samples = _e2e.MONKEYS, _e2e.monkeys, _e2e.stored_samples

pytestmark = pytest.mark.timeout(120)

N = 12
CONFIG = f"""\
task: humaneval
problems: HumanEval/53,HumanEval/0
sampler: scripted
sampler_options:
  delay_s: 0.15
  responses: ["def add(x: int, y: int):\\n    return x + y\\n", "def add(x: int, y: int):\\n    return x - y\\n"]
n: {N}
batch_size: 2
concurrency: 1
"""


def _snapshot(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir()) if p.is_file()}


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_a_second_writer_is_refused_and_the_lock_dies_with_kill_9(tmp_path: Path):
    config = tmp_path / "run.yaml"
    config.write_text(CONFIG)
    out = tmp_path / "busy"
    args = ["run", "--config", str(config), "--out", str(out), "--no-report"]
    first = subprocess.Popen([MONKEYS, *args], start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while stored_samples(out) < 2 and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first.poll() is None, "the first run ended before the test could stop it"
        os.killpg(first.pid, signal.SIGSTOP)  # frozen midway, lock held: the store cannot change by itself
        before = _snapshot(out)
        assert 2 <= stored_samples(out) < 2 * N

        second = monkeys(*args, timeout=60)
        assert second.returncode == 2, second.stderr
        assert "Traceback" not in second.stderr
        lines = _error_lines(second.stderr)
        assert len(lines) == 1, second.stderr
        holder = f"pid {first.pid}: monkeys {' '.join(args)}"
        assert lines[0] == (f"error: {out} is in use by another monkeys process ({holder});"
                            " wait for it to finish or choose another --out")
        imported = tmp_path / "results.jsonl"
        imported.write_text('{"problem_id": "p", "sample_index": 0, "correct": true}\n')
        third = monkeys("import", str(imported), str(out), timeout=60)
        assert third.returncode == 2, third.stderr
        assert len(_error_lines(third.stderr)) == 1 and f"(pid {first.pid}: monkeys run" in third.stderr
        assert "choose another run directory" in third.stderr
        assert _snapshot(out) == before  # byte for byte, the lock file included

        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    stored = stored_samples(out)
    assert 2 <= stored < 2 * N
    # the dead holder's pid is still written in the lock file: the flock, not the text, decides
    assert f"pid {first.pid}" in (out / LOCK_NAME).read_text()
    resumed = monkeys(*args, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "(resumed)" in resumed.stderr
    db = sqlite3.connect(out / "monkeys.db")
    try:
        assert db.execute("SELECT count(*) FROM samples").fetchone()[0] == 2 * N
        assert db.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 2 * N
    finally:
        db.close()
    assert sorted(p.name for p in out.iterdir()) == ["monkeys.db"]  # a finished holder removes its lock file


def test_a_reader_needs_no_lock(tmp_path: Path):
    config = tmp_path / "run.yaml"
    config.write_text(CONFIG.replace("delay_s: 0.15", "delay_s: 0.0"))
    out = tmp_path / "done"
    assert monkeys("run", "--config", str(config), "--out", str(out), "--no-report", timeout=120).returncode == 0
    with RunLock(out):  # a writer holds it: reading still works
        exported = monkeys("export", str(out), str(tmp_path / "out.jsonl"), timeout=120)
        assert exported.returncode == 0, exported.stderr


def test_the_lock_excludes_within_one_process_too_and_names_its_holder(tmp_path: Path):
    run_dir = tmp_path / "r"
    with pytest.raises(StoreError, match="cannot create"):
        RunLock(run_dir).acquire()  # the run directory is not made unless asked
    with RunLock(run_dir).acquire(create_dir=True) as held:
        assert held.held and (run_dir / LOCK_NAME).read_text().startswith(f"pid {os.getpid()}: ")
        with pytest.raises(StoreError, match=rf"^{run_dir} is in use by another monkeys process \(pid {os.getpid()}: "):
            RunLock(run_dir).acquire()
    assert not held.held
    assert not (run_dir / LOCK_NAME).exists()
    (run_dir / LOCK_NAME).write_text("pid 1: monkeys run --out elsewhere\n")  # stale text, nobody holds it
    with RunLock(run_dir):
        assert (run_dir / LOCK_NAME).read_text().startswith(f"pid {os.getpid()}: ")
    assert list(run_dir.iterdir()) == []
