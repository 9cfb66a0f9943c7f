"""A run store whose stored config was lost or edited by hand is refused with one line, the store left as
it was. At bf5ecf5 a resume took a store without its config for one killed before its header was written
and stored the new config over it (samples drawn at temperature 0.6 were reported as a temperature-1.5
run); a config that is a JSON list, or a `verifier_options` that is one, ended `monkeys run` or
`monkeys verify RUN` in a TypeError traceback, and a `config_history` that is a string was extended
character by character. A store that was made but really holds nothing yet (killed before its header)
still resumes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sqlite3
from pathlib import Path

import pytest

from monkeys.store import connect

_spec = importlib.util.spec_from_file_location("monkeys_e2e_conftest", Path(__file__).parents[1] / "conftest.py")
assert _spec is not None and _spec.loader is not None
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
monkeys, stored_samples = _e2e.monkeys, _e2e.stored_samples

pytestmark = pytest.mark.timeout(120)


def _args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--task", "gsm8k", "--data", str(data), "--task-option", "shots=0", "--sampler", "scripted",
            "--no-report", "--out", str(out), *extra]


def _digest(run: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(run.iterdir()) if p.is_file()}


@pytest.mark.parametrize("extra", [["-n", "4", "--temperature", "1.5"], ["-n", "4"]], ids=["other-config", "same"])
def test_a_store_without_its_config_is_refused_and_left_as_it_was(tmp_path: Path, extra: list[str]):
    data = _e2e.addition_problems(tmp_path, 3)
    run = tmp_path / "run"
    assert monkeys(*_args(data, run, "-n", "3")).returncode == 0
    db = sqlite3.connect(run / "monkeys.db")
    db.execute("DELETE FROM meta WHERE key = 'config'")
    db.commit()
    db.close()
    before = _digest(run)
    proc = monkeys(*_args(data, run, *extra))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: {run / 'monkeys.db'}: holds 3 problems and 9 samples but no run config"), line
    assert "choose another --out" in line
    assert _digest(run) == before


def test_a_store_made_but_killed_before_its_header_resumes(tmp_path: Path):
    data = _e2e.addition_problems(tmp_path, 3)
    run = tmp_path / "run"
    run.mkdir()
    connect(run, create=True).close()  # the schema, no config, no problems: what a kill right after creating it leaves
    proc = monkeys(*_args(data, run, "-n", "3"))
    assert proc.returncode == 0, proc.stderr
    assert stored_samples(run) == 9


EDITS = [
    ("config-a-list", "UPDATE meta SET value = '[1, 2]' WHERE key = 'config'", ["run", "verify"],
     "meta 'config' is a JSON list; expected an object of run settings"),
    ("verifier-options-a-list",
     "UPDATE meta SET value = json_set(value, '$.verifier_options', json('[1]')) WHERE key = 'config'",
     ["run", "verify"], "meta 'config' field 'verifier_options' is a list; expected an object"),
    ("n-a-string", "UPDATE meta SET value = json_set(value, '$.n', 'many') WHERE key = 'config'", ["run", "report"],
     "meta 'config' field 'n' is a string 'many'; expected an integer"),
    ("history-a-string", "INSERT OR REPLACE INTO meta VALUES ('config_history', '\"x\"')", ["run"],
     "meta 'config_history' is not a JSON list"),
]


@pytest.mark.parametrize(("edit", "commands", "said"), [pytest.param(e, c, m, id=i) for i, e, c, m in EDITS])
def test_an_edited_stored_config_is_one_line_and_the_store_is_left_as_it_was(tmp_path: Path, edit: str,
                                                                            commands: list[str], said: str):
    data = _e2e.addition_problems(tmp_path, 3)
    run = tmp_path / "run"
    assert monkeys(*_args(data, run, "-n", "2")).returncode == 0
    db = sqlite3.connect(run / "monkeys.db")
    db.execute(edit)
    db.commit()
    db.close()
    before = _digest(run)
    for command in commands:
        args = {"run": _args(data, run, "-n", "3"), "report": ["report", str(run)],
                "verify": ["verify", str(run), "--verifier", "math-answer", "--verifier-option", "mode=minerva"]}
        proc = monkeys(*args[command])
        assert proc.returncode == 2, (command, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
        line = proc.stderr.strip().splitlines()[-1]
        assert line.startswith("error: ") and str(run / "monkeys.db") in line and said in line, (command, line)
        assert "the store was edited or damaged" in line
        assert _digest(run) == before
