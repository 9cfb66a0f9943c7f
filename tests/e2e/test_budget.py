"""`monkeys run --until-solved` and `--budget` as a user runs them: the real CLI, the scripted sampler, the
math verifier on a six-problem GSM8K-style file, and the store read afterwards.

The scripted sampler answers `RESPONSES[seed % 10]` and a sample's seed derives from (run seed, problem,
index), so the test knows in advance where each problem's first pass lies.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from conftest import MONKEYS, addition_problems, monkeys, stored_samples

from monkeys.core import derive_seed

PROBLEMS = 6
RESPONSES = [f"The answer is {40 + i}" for i in range(PROBLEMS)] + ["The answer is 7", "no idea", "8", "9"]


def _data(tmp_path: Path) -> Path:
    return addition_problems(tmp_path, PROBLEMS)


def _args(tmp_path: Path, *extra: str) -> list[str]:
    return ["--task", "gsm8k", "--data", str(_data(tmp_path)), "--task-option", "shots=0", "--sampler", "scripted",
            "--sampler-option", f"responses={json.dumps(RESPONSES)}", "--verify-workers", "2", *extra]


def _first_pass(i: int, n: int) -> int | None:
    """Index of problem test/i's first passing sample among its first n (seed 0), None if none."""
    return next((j for j in range(n) if derive_seed(0, f"test/{i}", j) % len(RESPONSES) == i), None)


def _store(run_dir: Path) -> tuple[dict[str, list[int]], dict[str, tuple[int, str]], list[tuple[int, int, int]]]:
    """(sample indices per problem, stops per problem, (prompt, completion, shared) tokens of every sample)."""
    db = sqlite3.connect(run_dir / "monkeys.db")
    try:
        drawn: dict[str, list[int]] = {}
        for pid, index in db.execute("SELECT problem_id, sample_index FROM samples ORDER BY 1, 2"):
            drawn.setdefault(pid, []).append(index)
        stops = {pid: (d, r) for pid, d, r in db.execute("SELECT problem_id, drawn, reason FROM problem_stops")}
        tokens = db.execute("SELECT prompt_tokens, completion_tokens, prompt_shared FROM sample_rows").fetchall()
        return drawn, stops, tokens
    finally:
        db.close()


def test_until_solved_stops_each_problem_at_its_first_pass(tmp_path: Path):
    run_dir = tmp_path / "us"
    done = monkeys("run", *_args(tmp_path, "--until-solved", "--max-samples", "12", "--batch-size", "3",
                                 "--concurrency", "3", "--out", str(run_dir), "--no-report"))
    assert done.returncode == 0, done.stderr
    drawn, stops, _ = _store(run_dir)
    solved = 0
    for i in range(PROBLEMS):
        pid, first = f"test/{i}", _first_pass(i, 12)
        if first is None:
            assert drawn[pid] == list(range(12)) and stops[pid] == (12, "cap")
        else:  # through the batch of 3 that holds the first pass, not one sample further
            last = min(12, (first // 3 + 1) * 3)
            assert drawn[pid] == list(range(last)) and stops[pid] == (last, "solved"), (pid, first)
            solved += 1
    assert 0 < solved < PROBLEMS  # the seeds give both kinds
    report = monkeys("report", str(run_dir), "--format", "json")
    doc = json.loads(report.stdout)["runs"][0]
    assert doc["estimator"].startswith("first pass within k")
    assert doc["stops"]["test/0"]["drawn"] == len(drawn["test/0"])
    assert any(line.startswith("samples saved:") and "fixed n=12 run reaches the same coverage" in line
               for line in doc["notes"])
    assert doc["coverage"][-1]["k"] == 12 and doc["coverage"][-1]["coverage"] == solved / PROBLEMS


def test_budget_runs_stop_within_one_batch_and_say_why(tmp_path: Path):
    samples = monkeys("run", *_args(tmp_path, "--budget", "samples=20", "-n", "16", "--batch-size", "3",
                                    "--concurrency", "4", "--out", str(tmp_path / "s"), "--no-report"))
    assert samples.returncode == 0, samples.stderr
    assert "stopped early: budget spent: 20 samples of 20 samples" in samples.stderr
    drawn, stops, _ = _store(tmp_path / "s")
    assert sum(len(v) for v in drawn.values()) == 20  # a sample budget is met exactly
    assert stops["test/0"] == (16, "cap") and stops["test/1"] == (4, "budget") and stops["test/5"] == (0, "budget")

    tokens = monkeys("run", *_args(tmp_path, "--budget", "tokens=150", "-n", "16", "--batch-size", "4",
                                   "--concurrency", "3", "--out", str(tmp_path / "t"), "--no-report"))
    assert tokens.returncode == 0, tokens.stderr
    assert "stopped early: budget spent:" in tokens.stderr and "tokens of 150 tokens" in tokens.stderr
    _, stops, rows = _store(tmp_path / "t")
    spent = sum(p / s + c for p, c, s in rows)
    batch = 4 * max(p / s + c for p, c, s in rows)
    assert abs(spent - 150) <= batch, (spent, batch)
    assert "budget" in {reason for _, reason in stops.values()}


def test_resume_after_a_kill_keeps_the_schedule(tmp_path: Path):
    run_dir = tmp_path / "killed"
    args = _args(tmp_path, "--until-solved", "-n", "12", "--batch-size", "3", "--budget", "samples=30",
                 "--sampler-option", "delay_s=0.15", "--out", str(run_dir), "--no-report")
    proc = subprocess.Popen([MONKEYS, "run", *args], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while stored_samples(run_dir) < 9 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 9 <= stored_samples(run_dir) < 30, "the run was not killed midway"
    resumed = monkeys("run", *args)
    assert resumed.returncode == 0, resumed.stderr
    drawn, stops, _ = _store(run_dir)
    assert sum(len(v) for v in drawn.values()) == 30  # the budget counts what the killed run stored
    for i in range(PROBLEMS):
        pid, first = f"test/{i}", _first_pass(i, 12)
        got = drawn.get(pid, [])
        assert got == list(range(len(got)))  # index order, no gaps: what the estimator needs
        if first is not None and first < len(got):  # solved: nothing drawn past the batch of its first pass
            assert len(got) == min(12, (first // 3 + 1) * 3) and stops[pid] == (len(got), "solved")
        else:
            assert stops[pid] == (len(got), "cap" if len(got) == 12 else "budget")
