"""Issue 11, a run's identity: every setting that changes what a sample or verdict means is checked on resume,
sampler options included; the stored config is never rewritten and allowed changes go to a history.

The first half checks `config.check_resume` directly (pure, fast); the second runs the real CLI on a real
store: a resume with other sampler options is refused naming `sampler_options.<key>` and leaves the store
byte-identical, and a larger `-n` is accepted, recorded in the history, and the stored config keeps what
the first run used.
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from pathlib import Path

import pytest

from monkeys.config import build_config, check_resume, stored_config
from monkeys.errors import ConfigError

# The e2e runner (the installed `monkeys` command as a subprocess), loaded by path: `conftest` is a name
# every test folder's conftest.py shares.
_spec = importlib.util.spec_from_file_location("monkeys_e2e_conftest", Path(__file__).parent / "e2e" / "conftest.py")
assert _spec is not None and _spec.loader is not None
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
monkeys = _e2e.monkeys

SCRIPTED = {"sampler": "scripted", "problems": "2", "n": 2}


def _stored(**values) -> dict:
    return stored_config(build_config({**SCRIPTED, **values}))


def _resume(stored: dict, history: list | None = None, **values) -> list:
    return check_resume(stored, build_config({**SCRIPTED, **values}), Path("run"), history)


@pytest.mark.parametrize(("first", "then", "named"), [
    ({}, {"sampler_options": {"pick": "index"}}, "sampler_options.pick"),
    ({"sampler_options": {"responses": ["A"]}}, {"sampler_options": {"responses": ["B"]}},
     "sampler_options.responses"),
    ({"sampler_options": {"model": "one"}}, {"sampler_options": {"model": "two"}}, "sampler_options.model"),
    ({}, {"verifier_options": {"timeout_s": 3}}, "verifier_options.timeout_s"),
    ({}, {"verifier_options": {"memory_mb": 512}}, "verifier_options.memory_mb"),
    ({}, {"verifier_options": {"flagged": "pass"}}, "verifier_options.flagged"),
    ({}, {"task_options": {"prompt_style": "completion"}}, "task_options.prompt_style"),
    ({}, {"batch_size": 4}, "batch_size"),
    ({}, {"verifier": "math-answer"}, "verifier"),
])
def test_a_setting_that_changes_meaning_is_refused_by_name(first, then, named):
    with pytest.raises(ConfigError, match=rf"made with {named}=") as err:
        _resume(_stored(**first), **then)
    assert f"the same {named} to resume" in str(err.value)


def test_spelling_out_a_default_is_no_change():
    stored = _stored()
    assert _resume(stored, sampler_options={"pick": "seed"}, verifier_options={"timeout_s": 10.0},
                   task_options={"prompt_style": "chat"}, verifier="code-tests") == []


def test_secrets_are_not_identity():
    stored = _stored(sampler_options={"api_key_env": "A", "api_key": "sk-1"})
    assert "sk-1" not in json.dumps(stored)
    # a rotated or newly given key is neither a conflict nor a change to record
    assert _resume(stored, sampler_options={"api_key_env": "A", "api_key": "sk-2"}) == []
    assert _resume(stored, sampler_options={"api_key_env": "A"}) == []


def test_allowed_changes_are_appended_to_the_history_once():
    stored = _stored()
    history = _resume(stored, n=4, verify_workers=3, sampler_options={"delay_s": 0.5},
                      verifier_options={"cache": False})
    assert len(history) == 1 and history[0]["at"]
    assert history[0]["changes"] == {
        "n": {"from": 2, "to": 4}, "verify_workers": {"from": 2, "to": 3},
        "sampler_options.delay_s": {"from": 0.0, "to": 0.5}, "verifier_options.cache": {"from": True, "to": False}}
    same = _resume(stored, history, n=4, verify_workers=3, sampler_options={"delay_s": 0.5},
                   verifier_options={"cache": False})
    assert same == history  # the same command again: nothing new
    more = _resume(stored, history, n=8, scorers=["logprob"], verify_workers=3, sampler_options={"delay_s": 0.5},
                   verifier_options={"cache": False})
    assert len(more) == 2 and more[0] == history[0]
    assert more[1]["changes"] == {"n": {"from": 4, "to": 8}, "scorers": {"from": [], "to": ["logprob"]}}
    assert stored == _stored()  # the stored config is never touched


# -- the real CLI on a real store ---------------------------------------------------------------------------

ARGS = ["run", "--sampler", "scripted", "--problems", "2", "--no-report"]


def _meta(run: Path, key: str):
    db = sqlite3.connect(f"file:{run / 'monkeys.db'}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    finally:
        db.close()
    return None if row is None else json.loads(row[0])


def _files(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir()) if p.is_file()}


def _one_error(proc) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.fixture
def run(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    proc = monkeys(*ARGS, "-n", "2", "--sampler-option", "responses=[AAA, CCC]", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize(("option", "key"), [("responses=[BBB]", "responses"), ("pick=index", "pick"),
                                             ("model=other", "model")])
def test_cli_resume_with_other_sampler_options_is_refused(run: Path, option: str, key: str):
    before = _files(run)
    line = _one_error(monkeys(*ARGS, "-n", "4", "--sampler-option", "responses=[AAA, CCC]",
                              "--sampler-option", option, "--out", str(run)))
    assert f"sampler_options.{key}=" in line, line
    assert _files(run) == before


def test_cli_larger_n_is_recorded_and_the_stored_config_kept(run: Path):
    first = _meta(run, "config")
    assert first["sampler_options"] == {"responses": ["AAA", "CCC"]} and first["n"] == 2
    proc = monkeys(*ARGS, "-n", "4", "--sampler-option", "responses=[AAA, CCC]", "--sampler-option", "delay_s=0",
                   "--verify-workers", "3", "--out", str(run))
    assert proc.returncode == 0, proc.stderr
    assert _meta(run, "config") == first  # never rewritten
    (entry,) = _meta(run, "config_history")
    assert entry["changes"] == {"n": {"from": 2, "to": 4}, "verify_workers": {"from": 2, "to": 3}}
    db = sqlite3.connect(f"file:{run / 'monkeys.db'}?mode=ro", uri=True)
    try:
        texts = sorted(t for (t,) in db.execute("SELECT text FROM samples"))
    finally:
        db.close()
    assert len(texts) == 8 and set(texts) <= {"AAA", "CCC"}
