"""The single writer of a run store: a thread that commits queued records in small batches.

Samplers and verifiers never open the database; they hand records to `StoreWriter`, which inserts them
with `INSERT OR IGNORE` against the integer keys (see `migrations`), so a record produced twice (a redrawn
batch after a resume) is stored once. A verdict is queued after its sample, and the queue is FIFO, so the
sample row always exists when the verdict is inserted. `insert_bulk` is the bulk path for offline imports
into a store no run is writing to (1.4 million outcome rows in a second or two rather than a minute).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from monkeys.core import Completion, Problem, Verdict
from monkeys.errors import StoreError
from monkeys.store.db import connect, store_path
from monkeys.store.migrations import CHECKER_BITS, MAX_INDEX, OUTCOMES, SAMPLE_SHIFT

_BATCH = 256
_OUTCOME_CODE = {name: code for code, name in enumerate(OUTCOMES)}


def write_meta(db: sqlite3.Connection, key: str, value: Any) -> None:
    with db:
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True)))


def write_problems(db: sqlite3.Connection, problems: Iterable[Problem]) -> None:
    """Store the run's problems once; a resumed run keeps the stored ones (same ids, same order)."""
    with db:
        insert_header(db, {}, problems)


def write_header(db: sqlite3.Connection, meta: dict[str, Any], problems: Iterable[Problem]) -> None:
    """Meta entries and the run's problems in one transaction, so a store killed while it is being made is
    either described (config and problems) or still empty, never half of it."""
    with db:
        insert_header(db, meta, problems)


def insert_header(db: sqlite3.Connection, meta: dict[str, Any], problems: Iterable[Problem]) -> None:
    """`write_header` inside the caller's transaction (no commit)."""
    rows = [(p.problem_id, i, json.dumps(p.prompt.to_dict()), json.dumps(p.reference))
            for i, p in enumerate(problems)]
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                   [(key, json.dumps(value, sort_keys=True)) for key, value in meta.items()])
    db.executemany("INSERT OR IGNORE INTO problems VALUES (?, ?, ?, ?)", rows)


class Keys:
    """The integer keys of one connection's store: interned strings, checker ids (verifiers, scorers) and
    problem positions, cached (read or made on a miss). Ids made inside a transaction that is rolled back
    are stale: call `forget` after a rollback (a failed writer or import ends instead)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._strings: dict[str, int] = {}
        self._checkers: dict[tuple[str, str], int] = {}
        self._positions: dict[str, int] = {}

    def forget(self) -> None:
        self._strings.clear()
        self._checkers.clear()
        self._positions.clear()

    def string(self, text: str) -> int:
        found = self._strings.get(text)
        if found is None:
            self.db.execute("INSERT OR IGNORE INTO strings (text) VALUES (?)", (text,))
            found = self._strings[text] = self.db.execute("SELECT id FROM strings WHERE text = ?",
                                                          (text,)).fetchone()[0]
        return found

    def checker(self, kind: str, name: str) -> int:
        found = self._checkers.get((kind, name))
        if found is None:
            row = self.db.execute("SELECT id FROM checkers WHERE kind = ? AND name = ?", (kind, name)).fetchone()
            if row is None:
                try:
                    self.db.execute("INSERT INTO checkers (kind, name) VALUES (?, ?)", (kind, name))
                except sqlite3.IntegrityError as exc:  # the CHECK on id: ids are the low byte of a key
                    raise StoreError(f"{kind} {name!r}: a run store keeps at most 255 verifiers and scorers"
                                     ) from exc
                row = self.db.execute("SELECT id FROM checkers WHERE kind = ? AND name = ?",
                                      (kind, name)).fetchone()
            found = self._checkers[(kind, name)] = row[0]
        return found

    def position(self, problem_id: str) -> int | None:
        """The problem's position (the high part of its sample keys), None when it is not stored."""
        found = self._positions.get(problem_id)
        if found is None:
            self._positions = dict(self.db.execute("SELECT problem_id, position FROM problems"))
            found = self._positions.get(problem_id)
        return found

    def sample_id(self, problem_id: str, index: int) -> int | None:
        pos = self.position(problem_id)
        if pos is None:
            return None
        if not 0 <= index < MAX_INDEX:
            raise sqlite3.IntegrityError(f"CHECK constraint failed: sample_index {index} of problem {problem_id!r}"
                                         " must be in [0, 2**32)")
        return pos << SAMPLE_SHIFT | index


def _column(value: Any, n: int) -> Any:
    """A per-row column as an iterable (a scalar repeats)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (str, int, float)) or value is None:
        return repeat(value, n)
    return value


def insert_bulk(db: sqlite3.Connection, keys: Keys, sample_ids: np.ndarray, *, texts: Sequence[str] | str = "",
                prompt_tokens: np.ndarray | int = 0, completion_tokens: np.ndarray | int = 0,
                prompt_shared: np.ndarray | int = 1, models: Sequence[str] | str = "unknown",
                finish: Sequence[str] | str = "unknown", outcomes: np.ndarray | None = None, verifier: str = "",
                reason: str = "", details: Sequence[str | None] | None = None) -> None:
    """Insert samples (seed 0, latency 0) keyed `sample_ids` and, with `outcomes` (codes of `OUTCOMES`,
    -1 = no verdict), their verdicts of `verifier`, inside the caller's transaction. A column is one value
    for every row or one per row; when every sample column is one value (outcome tables without text),
    rows go in through `json_each` (twice as fast as executemany). A duplicate key raises."""
    n = len(sample_ids)
    if n == 0:
        return
    sample_ids = np.asarray(sample_ids, dtype=np.int64)
    order = None  # keys in order: appends, not B-tree page splits
    if n > 1 and not (sample_ids[1:] > sample_ids[:-1]).all():
        order = np.argsort(sample_ids, kind="stable")
    ids = sample_ids if order is None else sample_ids[order]

    def sort(value: Any) -> Any:
        if order is None or isinstance(value, (str, int, float)) or value is None:
            return value
        return np.asarray(value)[order] if isinstance(value, np.ndarray) else [value[i] for i in order.tolist()]

    columns = [sort(c) for c in (texts, prompt_tokens, completion_tokens, prompt_shared, models, finish)]
    text, pt, ct, shared, model, fin = columns
    if isinstance(model, str):
        model_col: Any = keys.string(model)
    else:
        model_col = [keys.string(m) for m in model] if len(set(model)) > 1 else keys.string(model[0])
    if isinstance(fin, str):
        fin_col: Any = keys.string(fin)
    else:
        fin_col = [keys.string(f) for f in fin] if len(set(fin)) > 1 else keys.string(fin[0])
    sample_cols = [pt, ct, shared, fin_col, model_col, text]
    codes = None if outcomes is None else np.asarray(outcomes, dtype=np.int64)
    if codes is not None and order is not None:
        codes = codes[order]
    detail = None if details is None or all(d is None for d in details) else sort(list(details))
    sql = ("INSERT INTO sample_rows (sample_id, seed, prompt_tokens, completion_tokens, prompt_shared, finish,"
           " model, latency_s, text)")
    packed = None
    if all(isinstance(c, (str, int, float)) for c in sample_cols):
        # one JSON array for samples and verdicts: key << 3 | (outcome code + 1), 0 = no verdict
        packed = json.dumps((ids << 3 | (0 if codes is None else codes + 1)).tolist())
        db.execute(f"{sql} SELECT value >> 3, 0, ?, ?, ?, ?, ?, 0.0, ? FROM json_each(?)", (*sample_cols, packed))
    else:
        db.executemany(f"{sql} VALUES (?, 0, ?, ?, ?, ?, ?, 0.0, ?)",
                       zip(ids.tolist(), *(_column(c, n) for c in sample_cols), strict=False))
    if codes is None:
        return
    vid, rid = keys.checker("verifier", verifier), keys.string(reason)
    has = codes >= 0
    sql = "INSERT INTO verdict_rows (key, outcome, reason, duration_s, details)"
    if detail is None:
        if packed is None:
            packed = json.dumps((ids[has] << 3 | (codes[has] + 1)).tolist())
        db.execute(f"{sql} SELECT (value >> 3 << {CHECKER_BITS}) | ?, (value & 7) - 1, ?, 0, NULL FROM json_each(?)"
                   " WHERE value & 7", (vid, rid, packed))
    else:
        vkeys = ((ids << CHECKER_BITS) | vid)[has].tolist()
        kept = [d for d, h in zip(detail, has.tolist(), strict=True) if h]
        db.executemany(f"{sql} VALUES (?, ?, ?, 0, ?)", zip(vkeys, codes[has].tolist(), repeat(rid), kept))


class StoreWriter:
    """Owns one connection in its own thread; `put_*` hand records over, `flush` waits for their commit.

    A failure of the thread (it cannot connect, "database is locked" after the busy timeout, an I/O error,
    a full disk) is kept and raised as `StoreError` by the next call of any method, `check()` included, and
    by a producer waiting for room; `on_error` is called once from the writer thread when it happens, so a
    pipeline waiting on something else hears of it at once. The queue is bounded (`max_queued` records), so
    memory does not grow when producers outrun the disk. Nothing waits forever: the writer thread ends on
    its first failure, and every wait also ends when that thread is gone. `close()` commits what is queued
    and raises when any record was not written.
    """

    def __init__(self, run_dir: Path, *, busy_timeout_s: float | None = None, max_queued: int = 8192,
                 on_error: Callable[[], None] | None = None) -> None:
        self._run_dir = Path(run_dir)
        self._busy_timeout_s = busy_timeout_s
        self._max_queued = max(1, max_queued)
        self._on_error = on_error
        self._cond = threading.Condition()
        self._items: deque[tuple[str, tuple[Any, ...]]] = deque()
        self._queued = 0  # records handed over, ever
        self._written = 0  # records committed, ever
        self._error: BaseException | None = None
        self._closing = False
        self._ended = False  # the writer thread has returned
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="monkeys-store-writer", daemon=True)
        self._thread.start()
        while not self._ready.wait(0.5):  # connected, or failed to
            if not self._thread.is_alive():
                break
        self.check()

    def put_sample(self, problem_id: str, completion: Completion, model: str) -> None:
        c = completion
        self._put(("sample", (problem_id, c.index, c.seed, c.prompt_tokens, c.completion_tokens,
                              int(getattr(c, "prompt_shared", 1) or 1), c.finish_reason, model, c.latency_s,
                              c.text)))

    def put_verdict(self, problem_id: str, index: int, verifier: str, verdict: Verdict) -> None:
        v = verdict
        details = json.dumps(v.details, default=str) if v.details else None
        self._put(("verdict", (problem_id, index, verifier, _OUTCOME_CODE[v.outcome.value], v.reason,
                               v.duration_s, details)))

    def put_score(self, problem_id: str, index: int, scorer: str, value: float) -> None:
        self._put(("score", (problem_id, index, scorer, float(value))))

    def put_stop(self, problem_id: str, drawn: int, reason: str) -> None:
        """Sampling of `problem_id` stopped with `drawn` samples stored, for `reason` (cap, solved, budget);
        a later stop of the same problem (a resume that went on) replaces it."""
        self._put(("stop", (problem_id, int(drawn), reason, datetime.now(UTC).isoformat(timespec="seconds"))))

    def put_meta(self, key: str, value: Any) -> None:
        """Meta entry `key` (JSON), committed in queue order with the records around it."""
        self._put(("meta", (key, json.dumps(value, sort_keys=True))))

    @property
    def failed(self) -> bool:
        return self._error is not None

    def check(self) -> None:
        """Raise `StoreError` if the writer has failed (cheap; call it while waiting on other things)."""
        with self._cond:
            self._raise()

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything queued so far is committed. Raises `StoreError` on a writer failure, when the
        writer is gone, or after `timeout` seconds; never waits on a writer that can no longer write."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._queued
            while self._written < target:
                self._raise()
                if self._ended:
                    raise StoreError(f"{self._where}: the store writer stopped with"
                                     f" {target - self._written} records not written")
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise StoreError(f"{self._where}: {target - self._written} records not written after"
                                     f" {timeout:g} s; the disk or a lock on the store holds the writer back")
                self._cond.wait(0.5 if left is None else min(0.5, left))
            self._raise()

    def close(self) -> None:
        """Commit what is queued and stop the thread. Raises `StoreError` if any record was not written."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        with self._cond:
            self._raise()
            if self._written < self._queued:
                raise StoreError(f"{self._where}: {self._queued - self._written} records were not written")

    @property
    def _where(self) -> Path:
        return store_path(self._run_dir)

    def _put(self, item: tuple[str, tuple[Any, ...]]) -> None:
        with self._cond:
            while True:
                self._raise()
                if self._closing or self._ended:
                    raise StoreError(f"{self._where}: the store writer is closed")
                if len(self._items) < self._max_queued:
                    break
                self._cond.wait(0.5)  # room is made by the writer, which ends on failure
            self._items.append(item)
            self._queued += 1
            self._cond.notify_all()

    def _raise(self) -> None:
        """With `_cond` held: raise the writer's failure, if any."""
        exc = self._error
        if exc is None:
            return
        lost = self._queued - self._written
        tail = f" ({lost} records not written)" if lost else ""
        if isinstance(exc, StoreError):
            raise StoreError(f"{exc}{tail}") from exc
        raise StoreError(f"{self._where}: writing the run store failed: {_describe(exc)}{tail}") from exc

    def _fail(self, exc: BaseException) -> None:
        with self._cond:
            self._error = exc
            self._items.clear()  # never written: counted by `_raise`
            self._cond.notify_all()
        self._ready.set()
        if self._on_error is not None:
            with contextlib.suppress(Exception):
                self._on_error()

    def _loop(self) -> None:
        db: sqlite3.Connection | None = None
        try:
            try:
                db = connect(self._run_dir)
                if self._busy_timeout_s is not None:
                    db.execute(f"PRAGMA busy_timeout = {max(0, int(self._busy_timeout_s * 1000))}")
            except BaseException as exc:
                self._fail(exc)
                return
            keys = Keys(db)
            self._ready.set()
            while True:
                with self._cond:
                    while not self._items and not self._closing:
                        self._cond.wait()
                    if not self._items:
                        return
                    batch = [self._items.popleft() for _ in range(min(_BATCH, len(self._items)))]
                    self._cond.notify_all()  # room for producers
                try:
                    self._commit(db, keys, batch)
                except BaseException as exc:  # the batch was rolled back: none of it is written
                    self._fail(exc)
                    return
                with self._cond:
                    self._written += len(batch)
                    self._cond.notify_all()
        finally:
            if db is not None:
                with contextlib.suppress(Exception):
                    db.close()
            with self._cond:
                self._ended = True
                self._cond.notify_all()
            self._ready.set()

    @staticmethod
    def _commit(db: sqlite3.Connection, keys: Keys, batch: list[tuple[str, tuple[Any, ...]]]) -> None:
        db.execute("BEGIN IMMEDIATE")  # the write lock first: a store another program holds fails here
        try:
            StoreWriter._insert(db, keys, batch)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            keys.forget()
            raise

    @staticmethod
    def _insert(db: sqlite3.Connection, keys: Keys, batch: list[tuple[str, tuple[Any, ...]]]) -> None:
        for kind, row in batch:
            if kind == "sample":
                pid, index, seed, pt, ct, shared, finish, model, latency, text = row
                sid = keys.sample_id(pid, index)
                if sid is None:
                    raise sqlite3.IntegrityError(f"FOREIGN KEY constraint failed: sample of problem {pid!r},"
                                                 " which the store does not hold")
                db.execute(
                    "INSERT OR IGNORE INTO sample_rows (sample_id, seed, prompt_tokens, completion_tokens,"
                    " prompt_shared, finish, model, latency_s, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (sid, seed, pt, ct, shared, keys.string(finish), keys.string(model), latency, text))
            elif kind == "verdict":
                pid, index, verifier, outcome, reason, duration, details = row
                sid = keys.sample_id(pid, index)
                if sid is None:
                    continue  # no such sample: nothing to attach the verdict to
                db.execute(
                    "INSERT OR IGNORE INTO verdict_rows (key, outcome, reason, duration_s, details)"
                    " SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM sample_rows WHERE sample_id = ?)",
                    (sid << CHECKER_BITS | keys.checker("verifier", verifier), outcome, keys.string(reason),
                     duration, details, sid))
            elif kind == "stop":
                db.execute("INSERT OR REPLACE INTO problem_stops (problem_id, drawn, reason, at) VALUES (?, ?, ?, ?)",
                           row)
            elif kind == "meta":
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", row)
            elif kind == "score":
                pid, index, scorer, value = row
                sid = keys.sample_id(pid, index)
                if sid is None:
                    continue
                db.execute(
                    "INSERT OR IGNORE INTO score_rows (key, value)"
                    " SELECT ?, ? WHERE EXISTS (SELECT 1 FROM sample_rows WHERE sample_id = ?)",
                    (sid << CHECKER_BITS | keys.checker("scorer", scorer), value, sid))


def _describe(exc: BaseException) -> str:
    """One line for a writer failure: SQLite's own words ("database or disk is full"), or the OS error's."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
