"""Open a run directory's SQLite store (`monkeys.db`, WAL mode) and bring its schema up to date.

The store is the contract between stages: sampling, verification, analysis and report read and write it
and nothing else. Only `store.writer` writes during a run; readers may open it at any time.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from monkeys.errors import StoreError
from monkeys.store.migrations import MIGRATIONS, apply_migrations

DB_NAME = "monkeys.db"


def store_path(run_dir: Path) -> Path:
    return Path(run_dir) / DB_NAME


def connect(run_dir: Path, *, create: bool = False, check_same_thread: bool = True) -> sqlite3.Connection:
    """Open (and with `create`, make) the store of `run_dir`. Raises `StoreError` with the path."""
    path = store_path(run_dir)
    if not path.exists() and not create:
        raise StoreError(f"{path}: no run store here; expected a run directory made by `monkeys run`")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30, check_same_thread=check_same_thread, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=30000")
        db.isolation_level = ""  # back to implicit transactions; migrations use `with db:`
        _check_version(db, path)
        apply_migrations(db)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open the run store: {exc}") from exc
    return db


def _check_version(db: sqlite3.Connection, path: Path) -> None:
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE name='_migrations'").fetchone()
    if not exists:
        return
    known = {name for name, _ in MIGRATIONS}
    unknown = [row[0] for row in db.execute("SELECT name FROM _migrations") if row[0] not in known]
    if unknown:
        raise StoreError(f"{path}: made by a newer monkeys (schema {', '.join(unknown)}); upgrade monkeys")
