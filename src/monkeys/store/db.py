"""Open a run directory's SQLite store (`monkeys.db`, WAL mode): `connect` for writers (creates and
migrates), `open_readonly` / `read_store` for readers (never write, never migrate).

The store is the contract between stages: sampling, verification, analysis and report read and write it
and nothing else. Only `store.writer` writes during a run; readers may open it at any time.
Readers (`monkeys report`, `monkeys export`) refuse, with one `StoreError` naming the file, anything that
is not a monkeys store at a known schema version: an empty file, a file that is not SQLite, a SQLite
database without the monkeys schema, a store from a newer monkeys, corrupt pages. They never create a
file in the run directory, so an archived, read-only run can be reported (see `open_readonly`).
Modes: a run directory monkeys creates is 0700 and the store files 0600 (issue 10), so a sandboxed program
running as another uid cannot read samples or expected outputs even without Landlock; `connect` tightens
an older store's files (not a directory it did not create), and `private_file` is how every other file
monkeys writes (plots, exports, HTML) is created.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import stat
import tempfile
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from monkeys.errors import StoreError
from monkeys.store.migrations import MIGRATIONS, applied_migrations, apply_migrations

T = TypeVar("T")

DB_NAME = "monkeys.db"
DIR_MODE = 0o700
FILE_MODE = 0o600
_STORE_FILES = (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", DB_NAME + "-journal")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_TABLES = frozenset({"_migrations", "meta", "problems", "sample_rows", "verdict_rows", "score_rows", "strings",
                     "checkers"})
_TABLES_M001 = frozenset({"_migrations", "meta", "problems", "samples", "verdicts", "scores"})
# migrations a reader can do without: an m001 store is read through its own tables (same names and columns
# as the views m002 keeps), so `monkeys report` works on a store a newer monkeys has not yet upgraded
# (and a store without m003's `problem_stops` reads as one that never stopped a problem early)
_READ_COMPATIBLE = frozenset({"m002_compact", "m003_problem_stops"})
_EXPECTED = "expected a monkeys run store made by `monkeys run` or `monkeys import`"


def store_path(run_dir: Path) -> Path:
    return Path(run_dir) / DB_NAME


def disk_hint(path: Path) -> str:
    """`; the disk holding it is full (12 kB free)` when the file system of `path` has (almost) no room left:
    SQLite says only "disk I/O error" when it cannot make the store's -shm or -wal file. Else ''."""
    try:
        st = os.statvfs(path.parent)
    except OSError:
        return ""
    free = st.f_bavail * st.f_frsize
    if free < 1 << 20:
        return f"; the disk holding it is full ({free:,} bytes free): free some space and run the command again"
    return ""


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
        try:
            _prepare(db, path, create=create)
        except BaseException:
            db.close()
            raise
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open the run store: {exc}{disk_hint(path)}") from exc
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the run store: {exc.strerror or exc}") from exc
    # the directory is made 0700 when monkeys creates it; an existing one (`--out .`, a home directory) is
    # the user's and keeps its mode: the store files in it are 0600 either way
    for name in _STORE_FILES:
        _tighten(path.parent / name, FILE_MODE)
    return db


def blank_store(run_dir: Path) -> bool:
    """Is `run_dir`'s store a file that holds nothing at all: 0 bytes, or a SQLite database without a single
    table? That is what a kill between creating the file and writing its schema leaves (and nothing in it
    can be lost), so a writer holding the run's lock makes it afresh instead of refusing it; readers still
    refuse it. A store that cannot be read is not blank (it is refused as it was)."""
    path = store_path(run_dir)
    if not path.is_file():
        return False
    try:
        db = sqlite3.connect(_uri(path, mode="ro"), uri=True, timeout=30)
        try:
            return db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
        finally:
            db.close()
    except sqlite3.Error:
        return False


def _prepare(db: sqlite3.Connection, path: Path, *, create: bool) -> None:
    """Check a writer's store (nothing written before: WAL mode changes the header), set it up, migrate.
    Without `create` the store must already be one (an emptied file or an empty SQLite database is refused,
    never made into a new, empty run)."""
    db.execute("PRAGMA busy_timeout=30000")
    _check_version(db, path)
    if applied_migrations(db) is None:
        if db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'").fetchone():
            raise StoreError(f"{path}: a SQLite database with other tables and no monkeys schema; {_EXPECTED}"
                             " (monkeys adds no tables to a foreign database)")
        if not create:
            what = "empty file (0 bytes)" if _size(path) == 0 else "an empty SQLite database"
            raise StoreError(f"{path}: {what}; {_EXPECTED}")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA secure_delete=ON")  # a replaced meta row (an old clear-text key) is zeroed
    db.isolation_level = "DEFERRED"  # back to implicit transactions; migrations BEGIN/COMMIT their own
    if "m002_compact" in apply_migrations(db):
        _reclaim(db)


def _reclaim(db: sqlite3.Connection) -> None:
    """Give back the pages an upgraded store freed (its m001 tables): VACUUM, atomic like any transaction.
    Best effort: a reader holding the store open makes it wait or fail, and the store is correct either way."""
    free, pages = (db.execute(f"PRAGMA {name}").fetchone()[0] for name in ("freelist_count", "page_count"))
    if free > 256 and free * 4 > pages:
        db.execute("PRAGMA busy_timeout=0")  # a reader holding the store: skip it rather than wait
        try:
            with contextlib.suppress(sqlite3.Error):
                db.execute("VACUUM")
        finally:
            db.execute("PRAGMA busy_timeout=30000")


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
    known = {name for name, _ in MIGRATIONS}
    unknown = [name for name in applied_migrations(db) or () if name not in known]
    if unknown:
        raise StoreError(f"{path}: made by a newer monkeys (schema {', '.join(unknown)}; this monkeys knows up"
                         f" to {MIGRATIONS[-1][0]}); upgrade monkeys")


# ---- read side ------------------------------------------------------------------------------------------


class StoreReader(sqlite3.Connection):
    """A read-only connection to a run store; `path` is the store file (for messages). `close` also
    removes the private copy made when the store could only be read that way (see `open_readonly`)."""

    path: Path
    _copy: Path | None = None
    _fingerprint: tuple[object, ...] | None = None

    def close(self) -> None:
        super().close()
        if self._copy is not None:
            shutil.rmtree(self._copy, ignore_errors=True)
            self._copy = None

    def changed(self) -> bool:
        """Whether the store changed since it was opened without locks (`immutable=1`): then what was read
        may mix two versions (a writer started meanwhile) and should be read again."""
        return self._fingerprint is not None and self._fingerprint != _fingerprint(self.path)


def _fingerprint(path: Path) -> tuple[object, ...]:
    out: list[object] = []
    for name in (path.name, path.name + "-wal"):
        try:
            st = os.stat(path.with_name(name))
        except FileNotFoundError:
            out.append(None)
        else:
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def _uri(path: Path, **params: str) -> str:
    return "file:" + urllib.parse.quote(str(Path(path).absolute())) + "?" + urllib.parse.urlencode(params)


def open_readonly(run_dir: Path) -> StoreReader:
    """Open the store of `run_dir` for reading only: no migration, no write, no file created.

    A store whose WAL is absent or empty (every cleanly closed store) is opened `immutable=1`: SQLite then
    takes no locks and creates no -wal/-shm, so a read-only or archived directory reads too; `changed()`
    tells a caller that a writer started meanwhile (`read_store` then reads again). A store with a pending
    WAL (a live run, or one killed) is opened `mode=ro` beside its -wal/-shm, SQLite's reader protocol;
    where that cannot work (the -shm is missing and the directory is not writable, or the files cannot be
    opened), the store and its WAL are copied to a private temporary directory and read there.
    Raises `StoreError` naming the file and what was expected for anything but a monkeys store at a known
    schema version.
    """
    path = store_path(run_dir)
    if not Path(run_dir).is_dir():
        what = "is not a directory" if Path(run_dir).exists() else "no such directory"
        raise StoreError(f"{run_dir}: {what}; expected a run directory made by `monkeys run`")
    if not path.exists():
        raise StoreError(f"{path}: no run store here; expected a run directory made by `monkeys run`")
    if not path.is_file():
        raise StoreError(f"{path}: not a file; {_EXPECTED}")
    wal = path.with_name(DB_NAME + "-wal")
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
        pending = _size(wal) > 0
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the run store: {exc.strerror or exc}") from exc
    if not head and not pending:
        raise StoreError(f"{path}: empty file (0 bytes); {_EXPECTED}")
    if head and head != _SQLITE_MAGIC:  # a store being created in WAL mode may be 0 bytes beside its WAL
        raise StoreError(f"{path}: not a SQLite database; {_EXPECTED}")
    if not pending:
        fingerprint = _fingerprint(path)
        try:
            db = _open(path, _uri(path, mode="ro", immutable="1"))
        except _CannotOpen as exc:
            raise StoreError(f"{path}: cannot open the run store: {exc}; {_EXPECTED}") from exc
        db._fingerprint = fingerprint
    elif path.with_name(DB_NAME + "-shm").exists():
        try:
            db = _open(path, _uri(path, mode="ro"))
        except _CannotOpen:
            db = _open_copy(path)
    else:
        db = _open_copy(path)
    return db


class _CannotOpen(Exception):
    pass


def _open(path: Path, uri: str) -> StoreReader:
    """Connect to `uri` and check it holds a monkeys store at a known schema version."""
    try:
        db = sqlite3.connect(uri, uri=True, factory=StoreReader, timeout=30)
    except sqlite3.Error as exc:
        raise _CannotOpen(str(exc)) from exc
    db.path = path
    try:
        db.execute("PRAGMA busy_timeout=30000")
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.OperationalError as exc:
            if "unable to open" in str(exc) or "readonly" in str(exc):  # the -wal/-shm cannot be opened
                raise _CannotOpen(str(exc)) from exc
            raise
        _check_schema(db, path, tables)
    except _CannotOpen:
        db.close()
        raise
    except sqlite3.DatabaseError as exc:
        db.close()
        raise StoreError(f"{path}: cannot read the run store: {exc}; {_EXPECTED} (an intact SQLite file)") from exc
    except BaseException:
        db.close()
        raise
    return db


def _check_schema(db: sqlite3.Connection, path: Path, tables: set[str]) -> None:
    if "_migrations" not in tables:
        what = "an empty SQLite database" if not tables else "a SQLite database without the monkeys schema"
        raise StoreError(f"{path}: {what}; {_EXPECTED}")
    _check_version(db, path)
    applied = applied_migrations(db) or []
    missing = [name for name, _ in MIGRATIONS if name not in applied]
    if missing and not (applied and set(missing) <= _READ_COMPATIBLE):
        raise StoreError(f"{path}: store schema lacks {', '.join(missing)} (an older or interrupted monkeys);"
                         f" {_EXPECTED}, at schema {MIGRATIONS[-1][0]}: a writer (`monkeys run` on it)"
                         " upgrades it")
    needed = _TABLES if "m002_compact" in applied else _TABLES_M001
    if needed - tables:
        raise StoreError(f"{path}: store lacks the table(s) {', '.join(sorted(needed - tables))}; {_EXPECTED}")


def _open_copy(path: Path) -> StoreReader:
    """Copy the store and its WAL into a private temporary directory and open the copy read-only there
    (the original directory stays untouched); the copy is removed on `close`."""
    tmp = Path(tempfile.mkdtemp(prefix="monkeys-read-"))
    try:
        for name in (DB_NAME, DB_NAME + "-wal"):
            if path.with_name(name).exists():
                shutil.copyfile(path.with_name(name), tmp / name)
        try:
            db = _open(path, _uri(tmp / DB_NAME, mode="ro"))
        except _CannotOpen as exc:
            raise StoreError(f"{path}: cannot open the run store: {exc}; {_EXPECTED}") from exc
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StoreError(f"{path}: cannot read the run store: {exc.strerror or exc}") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    db._copy = tmp
    return db


def read_store(run_dir: Path, read: Callable[[StoreReader], T], *, attempts: int = 3) -> T:
    """`read(db)` on a read-only connection to `run_dir`'s store (see `open_readonly`), closed afterwards.

    SQLite errors while reading (corrupt pages, malformed JSON in a column) become one `StoreError` naming
    the file. When the store was read without locks and a writer changed it meanwhile, `read` runs again
    (then beside the writer's WAL, under SQLite's locks).
    """
    path = store_path(run_dir)
    for _ in range(attempts):
        db = open_readonly(run_dir)
        try:
            result = read(db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot read the run store: {exc}; {_EXPECTED}"
                             " (an intact SQLite file)") from exc
        finally:
            db.close()
        if not db.changed():
            return result
    raise StoreError(f"{path}: the store kept changing while it was read (is a run writing it?); try again")
