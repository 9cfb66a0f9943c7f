"""A run that has every sample it asks for needs no sampler: resuming it (to verify again, add a scorer,
or report) works with the model server gone; asking for more samples then ends with one line, exit 2."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

_spec = importlib.util.spec_from_file_location("monkeys_e2e_conftest", Path(__file__).parents[1] / "conftest.py")
assert _spec is not None and _spec.loader is not None
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
MONKEYS, monkeys = _e2e.MONKEYS, _e2e.monkeys

pytestmark = pytest.mark.timeout(180)


def _serve() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([MONKEYS, "serve", "--sampler", "scripted", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/models", timeout=1)
            return server, url
        except httpx.HTTPError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise
            time.sleep(0.1)


def test_a_complete_run_resumes_with_the_server_gone(tmp_path: Path) -> None:
    server, url = _serve()
    out = tmp_path / "run"
    config = tmp_path / "run.yaml"
    config.write_text(f"sampler: openai\nbase_url: {url}\nmodel: scripted\nproblems: '2'\n"
                      f"sampler_options: {{max_retries: 0}}\nout: {out}\n")
    try:
        first = monkeys("run", "--config", str(config), "-n", "2", "--no-report")
        assert first.returncode == 0, first.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)
    again = monkeys("run", "--config", str(config), "-n", "2")  # nothing to draw: no server needed
    assert again.returncode == 0, again.stderr
    assert "(resumed)" in again.stderr
    more = monkeys("run", "--config", str(config), "-n", "3")  # one more sample each: the server is needed
    lines = [line for line in more.stderr.splitlines() if line.startswith("error:")]
    assert more.returncode == 2 and len(lines) == 1, more.stderr
    assert "Traceback" not in more.stderr
