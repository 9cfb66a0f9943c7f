"""Open a run directory's SQLite store (`monkeys.db`, WAL mode) and bring its schema up to date.

The store is the contract between stages: sampling, verification, analysis and report read and write it
and nothing else. Only `store.writer` writes during a run; readers may open it at any time.
Modes: a run directory monkeys creates is 0700 and the store files 0600 (issue 10), so a sandboxed program
running as another uid cannot read samples or expected outputs even without Landlock; `connect` tightens
an older store's files (not a directory it did not create), and `private_file` is how every other file monkeys writes (plots, exports, HTML) is created.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from pathlib import Path

from monkeys.errors import StoreError
from monkeys.store.migrations import MIGRATIONS, apply_migrations

DB_NAME = "monkeys.db"
DIR_MODE = 0o700
FILE_MODE = 0o600
_STORE_FILES = (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", DB_NAME + "-journal")


def store_path(run_dir: Path) -> Path:
    return Path(run_dir) / DB_NAME


def connect(run_dir: Path, *, create: bool = False, check_same_thread: bool = True) -> sqlite3.Connection:
    """Open (and with `create`, make) the store of `run_dir`. Raises `StoreError` with the path."""
    path = store_path(run_dir)
    if not path.exists() and not create:
        raise StoreError(f"{path}: no run store here; expected a run directory made by `monkeys run`")
    try:
        if create:
            path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):  # born 0600: SQLite gives -wal/-shm the same mode
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        db = sqlite3.connect(path, timeout=30, check_same_thread=check_same_thread, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=30000")
        db.execute("PRAGMA secure_delete=ON")  # a replaced meta row (an old clear-text key) is zeroed
        db.isolation_level = "DEFERRED"  # back to implicit transactions; migrations use `with db:`
        _check_version(db, path)
        apply_migrations(db)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open the run store: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the run store: {exc.strerror or exc}") from exc
    # the directory is made 0700 when monkeys creates it; an existing one (`--out .`, a home directory) is
    # the user's and keeps its mode: the store files in it are 0600 either way
    for name in _STORE_FILES:
        _tighten(path.parent / name, FILE_MODE)
    return db


def private_file(path: Path) -> Path:
    """Create `path` empty (or truncate it) with mode 0600 and return it, for a writer that then opens it
    by name (`open(path, "w")`, matplotlib, pyarrow keep the mode). Raises `OSError`."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.close(fd)
    _tighten(path, FILE_MODE)
    return path


def _tighten(path: Path, mode: int) -> None:
    """Drop the permission bits of `path` outside `mode` (never add any). Best effort: a store someone
    else owns, or one on a read-only disk, is read as it is."""
    with contextlib.suppress(OSError):
        current = stat.S_IMODE(os.stat(path).st_mode)
        if current & ~mode:
            os.chmod(path, current & mode)


def _check_version(db: sqlite3.Connection, path: Path) -> None:
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE name='_migrations'").fetchone()
    if not exists:
        return
    known = {name for name, _ in MIGRATIONS}
    unknown = [row[0] for row in db.execute("SELECT name FROM _migrations") if row[0] not in known]
    if unknown:
        raise StoreError(f"{path}: made by a newer monkeys (schema {', '.join(unknown)}); upgrade monkeys")
