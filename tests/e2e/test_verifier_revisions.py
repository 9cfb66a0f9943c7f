"""A run whose verdicts an older verifier made is not resumed by a newer one's rules: the real CLI, the
scripted sampler, the math verifier, the store read afterwards.

The "older monkeys" store is made as that monkeys left it: no revision recorded, and the verdict its GSM8K
reader gave a hedged answer ("#### 40 or 41": the first number, a pass on gold 40).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from conftest import addition_problems, monkeys

from monkeys.registry import verifier_revision
from monkeys.store.revisions import META_KEY

PROBLEMS = 3
HEDGES = ["The answer is 40 or 41. #### 40 or 41", "#### 41, 42"]  # hedges on gold 40 and 41
REV = verifier_revision("math-answer").number  # type: ignore[union-attr]
RESPONSES = [f"The answer is {40 + i}. #### {40 + i}" for i in range(PROBLEMS)] + HEDGES + ["no idea"]


def _data(tmp_path: Path) -> Path:
    return addition_problems(tmp_path, PROBLEMS)


def _run_args(tmp_path: Path, run: Path, n: int) -> list[str]:
    return ["run", "--task", "gsm8k", "--data", str(_data(tmp_path)), "--task-option", "shots=0",
            "--sampler", "scripted", "--sampler-option", f"responses={json.dumps(RESPONSES)}", "-n", str(n),
            "--out", str(run), "--no-report"]


def _verdicts(run: Path, verifier: str = "math-answer") -> dict[tuple[str, int], tuple[str, str]]:
    db = sqlite3.connect(f"file:{run / 'monkeys.db'}?mode=ro", uri=True)
    try:
        return {(p, i): (o, t) for p, i, o, t in db.execute(
            "SELECT s.problem_id, s.sample_index, v.outcome, s.text FROM verdicts v JOIN samples s USING (sample_id)"
            " WHERE v.verifier = ?", (verifier,))}
    finally:
        db.close()


def _recorded(run: Path) -> dict[str, int] | None:
    db = sqlite3.connect(f"file:{run / 'monkeys.db'}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (META_KEY,)).fetchone()
        return json.loads(row[0]) if row else None
    finally:
        db.close()


def _as_an_older_monkeys_left_it(run: Path, verifier: str = "math-answer") -> int:
    """Drop the revision record and give every hedge the verdict the first-number reader gave: a pass where
    its first number is the gold. Returns how many verdicts were turned into passes."""
    db = sqlite3.connect(run / "monkeys.db")
    try:
        with db:
            db.execute("DELETE FROM meta WHERE key = ?", (META_KEY,))
            vid = db.execute("SELECT id FROM checkers WHERE kind = 'verifier' AND name = ?", (verifier,)).fetchone()[0]
            forged = 0
            for sample_id, pid, text in db.execute("SELECT sample_id, problem_id, text FROM samples").fetchall():
                gold = 40 + int(pid.split("/")[1])
                if text in HEDGES and text.split("#### ")[1].startswith(str(gold)):
                    db.execute("UPDATE verdict_rows SET outcome = 1 WHERE key = ?", (sample_id << 8 | vid,))
                    forged += 1
        return forged
    finally:
        db.close()


def test_resume_refuses_an_older_revisions_verdicts_until_reverified(tmp_path: Path) -> None:
    run = tmp_path / "run"
    made = monkeys(*_run_args(tmp_path, run, 8))
    assert made.returncode == 0, made.stderr
    assert _recorded(run) == {"math-answer": REV}
    fresh = _verdicts(run)
    assert len(fresh) == PROBLEMS * 8
    assert all(outcome == "fail" for outcome, text in fresh.values() if text in HEDGES)
    forged = _as_an_older_monkeys_left_it(run)
    assert forged >= 1, "the scripted seeds gave no hedge on its gold: pick other responses"
    old = _verdicts(run)
    report = monkeys("report", str(run))  # a reader counts them, and says by which rules
    assert report.returncode == 0, report.stderr
    said = " ".join(report.stdout.split())
    assert f"verdicts made by revision 1 of math-answer, this monkeys has revision {REV}" in said, said

    refused = monkeys(*_run_args(tmp_path, run, 12))
    assert refused.returncode == 2, refused.stderr
    said = refused.stderr
    assert "revision 1" in said and f"revision {REV}" in said and "before monkeys recorded" in said, said
    assert "hedged" in said and f"monkeys verify {run} --reverify" in said, said
    assert _verdicts(run) == old  # nothing drawn, nothing replaced

    again = monkeys("verify", str(run), "--no-report")  # verifying on without --reverify: refused the same way
    assert again.returncode == 2 and "--reverify" in again.stderr, again.stderr

    redone = monkeys("verify", str(run), "--reverify", "--no-report")
    assert redone.returncode == 0, redone.stderr
    assert f"verified {PROBLEMS * 8} samples" in redone.stderr
    assert _verdicts(run) == fresh  # every sample by today's rules: the forged passes are gone
    assert _recorded(run) == {"math-answer": REV}
    assert "revision" not in monkeys("report", str(run)).stdout

    resumed = monkeys(*_run_args(tmp_path, run, 12))
    assert resumed.returncode == 0, resumed.stderr
    after = _verdicts(run)
    assert len(after) == PROBLEMS * 12
    assert all(outcome == "fail" for outcome, text in after.values() if text in HEDGES)


def test_a_second_verifiers_older_verdicts_name_its_own_reverify_command(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert monkeys(*_run_args(tmp_path, run, 4)).returncode == 0
    key = "math-answer[mode=minerva]"
    extra = monkeys("verify", str(run), "--verifier", "math-answer", "--verifier-option", "mode=minerva",
                    "--no-report")
    assert extra.returncode == 0, extra.stderr
    assert _recorded(run) == {"math-answer": REV, key: REV}
    db = sqlite3.connect(run / "monkeys.db")
    with db:
        db.execute("UPDATE meta SET value = ? WHERE key = ?", (json.dumps({"math-answer": REV, key: 1}), META_KEY))
    db.close()
    refused = monkeys("verify", str(run), "--verifier", "math-answer", "--verifier-option", "mode=minerva",
                      "--no-report")
    assert refused.returncode == 2
    assert (f"monkeys verify {run} --verifier math-answer --verifier-option mode=minerva --reverify"
            in refused.stderr), refused.stderr
    assert "before monkeys recorded" not in refused.stderr  # it was recorded: revision 1
    # the run's own verdicts are not touched by the other key's problem: resuming the run works
    assert monkeys(*_run_args(tmp_path, run, 5)).returncode == 0
    redone = monkeys("verify", str(run), "--verifier", "math-answer", "--verifier-option", "mode=minerva",
                     "--reverify", "--no-report")
    assert redone.returncode == 0, redone.stderr
    assert f"verified {PROBLEMS * 5} samples" in redone.stderr
    assert _recorded(run) == {"math-answer": REV, key: REV}


def test_reverify_is_for_run_directories(tmp_path: Path) -> None:
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"problem_id": "test/0", "sample_index": 0, "text": "#### 40"}) + "\n")
    refused = monkeys("verify", str(samples), "--task", "gsm8k", "--data", str(_data(tmp_path)),
                      "--out", str(tmp_path / "run"), "--reverify", "--no-report")
    assert refused.returncode == 2 and "--reverify" in refused.stderr and "samples file" in refused.stderr
    assert not (tmp_path / "run").exists()


def test_reverify_of_an_until_solved_run_lets_the_schedule_decide_again(tmp_path: Path) -> None:
    """Stops 'solved' rested on the replaced verdicts: they go with them, and a resume draws on for a
    problem its new verdicts leave unsolved."""
    from monkeys.store import connect
    from monkeys.store.revisions import drop_verdicts

    run = tmp_path / "run"
    args = _run_args(tmp_path, run, 1)[:-5] + ["--until-solved", "--max-samples", "12", "--out", str(run),
                                                "--no-report"]
    assert monkeys(*args).returncode == 0
    db = connect(run)
    try:
        stops = dict(db.execute("SELECT problem_id, reason FROM problem_stops"))
        assert "solved" in stops.values()
        deleted = drop_verdicts(db, run, "math-answer", verifier_revision("math-answer"), main=True)
        assert deleted == db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        assert "solved" not in dict(db.execute("SELECT problem_id, reason FROM problem_stops")).values()
        assert db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0] == 0
    finally:
        db.close()
    assert _recorded(run) == {"math-answer": REV}
    resumed = monkeys(*args)
    assert resumed.returncode == 0, resumed.stderr
    db = sqlite3.connect(run / "monkeys.db")
    try:
        assert dict(db.execute("SELECT problem_id, reason FROM problem_stops")) == stops  # decided again, alike
        unverified = db.execute("SELECT COUNT(*) FROM samples WHERE sample_id NOT IN"
                                " (SELECT sample_id FROM verdicts)").fetchone()[0]
        assert unverified == 0
    finally:
        db.close()
