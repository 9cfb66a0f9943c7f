"""Helpers of the viewer's tests: run stores made with the real CLI, `monkeys view` started as a real process.

A module of its own (not conftest) so tests import it by a name no other test folder uses."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

MONKEYS = str(Path(sys.executable).parent / "monkeys")
SHARED_DATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve()
PROBLEMS = 12
SAMPLES = 60  # more than a page (50)
HOSTILE = "<script>document.title='owned'</script><img src=x onerror=alert(1)>"


def monkeys(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MONKEYS, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_import_run(tmp: Path, name: str, seed: int) -> Path:
    """A run from `monkeys import`: problem p passes about p/PROBLEMS of its samples (problem 0 never), and
    every text carries markup that must be shown as text."""
    rng = random.Random(seed)
    rows = tmp / f"{name}.jsonl"
    with rows.open("w") as fh:
        for p in range(PROBLEMS):
            for i in range(SAMPLES):
                correct = p > 0 and rng.random() < p / PROBLEMS
                text = f"sample {i} of problem {p}\n{HOSTILE}\nline three {'ok' if correct else 'wrong'} {i % 5}"
                fh.write(json.dumps({"problem_id": f"prob-{p}", "sample_index": i, "text": text,
                                     "correct": correct}) + "\n")
    out = tmp / name
    result = monkeys("import", str(rows), str(out), "--model", "test-model")
    assert result.returncode == 0, result.stderr
    return out


def snapshot(run: Path) -> dict[str, tuple[int, int]]:
    """Every file of a run directory with its size and modification time (the viewer must change none)."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(run.iterdir())}


class Viewer:
    def __init__(self, url: str, process: subprocess.Popen[str], runs: list[Path]) -> None:
        self.url = url
        self.process = process
        self.runs = runs

    def get(self, path: str, **params: str | int) -> httpx.Response:
        return httpx.get(self.url + path, params=params or None, timeout=60, follow_redirects=True)


def start_viewer(runs: list[Path]) -> Iterator[Viewer]:
    port = free_port()
    process = subprocess.Popen([MONKEYS, "view", *map(str, runs), "--port", str(port), "--no-browser"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "BROWSER": "false"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/static/style.css", timeout=2)
                break
            except httpx.HTTPError:
                if process.poll() is not None:
                    raise AssertionError(f"monkeys view exited {process.returncode}: {process.stderr.read()}") from None
                if time.monotonic() > deadline:
                    raise AssertionError("monkeys view did not answer within 60 s") from None
                time.sleep(0.2)
        yield Viewer(url, process, runs)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


