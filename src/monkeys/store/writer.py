"""The single writer of a run store: a thread that commits queued records in small batches.

Samplers and verifiers never open the database; they hand records to `StoreWriter`, which inserts them
with `INSERT OR IGNORE` against the uniqueness keys, so a record produced twice (a redrawn batch after a
resume) is stored once. A verdict is queued after its sample, and the queue is FIFO, so the sample row
always exists when the verdict is inserted. `write_columns` is the bulk path for offline imports into a
store no run is writing to (a million samples in seconds rather than a minute through the queue).
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

from monkeys.core import Completion, Problem, Verdict
from monkeys.errors import StoreError
from monkeys.store.db import connect, store_path

_BATCH = 256


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


def write_columns(db: sqlite3.Connection, problem_ids: Sequence[str], indices: Sequence[int],
                  correct: Sequence[bool | None], *, texts: Sequence[str], prompt_tokens: Sequence[int],
                  completion_tokens: Sequence[int], models: Sequence[str], verifier: str, reason: str,
                  outcomes: Sequence[Any] | None = None) -> None:
    """Insert samples (seed 0, finish_reason "unknown") and a verdict per non-None `correct`, in one
    transaction. Sample ids are assigned here, so verdicts need no lookup; a duplicate key raises."""
    db.execute("PRAGMA cache_size = -262144")  # 256 MiB: the two sample indexes stay in memory
    with db:
        insert_columns(db, problem_ids, indices, correct, texts=texts, prompt_tokens=prompt_tokens,
                       completion_tokens=completion_tokens, models=models, verifier=verifier, reason=reason,
                       outcomes=outcomes)


def insert_columns(db: sqlite3.Connection, problem_ids: Sequence[str], indices: Sequence[int],
                   correct: Sequence[bool | None] | None, *, texts: Sequence[str], prompt_tokens: Sequence[int],
                   completion_tokens: Sequence[int], models: Sequence[str], verifier: str = "", reason: str = "",
                   outcomes: Sequence[Any] | None = None, finish_reasons: Sequence[str] | None = None,
                   prompt_shared: Sequence[int] | None = None) -> None:
    """`write_columns` inside the caller's transaction (no commit): an import of samples to verify writes
    its meta, problems and samples as one transaction. `correct` None: samples only, no verdicts."""
    now = datetime.now(UTC).isoformat()
    first = db.execute("SELECT COALESCE(MAX(sample_id), 0) + 1 FROM samples").fetchone()[0]
    ids = range(first, first + len(problem_ids))
    finish = finish_reasons if finish_reasons is not None else repeat("unknown")
    db.executemany(
        "INSERT INTO samples (sample_id, problem_id, sample_index, seed, text, prompt_tokens,"
        " completion_tokens, finish_reason, latency_s, model, created_at)"
        " VALUES (?, ?, ?, 0, ?, ?, ?, ?, 0.0, ?, ?)",
        zip(ids, problem_ids, indices, texts, prompt_tokens, completion_tokens, finish, models, repeat(now)))
    if correct is None:
        return
    outcome = [None if c is None else ("pass" if c else "fail") for c in correct]
    if outcomes is not None:  # keep timeout/error from an export of a monkeys run
        outcome = [o if o != "fail" or str(x).lower() not in ("timeout", "error") else str(x).lower()
                   for o, x in zip(outcome, outcomes, strict=True)]
    db.executemany(
        "INSERT INTO verdicts (sample_id, verifier, outcome, reason, details, cached, duration_s, created_at)"
        " VALUES (?, ?, ?, ?, '{}', 0, 0.0, ?)",
        ((sid, verifier, o, reason, now) for sid, o in zip(ids, outcome, strict=True) if o is not None))


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
        self._put(("sample", (problem_id, c.index, c.seed, c.text, c.prompt_tokens, c.completion_tokens,
                              c.finish_reason, c.latency_s, model, _now())))

    def put_verdict(self, problem_id: str, index: int, verifier: str, verdict: Verdict) -> None:
        v = verdict
        self._put(("verdict", (verifier, v.outcome.value, v.reason, json.dumps(v.details, default=str),
                               int(bool(v.details.get("cached"))), v.duration_s, _now(), problem_id, index)))

    def put_score(self, problem_id: str, index: int, scorer: str, value: float) -> None:
        self._put(("score", (scorer, float(value), _now(), problem_id, index)))

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
                    self._commit(db, batch)
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


def _describe(exc: BaseException) -> str:
    """One line for a writer failure: SQLite's own words ("database or disk is full"), or the OS error's."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
