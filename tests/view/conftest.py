"""Real run stores for the viewer's tests, and `monkeys view` started on them as a real process."""

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
import pytest

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


def _import_run(tmp: Path, name: str, seed: int) -> Path:
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


@pytest.fixture(scope="session")
def import_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _import_run(tmp_path_factory.mktemp("view-import"), "imported-run", 0)


@pytest.fixture(scope="session")
def second_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _import_run(tmp_path_factory.mktemp("view-second"), "second-run", 1)


GSM_ANSWERS = ["18", "3", "70000", "540", "20"]


@pytest.fixture(scope="session")
def math_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GSM8K samples verified by `monkeys verify` (verdict details carry the extracted answers): on problem
    test/1 (reference 3) answer 1 is the majority (12 of 30), the right 3 has 8."""
    data = SHARED_DATA / "gsm8k" / "test.jsonl"
    if not data.is_file():
        pytest.skip(f"GSM8K test file not found at {data} (the repo's sibling shared/data)")
    tmp = tmp_path_factory.mktemp("view-math")
    rows = tmp / "samples.jsonl"
    with rows.open("w") as fh:
        for p, right in enumerate(GSM_ANSWERS):
            for i in range(30):
                answer = "1" if i < 12 else right if i < 20 else str(100 + i % 3)
                fh.write(json.dumps({"problem_id": f"test/{p}", "sample_index": i,
                                     "text": f"Thinking <b>hard</b> about it.\nThe answer is {answer}."}) + "\n")
    out = tmp / "gsm-run"
    result = monkeys("verify", str(rows), "--task", "gsm8k", "--data", str(data), "--task-option", "shots=0",
                     "--out", str(out))
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


@pytest.fixture(scope="session")
def viewer(import_run: Path, second_run: Path) -> Iterator[Viewer]:
    """One viewer over two imported runs (run 0 and run 1)."""
    yield from start_viewer([import_run, second_run])


@pytest.fixture(scope="session")
def math_viewer(math_run: Path) -> Iterator[Viewer]:
    yield from start_viewer([math_run])
