"""A run store that holds samples but lost its stored config (edited by hand, damaged) is refused on resume:
monkeys cannot check the new command against the run that drew them. At bf5ecf5 the resume took the
store for one killed before its header was written and stored the new config over it, so samples drawn
at temperature 0.6 were reported as a temperature-1.5 run. A store that was made but really holds nothing
yet (killed before its header) still resumes.
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
