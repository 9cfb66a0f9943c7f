"""`monkeys run` over two real `monkeys.serve` processes, one killed with SIGKILL mid-run: the run goes on
on the survivor and finishes with every sample stored exactly once, each verified."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
from conftest import MONKEYS, stored_samples

# The real server module around the scripted sampler, each call slowed a little so the run lasts a few
# seconds and the kill lands midway (`monkeys serve` has no flag for the sampler's delay).
SERVER = ("import sys; from monkeys.serve import OpenAIServer; from monkeys.samplers.scripted import ScriptedSampler;"
          " OpenAIServer(ScriptedSampler(delay_s=0.02), port=int(sys.argv[1]), concurrent=True).serve_forever()")


def _server() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/models", timeout=1)
            return proc, url
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise AssertionError(f"the test server on port {port} did not start") from None
            time.sleep(0.05)


def test_run_finishes_with_one_endpoint_killed_midway(tmp_path: Path) -> None:
    data = tmp_path / "gsm8k.jsonl"
    rows = [{"question": f"What is {k} + {42 - k}?", "answer": f"{k} + {42 - k} = 42\n#### 42"} for k in range(6)]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    servers = [_server() for _ in range(2)]
    out = tmp_path / "run"
    total = 6 * 64
    try:
        run = subprocess.Popen(
            [MONKEYS, "run", "--task", "gsm8k", "--data", str(data), "--task-option", "shots=0", "--sampler", "openai",
             "--model", "scripted", "--base-url", servers[0][1], "--base-url", servers[1][1], "-n", "64",
             "--batch-size", "2", "--concurrency", "8", "--out", str(out), "--no-report"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while stored_samples(out) < total // 4 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert run.poll() is None, run.communicate()  # still running: the kill lands midway
        servers[1][0].send_signal(signal.SIGKILL)
        stdout, stderr = run.communicate(timeout=120)
        assert run.returncode == 0, stderr
    finally:
        for proc, _ in servers:
            proc.kill()
            proc.wait(timeout=10)
    db = sqlite3.connect(out / "monkeys.db")
    assert db.execute("SELECT count(*), count(DISTINCT problem_id || '/' || sample_index) FROM samples").fetchone() == (
        total, total)
    assert db.execute("SELECT count(*), sum(outcome = 'pass') FROM verdicts").fetchone() == (total, total)
