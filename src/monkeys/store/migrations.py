"""Schema of the run store, as an ordered list of migration functions.

A migration is appended, never edited; the names of applied ones live in `_migrations`. Each migration
and the row recording it are one transaction (`apply_migrations`): a migration runs its statements one by
one with `db.execute` (or `run_script`), never `executescript`, which commits whatever is pending first
and then runs each statement on its own, so a kill midway would leave tables no row records. Uniqueness
constraints carry the invariants: a sample is keyed by (problem, index), a verdict by (sample, verifier),
a score by (sample, scorer), so a duplicate is impossible rather than unlikely.

Since m002 the keys are integers that encode those pairs (issue 12: paper-scale runs are millions of rows):
a sample's key is `problem position << 32 | sample_index`, a verdict's and a score's `sample key << 8 |
checker id`, each the table's rowid, so a key is unique by construction and no second index is needed.
Strings that repeat (verifier, scorer, model, finish-reason and reason texts) are stored once and referred
to by id. The m001 tables' names and columns live on as views (`samples`, `verdicts`, `scores`, with
INSTEAD OF triggers for writes), so SQL written against m001 keeps working; the writer and the hot readers
use the compact tables.
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


SAMPLE_SHIFT = 32  # sample key = problem position << 32 | sample_index
MAX_INDEX = 1 << SAMPLE_SHIFT  # sample indices are below 2**32
CHECKER_BITS = 8  # verdict / score key = sample key << 8 | checker id (verifier or scorer), 1..255
OUTCOMES = ("fail", "pass", "timeout", "error")  # outcome codes 0..3

_OUTCOME_TEXT = "CASE {x} WHEN 0 THEN 'fail' WHEN 1 THEN 'pass' WHEN 2 THEN 'timeout' WHEN 3 THEN 'error' END"
_OUTCOME_CODE = "CASE {x} WHEN 'fail' THEN 0 WHEN 'pass' THEN 1 WHEN 'timeout' THEN 2 WHEN 'error' THEN 3 END"

COMPACT_TABLES = """
CREATE TABLE strings (            -- interned texts: models, finish reasons, verdict reasons
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL UNIQUE
);
CREATE TABLE checkers (           -- verifiers and scorers: their id is the low byte of verdict / score keys
    id INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 255),
    kind TEXT NOT NULL CHECK (kind IN ('verifier', 'scorer')),
    name TEXT NOT NULL,
    UNIQUE (kind, name)
);
CREATE TABLE sample_rows (
    sample_id INTEGER PRIMARY KEY,         -- problems.position << 32 | sample_index
    seed INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,        -- the full prompt
    completion_tokens INTEGER NOT NULL,
    prompt_shared INTEGER NOT NULL DEFAULT 1,  -- samples of one request that shared (processed once) the prompt
    finish INTEGER NOT NULL,               -- strings.id
    model INTEGER NOT NULL,                -- strings.id
    latency_s REAL NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE verdict_rows (
    key INTEGER PRIMARY KEY,               -- sample_id << 8 | checkers.id of the verifier
    outcome INTEGER NOT NULL CHECK (outcome BETWEEN 0 AND 3),  -- fail, pass, timeout, error
    reason INTEGER NOT NULL,               -- strings.id
    duration_s REAL NOT NULL DEFAULT 0,
    details TEXT                           -- JSON object; NULL when empty
);
CREATE TABLE score_rows (
    key INTEGER PRIMARY KEY,               -- sample_id << 8 | checkers.id of the scorer
    value REAL NOT NULL
);
CREATE TABLE row_times (                   -- timestamps of the rows an m001 store held (none are kept since):
    kind TEXT NOT NULL,                    -- 'sample', 'verdict', 'score'
    first_key INTEGER NOT NULL,            -- the rows of `kind` with keys first_key..last_key at the upgrade
    last_key INTEGER NOT NULL,             -- were all written at `created_at` (runs of equal times: an
    created_at TEXT NOT NULL,              -- import's million rows share a few dozen)
    PRIMARY KEY (kind, first_key)
) WITHOUT ROWID;
"""

COMPAT_VIEWS = f"""
CREATE VIEW samples (sample_id, problem_id, sample_index, seed, text, prompt_tokens, completion_tokens,
                     finish_reason, latency_s, model, created_at, prompt_shared) AS
SELECT s.sample_id, p.problem_id, s.sample_id & 4294967295, s.seed, s.text, s.prompt_tokens, s.completion_tokens,
       f.text, s.latency_s, m.text, NULL, s.prompt_shared
FROM problems p JOIN sample_rows s
    ON p.position = s.sample_id >> 32
    AND s.sample_id BETWEEN p.position << 32 AND (p.position << 32) + 4294967295
JOIN strings f ON f.id = s.finish JOIN strings m ON m.id = s.model;

CREATE VIEW verdicts (sample_id, verifier, outcome, reason, details, cached, duration_s, created_at) AS
SELECT v.key >> 8, c.name, {_OUTCOME_TEXT.format(x="v.outcome")}, r.text, COALESCE(v.details, '{{}}'),
       CASE WHEN json_extract(v.details, '$.cached') THEN 1 ELSE 0 END, v.duration_s, NULL
FROM verdict_rows v JOIN checkers c ON c.id = v.key & 255 JOIN strings r ON r.id = v.reason;

CREATE VIEW scores (sample_id, scorer, value, created_at) AS
SELECT x.key >> 8, c.name, x.value, NULL FROM score_rows x JOIN checkers c ON c.id = x.key & 255;

CREATE TRIGGER samples_insert INSTEAD OF INSERT ON samples BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: no such problem')
        WHERE NOT EXISTS (SELECT 1 FROM problems WHERE problem_id = NEW.problem_id);
    SELECT RAISE(ABORT, 'CHECK constraint failed: sample_index must be in [0, 2**32)')
        WHERE NEW.sample_index IS NULL OR NEW.sample_index NOT BETWEEN 0 AND 4294967295;
    INSERT OR IGNORE INTO strings (text) VALUES (NEW.finish_reason), (NEW.model);
    INSERT INTO sample_rows (sample_id, seed, prompt_tokens, completion_tokens, prompt_shared, finish, model,
                             latency_s, text)
    SELECT (p.position << 32) | NEW.sample_index, NEW.seed, NEW.prompt_tokens, NEW.completion_tokens,
           COALESCE(NEW.prompt_shared, 1), (SELECT id FROM strings WHERE text = NEW.finish_reason),
           (SELECT id FROM strings WHERE text = NEW.model), NEW.latency_s, NEW.text
    FROM problems p WHERE p.problem_id = NEW.problem_id;
END;

CREATE TRIGGER samples_update INSTEAD OF UPDATE ON samples BEGIN
    SELECT RAISE(ABORT, 'a sample''s problem_id and sample_index are its key; they cannot change')
        WHERE NEW.problem_id IS NOT OLD.problem_id OR NEW.sample_index IS NOT OLD.sample_index
        OR NEW.sample_id IS NOT OLD.sample_id;
    INSERT OR IGNORE INTO strings (text) VALUES (NEW.finish_reason), (NEW.model);
    UPDATE sample_rows SET seed = NEW.seed, text = NEW.text, prompt_tokens = NEW.prompt_tokens,
        completion_tokens = NEW.completion_tokens, prompt_shared = NEW.prompt_shared, latency_s = NEW.latency_s,
        finish = (SELECT id FROM strings WHERE text = NEW.finish_reason),
        model = (SELECT id FROM strings WHERE text = NEW.model)
    WHERE sample_id = OLD.sample_id;
END;

CREATE TRIGGER samples_delete INSTEAD OF DELETE ON samples BEGIN
    DELETE FROM verdict_rows WHERE key BETWEEN OLD.sample_id << 8 AND (OLD.sample_id << 8) + 255;
    DELETE FROM score_rows WHERE key BETWEEN OLD.sample_id << 8 AND (OLD.sample_id << 8) + 255;
    DELETE FROM sample_rows WHERE sample_id = OLD.sample_id;
END;

CREATE TRIGGER verdicts_insert INSTEAD OF INSERT ON verdicts BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: no such sample')
        WHERE NOT EXISTS (SELECT 1 FROM sample_rows WHERE sample_id = NEW.sample_id);
    INSERT OR IGNORE INTO checkers (kind, name) VALUES ('verifier', NEW.verifier);
    INSERT OR IGNORE INTO strings (text) VALUES (NEW.reason);
    INSERT INTO verdict_rows (key, outcome, reason, duration_s, details)
    VALUES ((NEW.sample_id << 8) | (SELECT id FROM checkers WHERE kind = 'verifier' AND name = NEW.verifier),
            {_OUTCOME_CODE.format(x="NEW.outcome")}, (SELECT id FROM strings WHERE text = NEW.reason),
            COALESCE(NEW.duration_s, 0), NULLIF(NEW.details, '{{}}'));
END;

CREATE TRIGGER verdicts_update INSTEAD OF UPDATE ON verdicts BEGIN
    SELECT RAISE(ABORT, 'a verdict''s sample_id and verifier are its key; they cannot change')
        WHERE NEW.sample_id IS NOT OLD.sample_id OR NEW.verifier IS NOT OLD.verifier;
    INSERT OR IGNORE INTO strings (text) VALUES (NEW.reason);
    UPDATE verdict_rows SET outcome = {_OUTCOME_CODE.format(x="NEW.outcome")},
        reason = (SELECT id FROM strings WHERE text = NEW.reason), duration_s = NEW.duration_s,
        details = NULLIF(NEW.details, '{{}}')
    WHERE key = (OLD.sample_id << 8) | (SELECT id FROM checkers WHERE kind = 'verifier' AND name = OLD.verifier);
END;

CREATE TRIGGER verdicts_delete INSTEAD OF DELETE ON verdicts BEGIN
    DELETE FROM verdict_rows
    WHERE key = (OLD.sample_id << 8) | (SELECT id FROM checkers WHERE kind = 'verifier' AND name = OLD.verifier);
END;

CREATE TRIGGER scores_insert INSTEAD OF INSERT ON scores BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: no such sample')
        WHERE NOT EXISTS (SELECT 1 FROM sample_rows WHERE sample_id = NEW.sample_id);
    INSERT OR IGNORE INTO checkers (kind, name) VALUES ('scorer', NEW.scorer);
    INSERT INTO score_rows (key, value)
    VALUES ((NEW.sample_id << 8) | (SELECT id FROM checkers WHERE kind = 'scorer' AND name = NEW.scorer), NEW.value);
END;

CREATE TRIGGER scores_update INSTEAD OF UPDATE ON scores BEGIN
    SELECT RAISE(ABORT, 'a score''s sample_id and scorer are its key; they cannot change')
        WHERE NEW.sample_id IS NOT OLD.sample_id OR NEW.scorer IS NOT OLD.scorer;
    UPDATE score_rows SET value = NEW.value
    WHERE key = (OLD.sample_id << 8) | (SELECT id FROM checkers WHERE kind = 'scorer' AND name = OLD.scorer);
END;

CREATE TRIGGER scores_delete INSTEAD OF DELETE ON scores BEGIN
    DELETE FROM score_rows
    WHERE key = (OLD.sample_id << 8) | (SELECT id FROM checkers WHERE kind = 'scorer' AND name = OLD.scorer);
END;
"""


@migration
def m002_compact(db: sqlite3.Connection) -> None:
    """Move the m001 tables into the compact ones (one transaction with its record: a kill midway leaves
    the m001 store as it was), keeping every value; per-row timestamps move to `row_times`."""
    from monkeys.errors import StoreError

    big = db.execute("SELECT problem_id, sample_index FROM samples"
                     " WHERE sample_index NOT BETWEEN 0 AND 4294967295 LIMIT 1").fetchone()
    if big is not None:
        raise StoreError(f"sample {big[0]!r} #{big[1]}: sample indices must be below 2**32 to upgrade the store"
                         " (keep using the monkeys that made it, or export and re-import it)")
    run_script(db, COMPACT_TABLES)
    db.execute("INSERT OR IGNORE INTO strings (text) SELECT DISTINCT model FROM samples")
    db.execute("INSERT OR IGNORE INTO strings (text) SELECT DISTINCT finish_reason FROM samples")
    db.execute("INSERT OR IGNORE INTO strings (text) SELECT DISTINCT reason FROM verdicts")
    names = [("verifier", r[0]) for r in db.execute("SELECT DISTINCT verifier FROM verdicts ORDER BY 1")]
    names += [("scorer", r[0]) for r in db.execute("SELECT DISTINCT scorer FROM scores ORDER BY 1")]
    if len(names) > 255:
        raise StoreError(f"{len(names)} verifiers and scorers; a store keeps at most 255")
    db.executemany("INSERT INTO checkers (kind, name) VALUES (?, ?)", names)
    db.execute("CREATE TEMP TABLE _m002_ids (old INTEGER PRIMARY KEY, new INTEGER NOT NULL)")
    db.execute("INSERT INTO _m002_ids SELECT s.sample_id, (p.position << 32) | s.sample_index"
               " FROM samples s JOIN problems p ON p.problem_id = s.problem_id")
    db.execute(
        "INSERT INTO sample_rows (sample_id, seed, prompt_tokens, completion_tokens, prompt_shared, finish, model,"
        " latency_s, text) SELECT i.new, s.seed, s.prompt_tokens, s.completion_tokens, 1, f.id, m.id,"
        " s.latency_s, s.text FROM samples s JOIN _m002_ids i ON i.old = s.sample_id"
        " JOIN strings f ON f.text = s.finish_reason JOIN strings m ON m.text = s.model ORDER BY i.new")
    db.execute(
        "INSERT INTO verdict_rows (key, outcome, reason, duration_s, details)"
        f" SELECT (i.new << 8) | c.id, {_OUTCOME_CODE.format(x='v.outcome')}, r.id, v.duration_s,"
        " NULLIF(NULLIF(v.details, '{}'), '') FROM verdicts v JOIN _m002_ids i ON i.old = v.sample_id"
        " JOIN checkers c ON c.kind = 'verifier' AND c.name = v.verifier JOIN strings r ON r.text = v.reason"
        " ORDER BY 1")
    db.execute(
        "INSERT INTO score_rows (key, value) SELECT (i.new << 8) | c.id, x.value FROM scores x"
        " JOIN _m002_ids i ON i.old = x.sample_id JOIN checkers c ON c.kind = 'scorer' AND c.name = x.scorer"
        " ORDER BY 1")
    for kind, sql in (
            ("sample", "SELECT i.new AS k, s.created_at AS t FROM samples s JOIN _m002_ids i ON i.old = s.sample_id"),
            ("verdict", "SELECT (i.new << 8) | c.id AS k, v.created_at AS t FROM verdicts v"
                        " JOIN _m002_ids i ON i.old = v.sample_id"
                        " JOIN checkers c ON c.kind = 'verifier' AND c.name = v.verifier"),
            ("score", "SELECT (i.new << 8) | c.id AS k, x.created_at AS t FROM scores x"
                      " JOIN _m002_ids i ON i.old = x.sample_id"
                      " JOIN checkers c ON c.kind = 'scorer' AND c.name = x.scorer")):
        db.execute(  # runs of equal timestamps in key order, one row each
            f"INSERT INTO row_times SELECT ?, MIN(k), MAX(k), t FROM (SELECT k, t, SUM(change) OVER (ORDER BY k) AS run"
            f" FROM (SELECT k, t, t IS NOT LAG(t) OVER (ORDER BY k) AS change FROM ({sql}))) GROUP BY run", (kind,))
    for old, new in (("samples", "sample_rows"), ("verdicts", "verdict_rows"), ("scores", "score_rows")):
        before = db.execute(f"SELECT count(*) FROM {old}").fetchone()[0]
        after = db.execute(f"SELECT count(*) FROM {new}").fetchone()[0]
        if before != after:  # a row the joins dropped (an orphan verdict): refuse rather than lose it
            raise StoreError(f"upgrading the store would keep {after} of {before} rows of {old!r}; the store"
                             " holds rows without their sample or problem (edited or damaged)")
    db.execute("DROP TABLE _m002_ids")
    db.execute("DROP INDEX IF EXISTS samples_by_problem")
    for table in ("scores", "verdicts", "samples"):
        db.execute(f"DROP TABLE {table}")
    run_script(db, COMPAT_VIEWS)


STOP_REASONS = ("cap", "solved", "budget")


@migration
def m003_problem_stops(db: sqlite3.Connection) -> None:
    """Per problem, how many samples were drawn and why sampling stopped (issue 14: `--until-solved`, budgets):
    the report needs it to pick an estimator that is unbiased under the run's stopping rule. A new table only:
    nothing existing is touched, and a store without it (made before) reads as "no early stop"."""
    run_script(
        db,
        """
        CREATE TABLE problem_stops (
            problem_id TEXT PRIMARY KEY REFERENCES problems(problem_id),
            drawn INTEGER NOT NULL CHECK (drawn >= 0),  -- samples stored for the problem when it stopped
            reason TEXT NOT NULL CHECK (reason IN ('cap', 'solved', 'budget')),
            at TEXT NOT NULL                            -- ISO time of the stop (rewritten when a resume goes on)
        );
        """,
    )


def is_compact(db: sqlite3.Connection) -> bool:
    """Whether the store has the m002 tables (a reader may meet an m001 store: it reads the old tables)."""
    found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sample_rows'").fetchone()
    return found is not None


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
