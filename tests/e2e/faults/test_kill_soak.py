"""`kill -9` at random moments, again and again: every resume continues where the last run was killed and
the store ends with the same samples and verdicts as one uninterrupted run. And a run with n = 1,000,000
starts storing at once in flat memory (requests are made as they are sent, not all up front)."""

from __future__ import annotations

import importlib.util
import json
import os
import random
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

KILLS = 20
N = 60
PROBLEMS = "HumanEval/53,HumanEval/0,HumanEval/2"
CONFIG = f"""\
task: humaneval
problems: {PROBLEMS}
sampler: scripted
sampler_options:
  delay_s: 0.05
  responses:
    - "def add(x: int, y: int):\\n    return x + y\\n"
    - "def add(x: int, y: int):\\n    return x - y\\n"
    - "def truncate_number(number: float) -> float:\\n    return number % 1.0\\n"
    - "no code at all"
n: {N}
batch_size: 2
concurrency: 1
"""


def _tables(run_dir: Path) -> dict[str, list[tuple]]:
    """What a run's result is, without what differs between two runs of it (times, latencies, row ids)."""
    db = sqlite3.connect(run_dir / "monkeys.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {
            "problems": db.execute("SELECT * FROM problems ORDER BY 1").fetchall(),
            "samples": db.execute(
                "SELECT problem_id, sample_index, seed, text, prompt_tokens, completion_tokens, finish_reason, model"
                " FROM samples ORDER BY 1, 2").fetchall(),
            "verdicts": db.execute(
                "SELECT s.problem_id, s.sample_index, v.verifier, v.outcome, v.reason FROM verdicts v"
                " JOIN samples s USING (sample_id) ORDER BY 1, 2, 3").fetchall(),
            "config": [{k: v for k, v in json.loads(value).items() if k != "out"}
                       for (value,) in db.execute("SELECT value FROM meta WHERE key = 'config'")],
        }
    finally:
        db.close()


def _kill(proc: subprocess.Popen[bytes]) -> bool:
    """SIGKILL the run's process group; True if it was still running (a kill that landed)."""
    alive = proc.poll() is None
    if alive:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return alive


@pytest.mark.timeout(300)
def test_twenty_kill_9s_at_random_moments_end_as_one_uninterrupted_run(tmp_path: Path):
    config = tmp_path / "run.yaml"
    config.write_text(CONFIG)
    soaked, whole = tmp_path / "soaked", tmp_path / "whole"
    args = ["run", "--config", str(config), "--no-report", "--out"]
    total = N * len(PROBLEMS.split(","))
    uninterrupted = subprocess.Popen([MONKEYS, *args, str(whole)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
    rng = random.Random(20261202)
    kills = finished = 0
    while kills < KILLS:
        before = _e2e.stored_samples(soaked)
        assert before < total, f"the run completed after {kills} kills; make it longer"
        proc = subprocess.Popen([MONKEYS, *args, str(soaked)], start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if rng.random() < 0.4:  # anywhere in its life: imports, setup, making the store, the first batches
            time.sleep(rng.uniform(0.0, 1.0))
        else:  # mid-sampling: after it has stored a few more samples
            target = before + rng.randint(1, 6)
            deadline = time.monotonic() + 60
            while _e2e.stored_samples(soaked) < target and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
        if _kill(proc):
            kills += 1
        else:
            finished += 1
            assert proc.returncode == 0
    resumed = monkeys(*args, str(soaked), timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    _, stderr = uninterrupted.communicate(timeout=120)
    assert uninterrupted.returncode == 0, stderr

    got, want = _tables(soaked), _tables(whole)
    assert len(want["samples"]) == total and len(want["verdicts"]) == total
    assert {outcome for *_, outcome, _ in want["verdicts"]} >= {"pass", "fail"}
    for table in want:
        assert got[table] == want[table], table
    assert sorted(p.name for p in soaked.iterdir()) == ["monkeys.db"]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@pytest.mark.timeout(180)
def test_a_million_samples_per_problem_start_storing_at_once_in_flat_memory(tmp_path: Path):
    out = tmp_path / "huge"
    limit_kib = 1 << 20  # 1 GiB; materialising every request first took 4.5 GB and stored nothing for a minute
    proc = subprocess.Popen([MONKEYS, "run", "--sampler", "scripted", "--problems", "2", "-n", "1000000",
                             "--batch-size", "16", "--out", str(out), "--no-report"], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = stored = 0
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline and peak < limit_kib:
            peak = max(peak, _rss_kib(proc.pid))
            stored = _e2e.stored_samples(out)
            if stored >= 2000:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended by itself"
    finally:
        _kill(proc)
    assert peak < limit_kib, f"resident memory reached {peak // 1024} MiB"
    assert stored >= 2000


@pytest.mark.timeout(120)
def test_a_resume_keeps_the_stored_config_and_appends_what_changed(tmp_path: Path):
    out = tmp_path / "grown"
    args = ["run", "--sampler", "scripted", "--problems", "1", "--batch-size", "2", "--out", str(out), "--no-report"]
    assert monkeys(*args, "-n", "2", timeout=120).returncode == 0

    def meta(key: str):
        db = sqlite3.connect(out / "monkeys.db")
        try:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return None if row is None else json.loads(row[0])
        finally:
            db.close()

    first = meta("config")
    assert first["n"] == 2 and meta("config_history") is None
    grown = monkeys(*args, "-n", "4", timeout=120)
    assert grown.returncode == 0 and "(resumed)" in grown.stderr, grown.stderr
    assert meta("config") == first  # the record of what the first samples were drawn with stays
    history = meta("config_history")
    assert [entry["changes"] for entry in history] == [{"n": {"from": 2, "to": 4}}]
    assert monkeys(*args, "-n", "4", timeout=120).returncode == 0
    assert meta("config_history") == history  # the same settings again add nothing
