"""`monkeys verify RUN --reverify` stopped midway (kill -9, Ctrl-C, SIGTERM) goes on where it was when the
same command is run again, as every other resume does, instead of dropping the verdicts it had already
re-made and starting over (at bf5ecf5 a re-check of a large run killed at 90% began again at 0, though the
stop message said "run the same command again to resume"). Once a re-check has finished, `--reverify`
re-checks every sample afresh.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("monkeys_e2e_conftest", Path(__file__).parents[1] / "conftest.py")
assert _spec is not None and _spec.loader is not None
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
MONKEYS, monkeys = _e2e.MONKEYS, _e2e.monkeys

pytestmark = pytest.mark.timeout(300)

TOTAL = 20_000


def _verdicts(run: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{run / 'monkeys.db'}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute("SELECT count(*) FROM verdicts WHERE verifier = 'math-answer'").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return -1


def _outcomes(run: Path) -> list[tuple[int, str]]:
    db = sqlite3.connect(run / "monkeys.db")
    try:
        return sorted(db.execute("SELECT sample_id, outcome FROM verdicts WHERE verifier = 'math-answer'"))
    finally:
        db.close()


def test_a_stopped_reverify_goes_on_where_it_was(tmp_path: Path):
    data = _e2e.addition_problems(tmp_path, 50)
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"problem_id": f"test/{i % 50}", "sample_index": i // 50,
                                           "text": f"step {i}: #### {40 + i % 60}"}) + "\n" for i in range(TOTAL)))
    run = tmp_path / "run"
    proc = monkeys("verify", str(samples), "--task", "gsm8k", "--data", str(data), "--task-option", "shots=0",
                   "--out", str(run), "--no-report")
    assert proc.returncode == 0, proc.stderr
    want = _outcomes(run)
    assert len(want) == TOTAL

    stopped = subprocess.Popen([MONKEYS, "verify", str(run), "--reverify", "--no-report"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while not 2_000 <= _verdicts(run) < TOTAL and time.monotonic() < deadline and stopped.poll() is None:
        time.sleep(0.02)  # the old verdicts go at once (one transaction); the new ones come in batches
    os.killpg(stopped.pid, signal.SIGKILL)
    stopped.wait()
    kept = _verdicts(run)
    assert 2_000 <= kept < TOTAL, f"the kill did not land midway ({kept} verdicts)"

    proc = monkeys("verify", str(run), "--reverify", "--no-report")
    assert proc.returncode == 0, proc.stderr
    assert f"verified {TOTAL - kept} samples (resumed)" in proc.stderr, proc.stderr
    assert _outcomes(run) == want

    again = monkeys("verify", str(run), "--reverify", "--no-report")  # finished: a new re-check starts afresh
    assert again.returncode == 0, again.stderr
    assert f"verified {TOTAL} samples;" in again.stderr, again.stderr
    assert _outcomes(run) == want


def test_a_stopped_reverify_finished_by_monkeys_run_is_no_longer_pending(tmp_path: Path):
    """The resume of a run made by `monkeys run` is `monkeys run` itself: once it has verified what the stopped
    re-check left, a later `--reverify` re-checks every sample again (not 'verified 0 samples (resumed)')."""
    data = _e2e.addition_problems(tmp_path, 50)
    run = tmp_path / "run"
    args = ["run", "--task", "gsm8k", "--data", str(data), "--task-option", "shots=0", "--sampler", "scripted",
            "--sampler-option", 'responses=["#### 40", "#### 41", "no"]', "-n", "300", "--batch-size", "50",
            "--no-report", "--out", str(run)]
    proc = monkeys(*args)
    assert proc.returncode == 0, proc.stderr
    total = 50 * 300
    stopped = subprocess.Popen([MONKEYS, "verify", str(run), "--reverify", "--no-report"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while not 1_000 <= _verdicts(run) < total and time.monotonic() < deadline and stopped.poll() is None:
        time.sleep(0.02)
    os.killpg(stopped.pid, signal.SIGKILL)
    stopped.wait()
    assert 1_000 <= _verdicts(run) < total, "the kill did not land midway"
    proc = monkeys(*args)
    assert proc.returncode == 0, proc.stderr
    assert _verdicts(run) == total
    again = monkeys("verify", str(run), "--reverify", "--no-report")
    assert again.returncode == 0, again.stderr
    assert f"verified {total} samples;" in again.stderr, again.stderr
