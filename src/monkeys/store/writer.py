"""The single writer of a run store: a thread that commits queued records in small batches.

Samplers and verifiers never open the database; they hand records to `StoreWriter`, which inserts them
with `INSERT OR IGNORE` against the uniqueness keys, so a record produced twice (a redrawn batch after a
resume) is stored once. A verdict is queued after its sample, and the queue is FIFO, so the sample row
always exists when the verdict is inserted. `write_columns` is the bulk path for offline imports into a
store no run is writing to (a million samples in seconds rather than a minute through the queue).
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path
from typing import Any

from monkeys.core import Completion, Problem, Verdict
from monkeys.errors import StoreError
from monkeys.store.db import connect

_BATCH = 256
_STOP = object()


def _now() -> str:
    return datetime.now(UTC).isoformat()


def write_meta(db: sqlite3.Connection, key: str, value: Any) -> None:
    with db:
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True)))


def write_problems(db: sqlite3.Connection, problems: Iterable[Problem]) -> None:
    """Store the run's problems once; a resumed run keeps the stored ones (same ids, same order)."""
    rows = [(p.problem_id, i, json.dumps(p.prompt.to_dict()), json.dumps(p.reference))
            for i, p in enumerate(problems)]
    with db:
        db.executemany("INSERT OR IGNORE INTO problems VALUES (?, ?, ?, ?)", rows)


def write_columns(db: sqlite3.Connection, problem_ids: Sequence[str], indices: Sequence[int],
                  correct: Sequence[bool | None], *, texts: Sequence[str], prompt_tokens: Sequence[int],
                  completion_tokens: Sequence[int], models: Sequence[str], verifier: str, reason: str,
                  outcomes: Sequence[Any] | None = None) -> None:
    """Insert samples (seed 0, finish_reason "unknown") and a verdict per non-None `correct`, in one
    transaction. Sample ids are assigned here, so verdicts need no lookup; a duplicate key raises."""
    now = datetime.now(UTC).isoformat()
    db.execute("PRAGMA cache_size = -262144")  # 256 MiB: the two sample indexes stay in memory
    with db:
        first = db.execute("SELECT COALESCE(MAX(sample_id), 0) + 1 FROM samples").fetchone()[0]
        ids = range(first, first + len(problem_ids))
        db.executemany(
            "INSERT INTO samples (sample_id, problem_id, sample_index, seed, text, prompt_tokens,"
            " completion_tokens, finish_reason, latency_s, model, created_at)"
            " VALUES (?, ?, ?, 0, ?, ?, ?, 'unknown', 0.0, ?, ?)",
            zip(ids, problem_ids, indices, texts, prompt_tokens, completion_tokens, models, repeat(now)))
        outcome = [None if c is None else ("pass" if c else "fail") for c in correct]
        if outcomes is not None:  # keep timeout/error from an export of a monkeys run
            outcome = [o if o != "fail" or str(x).lower() not in ("timeout", "error") else str(x).lower()
                       for o, x in zip(outcome, outcomes, strict=True)]
        db.executemany(
            "INSERT INTO verdicts (sample_id, verifier, outcome, reason, details, cached, duration_s, created_at)"
            " VALUES (?, ?, ?, ?, '{}', 0, 0.0, ?)",
            ((sid, verifier, o, reason, now) for sid, o in zip(ids, outcome, strict=True) if o is not None))


class StoreWriter:
    """Owns one connection in its own thread; `put_*` never block on SQLite, `flush` waits for commits."""

    def __init__(self, run_dir: Path) -> None:
        self._run_dir = Path(run_dir)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="monkeys-store-writer", daemon=True)
        self._thread.start()

    def put_sample(self, problem_id: str, completion: Completion, model: str) -> None:
        c = completion
        self._put(("sample", (problem_id, c.index, c.seed, c.text, c.prompt_tokens, c.completion_tokens,
                              c.finish_reason, c.latency_s, model, _now())))

    def put_verdict(self, problem_id: str, index: int, verifier: str, verdict: Verdict) -> None:
        v = verdict
        self._put(("verdict", (verifier, v.outcome.value, v.reason, json.dumps(v.details, default=str),
                               int(bool(v.details.get("cached"))), v.duration_s, _now(), problem_id, index)))

    def put_score(self, problem_id: str, index: int, scorer: str, value: float) -> None:
        self._put(("score", (scorer, float(value), _now(), problem_id, index)))

    def flush(self) -> None:
        """Block until everything queued so far is committed; re-raise a writer failure."""
        self._queue.join()
        self._raise()

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()
        self._raise()

    def _put(self, item: tuple[str, tuple[Any, ...]]) -> None:
        self._raise()
        self._queue.put(item)

    def _raise(self) -> None:
        if self._error is not None:
            raise StoreError(f"{self._run_dir}: writing the run store failed: {self._error}") from self._error

    def _loop(self) -> None:
        db = connect(self._run_dir)
        try:
            while True:
                batch = [self._queue.get()]
                while len(batch) < _BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = any(item is _STOP for item in batch)
                try:
                    if self._error is None:
                        self._commit(db, [item for item in batch if item is not _STOP])
                except BaseException as exc:  # surfaced to producers by _raise
                    self._error = exc
                finally:
                    for _ in batch:
                        self._queue.task_done()
                if stop:
                    return
        finally:
            db.close()

    @staticmethod
    def _commit(db: sqlite3.Connection, batch: list[tuple[str, tuple[Any, ...]]]) -> None:
        with db:
            for kind, row in batch:
                if kind == "sample":
                    db.execute(
                        "INSERT OR IGNORE INTO samples (problem_id, sample_index, seed, text, prompt_tokens,"
                        " completion_tokens, finish_reason, latency_s, model, created_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
                elif kind == "verdict":
                    db.execute(
                        "INSERT OR IGNORE INTO verdicts (sample_id, verifier, outcome, reason, details, cached,"
                        " duration_s, created_at) SELECT sample_id, ?, ?, ?, ?, ?, ?, ? FROM samples"
                        " WHERE problem_id = ? AND sample_index = ?", row)
                elif kind == "score":
                    db.execute(
                        "INSERT OR IGNORE INTO scores (sample_id, scorer, value, created_at)"
                        " SELECT sample_id, ?, ?, ? FROM samples WHERE problem_id = ? AND sample_index = ?",
                        row)
