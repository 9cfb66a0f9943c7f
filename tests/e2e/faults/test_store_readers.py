"""Readers never write: `monkeys report` / `monkeys export` open a store read-only, never migrate it, and
refuse with one `error:` line (exit 2, no traceback, the files untouched) anything that is not a monkeys
store at a known schema version. Migrations are atomic: a failure or a kill midway leaves the previous
version, and the next open succeeds.

Real processes on real SQLite files: the CLI runs as a subprocess (the e2e `cli` fixture); the
"never writes" checks run a reader as the unprivileged user `nobody` on a read-only copy (root ignores
file modes) and compare bytes and mtimes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from monkeys.errors import StoreError
from monkeys.store import connect, open_readonly, read_store
from monkeys.store import migrations as migrations_module
from monkeys.store.migrations import MIGRATIONS

REPO = Path(__file__).resolve().parents[3]
SCRIPTED = ["--sampler", "scripted", "--problems", "2", "-n", "3"]
SETPRIV = shutil.which("setpriv")
SYSTEM_PYTHON = Path("/usr/bin/python3")
MONKEYS_TABLES = {"_migrations", "meta", "problems", "sample_rows", "verdict_rows", "score_rows", "strings", "checkers"}


# ---- helpers --------------------------------------------------------------------------------------------


def _one_error_line(proc: subprocess.CompletedProcess[str], *, only: bool = True) -> str:
    """The one `error:` line of a failed command (with `only`, the only line on stderr)."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip() and (only or line.startswith("error:"))]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def _snapshot(run_dir: Path) -> dict[str, tuple[str, int]]:
    """Every file of the run directory: content hash and mtime (a reader must change neither, nor add one)."""
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(run_dir.iterdir())}


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small finished run (scripted sampler), copied by each test that needs it."""
    out = tmp_path_factory.mktemp("good") / "run"
    proc = subprocess.run([str(Path(sys.executable).parent / "monkeys"), "run", *SCRIPTED, "--out", str(out),
                           "--no-report"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["monkeys.db"], "the closed store left a WAL behind"
    return out


@pytest.fixture
def run_copy(good_run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(good_run, dst)
    return dst


@pytest.fixture(scope="module")
def good_export(good_run: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    out = tmp_path_factory.mktemp("export") / "good.jsonl"
    proc = subprocess.run([str(Path(sys.executable).parent / "monkeys"), "export", str(good_run), str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = _rows(out)
    assert len(rows) == 6
    return rows


def _edit(db_path: Path, *statements: str) -> None:
    db = sqlite3.connect(db_path)
    try:
        for sql in statements:
            db.execute(sql)
        db.commit()
    finally:
        db.close()
    assert not db_path.with_name(db_path.name + "-wal").exists()


# ---- the bad stores: each a function that spoils a copy of a good run ------------------------------------


def _emptied(run: Path) -> None:
    (run / "monkeys.db").write_bytes(b"")


def _foreign_sqlite(run: Path) -> None:
    (run / "monkeys.db").unlink(missing_ok=True)
    _edit(run / "monkeys.db", "CREATE TABLE contacts (name TEXT, phone TEXT)",
          "INSERT INTO contacts VALUES ('ada', '555')")


def _empty_sqlite(run: Path) -> None:  # a valid SQLite header and no tables at all
    (run / "monkeys.db").unlink(missing_ok=True)
    _edit(run / "monkeys.db", "PRAGMA user_version = 7")


def _not_sqlite(run: Path) -> None:
    (run / "monkeys.db").write_text("problem_id,correct\nHumanEval/0,1\n" * 10)


def _newer_schema(run: Path) -> None:
    _edit(run / "monkeys.db", "INSERT INTO _migrations VALUES ('m999_from_the_future', '2030-01-01')")


def _interrupted_first_migration(run: Path) -> None:  # a store killed before any migration was recorded
    (run / "monkeys.db").unlink(missing_ok=True)
    _edit(run / "monkeys.db", "CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")


def _corrupt_pages(run: Path) -> None:
    path = run / "monkeys.db"
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    assert len(data) >= 3 * page
    data[page:] = (b"\xde\xad\xbe\xef" * (len(data) // 4 + 1))[: len(data) - page]  # every page but the first
    path.write_bytes(bytes(data))


def _corrupt_samples_page(run: Path) -> None:
    """Only the page holding the samples: the store opens and its schema checks out; a query then fails."""
    path = run / "monkeys.db"
    db = sqlite3.connect(path)
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'sample_rows'").fetchone()[0]
    db.close()
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[(root - 1) * page:root * page] = b"\x7f" * page
    path.write_bytes(bytes(data))


def _meta_not_json(run: Path) -> None:
    _edit(run / "monkeys.db", "UPDATE meta SET value = '{\"task\": oops' WHERE key = 'config'")


def _config_not_an_object(run: Path) -> None:
    _edit(run / "monkeys.db", "UPDATE meta SET value = '[1, 2]' WHERE key = 'config'")


BAD_STORES: dict[str, tuple[Callable[[Path], None], str]] = {
    "emptied": (_emptied, "empty file (0 bytes)"),
    "foreign-sqlite": (_foreign_sqlite, "without the monkeys schema"),
    "empty-sqlite": (_empty_sqlite, "an empty SQLite database"),
    "not-sqlite": (_not_sqlite, "not a SQLite database"),
    "newer-schema": (_newer_schema, "newer monkeys (schema m999_from_the_future"),
    "interrupted-migration": (_interrupted_first_migration, "lacks m001_initial"),
    "corrupt-pages": (_corrupt_pages, "malformed"),
    "corrupt-samples-page": (_corrupt_samples_page, "malformed"),
    "meta-not-json": (_meta_not_json, "meta 'config' is not JSON"),
    "config-not-an-object": (_config_not_an_object, "meta 'config' is a JSON list"),
}


@pytest.mark.parametrize("command", ["report", "export"])
@pytest.mark.parametrize("case", list(BAD_STORES))
def test_a_bad_store_is_refused_in_one_line_and_left_as_it_was(cli, run_copy: Path, tmp_path: Path, case: str,
                                                               command: str):
    spoil, what = BAD_STORES[case]
    spoil(run_copy)
    before = _snapshot(run_copy)
    out = tmp_path / "out.jsonl"
    args = ["report", str(run_copy)] if command == "report" else ["export", str(run_copy), str(out)]
    line = _one_error_line(cli(*args))
    assert str(run_copy / "monkeys.db") in line, line
    assert what in line, line
    assert "expected" in line or "upgrade monkeys" in line, line
    assert _snapshot(run_copy) == before  # no byte, mtime or file changed; nothing migrated or repaired
    assert not out.exists() and not list(tmp_path.glob("out.jsonl*"))  # no partial export left behind


@pytest.mark.parametrize("case", [c for c in BAD_STORES if c != "interrupted-migration"])  # a writer upgrades that
def test_verify_of_a_bad_store_is_refused_and_writes_nothing(cli, run_copy: Path, case: str):
    """`monkeys verify RUN --verifier X` is a writer, but it reads and checks everything first: an emptied
    store or an empty SQLite file is refused (once made into a new, empty run), and a corrupt samples page
    is found before any meta row (extra verifiers, revisions, protections) is written."""
    spoil, what = BAD_STORES[case]
    what = {"foreign-sqlite": "no monkeys schema", "not-sqlite": "not a database"}.get(case, what)  # SQLite's words
    spoil(run_copy)
    before = _snapshot(run_copy)
    line = _one_error_line(cli("verify", str(run_copy), "--verifier", "math-answer", "--verifier-option",
                               "mode=minerva", "--no-report"), only=False)
    assert str(run_copy / "monkeys.db") in line and what in line, line
    assert _snapshot(run_copy) == before


def test_view_of_a_store_with_a_corrupt_page_names_it_on_the_page(run_copy: Path):
    """The viewer opens the store (its schema checks out); the page whose query meets the corrupt page says
    which store and what, as a page, instead of a bare "Internal Server Error" and a traceback."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "view"))
    from viewkit import start_viewer

    _corrupt_samples_page(run_copy)
    before = _snapshot(run_copy)
    viewing = start_viewer([run_copy])
    viewer = next(viewing)
    try:
        pages = [viewer.get(url) for url in ("/", "/run/0")]
    finally:
        viewing.close()
    stderr = viewer.process.stderr.read() if viewer.process.stderr else ""
    broken = [r for r in pages if r.status_code != 200]
    assert broken, [r.status_code for r in pages]
    for response in broken:
        assert response.status_code == 500 and "Cannot read the run store" in response.text
        assert str(run_copy / "monkeys.db") in response.text and "malformed" in response.text
    assert "Traceback" not in stderr, stderr
    assert _snapshot(run_copy) == before


def test_report_of_a_missing_store_names_it(cli, tmp_path: Path):
    line = _one_error_line(cli("export", str(tmp_path), str(tmp_path / "o.jsonl")))
    assert str(tmp_path / "monkeys.db") in line and "no run store" in line
    assert list(tmp_path.iterdir()) == []


def test_a_writer_adds_no_tables_to_a_foreign_database(cli, tmp_path: Path):
    run = tmp_path / "run"
    run.mkdir()
    _foreign_sqlite(run)
    before = _snapshot(run)
    line = _one_error_line(cli("run", *SCRIPTED, "--out", str(run), "--no-report"), only=False)
    assert str(run / "monkeys.db") in line and "no monkeys schema" in line
    assert _snapshot(run) == before


# ---- good stores read without a write ---------------------------------------------------------------------


def test_report_and_export_of_a_read_only_copy(cli, run_copy: Path, tmp_path: Path, good_export: list[dict]):
    for p in [run_copy, *run_copy.iterdir()]:
        p.chmod(stat.S_IMODE(p.stat().st_mode) & ~0o222)
    before = _snapshot(run_copy)
    out = tmp_path / "rows.jsonl"
    proc = cli("export", str(run_copy), str(out))
    assert proc.returncode == 0, proc.stderr
    assert _rows(out) == good_export
    assert _snapshot(run_copy) == before  # no -wal/-shm created, nothing touched (root ignores the modes)
    html = tmp_path / "r.html"
    proc = cli("report", str(run_copy), "--html", str(html))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and html.exists()
    store = {k: v for k, v in _snapshot(run_copy).items() if k.startswith("monkeys.db")}
    assert store == before  # the report's figures aside, the store files are as they were


def _as_nobody(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `code` with the system Python as the unprivileged `nobody`, importing monkeys and its
    dependencies from this checkout and its virtualenv (both readable by all)."""
    paths = [str(REPO / "src"), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    prelude = f"import sys; sys.path[:0] = {paths!r}\n"
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "MPLCONFIGDIR": "/nonexistent", "LANG": "C.UTF-8"}
    return subprocess.run([SETPRIV, "--reuid=65534", "--regid=65534", "--clear-groups", str(SYSTEM_PYTHON),
                           "-c", prelude + code, *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory `nobody` can enter (pytest's tmp_path is private to root)."""
    if os.geteuid() != 0 or SETPRIV is None or not SYSTEM_PYTHON.exists():
        pytest.skip("needs root, setpriv and /usr/bin/python3 to run a reader as nobody")
    if sys.version_info[:2] != tuple(int(x) for x in subprocess.run(
            [str(SYSTEM_PYTHON), "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True, text=True, check=True).stdout.split()):
        pytest.skip("the system Python cannot load this virtualenv's compiled packages")
    if not all(os.stat(p).st_mode & 0o005 == 0o005 for p in (REPO, *REPO.parents)):
        pytest.skip("the checkout is not readable by other users")
    path = Path(tempfile.mkdtemp(prefix="monkeys-ro-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for p in path.rglob("*"):
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o755)
        shutil.rmtree(path)


def _archive(src: Path, dst: Path) -> Path:
    """Copy a run as an archive would hold it: readable by all, writable by none."""
    shutil.copytree(src, dst)
    for p in [*dst.iterdir(), dst]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    return dst


_EXPORT = ("from monkeys.store.export import export_run; import sys\n"
           "print(export_run(sys.argv[1], sys.argv[2]))\n")
_LOAD = ("from monkeys.report.data import load_run; import sys\n"
         "r = load_run(sys.argv[1]); print(r.n.tolist(), r.c.tolist(), r.verifier, r.n_samples)\n")


def test_a_read_only_archive_is_read_by_an_unprivileged_user(shared_tmp: Path, good_run: Path,
                                                             good_export: list[dict]):
    run = _archive(good_run, shared_tmp / "run")
    outdir = shared_tmp / "out"
    outdir.mkdir()
    outdir.chmod(0o777)
    before = _snapshot(run)
    proc = _as_nobody(_EXPORT, str(run), str(outdir / "rows.jsonl"))
    assert proc.returncode == 0, proc.stderr
    assert _rows(outdir / "rows.jsonl") == good_export
    proc = _as_nobody(_LOAD, str(run))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] == "6"
    assert _snapshot(run) == before


def _pending_wal(run: Path, *, keep_shm: bool) -> None:
    """Leave a committed change only in the WAL, as a run killed with -9 does: sample 0's text is changed
    and the process dies before any checkpoint."""
    code = ("import os, sqlite3, sys\n"
            "db = sqlite3.connect(sys.argv[1]); db.execute('PRAGMA wal_autocheckpoint=0')\n"
            "db.execute(\"UPDATE samples SET text = 'from the WAL' WHERE sample_index = 0\"); db.commit()\n"
            "os._exit(0)\n")
    subprocess.run([sys.executable, "-c", code, str(run / "monkeys.db")], check=True, timeout=60)
    assert (run / "monkeys.db-wal").stat().st_size > 0
    if not keep_shm:
        (run / "monkeys.db-shm").unlink()


@pytest.mark.parametrize("keep_shm", [True, False], ids=["wal-and-shm", "wal-without-shm"])
def test_a_killed_run_archived_read_only_is_read_with_its_wal(shared_tmp: Path, good_run: Path, keep_shm: bool):
    """A WAL store whose directory is not writable: with its -shm SQLite reads beside it (`mode=ro`);
    without one (it cannot be created) the reader works on a private copy. Either way the committed change
    that lives only in the WAL is read, and no file of the run changes."""
    work = shared_tmp / "work"
    shutil.copytree(good_run, work)
    _pending_wal(work, keep_shm=keep_shm)
    run = _archive(work, shared_tmp / "run")
    outdir = shared_tmp / "out"
    outdir.mkdir()
    outdir.chmod(0o777)
    before = _snapshot(run)
    proc = _as_nobody(_EXPORT, str(run), str(outdir / "rows.jsonl"))
    assert proc.returncode == 0, proc.stderr
    rows = _rows(outdir / "rows.jsonl")
    assert len(rows) == 6 and sum(r["text"] == "from the WAL" for r in rows) == 2
    assert _snapshot(run) == before


def test_a_reader_beside_a_pending_wal_as_root_changes_no_store_data(cli, run_copy: Path, tmp_path: Path):
    _pending_wal(run_copy, keep_shm=True)
    before = _snapshot(run_copy)
    out = tmp_path / "rows.jsonl"
    proc = cli("export", str(run_copy), str(out))
    assert proc.returncode == 0, proc.stderr
    assert sum(r["text"] == "from the WAL" for r in _rows(out)) == 2
    after = _snapshot(run_copy)
    assert after.keys() == before.keys()
    for name in ("monkeys.db", "monkeys.db-wal"):  # the -shm is SQLite's shared index, readers mark it
        assert after[name] == before[name]


def test_a_writer_starting_during_an_unlocked_read_makes_the_reader_read_again(run_copy: Path):
    calls: list[int] = []

    def read(db: sqlite3.Connection) -> int:
        calls.append(1)
        count = db.execute("SELECT COUNT(*) FROM meta").fetchone()[0]
        if len(calls) == 1:  # a run resumes on the store while the reader holds it without locks
            writer = connect(run_copy)
            with writer:
                writer.execute("INSERT INTO meta VALUES ('resumed', '1')")
            writer.close()
        return count

    before = open_readonly(run_copy)
    try:
        first = before.execute("SELECT COUNT(*) FROM meta").fetchone()[0]
    finally:
        before.close()
    assert read_store(run_copy, read) == first + 1
    assert len(calls) == 2


def test_open_readonly_never_migrates(run_copy: Path, monkeypatch: pytest.MonkeyPatch):
    def m002_extra(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE extra (x)")

    monkeypatch.setattr(migrations_module, "MIGRATIONS", [*MIGRATIONS, ("m002_extra", m002_extra)])
    monkeypatch.setattr("monkeys.store.db.MIGRATIONS", migrations_module.MIGRATIONS)
    before = _snapshot(run_copy)
    with pytest.raises(StoreError, match="lacks m002_extra"):
        open_readonly(run_copy)
    assert _snapshot(run_copy) == before


# ---- atomic migrations -------------------------------------------------------------------------------------


def _schema(db_path: Path) -> tuple[list[str], list[str]]:
    db = sqlite3.connect(db_path)
    try:
        names = [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")]
        tables = sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'"))
        return names, tables
    finally:
        db.close()


def test_a_migration_failing_midway_leaves_the_previous_version(run_copy: Path, monkeypatch: pytest.MonkeyPatch):
    def m002_half(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE added (x INTEGER)")
        db.execute("ALTER TABLE nosuch ADD COLUMN y")  # fails after the first statement took effect

    previous = _schema(run_copy / "monkeys.db")
    monkeypatch.setattr(migrations_module, "MIGRATIONS", [*MIGRATIONS, ("m002_half", m002_half)])
    monkeypatch.setattr("monkeys.store.db.MIGRATIONS", migrations_module.MIGRATIONS)
    with pytest.raises(StoreError, match="no such table: nosuch"):
        connect(run_copy)
    assert _schema(run_copy / "monkeys.db") == previous  # no table 'added', m002 not recorded

    def m002_fixed(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE added (x INTEGER)")
        db.execute("ALTER TABLE problems ADD COLUMN y")

    monkeypatch.setattr(migrations_module, "MIGRATIONS", [*MIGRATIONS, ("m002_half", m002_fixed)])
    monkeypatch.setattr("monkeys.store.db.MIGRATIONS", migrations_module.MIGRATIONS)
    connect(run_copy).close()  # the next open applies it whole
    names, tables = _schema(run_copy / "monkeys.db")
    assert names == [*previous[0], "m002_half"] and "added" in tables


def test_a_migration_using_executescript_is_caught(run_copy: Path, monkeypatch: pytest.MonkeyPatch):
    def m002_script(db: sqlite3.Connection) -> None:
        db.executescript("CREATE TABLE added (x);")  # commits on its own: the runner refuses to record it

    monkeypatch.setattr(migrations_module, "MIGRATIONS", [*MIGRATIONS, ("m002_script", m002_script)])
    monkeypatch.setattr("monkeys.store.db.MIGRATIONS", migrations_module.MIGRATIONS)
    with pytest.raises(RuntimeError, match="committed on its own"):
        connect(run_copy)
    assert _schema(run_copy / "monkeys.db")[0] == [name for name, _ in MIGRATIONS]


_KILLED_MIGRATION = """
import os, signal, sys
from monkeys.store import migrations
from monkeys.store.db import connect
import monkeys.store.db as db_module

def m002_killed(db):
    db.execute("CREATE TABLE added (x INTEGER)")
    db.execute("INSERT INTO added VALUES (1)")
    os.kill(os.getpid(), signal.SIGKILL)  # a kill -9 between two statements of one migration

migrations.MIGRATIONS.append(("m002_killed", m002_killed))
connect(sys.argv[1])
"""


@pytest.mark.parametrize("fresh", [False, True], ids=["existing-store", "new-store"])
def test_a_migration_killed_midway_leaves_the_previous_version(tmp_path: Path, run_copy: Path, fresh: bool):
    run = tmp_path / "fresh" if fresh else run_copy
    code = _KILLED_MIGRATION.replace("connect(sys.argv[1])", "connect(sys.argv[1], create=True)") if fresh \
        else _KILLED_MIGRATION
    previous = None if fresh else _schema(run / "monkeys.db")
    proc = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    names, tables = _schema(run / "monkeys.db")
    assert "added" not in tables and "m002_killed" not in names
    if previous is not None:
        assert (names, tables) == previous
    connect(run).close()  # the next open (this monkeys, without m002) succeeds and completes the schema
    names, tables = _schema(run / "monkeys.db")
    assert names == [name for name, _ in MIGRATIONS] and MONKEYS_TABLES <= set(tables)
