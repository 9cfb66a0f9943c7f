import sqlite3
from pathlib import Path

import pytest

from monkeys.core import Completion, Outcome, Problem, Prompt, Verdict
from monkeys.errors import StoreError
from monkeys.store import (
    StoreWriter,
    connect,
    read_problems,
    read_results,
    sample_indices,
    unverified_samples,
    write_problems,
)
from monkeys.store.migrations import MIGRATIONS


def _completion(i: int) -> Completion:
    return Completion(i, 100 + i, f"text {i}", 5, 3, "stop", 0.1)


def test_connect_makes_a_wal_store_with_the_full_schema(run_dir: Path):
    db = connect(run_dir, create=True)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    applied = [r[0] for r in db.execute("SELECT name FROM _migrations")]
    assert applied == [name for name, _ in MIGRATIONS]
    cols = [r[1] for r in db.execute("PRAGMA table_info(samples)")]
    assert cols[:4] == ["sample_id", "problem_id", "sample_index", "seed"]


def test_missing_store_is_a_clear_error(tmp_path: Path):
    with pytest.raises(StoreError, match="no run store here"):
        connect(tmp_path / "nope")
    assert not (tmp_path / "nope").exists()


def test_newer_schema_is_refused(run_dir: Path):
    db = connect(run_dir, create=True)
    with db:
        db.execute("INSERT INTO _migrations VALUES ('m999_future', 'x')")
    db.close()
    with pytest.raises(StoreError, match="newer monkeys"):
        connect(run_dir)


def test_writer_is_idempotent_and_keys_verdicts_by_sample(run_dir: Path):
    db = connect(run_dir, create=True)
    write_problems(db, [Problem("p1", Prompt("q1")), Problem("p2", Prompt("q2"))])
    write_problems(db, [Problem("p1", Prompt("changed"))])  # resume: stored problems win
    writer = StoreWriter(run_dir)
    for _ in range(2):  # a redrawn batch stores each sample once
        for i in range(3):
            writer.put_sample("p1", _completion(i), "m")
    writer.put_verdict("p1", 0, "v", Verdict(Outcome.PASS, "passed"))
    writer.put_verdict("p1", 0, "v", Verdict(Outcome.FAIL, "dup"))
    writer.put_verdict("p1", 1, "v", Verdict(Outcome.FAIL, "wrong", {"cached": True}))
    writer.put_score("p1", 1, "logprob", -0.5)
    writer.close()
    assert db.execute("SELECT count(*) FROM samples").fetchone()[0] == 3
    assert db.execute("SELECT outcome, cached FROM verdicts ORDER BY sample_id").fetchall() == [("pass", 0),
                                                                                              ("fail", 1)]
    assert read_problems(db)[0].prompt.text == "q1"
    assert sample_indices(db)["p1"] == {0, 1, 2}
    assert [s.index for s in unverified_samples(db, "v")] == [2]
    res = read_results(db, "v")
    assert res.problem_ids == ["p1", "p2"] and list(res.n) == [2, 0] and list(res.c) == [1, 0]
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO samples (problem_id, sample_index, seed, text, prompt_tokens, completion_tokens,"
                   " finish_reason, latency_s, model, created_at) VALUES ('p1', 0, 1, '', 0, 0, '', 0, '', '')")
