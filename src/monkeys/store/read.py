"""Read side of the run store: config, problems, samples, verdicts, and per-problem correctness arrays."""

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


def read_config(db: sqlite3.Connection) -> dict[str, Any]:
    """The run's stored config ({} when none). Raises `StoreError` when it is not a JSON object."""
    config = read_meta(db, "config") or {}
    if not isinstance(config, dict):
        raise StoreError(f"{store_file(db)}: meta 'config' is a JSON {type(config).__name__}; expected an"
                         " object of run settings (the store was edited or damaged)")
    return config


def run_verifier(db: sqlite3.Connection) -> str | None:
    """The run's verifier, the one answer to "which verifier" for report, export, results and selection:
    the resolved name the pipeline records in meta 'verifier' (a config may leave it to the task's
    default), else the config's `verifier` (an import's), else the only verifier with verdicts."""
    name = read_meta(db, "verifier") or read_config(db).get("verifier")
    if name:
        return str(name)
    found = [r[0] for r in db.execute("SELECT DISTINCT verifier FROM verdicts LIMIT 2")]
    return found[0] if len(found) == 1 else None


def read_problems(db: sqlite3.Connection) -> list[Problem]:
    rows = db.execute("SELECT problem_id, prompt, reference FROM problems ORDER BY position")
    return [Problem(pid, Prompt.from_dict(_json(db, p, f"the prompt of problem {pid!r}")),
                    _json(db, r, f"the reference of problem {pid!r}")) for pid, p, r in rows]


def sample_indices(db: sqlite3.Connection) -> dict[str, set[int]]:
    """Indices already stored, per problem: resume draws exactly the ones missing."""
    found: dict[str, set[int]] = defaultdict(set)
    for pid, idx in db.execute("SELECT problem_id, sample_index FROM samples"):
        found[pid].add(idx)
    return found


def _sample(row: tuple[Any, ...]) -> Sample:
    return Sample(*row)


_SAMPLE_COLS = ("s.problem_id, s.sample_index, s.seed, s.text, s.prompt_tokens, s.completion_tokens,"
                " s.finish_reason, s.latency_s")


def iter_samples(db: sqlite3.Connection) -> Iterator[Sample]:
    for row in db.execute(f"SELECT {_SAMPLE_COLS} FROM samples s ORDER BY s.problem_id, s.sample_index"):
        yield _sample(row)


def _samples_without(db: sqlite3.Connection, table: str, column: str, name: str) -> list[Sample]:
    rows = db.execute(
        f"SELECT {_SAMPLE_COLS} FROM samples s LEFT JOIN {table} x"
        f" ON x.sample_id = s.sample_id AND x.{column} = ? WHERE x.sample_id IS NULL"
        " ORDER BY s.problem_id, s.sample_index", (name,))
    return [_sample(r) for r in rows]


def unverified_samples(db: sqlite3.Connection, verifier: str) -> list[Sample]:
    """Samples stored without a verdict of `verifier` (a crash between sampling and verifying)."""
    return _samples_without(db, "verdicts", "verifier", verifier)


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
    by_problem: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    rows = db.execute(
        "SELECT s.problem_id, s.sample_index, v.outcome FROM verdicts v JOIN samples s"
        " ON s.sample_id = v.sample_id WHERE v.verifier = ?", (verifier,))
    for pid, idx, outcome in rows:
        by_problem[pid].append((idx, outcome == "pass"))
    pids = [r[0] for r in db.execute("SELECT problem_id FROM problems ORDER BY position")]
    correct = [np.array([ok for _, ok in sorted(by_problem.get(pid, []))], dtype=bool) for pid in pids]
    return Results(pids, correct, verifier)
