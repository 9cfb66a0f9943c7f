"""The pipeline end to end in-process: scripted sampler, real sandboxed verifier, real SQLite store."""

import sqlite3
from pathlib import Path

import pytest

from monkeys.config import build_config
from monkeys.core import derive_seed
from monkeys.errors import ConfigError, DataError, PluginError
from monkeys.pipeline import run
from monkeys.registry import register_scorer

GOOD = "```python\ndef add(x: int, y: int):\n    return x + y\n```"
BAD = "```python\ndef add(x: int, y: int):\n    return x - y\n```"


def _cfg(run_dir: Path, **kw):
    values = dict(task="humaneval", problems="HumanEval/53,HumanEval/0", sampler="scripted",
                  sampler_options={"responses": [GOOD, BAD, BAD, BAD]}, n=8, batch_size=3, out=run_dir)
    values.update(kw)
    return build_config(values)


def _rows(run_dir: Path):
    db = sqlite3.connect(run_dir / "monkeys.db")
    return db.execute("SELECT s.problem_id, s.sample_index, s.seed, s.text, v.outcome FROM samples s"
                      " JOIN verdicts v USING (sample_id) ORDER BY 1, 2").fetchall()


def test_run_samples_verifies_and_stores_everything(run_dir: Path):
    summary = run(_cfg(run_dir))
    rows = _rows(run_dir)
    assert len(rows) == 16 and summary.samples_drawn == 16 and summary.samples_verified == 16
    for pid, idx, seed, text, outcome in rows:
        assert seed == derive_seed(0, pid, idx)
        expected = "pass" if pid == "HumanEval/53" and text == GOOD else "fail"
        assert outcome == expected
    assert summary.solved == {"HumanEval/53"}


def test_resume_draws_only_missing_samples(run_dir: Path):
    run(_cfg(run_dir, n=4))
    first = _rows(run_dir)
    summary = run(_cfg(run_dir, n=8))
    assert summary.resumed and summary.samples_drawn == 8
    rows = _rows(run_dir)
    assert rows[:4] == first[:4] and len(rows) == 16
    assert run(_cfg(run_dir, n=8)).samples_drawn == 0
    fresh = run_dir.parent / "fresh"
    run(_cfg(fresh, n=8))
    assert _rows(fresh) == rows  # resumed == uninterrupted, sample for sample


def test_samples_stored_without_verdict_are_verified_on_resume(run_dir: Path):
    run(_cfg(run_dir, n=4))
    db = sqlite3.connect(run_dir / "monkeys.db")
    with db:
        db.execute("DELETE FROM verdicts WHERE sample_id IN (SELECT sample_id FROM samples WHERE sample_index=2)")
    summary = run(_cfg(run_dir, n=4))
    assert summary.samples_drawn == 0 and summary.samples_verified == 2
    assert len(_rows(run_dir)) == 8


@pytest.mark.parametrize("change, error", [
    ({"task": "nosuch"}, PluginError), ({"sampler": "nosuch"}, PluginError),
    ({"verifier": "nosuch"}, PluginError), ({"data": "/nonexistent/file.jsonl"}, ConfigError),
    ({"problems": "HumanEval/53,Nope/1"}, ConfigError), ({"temperature": 0.1}, ConfigError),
])
def test_failed_start_leaves_an_existing_store_unchanged(run_dir: Path, change, error):
    run(_cfg(run_dir, n=2))
    before = (run_dir / "monkeys.db").read_bytes()
    with pytest.raises(error):
        run(_cfg(run_dir, n=2, **change))
    assert (run_dir / "monkeys.db").read_bytes() == before


@pytest.mark.parametrize("change, error", [
    ({"verifier": "nosuch"}, PluginError), ({"data": "/nonexistent/file.jsonl"}, DataError),
    ({"problems": "999:1000"}, ConfigError), ({"sampler_options": {"bogus": 1}}, ConfigError),
])
def test_failed_start_creates_no_run_directory(run_dir: Path, change, error):
    with pytest.raises(error):
        run(_cfg(run_dir, **change))
    assert not run_dir.exists()


@register_scorer("text-length")
class _TextLength:
    """Scores a sample by its length (a real scorer plug-in registered the way users do)."""

    def score(self, problem, sample) -> float:
        return float(len(sample.text))

    def close(self) -> None:
        pass


def test_scorers_run_and_missing_scores_are_filled_on_resume(run_dir: Path):
    run(_cfg(run_dir, n=4, scorers=["text-length"]))
    db = sqlite3.connect(run_dir / "monkeys.db")
    scores = db.execute("SELECT s.text, c.value FROM scores c JOIN samples s USING (sample_id)").fetchall()
    assert len(scores) == 8 and all(len(text) == value for text, value in scores)
    with db:
        db.execute("DELETE FROM scores WHERE sample_id IN (SELECT sample_id FROM samples WHERE sample_index < 2)")
    summary = run(_cfg(run_dir, n=4, scorers=["text-length"]))
    assert summary.samples_drawn == 0 and summary.samples_verified == 0
    assert db.execute("SELECT count(*) FROM scores").fetchone()[0] == 8


def test_the_sandbox_protections_are_recorded_in_the_store(run_dir: Path):
    run(_cfg(run_dir, n=1))
    import json

    stored = json.loads(sqlite3.connect(run_dir / "monkeys.db").execute(
        "SELECT value FROM meta WHERE key = 'protections'").fetchone()[0])
    assert "backend" in stored and "rlimits" in stored
