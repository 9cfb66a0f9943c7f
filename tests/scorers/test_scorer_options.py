"""Scorer options from the command line (`--scorer-option`) and a config file (`scorer_options`): checked
against what the scorer declares before anything is made, each mistake one `error:` line naming it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from monkeys.cli.run_cmd import scorer_options
from monkeys.config import RunConfig, check_resume, stored_config
from monkeys.errors import ConfigError

MONKEYS = str(Path(sys.executable).parent / "monkeys")
RUN = ["run", "--sampler", "scripted", "--problems", "1", "-n", "1", "--no-report"]


def _error(*args: str, cwd: Path) -> str:
    proc = subprocess.run([MONKEYS, *args], capture_output=True, text=True, cwd=cwd, timeout=300)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert not (cwd / "runs").exists()  # refused before anything was made
    return lines[0]


def test_bare_and_named_options() -> None:
    assert scorer_options(["model=/m", "batch_size=4"], ["reward-model"]) == {
        "reward-model": {"model": "/m", "batch_size": 4}}
    assert scorer_options(["reward-model.model=/m", "logprob.threads=2"], ["reward-model", "logprob"]) == {
        "reward-model": {"model": "/m"}, "logprob": {"threads": 2}}
    with pytest.raises(ConfigError, match=r"the run has 2 scorers \(a, b\); expected NAME.model=VALUE"):
        scorer_options(["model=x"], ["a", "b"])


@pytest.mark.parametrize(("args", "expected"), [
    (["--scorer", "reward-model", "--scorer-option", "modle=x"],
     "error: --scorer-option reward-model.modle: not an option of scorer 'reward-model'; did you mean 'model'?"
     " expected one of: batch_size, device, dtype, max_tokens, model"),
    (["--scorer", "logprob", "--scorer-option", "threads=0"],
     "error: --scorer-option logprob.threads: expected an integer >= 1, or null, got 0"),
    (["--scorer-option", "model=x"],
     "error: --scorer-option model: the run has no scorer (add --scorer NAME); expected NAME.model=VALUE "
     "naming one"),
    (["--scorer", "logprob", "--scorer-option", "reward-model.model=x"],
     "error: --scorer-option reward-model: 'reward-model' is not a scorer of this run; expected one of: logprob"),
    (["--scorer", "logprob", "--scorer-option", "nokey"], "error: --scorer-option 'nokey': expected KEY=VALUE"),
])
def test_cli_mistakes_are_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    assert _error(*RUN, *args, cwd=tmp_path) == expected


def test_config_file_mistakes_name_the_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "run.yaml").write_text("scorers: [logprob]\nscorer_options: {logprob: {thread: 2}}\n")
    assert _error(*RUN, "--config", "run.yaml", cwd=tmp_path) == (
        "error: run.yaml: field 'scorer_options.logprob.thread': not an option of scorer 'logprob'; "
        "did you mean 'threads'? expected one of: batch_tokens, dtype, model, reuse_prompt, threads")


def test_options_from_the_file_and_the_flags_merge_and_are_stored(tmp_path: Path) -> None:
    (tmp_path / "run.yaml").write_text("scorers: [logprob]\nscorer_options: {logprob: {batch_tokens: 64}}\n")
    proc = subprocess.run([MONKEYS, *RUN, "--config", "run.yaml", "--scorer-option", "reuse_prompt=false",
                           "--out", "r"], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    db = sqlite3.connect(tmp_path / "r" / "monkeys.db")
    config = db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0]
    scores = db.execute("SELECT count(*) FROM scores WHERE scorer = 'logprob'").fetchone()[0]
    db.close()
    assert '"scorer_options": {"logprob": {"batch_tokens": 64, "reuse_prompt": false}}' in config
    assert scores == 1


def test_resume_keeps_a_scorers_meaning_and_lets_speed_options_change(tmp_path: Path) -> None:
    stored = stored_config(RunConfig(scorers=["reward-model"], scorer_options={"reward-model": {"model": "/a"}}))
    same = RunConfig(scorers=["reward-model"], scorer_options={"reward-model": {"model": "/a", "batch_size": 2}})
    history = check_resume(stored, same, tmp_path)  # batch_size is speed-only: recorded, allowed
    assert history[-1]["changes"]["scorer_options"]["to"] == {"reward-model": {"model": "/a", "batch_size": 2}}
    with pytest.raises(ConfigError, match=r"scorer_options.reward-model.model='/a', not '/b'"):
        check_resume(stored, RunConfig(scorers=["reward-model"], scorer_options={"reward-model": {"model": "/b"}}),
                     tmp_path)
    added = stored_config(RunConfig())  # a scorer added on resume may take any options
    check_resume(added, RunConfig(scorers=["reward-model"], scorer_options={"reward-model": {"model": "/b"}}),
                 tmp_path)


def test_a_scorer_added_on_resume_scores_the_stored_samples_in_groups(tmp_path: Path) -> None:
    """The pipeline hands a scorer with `score_many` a problem's stored samples together, on resume too."""
    base = [MONKEYS, "run", "--sampler", "scripted", "--problems", "2", "-n", "3", "--no-report", "--out", "r"]
    first = subprocess.run(base, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert first.returncode == 0, first.stderr
    again = subprocess.run([*base, "--scorer", "logprob", "--scorer-option", "batch_tokens=64"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert again.returncode == 0, again.stderr
    db = sqlite3.connect(tmp_path / "r" / "monkeys.db")
    scores = db.execute("SELECT s.problem_id, sc.value FROM scores sc JOIN samples s USING (sample_id)"
                        " WHERE sc.scorer = 'logprob'").fetchall()
    db.close()
    assert len(scores) == 6 and len({p for p, _ in scores}) == 2 and all(v < 0 for _, v in scores)
