"""`monkeys serve` on 127.0.0.1 and `monkeys run --sampler openai` against it, both as real processes."""

import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
from conftest import MONKEYS, monkeys


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_through_an_openai_endpoint(tmp_path: Path):
    port = _free_port()
    server = subprocess.Popen([MONKEYS, "serve", "--sampler", "scripted", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        out = tmp_path / "run"
        proc = monkeys("run", "--sampler", "openai", "--base-url", f"http://127.0.0.1:{port}", "--model", "scripted",
                       "--problems", "2", "-n", "4", "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        db = sqlite3.connect(out / "monkeys.db")
        assert db.execute("SELECT count(*), min(model), sum(completion_tokens > 0) FROM samples").fetchone() == (
            8, "scripted", 8)
        assert db.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 8
    finally:
        server.terminate()
        server.wait(timeout=10)
