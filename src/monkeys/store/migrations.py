"""Schema of the run store, as an ordered list of migration functions.

A migration is appended, never edited; the names of applied ones live in `_migrations`. Uniqueness
constraints carry the invariants: a sample is keyed by (problem, index), a verdict by (sample, verifier),
a score by (sample, scorer), so a duplicate is impossible rather than unlikely.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,          -- 'config', 'created_at', 'monkeys_version', 'protections', ...
            value TEXT NOT NULL            -- JSON
        );
        CREATE TABLE problems (
            problem_id TEXT PRIMARY KEY,
            position INTEGER NOT NULL UNIQUE,  -- order in the task's dataset slice
            prompt TEXT NOT NULL,              -- JSON of core.Prompt
            reference TEXT NOT NULL            -- JSON: the verifier's private data
        );
        CREATE TABLE samples (
            sample_id INTEGER PRIMARY KEY,
            problem_id TEXT NOT NULL REFERENCES problems(problem_id),
            sample_index INTEGER NOT NULL,
            seed INTEGER NOT NULL,
            text TEXT NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            finish_reason TEXT NOT NULL,
            latency_s REAL NOT NULL,
            model TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (problem_id, sample_index)
        );
        CREATE TABLE verdicts (
            sample_id INTEGER NOT NULL REFERENCES samples(sample_id),
            verifier TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('pass', 'fail', 'timeout', 'error')),
            reason TEXT NOT NULL,
            details TEXT NOT NULL,         -- JSON
            cached INTEGER NOT NULL DEFAULT 0,
            duration_s REAL NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (sample_id, verifier)
        );
        CREATE TABLE scores (
            sample_id INTEGER NOT NULL REFERENCES samples(sample_id),
            scorer TEXT NOT NULL,
            value REAL NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (sample_id, scorer)
        );
        CREATE INDEX samples_by_problem ON samples(problem_id, sample_index);
        """
    )


def apply_migrations(db: sqlite3.Connection) -> list[str]:
    """Apply every migration not yet recorded, each in its own transaction; return the names applied."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    applied = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        with db:
            fn(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, datetime.now(UTC).isoformat()))
        applied.append(name)
    return applied


def schema_version() -> int:
    return len(MIGRATIONS)
