"""Run the installed `monkeys` command as a user would: a real process, real files."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

MONKEYS = str(Path(sys.executable).parent / "monkeys")


def monkeys(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MONKEYS, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def addition_problems(tmp_path: Path, problems: int) -> Path:
    """A GSM8K-style data file: problem test/i asks "What is i + 40?", gold 40 + i."""
    import json

    path = tmp_path / "math.jsonl"
    rows = [{"question": f"What is {i} + 40?", "answer": f"{i} + 40 = {40 + i}\n#### {40 + i}"}
            for i in range(problems)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def cli():
    return monkeys


def stored_samples(run_dir: Path) -> int:
    """How many samples a run's store holds right now, read-only (0 before the store or its tables exist)."""
    import sqlite3

    try:
        db = sqlite3.connect(f"file:{run_dir / 'monkeys.db'}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute("SELECT count(*) FROM samples").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


@contextlib.contextmanager
def scripted_server() -> Iterator[str]:
    """`monkeys serve --sampler scripted` on a free port of 127.0.0.1; yields its /v1 URL once it answers."""
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([MONKEYS, "serve", "--sampler", "scripted", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/models", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
