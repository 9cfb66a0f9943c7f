"""SIGTERM (`kill PID`, a batch scheduler's time limit, systemd) and SIGHUP (the terminal closed) stop a
command as Ctrl-C does: what was stored is kept, one line says so and how to resume, the exit status is
128 + the signal, and the same command again finishes the run with exactly the samples of an
uninterrupted one. At bf5ecf5 both killed the process on the spot without a word (exit -15 / -1).
An ignored SIGHUP (`nohup monkeys run ...`) stays ignored.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("monkeys_e2e_conftest", Path(__file__).parents[1] / "conftest.py")
assert _spec is not None and _spec.loader is not None
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
MONKEYS, monkeys, stored_samples = _e2e.MONKEYS, _e2e.monkeys, _e2e.stored_samples

pytestmark = pytest.mark.timeout(300)

TOTAL = 4 * 8


def _args(data: Path, out: Path) -> list[str]:
    return ["run", "--task", "gsm8k", "--data", str(data), "--task-option", "shots=0", "--sampler", "scripted",
            "--sampler-option", 'responses=["#### 40", "#### 41", "#### 43", "no idea"]', "--sampler-option",
            "delay_s=0.25", "--concurrency", "1", "-n", "8", "--batch-size", "2", "--no-report", "--out", str(out)]


def _samples(run: Path, tmp_path: Path) -> dict[tuple[str, int], tuple[str, bool]]:
    out = tmp_path / f"{run.name}.jsonl"
    proc = monkeys("export", str(run), str(out))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return {(r["problem_id"], r["sample_index"]): (r["text"], r["correct"]) for r in rows}


def _defaults() -> None:
    # the signals at their defaults whatever pytest inherited (a suite started under `nohup` ignores SIGHUP,
    # and a child keeps an ignored signal ignored)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)


def _start(args: list[str], **kw) -> subprocess.Popen[str]:
    # SIGINT as a terminal delivers it; the other signals at their defaults unless `kw` says otherwise
    kw.setdefault("preexec_fn", _defaults)
    return subprocess.Popen([MONKEYS, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)


def _wait_for(run: Path, samples: int) -> None:
    deadline = time.monotonic() + 60
    while stored_samples(run) < samples and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_stop_signal_keeps_what_was_stored_says_so_and_resumes(tmp_path: Path, sig: signal.Signals):
    data = _e2e.addition_problems(tmp_path, 4)
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    assert monkeys(*_args(data, whole)).returncode == 0
    proc = _start(_args(data, stopped))
    _wait_for(stopped, 6)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig, (proc.returncode, stderr)
    assert "Traceback" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    assert last == f"stopped by {sig.name}: stored samples are kept; run the same command again to resume", stderr
    kept = stored_samples(stopped)
    assert 6 <= kept < TOTAL, "the signal did not land midway"
    resumed = monkeys(*_args(data, stopped))
    assert resumed.returncode == 0, resumed.stderr
    assert _samples(stopped, tmp_path) == _samples(whole, tmp_path)


def test_an_ignored_sighup_stays_ignored(tmp_path: Path):
    data = _e2e.addition_problems(tmp_path, 4)
    out = tmp_path / "nohup"
    proc = _start(_args(data, out), preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    _wait_for(out, 4)
    proc.send_signal(signal.SIGHUP)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert stored_samples(out) == TOTAL


def test_a_server_stopped_by_sigterm_says_so_without_a_resume_hint(tmp_path: Path):
    """`monkeys serve` stores nothing: its stop line has no "run the same command again to resume"."""
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = _start(["serve", "--sampler", "scripted", "--port", str(port)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    server.send_signal(signal.SIGTERM)
    _, stderr = server.communicate(timeout=30)
    assert server.returncode == 128 + signal.SIGTERM, (server.returncode, stderr)
    assert stderr.strip().splitlines()[-1] == "stopped by SIGTERM", stderr
