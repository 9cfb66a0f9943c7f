"""Issue 10, leaks: no secret on a command line or in a store, and a run directory only its owner can read.

Real processes and files: `monkeys serve` in front of the scripted sampler, `monkeys run --sampler openai`
against it with the key in a config file, then the bytes of every file in the run directory.
"""

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import scripted_server

SECRET = "sk-e2e-9d3b71c05a"
SCRIPTED = ["--sampler", "scripted", "--problems", "2", "-n", "2"]


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _all_bytes(run_dir: Path) -> bytes:
    """Every file under the run directory, store (-wal/-shm included when present) and plots alike."""
    return b"".join(p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file())


def _one_error_line(proc) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.mark.parametrize(("args", "named"), [
    (["--sampler-option", f"api_key={SECRET}"], "--sampler-option api_key"),
    (["--sampler-option", f"extra_headers={{Authorization: Bearer {SECRET}}}"],
     "--sampler-option extra_headers.Authorization"),
    (["--sampler-option", f"extra_headers={{X-API-Key: {SECRET}}}"], "--sampler-option extra_headers.X-API-Key"),
    (["--task-option", f"hf_token={SECRET}"], "--task-option hf_token"),
    (["--verifier-option", f"password={SECRET}"], "--verifier-option password"),
    (["--base-url", f"http://user:{SECRET}@127.0.0.1:9/v1"], "--base-url"),
])
def test_a_secret_on_the_command_line_is_refused(cli, tmp_path: Path, args: list[str], named: str):
    out = tmp_path / "run"
    proc = cli("run", *SCRIPTED, *args, "--out", str(out))
    line = _one_error_line(proc)
    assert line.startswith(f"error: {named}:"), line
    assert "api_key_env=" in line and "environment variable" in line
    assert SECRET not in proc.stderr + proc.stdout
    assert not out.exists()


def test_a_refused_secret_leaves_an_existing_run_unchanged(cli, tmp_path: Path):
    out = tmp_path / "run"
    assert cli("run", *SCRIPTED, "--out", str(out), "--no-report").returncode == 0
    before = _all_bytes(out)
    _one_error_line(cli("run", *SCRIPTED, "--sampler-option", f"api_key={SECRET}", "--out", str(out)))
    assert _all_bytes(out) == before


def test_an_environment_variable_name_is_not_a_secret(cli, tmp_path: Path):
    out = tmp_path / "run"
    proc = cli("run", "--sampler", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
               "--sampler-option", "api_key_env=MY_KEY", "--out", str(out))
    line = _one_error_line(proc)  # gets past the secret check, to the unreachable server
    assert "127.0.0.1:9" in line and "secret" not in line


@pytest.fixture
def server_url() -> Iterator[str]:
    with scripted_server() as url:
        yield url


def test_a_key_from_a_config_file_is_used_but_never_stored(cli, tmp_path: Path, server_url: str):
    out = tmp_path / "runs" / "r"
    config = tmp_path / "run.yaml"
    config.write_text(f"sampler: openai\nbase_url: {server_url}\nmodel: scripted\nproblems: '2'\n"
                      f"sampler_options: {{api_key: {SECRET}, max_retries: 0}}\nout: {out}\n")
    first = cli("run", "--config", str(config), "-n", "2")
    assert first.returncode == 0, first.stderr
    resumed = cli("run", "--config", str(config), "-n", "3")  # same key again: resumes, no conflict
    assert resumed.returncode == 0, resumed.stderr
    assert "(resumed)" in resumed.stderr
    for proc in (first, resumed):
        assert SECRET not in proc.stdout + proc.stderr
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert {"monkeys.db", "coverage.png"} <= {p.name for p in files}
    assert SECRET.encode() not in _all_bytes(out)
    assert b"<redacted>" in _all_bytes(out)  # the stored config says a key was given, not which

    assert _mode(out) == 0o700
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    export = tmp_path / "export.jsonl"
    assert cli("export", str(out), str(export)).returncode == 0
    assert _mode(export) == 0o600
    imported = tmp_path / "imported"
    assert cli("import", str(export), str(imported)).returncode == 0
    assert _mode(imported) == 0o700 and _mode(imported / "monkeys.db") == 0o600
