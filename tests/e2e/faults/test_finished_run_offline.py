"""A run that has every sample it asks for needs no sampler: resuming it (to verify again, add a scorer,
or report) works with the model server gone; asking for more samples then ends with one line, exit 2."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("monkeys_e2e_conftest", Path(__file__).parents[1] / "conftest.py")
assert _spec is not None and _spec.loader is not None
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
monkeys = _e2e.monkeys

pytestmark = pytest.mark.timeout(180)


def test_a_complete_run_resumes_with_the_server_gone(tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = tmp_path / "run.yaml"
    with _e2e.scripted_server() as url:
        config.write_text(f"sampler: openai\nbase_url: {url}\nmodel: scripted\nproblems: '2'\n"
                          f"sampler_options: {{max_retries: 0}}\nout: {out}\n")
        first = monkeys("run", "--config", str(config), "-n", "2", "--no-report")
        assert first.returncode == 0, first.stderr
    again = monkeys("run", "--config", str(config), "-n", "2")  # nothing to draw: no server needed
    assert again.returncode == 0, again.stderr
    assert "(resumed)" in again.stderr
    more = monkeys("run", "--config", str(config), "-n", "3")  # one more sample each: the server is needed
    lines = [line for line in more.stderr.splitlines() if line.startswith("error:")]
    assert more.returncode == 2 and len(lines) == 1, more.stderr
    assert "Traceback" not in more.stderr
