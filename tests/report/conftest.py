"""Run stores with known correctness, written through the normal store writer into tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from monkeys.core import Completion, Outcome, Problem, Prompt, Verdict
from monkeys.store import StoreWriter, connect, write_meta, write_problems


def write_run(run_dir: Path, correct: np.ndarray, *, model: str = "SmolLM2-135M",
              verifier: str = "scripted", tokens: tuple[int, int] = (50, 100)) -> Path:
    """A run whose problem i has samples j with verdict correct[i, j]."""
    db = connect(run_dir, create=True)
    write_meta(db, "config", {"task": "synthetic", "model": model, "verifier": verifier, "n": correct.shape[1]})
    write_meta(db, "protections", {"sandbox": "none (synthetic)"})
    write_problems(db, [Problem(f"p{i}", Prompt(text=f"q{i}")) for i in range(correct.shape[0])])
    db.close()
    writer = StoreWriter(run_dir)
    for i, row in enumerate(correct):
        for j, ok in enumerate(row):
            writer.put_sample(f"p{i}", Completion(j, 0, f"s{j}", tokens[0], tokens[1], "stop", 0.0), model)
            writer.put_verdict(f"p{i}", j, verifier, Verdict(Outcome.PASS if ok else Outcome.FAIL, "x"))
    writer.close()
    return run_dir


@pytest.fixture
def run_writer() -> Callable[..., Path]:
    """`write_run` for a test (a fixture: `from conftest import` names whichever conftest pytest loaded last)."""
    return write_run


@pytest.fixture
def make_run(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str, rates: list[float], n: int, seed: int = 0, **kw: object) -> Path:
        rng = np.random.default_rng(seed)
        correct = rng.random((len(rates), n)) < np.asarray(rates)[:, None]
        return write_run(tmp_path / name, correct, **kw)
    return make


def import_table(tmp_path: Path, name: str, correct: np.ndarray, *, outcome: np.ndarray | None = None,
                 model: str = "SmolLM2-135M") -> Path:
    """A run made the way a user makes one: a Parquet of outcomes, then `monkeys import` (a subprocess).
    `correct[i, j]` is sample j of problem i; `outcome` (same shape, strings) may mark time-outs."""
    import subprocess
    import sys

    import pyarrow as pa
    import pyarrow.parquet as pq

    problems, n = correct.shape
    cols = {"problem_id": np.repeat([f"p{i:03d}" for i in range(problems)], n),
            "sample_index": np.tile(np.arange(n), problems), "correct": correct.ravel(),
            "model": np.full(problems * n, model)}
    if outcome is not None:
        cols["outcome"] = outcome.ravel()
    src = tmp_path / f"{name}.parquet"
    pq.write_table(pa.table(cols), src)
    run = tmp_path / name
    monkeys = Path(sys.executable).with_name("monkeys")
    done = subprocess.run([str(monkeys), "import", str(src), str(run)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return run


@pytest.fixture
def imported(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str, correct: np.ndarray, **kw: object) -> Path:
        return import_table(tmp_path, name, correct, **kw)
    return make
