"""Schema of the run store, as an ordered list of migration functions.

A migration is appended, never edited; the names of applied ones live in `_migrations`. Each migration
and the row recording it are one transaction (`apply_migrations`): a migration runs its statements one by
one with `db.execute` (or `run_script`), never `executescript`, which commits whatever is pending first
and then runs each statement on its own, so a kill midway would leave tables no row records. Uniqueness
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


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Execute the statements of `script` one by one inside the caller's transaction (unlike
    `executescript`, which commits first)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        db.execute(statement)


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    run_script(
        db,
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


def applied_migrations(db: sqlite3.Connection) -> list[str] | None:
    """Names recorded in `_migrations`, in order; None when the table does not exist (not a store)."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='_migrations'").fetchone():
        return None
    return [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY rowid")]


def apply_migrations(db: sqlite3.Connection) -> list[str]:
    """Apply every migration not yet recorded, each with its record in one transaction (BEGIN IMMEDIATE
    ... COMMIT: a failure or a kill midway leaves the store at the previous version, and a second process
    opening the store at the same moment waits and then finds the migration done); return the names
    applied. `db` must be in autocommit or legacy implicit-transaction mode with no transaction open."""
    applied: list[str] = []
    for name, fn in MIGRATIONS:
        if name in (applied_migrations(db) or ()):
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
            if name in (applied_migrations(db) or ()):  # another process applied it while we waited
                db.execute("ROLLBACK")
                continue
            fn(db)
            if not db.in_transaction:
                raise RuntimeError(f"migration {name} committed on its own (executescript?); use run_script")
            db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, datetime.now(UTC).isoformat()))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


def schema_version() -> int:
    return len(MIGRATIONS)
