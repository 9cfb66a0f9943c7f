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
    prompt_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per stored sample
    completion_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0))
    selection: dict[str, dict[int, float]] = field(default_factory=dict)  # method -> k -> accuracy

    @property
    def n_samples(self) -> int:
        return len(self.prompt_tokens)


def load_run(run_dir: Path) -> RunData:
    """Read everything the report needs; raises `StoreError` naming the directory when there is no store."""
    run_dir = Path(run_dir)
    db = connect(run_dir)
    try:
        results = read_results(db)
        config = read_meta(db, "config") or {}
        protections = read_meta(db, "protections")
        model, p_tok, c_tok = _sample_stats(db)
        selection = _selection(db, results)
    finally:
        db.close()
    return RunData(
        run_dir=run_dir, name=run_dir.name or str(run_dir), problem_ids=results.problem_ids,
        correct=results.correct, n=results.n, c=results.c, verifier=results.verifier,
        model=str(config.get("model") or model or "?"), config=config, protections=protections,
        prompt_tokens=p_tok, completion_tokens=c_tok, selection=selection)


def _sample_stats(db: sqlite3.Connection) -> tuple[str, np.ndarray, np.ndarray]:
    tokens = np.array(db.execute("SELECT prompt_tokens, completion_tokens FROM samples").fetchall(),
                      dtype=np.int64).reshape(-1, 2)
    models = [r[0] for r in db.execute("SELECT DISTINCT model FROM samples LIMIT 3")]
    return ", ".join(models), tokens[:, 0], tokens[:, 1]


def _selection(db: sqlite3.Connection, results: Any) -> dict[str, dict[int, float]]:
    """Selection-method accuracy per k from `analysis.selection` when that module exists and the run has
    answers to select from; {} otherwise (the report then leaves the section out)."""
    n_min = int(results.n.min()) if len(results.n) else 0
    if n_min < 1:
        return {}
    try:
        from monkeys.analysis.passk import default_ks
        from monkeys.analysis.selection import selection_curves  # type: ignore[import-not-found]
    except ImportError:
        return {}
    try:
        curves = selection_curves(db, default_ks(n_min))
    except Exception:  # noqa: BLE001 - an optional section must not sink the whole report
        return {}
    return _normalise_curves(curves, default_ks(n_min))


def _normalise_curves(curves: Any, ks: list[int]) -> dict[str, dict[int, float]]:
    """Accept {method: {k: acc}}, {method: [acc per k]} or objects with ks/values-like attributes."""
    out: dict[str, dict[int, float]] = {}
    for method, curve in dict(curves or {}).items():
        if isinstance(curve, dict):
            points = {int(k): float(v) for k, v in curve.items()}
        elif hasattr(curve, "ks"):
            values = next((getattr(curve, a) for a in ("values", "accuracy", "curve") if hasattr(curve, a)), [])
            points = {int(k): float(v) for k, v in zip(curve.ks, values, strict=False)}
        else:
            points = {k: float(v) for k, v in zip(ks, curve, strict=False)}
        if points:
            out[str(method)] = points
    return out
