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
def make_run(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str, rates: list[float], n: int, seed: int = 0, **kw: object) -> Path:
        rng = np.random.default_rng(seed)
        correct = rng.random((len(rates), n)) < np.asarray(rates)[:, None]
        return write_run(tmp_path / name, correct, **kw)
    return make
