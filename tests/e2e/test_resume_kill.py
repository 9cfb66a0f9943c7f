"""SIGKILL a real run of the embedded model midway, start it again, and compare with an uninterrupted run."""

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from conftest import MONKEYS, monkeys, stored_samples

ARGS = ["--problems", "HumanEval/53,HumanEval/23", "-n", "8", "--batch-size", "4", "--max-tokens", "40",
        "--seed", "7", "--no-report"]


def _rows(run_dir: Path) -> list[tuple]:
    db = sqlite3.connect(run_dir / "monkeys.db")
    try:
        return db.execute("SELECT problem_id, sample_index, seed, text, completion_tokens FROM samples"
                          " ORDER BY problem_id, sample_index").fetchall()
    finally:
        db.close()


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path: Path):
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    proc = subprocess.Popen([MONKEYS, "run", *ARGS, "--out", str(killed)], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while stored_samples(killed) < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    stored_at_kill = stored_samples(killed)
    assert 4 <= stored_at_kill < 16, "the run was not killed midway"

    resumed = monkeys("run", *ARGS, "--out", str(killed))
    assert resumed.returncode == 0, resumed.stderr
    assert "(resumed)" in resumed.stderr
    full = monkeys("run", *ARGS, "--out", str(whole))
    assert full.returncode == 0, full.stderr

    rows = _rows(killed)
    assert [(r[0], r[1]) for r in rows] == [(p, i) for p in ("HumanEval/23", "HumanEval/53") for i in range(8)]
    assert rows == _rows(whole)  # same seeds and, the engine being deterministic per batch, same texts
    db = sqlite3.connect(killed / "monkeys.db")
    assert db.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 16


def test_ctrl_c_keeps_what_was_stored_and_exits_130(tmp_path: Path):
    out = tmp_path / "run"
    args = ["--sampler", "scripted", "--sampler-option", "delay_s=0.3", "--problems", "3", "-n", "8",
            "--batch-size", "2", "--no-report", "--out", str(out)]
    # SIGINT as a terminal delivers it: a suite started in the background (`pytest &`) hands its children an
    # ignored SIGINT, which Python then keeps ignoring
    proc = subprocess.Popen([MONKEYS, "run", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while stored_samples(out) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 130, stderr
    assert "run the same command again to resume" in stderr
    stored = stored_samples(out)
    assert 4 <= stored < 24
    resumed = monkeys("run", *args)
    assert resumed.returncode == 0, resumed.stderr
    assert stored_samples(out) == 24
