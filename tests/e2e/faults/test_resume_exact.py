"""Resume after kill -9 ends as an uninterrupted run would, in the two places where it did not at bf5ecf5:

- `--allocate adaptive`: a kill midway through a round lost the round's shares (they lived in memory); the
  resume dealt a new round from what the kill left, so problems got other numbers of samples than an
  uninterrupted run gives them (36 and 33 where it gives 34). The round is now stored (meta
  "adaptive_round") before any of its samples, and a resume finishes it as it was dealt.
- a kill between creating the store file and writing its schema left an empty file (or an empty SQLite
  database): every later `monkeys run` / `monkeys verify FILE` refused it ("an empty SQLite database"), so
  the run could never be resumed. A writer now makes such a store afresh (nothing in it can be lost), with
  a warning; readers still refuse it.
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
MONKEYS, monkeys, stored_samples = _e2e.MONKEYS, _e2e.monkeys, _e2e.stored_samples

pytestmark = pytest.mark.timeout(300)

RESPONSES = json.dumps([f"#### {40 + j}" for j in range(0, 60, 3)] + ["no"] * 20)


def _args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--task", "gsm8k", "--data", str(data), "--task-option", "shots=0", "--sampler", "scripted",
            "--sampler-option", f"responses={RESPONSES}", "--batch-size", "4", "--no-report", "--out", str(out),
            *extra]


def _samples(run: Path) -> list[tuple[str, int, str, bool]]:
    out = run.parent / f"{run.name}.jsonl"
    proc = monkeys("export", str(run), str(out))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return sorted((r["problem_id"], r["sample_index"], r["text"], r["correct"]) for r in rows)


def _stops(run: Path) -> list[tuple[str, int, str]]:
    db = sqlite3.connect(run / "monkeys.db")
    try:
        return sorted(db.execute("SELECT problem_id, drawn, reason FROM problem_stops"))
    finally:
        db.close()


def test_an_adaptive_run_killed_midway_through_a_round_resumes_to_the_same_samples(tmp_path: Path):
    data = _e2e.addition_problems(tmp_path, 30)
    schedule = ["-n", "80", "--allocate", "adaptive", "--budget", "samples=900"]
    whole = tmp_path / "whole"
    proc = monkeys(*_args(data, whole, *schedule))
    assert proc.returncode == 0, proc.stderr
    killed = tmp_path / "killed"
    slow = ["--sampler-option", "delay_s=0.02", "--concurrency", "2"]
    run = subprocess.Popen([MONKEYS, *_args(data, killed, *schedule, *slow)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while stored_samples(killed) < 200 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.02)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert 200 <= stored_samples(killed) < 800, "the kill did not land in the first round (840 samples)"
    proc = monkeys(*_args(data, killed, *schedule))
    assert proc.returncode == 0, proc.stderr
    assert _samples(killed) == _samples(whole)
    assert _stops(killed) == _stops(whole)


def _blank_sqlite(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")  # what a writer does first: a header, no table
    db.close()


@pytest.mark.parametrize("blank", ["zero-bytes", "no-tables"])
def test_a_store_killed_before_its_schema_is_made_afresh_by_a_writer(tmp_path: Path, blank: str):
    data = _e2e.addition_problems(tmp_path, 3)
    run = tmp_path / "run"
    run.mkdir()
    (run / "monkeys.lock").write_text("")
    if blank == "zero-bytes":
        (run / "monkeys.db").write_bytes(b"")
    else:
        _blank_sqlite(run / "monkeys.db")
    report = monkeys("report", str(run))  # a reader still refuses it
    assert report.returncode == 2 and "error:" in report.stderr, report.stderr
    proc = monkeys(*_args(data, run, "-n", "4"))
    assert proc.returncode == 0, proc.stderr
    assert "warning:" in proc.stderr and "an empty run store" in proc.stderr, proc.stderr
    assert stored_samples(run) == 12

    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"problem_id": f"test/{i}", "text": f"#### {40 + i}"}) + "\n"
                               for i in range(3)))
    out = tmp_path / "verified"
    out.mkdir()
    (out / "monkeys.db").write_bytes(b"") if blank == "zero-bytes" else _blank_sqlite(out / "monkeys.db")
    proc = monkeys("verify", str(samples), "--task", "gsm8k", "--data", str(data), "--task-option", "shots=0",
                   "--out", str(out), "--no-report")
    assert proc.returncode == 0, proc.stderr
    assert stored_samples(out) == 3
