"""Read side of the run store: config, problems, samples, verdicts, and per-problem correctness arrays.

Every reader here works on a compact (m002) store through its integer-keyed tables, and on an m001 store
(which a read-only reader never upgrades) through the m001 tables; `is_compact` tells them apart.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from monkeys.core import Problem, Prompt, Sample
from monkeys.errors import StoreError
from monkeys.store.migrations import is_compact


def store_file(db: sqlite3.Connection) -> str:
    """The file `db` reads (a `StoreReader`'s store, else SQLite's main database file), for messages."""
    path = getattr(db, "path", None)
    if path is not None:
        return str(path)
    row = next((r for r in db.execute("PRAGMA database_list") if r[1] == "main"), None)
    return str(row[2]) if row and row[2] else "run store"


def _json(db: sqlite3.Connection, value: Any, where: str) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError) as exc:  # JSONDecodeError; TypeError for a BLOB or a number
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise StoreError(f"{store_file(db)}: {where} is not JSON ({shown}: {exc}); expected the JSON monkeys"
                         " writes (the store was edited or damaged)") from exc


def read_meta(db: sqlite3.Connection, key: str, default: Any = None) -> Any:
    """The JSON value stored under meta `key`, or `default`. Raises `StoreError` naming the file and key
    when the value is not JSON."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return _json(db, row[0], f"meta {key!r}") if row else default


# What each field of a stored config holds (what `config.stored_config` writes); a field that holds
# something else was edited by hand, and reading it as it is failed later as a traceback.
_STORED_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    **dict.fromkeys(("task_options", "sampler_options", "verifier_options", "scorer_options"), ((dict,), "an object")),
    "budget": ((dict, type(None)), "an object or null"),
    **dict.fromkeys(("task", "sampler", "allocate", "out"), ((str,), "a string")),
    **dict.fromkeys(("data", "problems", "model", "verifier", "pricing", "ray"),
                    ((str, type(None)), "a string or null")),
    "base_url": ((str, list, type(None)), "a string, a list or null"),
    "scorers": ((list,), "a list"),
    **dict.fromkeys(("n", "max_tokens", "seed", "batch_size", "verify_workers"), ((int,), "an integer")),
    "concurrency": ((int, type(None)), "an integer or null"),
    **dict.fromkeys(("temperature", "top_p"), ((int, float), "a number")),
    "until_solved": ((bool,), "true or false"),
}


def read_config(db: sqlite3.Connection) -> dict[str, Any]:
    """The run's stored config ({} when none). Raises `StoreError` when it is not a JSON object, or a field
    holds what monkeys never writes there (`verifier_options` a list, `n` a string)."""
    config = read_meta(db, "config") or {}
    if not isinstance(config, dict):
        raise StoreError(f"{store_file(db)}: meta 'config' is a JSON {type(config).__name__}; expected an"
                         " object of run settings (the store was edited or damaged)")
    for field, value in config.items():
        kinds, words = _STORED_TYPES.get(field, ((object,), ""))
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise StoreError(f"{store_file(db)}: meta 'config' field {field!r} is {_json_kind(value)}; expected"
                             f" {words} (the store was edited or damaged)")
    return config


def _json_kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number") + (f" {value!r}" if isinstance(value, str | int | float) else "")


def run_verifier(db: sqlite3.Connection) -> str | None:
    """The run's verifier, the one answer to "which verifier" for report, export, results and selection:
    the resolved name the pipeline records in meta 'verifier' (a config may leave it to the task's
    default), else the config's `verifier` (an import's), else the only verifier with verdicts."""
    config = read_config(db)  # read first: a damaged config is an error here as for every reader
    name = read_meta(db, "verifier") or config.get("verifier")
    if name:
        return str(name)
    found = verifiers(db)
    return found[0] if len(found) == 1 else None


def checker_id(db: sqlite3.Connection, kind: str, name: str | None) -> int:
    """The id of verifier or scorer `name` in a compact store (the low byte of its verdict or score keys);
    0, which no key carries, when it has none."""
    row = db.execute("SELECT id FROM checkers WHERE kind = ? AND name = ?", (kind, name)).fetchone()
    return int(row[0]) if row else 0


def verifiers(db: sqlite3.Connection) -> list[str]:
    """Every verifier with verdicts in the store, by name."""
    if not is_compact(db):
        return [r[0] for r in db.execute("SELECT DISTINCT verifier FROM verdicts ORDER BY verifier")]
    return [r[0] for r in db.execute(
        "SELECT name FROM checkers c WHERE kind = 'verifier' AND EXISTS"
        " (SELECT 1 FROM verdict_rows v WHERE (v.key & 255) = c.id) ORDER BY name")]


def scorers(db: sqlite3.Connection) -> list[str]:
    """Every scorer with scores in the store, by name."""
    if not is_compact(db):
        return [r[0] for r in db.execute("SELECT DISTINCT scorer FROM scores ORDER BY scorer")]
    return [r[0] for r in db.execute(
        "SELECT name FROM checkers c WHERE kind = 'scorer' AND EXISTS"
        " (SELECT 1 FROM score_rows x WHERE (x.key & 255) = c.id) ORDER BY name")]


def solved_problems(db: sqlite3.Connection, verifier: str) -> set[str]:
    """Problems with at least one passing verdict of `verifier` (a resumed run's "solved" set)."""
    if not is_compact(db):
        return {r[0] for r in db.execute(
            "SELECT DISTINCT s.problem_id FROM verdicts v JOIN samples s USING (sample_id)"
            " WHERE v.verifier = ? AND v.outcome = 'pass'", (verifier,))}
    return {r[0] for r in db.execute(
        "SELECT p.problem_id FROM problems p WHERE EXISTS (SELECT 1 FROM verdict_rows v WHERE v.key BETWEEN"
        " p.position << 40 AND (p.position << 40) + 1099511627775 AND (v.key & 255) = ? AND v.outcome = 1)",
        (checker_id(db, "verifier", verifier),))}


def read_problems(db: sqlite3.Connection) -> list[Problem]:
    rows = db.execute("SELECT problem_id, prompt, reference FROM problems ORDER BY position")
    return [Problem(pid, Prompt.from_dict(_json(db, p, f"the prompt of problem {pid!r}")),
                    _json(db, r, f"the reference of problem {pid!r}")) for pid, p, r in rows]


def sample_indices(db: sqlite3.Connection) -> dict[str, set[int]]:
    """Indices already stored, per problem: resume draws exactly the ones missing."""
    found: dict[str, set[int]] = defaultdict(set)
    if not is_compact(db):
        for pid, idx in db.execute("SELECT problem_id, sample_index FROM samples"):
            found[pid].add(idx)
        return found
    for pid, position in db.execute("SELECT problem_id, position FROM problems").fetchall():
        first = position << 32
        ids = [r[0] for r in db.execute(
            "SELECT sample_id FROM sample_rows WHERE sample_id BETWEEN ? AND ?", (first, first + 0xFFFFFFFF))]
        if ids:
            found[pid] = set((np.asarray(ids, dtype=np.int64) - first).tolist())
    return found


def _sample(row: tuple[Any, ...]) -> Sample:
    return Sample(*row)


_SAMPLE_COLS = ("s.problem_id, s.sample_index, s.seed, s.text, s.prompt_tokens, s.completion_tokens,"
                " s.finish_reason, s.latency_s")


_COMPACT_SAMPLES = (
    "SELECT p.problem_id, s.sample_id & 4294967295, s.seed, s.text, s.prompt_tokens, s.completion_tokens, f.text,"
    " s.latency_s FROM problems p JOIN sample_rows s ON s.sample_id BETWEEN p.position << 32"
    " AND (p.position << 32) + 4294967295 JOIN strings f ON f.id = s.finish")


def iter_samples(db: sqlite3.Connection) -> Iterator[Sample]:
    sql = (f"{_COMPACT_SAMPLES} ORDER BY p.problem_id, s.sample_id" if is_compact(db) else
           f"SELECT {_SAMPLE_COLS} FROM samples s ORDER BY s.problem_id, s.sample_index")
    for row in db.execute(sql):
        yield _sample(row)


def _samples_without(db: sqlite3.Connection, table: str, column: str, name: str) -> list[Sample]:
    if is_compact(db):
        kind, rows_table = ("verifier", "verdict_rows") if table == "verdicts" else ("scorer", "score_rows")
        found = db.execute(
            f"{_COMPACT_SAMPLES} WHERE NOT EXISTS (SELECT 1 FROM {rows_table} x WHERE x.key = (s.sample_id << 8) | ?)"
            " ORDER BY p.problem_id, s.sample_id", (checker_id(db, kind, name),))
        return [_sample(r) for r in found]
    rows = db.execute(
        f"SELECT {_SAMPLE_COLS} FROM samples s LEFT JOIN {table} x"
        f" ON x.sample_id = s.sample_id AND x.{column} = ? WHERE x.sample_id IS NULL"
        " ORDER BY s.problem_id, s.sample_index", (name,))
    return [_sample(r) for r in rows]


def unverified_samples(db: sqlite3.Connection, verifier: str) -> list[Sample]:
    """Samples stored without a verdict of `verifier` (a crash between sampling and verifying)."""
    return _samples_without(db, "verdicts", "verifier", verifier)


def all_samples(db: sqlite3.Connection) -> list[Sample]:
    """Every stored sample (what a `--reverify` verifies: all of them, once their old verdicts are gone)."""
    if is_compact(db):
        return [_sample(r) for r in db.execute(f"{_COMPACT_SAMPLES} ORDER BY p.problem_id, s.sample_id")]
    return [_sample(r) for r in db.execute(f"SELECT {_SAMPLE_COLS} FROM samples s"
                                           " ORDER BY s.problem_id, s.sample_index")]


def unscored_samples(db: sqlite3.Connection, scorer: str) -> list[Sample]:
    """Samples stored without a score from `scorer`."""
    return _samples_without(db, "scores", "scorer", scorer)


@dataclass(frozen=True)
class Results:
    """Per-problem correctness: `correct[i]` holds problem i's verdicts by sample index (True = pass).

    Only verified samples count: `n[i]` is the number of verdicts of problem i, `c[i]` the passes.
    """

    problem_ids: list[str]
    correct: list[np.ndarray]
    verifier: str | None

    @property
    def n(self) -> np.ndarray:
        return np.array([len(x) for x in self.correct], dtype=np.int64)

    @property
    def c(self) -> np.ndarray:
        return np.array([int(x.sum()) for x in self.correct], dtype=np.int64)


def read_results(db: sqlite3.Connection, verifier: str | None = None) -> Results:
    """Correctness arrays for every stored problem under `verifier` (default: the run's verifier, which
    the pipeline records in meta `verifier` after resolving the task's default)."""
    if verifier is None:
        verifier = run_verifier(db)
    if is_compact(db):
        vid = checker_id(db, "verifier", verifier)
        pids, correct = [], []
        for pid, position in db.execute("SELECT problem_id, position FROM problems ORDER BY position").fetchall():
            first = position << 40
            digits = db.execute(  # rowid order: by sample index
                "SELECT group_concat(outcome, '') FROM verdict_rows WHERE key BETWEEN ? AND ? AND (key & 255) = ?",
                (first, first + 0xFFFFFFFFFF, vid)).fetchone()[0] or ""
            pids.append(pid)
            correct.append(np.frombuffer(digits.encode(), dtype=np.uint8) == ord("1"))
        return Results(pids, correct, verifier)
    by_problem: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    rows = db.execute(
        "SELECT s.problem_id, s.sample_index, v.outcome FROM verdicts v JOIN samples s"
        " ON s.sample_id = v.sample_id WHERE v.verifier = ?", (verifier,))
    for pid, idx, outcome in rows:
        by_problem[pid].append((idx, outcome == "pass"))
    pids = [r[0] for r in db.execute("SELECT problem_id FROM problems ORDER BY position")]
    correct = [np.array([ok for _, ok in sorted(by_problem.get(pid, []))], dtype=bool) for pid in pids]
    return Results(pids, correct, verifier)


@dataclass(frozen=True)
class ProblemStop:
    """Why sampling of one problem stopped (`problem_stops`, migration m003)."""

    drawn: int  # samples stored when it stopped
    reason: str  # "cap", "solved" or "budget"


def problem_stops(db: sqlite3.Connection) -> dict[str, ProblemStop]:
    """{problem id: stop} for the problems whose sampling stopped; {} for a store made before m003."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'problem_stops'").fetchone():
        return {}
    return {pid: ProblemStop(int(drawn), str(reason))
            for pid, drawn, reason in db.execute("SELECT problem_id, drawn, reason FROM problem_stops")}


def verified_indices(db: sqlite3.Connection, verifier: str | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per problem, the sample indices with a verdict of `verifier` (ascending) and whether each passed: what
    an estimator that reads samples in index order needs (`analysis.early_stop`). Compact stores only
    (m003, which records early stops, comes after m002); an m001 store gives {}."""
    if not is_compact(db):
        return {}
    vid = checker_id(db, "verifier", verifier)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for pid, position in db.execute("SELECT problem_id, position FROM problems ORDER BY position").fetchall():
        first = position << 40
        rows = db.execute("SELECT key, outcome FROM verdict_rows WHERE key BETWEEN ? AND ? AND (key & 255) = ?",
                          (first, first + 0xFFFFFFFFFF, vid)).fetchall()
        keys = np.array([r[0] for r in rows], dtype=np.int64)
        out[pid] = ((keys >> 8) & 0xFFFFFFFF, np.array([r[1] == 1 for r in rows], dtype=bool))
    return out


def sample_tokens(db: sqlite3.Connection) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every stored sample's (prompt tokens, completion tokens, prompt_shared): what a resumed run has spent
    of its budget (`schedule.Meter.cost`)."""
    if is_compact(db):
        rows = db.execute("SELECT prompt_tokens, completion_tokens, prompt_shared FROM sample_rows").fetchall()
    else:
        rows = db.execute("SELECT prompt_tokens, completion_tokens, 1 FROM samples").fetchall()
    table = np.array(rows, dtype=np.int64).reshape(-1, 3)
    return table[:, 0], table[:, 1], table[:, 2]
