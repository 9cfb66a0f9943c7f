"""The compact schema (m002): an m001 store migrates with every value intact, readers read both layouts,
the m001 names (`samples`, `verdicts`, `scores`) still answer SQL, and keys keep the invariants."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from monkeys.core import Completion, Outcome, Problem, Prompt, Verdict
from monkeys.errors import StoreError
from monkeys.report.data import load_run
from monkeys.store import (
    StoreWriter,
    connect,
    iter_samples,
    open_readonly,
    read_results,
    sample_indices,
    solved_problems,
    unscored_samples,
    unverified_samples,
    write_meta,
    write_problems,
)
from monkeys.store.export import export_run
from monkeys.store.migrations import MIGRATIONS, m001_initial

SAMPLES = ("SELECT problem_id, sample_index, seed, text, prompt_tokens, completion_tokens, finish_reason, latency_s,"
           " model FROM samples ORDER BY problem_id, sample_index")
VERDICTS = ("SELECT s.problem_id, s.sample_index, v.verifier, v.outcome, v.reason, v.details, v.cached, v.duration_s"
            " FROM verdicts v JOIN samples s USING (sample_id) ORDER BY 1, 2, 3")
SCORES = ("SELECT s.problem_id, s.sample_index, c.scorer, c.value FROM scores c JOIN samples s USING (sample_id)"
          " ORDER BY 1, 2, 3")


def _m001_store(run: Path) -> Path:
    """A store as monkeys made it before m002: the m001 schema, rows written with m001's SQL."""
    run.mkdir()
    db = sqlite3.connect(run / "monkeys.db", isolation_level=None)
    db.execute("BEGIN")
    m001_initial(db)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    db.execute("INSERT INTO _migrations VALUES ('m001_initial', '2026-01-01')")
    db.execute("INSERT INTO meta VALUES ('config', ?)", (json.dumps({"task": "gsm8k", "verifier": None}),))
    db.execute("INSERT INTO meta VALUES ('verifier', '\"math\"')")
    for pos, pid in enumerate(["b", "a", "c"]):  # positions differ from id order
        db.execute("INSERT INTO problems VALUES (?, ?, ?, ?)", (pid, pos, json.dumps(Prompt(f"q {pid}").to_dict()),
                                                              json.dumps({"answer": "4"})))
    sid = 0
    for pid in ("b", "a"):
        for i in (3, 0, 1):
            sid += 1
            db.execute("INSERT INTO samples VALUES (?, ?, ?, ?, ?, 12, ?, ?, 0.25, 'llama', ?)",
                       (sid * 7, pid, i, 100 + i, f"{pid} says {i}", i + 1, "stop" if i else "length",
                        f"2026-01-01T00:00:0{i}"))
            outcome = ["pass", "fail", "timeout", "error"][(sid + i) % 4]
            details = json.dumps({"answer": str(i), "answer_key": str(i), "cached": i == 1}) if i != 3 else "{}"
            db.execute("INSERT INTO verdicts VALUES (?, 'math', ?, ?, ?, ?, 0.5, 'T')",
                       (sid * 7, outcome, f"reason {i % 2}", details, int(i == 1)))
            if i == 0:
                db.execute("INSERT INTO verdicts VALUES (?, 'minerva', 'pass', 'same', '{}', 0, 0.0, 'T')", (sid * 7,))
            db.execute("INSERT INTO scores VALUES (?, 'logprob', ?, 'T')", (sid * 7, -0.5 * i))
    db.execute("COMMIT")
    db.close()
    return run


def _everything(db: sqlite3.Connection) -> dict[str, list]:
    return {name: db.execute(sql).fetchall() for name, sql in (("samples", SAMPLES), ("verdicts", VERDICTS),
                                                               ("scores", SCORES))}


def test_an_m001_store_migrates_with_every_value_intact(tmp_path: Path) -> None:
    run = _m001_store(tmp_path / "old")
    old = sqlite3.connect(run / "monkeys.db")
    before = _everything(old)
    times = sorted(old.execute("SELECT created_at FROM samples").fetchall())
    old.close()
    assert len(before["verdicts"]) == 8 and len(before["scores"]) == 6
    db = connect(run)  # a writer upgrades
    assert [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")] == [n for n, _ in MIGRATIONS]
    assert _everything(db) == before
    kept = db.execute("SELECT first_key, last_key, created_at FROM row_times WHERE kind = 'sample'").fetchall()
    keys = [r[0] for r in db.execute("SELECT sample_id FROM sample_rows ORDER BY 1")]
    assert sorted(next(t for first, last, t in kept if first <= k <= last) for k in keys) == [t for (t,) in times]
    assert db.execute("SELECT count(*) FROM row_times WHERE kind = 'verdict'").fetchone() == (1,)  # one run of 'T'

    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"samples", "verdicts", "scores"}.isdisjoint(tables)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    res = read_results(db)
    assert res.verifier == "math" and res.problem_ids == ["b", "a", "c"]
    assert [x.tolist() for x in res.correct] == [
        [o == "pass" for *_, o, _r, _d, _c, _t in sorted(r for r in before["verdicts"] if r[0] == p and r[2] == "math")]
        for p in ("b", "a")] + [[]]


def test_readers_read_an_m001_store_without_upgrading_it(tmp_path: Path) -> None:
    run = _m001_store(tmp_path / "old")
    old_data = load_run(run)
    export_run(run, tmp_path / "old.jsonl")
    raw = (run / "monkeys.db").read_bytes()
    migrated = tmp_path / "new"
    migrated.mkdir()
    (migrated / "monkeys.db").write_bytes(raw)
    connect(migrated).close()
    new_data = load_run(migrated)
    export_run(migrated, tmp_path / "new.jsonl")
    assert (run / "monkeys.db").read_bytes() == raw  # never written
    for field in ("problem_ids", "verifier", "verifiers", "model", "tokens", "timeouts", "timeout_limits"):
        assert getattr(old_data, field) == getattr(new_data, field), field
    assert old_data.n.tolist() == new_data.n.tolist() and old_data.c.tolist() == new_data.c.tolist()
    assert (tmp_path / "old.jsonl").read_text() == (tmp_path / "new.jsonl").read_text()
    ro = open_readonly(run)
    try:
        assert [s.text for s in iter_samples(ro)] == [s.text for s in iter_samples(connect(migrated))]
        assert solved_problems(ro, "math") == solved_problems(connect(migrated), "math")
    finally:
        ro.close()


def test_an_index_beyond_the_key_refuses_the_upgrade_and_leaves_the_store(tmp_path: Path) -> None:
    run = _m001_store(tmp_path / "old")
    db = sqlite3.connect(run / "monkeys.db")
    with db:
        db.execute("UPDATE samples SET sample_index = 4294967296 WHERE sample_id = 7")
    db.close()
    raw_tables = sorted(sqlite3.connect(run / "monkeys.db").execute("SELECT name FROM sqlite_master").fetchall())
    with pytest.raises(StoreError, match="below 2\\*\\*32"):
        connect(run)
    db = sqlite3.connect(run / "monkeys.db")
    assert sorted(db.execute("SELECT name FROM sqlite_master").fetchall()) == raw_tables
    assert db.execute("SELECT count(*) FROM samples").fetchone()[0] == 6


def test_keys_keep_the_invariants_and_the_old_names_take_writes(tmp_path: Path) -> None:
    run = tmp_path / "run"
    db = connect(run, create=True)
    write_problems(db, [Problem("p", Prompt("q")), Problem("q", Prompt("q"))])
    w = StoreWriter(run)
    for i in (2, 0, 1):
        w.put_sample("q", Completion(i, i, f"t{i}", 4, 2, "stop", 0.1), "m")
        w.put_sample("q", Completion(i, 9, "again", 4, 2, "stop", 0.1), "m")  # the same key: stored once
    w.put_verdict("q", 0, "v", Verdict(Outcome.PASS, "ok", {"answer_key": "1"}))
    w.put_verdict("q", 0, "v", Verdict(Outcome.FAIL, "dup"))
    w.put_verdict("q", 1, "v", Verdict(Outcome.TIMEOUT, "slow", {"time_limit": "cpu"}))
    w.put_verdict("q", 7, "v", Verdict(Outcome.PASS, "no such sample"))  # nothing to attach it to
    w.put_score("q", 2, "s", 1.5)
    w.close()
    assert sample_indices(db) == {"q": {0, 1, 2}}
    assert [s.index for s in unverified_samples(db, "v")] == [2]
    assert [s.index for s in unverified_samples(db, "never")] == [0, 1, 2]
    assert [s.index for s in unscored_samples(db, "s")] == [0, 1]
    assert db.execute("SELECT text FROM samples WHERE sample_index = 0").fetchone() == ("t0",)
    assert db.execute("SELECT outcome, reason, details, cached FROM verdicts ORDER BY sample_id").fetchall() == [
        ("pass", "ok", '{"answer_key": "1"}', 0), ("timeout", "slow", '{"time_limit": "cpu"}', 0)]
    assert db.execute("SELECT details FROM verdict_rows WHERE outcome = 1").fetchone() == ('{"answer_key": "1"}',)
    with db:  # the m001 names take writes: delete, update, insert
        db.execute("DELETE FROM verdicts WHERE sample_id IN (SELECT sample_id FROM samples WHERE sample_index = 1)")
        db.execute("UPDATE samples SET text = 'edited' WHERE sample_index = 2")
        db.execute("INSERT INTO verdicts (sample_id, verifier, outcome, reason, details, cached, duration_s,"
                   " created_at) SELECT sample_id, 'w', 'error', 'x', '{}', 0, 0.0, '' FROM samples"
                   " WHERE sample_index = 2")
    assert [s.index for s in unverified_samples(db, "v")] == [1, 2]
    assert db.execute("SELECT text FROM sample_rows WHERE sample_id = (1 << 32) | 2").fetchone() == ("edited",)
    assert db.execute("SELECT outcome, details FROM verdicts WHERE verifier = 'w'").fetchone() == ("error", "{}")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO samples (problem_id, sample_index, seed, text, prompt_tokens, completion_tokens,"
                   " finish_reason, latency_s, model, created_at) VALUES ('q', 0, 1, '', 0, 0, '', 0, '', '')")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO samples (problem_id, sample_index, seed, text, prompt_tokens, completion_tokens,"
                   " finish_reason, latency_s, model, created_at) VALUES ('nope', 0, 1, '', 0, 0, '', 0, '', '')")
    db.rollback()


def test_prompt_shared_is_stored_and_prices_the_prompt_once(tmp_path: Path) -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Shared(Completion):
        prompt_shared: int = 1

    run = tmp_path / "run"
    db = connect(run, create=True)
    write_problems(db, [Problem("p", Prompt("q"))])
    write_meta(db, "verifier", "v")
    w = StoreWriter(run)
    p, c = 100, 10
    for i in range(4):
        w.put_sample("p", Shared(i, i, "x", p, c, "stop", 0.0, prompt_shared=4), "m")
    w.close()
    assert db.execute("SELECT prompt_shared FROM samples").fetchall() == [(4,)] * 4
    tokens = load_run(run).tokens
    assert tokens.samples == 4 and tokens.prompt == pytest.approx(p / 4) and tokens.completion == c
    expected = (p + c) * (p + c - 1) - p * (p - 1) * (1 - 1 / 4)
    assert tokens.t_quadratic == pytest.approx(expected)
    from monkeys.analysis.cost import TokenStats

    assert tokens == pytest.approx(TokenStats.from_arrays(np.full(4, p), np.full(4, c), np.full(4, 4)))


def test_an_upgraded_store_gives_back_the_pages_it_freed(tmp_path: Path) -> None:
    run = _m001_store(tmp_path / "old")
    db = sqlite3.connect(run / "monkeys.db")
    with db:
        db.executemany("INSERT INTO samples VALUES (?, 'c', ?, 0, '', 0, 0, 'stop', 0, 'llama', ?)",
                       ((1000 + i, i, f"2026-01-01T00:00:{i % 60:02d}.{i:06d}") for i in range(20_000)))
        db.execute("INSERT INTO verdicts SELECT sample_id, 'math', 'fail', 'wrong', '{}', 0, 0.0, created_at"
                   " FROM samples WHERE problem_id = 'c'")
    db.close()
    before = (run / "monkeys.db").stat().st_size
    db = connect(run)
    assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 20_008
    db.close()
    assert (run / "monkeys.db").stat().st_size < before
