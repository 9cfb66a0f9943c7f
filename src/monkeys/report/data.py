"""What a report shows about one run, read from its store once: correctness, tokens, config, protections."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from monkeys.store import connect, read_meta, read_results


@dataclass
class RunData:
    """One run as the report sees it. `n`/`c` are per-problem verdict and pass counts."""

    run_dir: Path
    name: str
    problem_ids: list[str]
    correct: list[np.ndarray]
    n: np.ndarray
    c: np.ndarray
    verifier: str | None
    model: str
    config: dict[str, Any] = field(default_factory=dict)
    protections: Any = None
    prompt_tokens: float = 0.0  # mean per sample
    completion_tokens: float = 0.0  # mean per sample
    n_samples: int = 0


def load_run(run_dir: Path) -> RunData:
    """Read everything the report needs; raises `StoreError` naming the directory when there is no store."""
    run_dir = Path(run_dir)
    db = connect(run_dir)
    try:
        results = read_results(db)
        config = read_meta(db, "config") or {}
        protections = read_meta(db, "protections")
        model, n_samples, p_tok, c_tok = _sample_stats(db)
    finally:
        db.close()
    return RunData(
        run_dir=run_dir, name=run_dir.name or str(run_dir), problem_ids=results.problem_ids,
        correct=results.correct, n=results.n, c=results.c, verifier=results.verifier,
        model=str(config.get("model") or model or "?"), config=config, protections=protections,
        prompt_tokens=p_tok, completion_tokens=c_tok, n_samples=n_samples)


def _sample_stats(db: sqlite3.Connection) -> tuple[str, int, float, float]:
    row = db.execute("SELECT COUNT(*), AVG(prompt_tokens), AVG(completion_tokens) FROM samples").fetchone()
    models = [r[0] for r in db.execute("SELECT DISTINCT model FROM samples LIMIT 3")]
    return ", ".join(models), int(row[0] or 0), float(row[1] or 0.0), float(row[2] or 0.0)
