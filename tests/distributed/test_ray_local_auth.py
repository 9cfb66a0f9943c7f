"""`monkeys run --ray local` starts a Ray instance whose daemons listen on every network interface; Ray runs
whatever code a client sends, so without token authentication anyone who reaches the machine can run code
as the user. Ray's own warning is silenced with its other start-up noise: monkeys says it, in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_local(out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    responses = ["```python\ndef has_close_elements(numbers, threshold):\n    return False\n```"]
    return subprocess.run(
        [str(Path(sys.executable).parent / "monkeys"), "run", "--task", "humaneval", "--problems", "HumanEval/0",
         "--sampler", "scripted", "--sampler-option", f"responses={json.dumps(responses)}", "-n", "2",
         "--ray", "local", "--out", str(out)], capture_output=True, text=True, timeout=300,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}, **env})


def test_a_local_instance_without_token_authentication_is_named_in_a_warning(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="monkeys[ray] is not installed")
    done = run_local(tmp_path / "open", RAY_AUTH_MODE="disabled")
    assert done.returncode == 0, done.stderr[-2000:]
    warned = [line for line in done.stderr.splitlines() if line.startswith("warning: --ray local:")]
    assert len(warned) == 1 and "without token authentication (RAY_AUTH_MODE=disabled)" in warned[0], done.stderr
    done = run_local(tmp_path / "token", RAY_AUTH_MODE="token")
    assert done.returncode == 0 and "warning: --ray local:" not in done.stderr, done.stderr[-2000:]
