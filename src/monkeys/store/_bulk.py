"""Bulk inserts for offline imports: the rows `StoreWriter` writes, by column, without its thread and queue.

Only for a store no run is writing to (`importer` checks the run dir holds no samples). A million samples
take seconds here and about a minute one record at a time through the queue. Candidate to move into
`writer.py` as a `write_columns` beside `write_problems`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import repeat
from typing import Any


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
