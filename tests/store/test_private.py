"""Issue 10: a run store is private to its owner (dir 0700, files 0600) and never holds a secret."""

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from monkeys.config import REDACTED, RunConfig, build_config
from monkeys.core import Completion, Outcome, Problem, Prompt, Verdict
from monkeys.pipeline import run
from monkeys.registry import create
from monkeys.serve import OpenAIServer
from monkeys.store import StoreWriter, connect, private_file, read_meta, write_meta, write_problems
from monkeys.store.export import export_run

SECRET = "sk-test-4f1c9e2a7b"


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _store_bytes(run_dir: Path) -> bytes:
    """Every byte of the store as it is on disk: the database and whatever -wal/-shm/-journal exist."""
    return b"".join(p.read_bytes() for p in sorted(run_dir.glob("monkeys.db*")))


def _small_store(run_dir: Path) -> None:
    db = connect(run_dir, create=True)
    write_problems(db, [Problem("p1", Prompt("q1"))])
    db.close()
    writer = StoreWriter(run_dir)
    writer.put_sample("p1", Completion(0, 1, "text", 1, 1, "stop", 0.0), "m")
    writer.put_verdict("p1", 0, "v", Verdict(Outcome.PASS, "passed"))
    writer.close()


def test_a_new_store_is_private_under_a_permissive_umask(tmp_path: Path):
    old = os.umask(0)
    try:
        run_dir = tmp_path / "runs" / "r"
        db = connect(run_dir, create=True)
        db.execute("INSERT INTO meta VALUES ('k', '1')")
        db.commit()
        files = sorted(run_dir.glob("monkeys.db*"))
        assert {p.name for p in files} >= {"monkeys.db", "monkeys.db-wal", "monkeys.db-shm"}  # open: WAL in use
        assert _mode(run_dir) == 0o700
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
        db.close()
    finally:
        os.umask(old)


def test_an_existing_loose_store_is_tightened_on_open(tmp_path: Path):
    run_dir = tmp_path / "r"
    _small_store(run_dir)
    keep = connect(run_dir)  # holds the -wal/-shm open while their modes are loosened
    keep.execute("SELECT count(*) FROM samples").fetchone()
    loose = sorted(run_dir.glob("monkeys.db*"))
    os.chmod(run_dir, 0o755)
    for p in loose:
        os.chmod(p, 0o644)
    connect(run_dir).close()
    assert _mode(run_dir) == 0o755  # a directory it did not create is the user's: left as it is
    assert {p.name: _mode(p) for p in loose} == {p.name: 0o600 for p in loose}
    keep.close()


def test_tightening_never_adds_permissions(tmp_path: Path):
    run_dir = tmp_path / "r"
    _small_store(run_dir)
    os.chmod(run_dir / "monkeys.db", 0o444)
    connect(run_dir).close()
    assert _mode(run_dir / "monkeys.db") == 0o400


def test_exports_and_private_files_are_0600(tmp_path: Path):
    run_dir = tmp_path / "r"
    _small_store(run_dir)
    for name in ("out.jsonl", "out.parquet"):
        assert export_run(run_dir, tmp_path / "exports" / name) == 1
        assert _mode(tmp_path / "exports" / name) == 0o600
    existing = tmp_path / "plot.png"
    existing.write_bytes(b"old")
    os.chmod(existing, 0o644)
    assert private_file(existing).read_bytes() == b""
    assert _mode(existing) == 0o600


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    """A real OpenAI-compatible server on 127.0.0.1 (port 0) in front of the scripted sampler."""
    backend = create("sampler", "scripted")
    with OpenAIServer(backend, port=0) as served:
        yield served
    backend.close()


def _openai_config(server: OpenAIServer, out: Path, n: int) -> RunConfig:
    return build_config({"sampler": "openai", "base_url": server.base_url, "model": "scripted", "problems": "2",
                         "n": n, "out": str(out), "sampler_options": {"api_key": SECRET, "max_retries": 0}})


def test_the_pipeline_stores_no_secret_and_resumes_with_it(tmp_path: Path, server: OpenAIServer):
    out = tmp_path / "r"
    assert run(_openai_config(server, out, 2)).samples_drawn == 4
    assert SECRET.encode() not in _store_bytes(out)
    db = connect(out)
    assert read_meta(db, "config")["sampler_options"] == {"api_key": REDACTED, "max_retries": 0}
    db.close()
    again = run(_openai_config(server, out, 3))  # same secret, given in clear again: no conflict
    assert again.resumed and again.samples_drawn == 2
    assert SECRET.encode() not in _store_bytes(out)


def test_an_old_store_holding_a_clear_key_loses_it_on_resume(tmp_path: Path, server: OpenAIServer):
    out = tmp_path / "r"
    cfg = _openai_config(server, out, 2)
    run(cfg)
    db = connect(out)  # as a monkeys before issue 10 stored it
    write_meta(db, "config", cfg.model_dump(mode="json"))
    db.close()
    assert SECRET.encode() in _store_bytes(out)
    assert run(cfg).resumed
    assert SECRET.encode() not in _store_bytes(out)
