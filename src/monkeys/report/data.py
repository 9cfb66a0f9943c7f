"""What a report shows about one run, read from its store once: correctness, tokens, config, protections."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from monkeys.analysis.cost import TokenStats
from monkeys.store import read_config, read_meta, read_store, run_verifier


@dataclass
class RunData:
    """One run as the report sees it. `n`/`c` are per-problem verdict and pass counts."""

    run_dir: Path
    name: str
    problem_ids: list[str]
    n: np.ndarray
    c: np.ndarray
    verifier: str | None
    model: str
    config: dict[str, Any] = field(default_factory=dict)
    protections: Any = None
    tokens: TokenStats = field(default_factory=lambda: TokenStats(0, 0.0, 0.0, 0.0))
    selection: dict[str, dict[int, float]] = field(default_factory=dict)  # method -> k -> accuracy
    flagged: dict[str, int] = field(default_factory=dict)  # problem -> passes the sandbox harness flagged
    stripped: int = 0  # samples whose top-level code was removed before their tests ran
    timeouts: dict[str, int] = field(default_factory=dict)  # problem -> 'timeout' verdicts of `verifier`
    timeout_limits: dict[str, int] = field(default_factory=dict)  # "cpu"/"wall"/other -> time-outs (details)
    verifiers: list[str] = field(default_factory=list)  # every verifier with verdicts in the store

    @property
    def n_samples(self) -> int:
        return self.tokens.samples


def load_run(run_dir: Path, verifier: str | None = None) -> RunData:
    """Read everything the report needs from the store, opened read-only (`store.read_store`: never
    written, never migrated); raises `StoreError` naming the file when it is not a readable monkeys store.
    `verifier` picks whose verdicts are counted (default: the run's, `store.run_verifier`)."""
    run_dir = Path(run_dir)
    return read_store(run_dir, lambda db: _load(run_dir, db, verifier))


def _load(run_dir: Path, db: sqlite3.Connection, verifier: str | None = None) -> RunData:
    config = read_config(db)
    verifier = verifier if verifier is not None else run_verifier(db)
    ids, n, c = _counts(db, verifier)
    protections = read_meta(db, "protections")
    model, tokens = _sample_stats(db)
    meta_model = read_meta(db, "model")
    selection = _selection(db, n, verifier)
    flagged, stripped = _integrity(db, verifier)
    timeouts, limits = _timeouts(db, verifier)
    return RunData(
        run_dir=run_dir, name=run_dir.name or str(run_dir), problem_ids=ids, n=n, c=c, verifier=verifier,
        model=str(config.get("model") or meta_model or model or "?"), config=config, protections=protections,
        tokens=tokens, selection=selection, flagged=flagged, stripped=stripped, timeouts=timeouts,
        timeout_limits=limits, verifiers=_verifiers(db))


def _verifiers(db: sqlite3.Connection) -> list[str]:
    return [r[0] for r in db.execute("SELECT DISTINCT verifier FROM verdicts ORDER BY verifier")]


def _timeouts(db: sqlite3.Connection, verifier: str | None) -> tuple[dict[str, int], dict[str, int]]:
    """Time-outs of `verifier` per problem, and by the limit that ended them (verdict details `time_limit`:
    "cpu", "wall"; "unknown" where a verdict does not say)."""
    per_problem = {r[0]: int(r[1]) for r in db.execute(
        "SELECT s.problem_id, COUNT(*) FROM verdicts v JOIN samples s ON s.sample_id = v.sample_id"
        " JOIN problems p ON p.problem_id = s.problem_id WHERE v.verifier = ? AND v.outcome = 'timeout'"
        " GROUP BY s.problem_id ORDER BY MIN(p.position)", (verifier,))}
    limits = {str(r[0] if r[0] is not None else "unknown"): int(r[1]) for r in db.execute(
        "SELECT json_extract(v.details, '$.time_limit'), COUNT(*) FROM verdicts v WHERE v.verifier = ?"
        " AND v.outcome = 'timeout' GROUP BY 1 ORDER BY 2 DESC", (verifier,))}
    return per_problem, limits


def _counts(db: sqlite3.Connection, verifier: str | None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Verdicts and passes per problem under `verifier` (what `read_results` gives, aggregated in SQL so a
    million samples take a second, not ten)."""
    rows = db.execute(
        "SELECT p.problem_id, COUNT(v.sample_id), COALESCE(SUM(v.outcome = 'pass'), 0) FROM problems p"
        " LEFT JOIN samples s ON s.problem_id = p.problem_id"
        " LEFT JOIN verdicts v ON v.sample_id = s.sample_id AND v.verifier = ?"
        " GROUP BY p.problem_id ORDER BY p.position", (verifier,)).fetchall()
    return ([r[0] for r in rows], np.array([r[1] for r in rows], dtype=np.int64),
            np.array([r[2] for r in rows], dtype=np.int64))


def _integrity(db: sqlite3.Connection, verifier: str | None) -> tuple[dict[str, int], int]:
    """Flagged passes per problem (the tests passed, but the harness saw tampering they cannot see; see
    `verifiers.code_tests`) and how many samples had top-level code stripped before their tests."""
    rows = db.execute(
        "SELECT s.problem_id, SUM(COALESCE(json_extract(v.details, '$.flagged_pass'), 0)),"
        " SUM(json_extract(v.details, '$.stripped') IS NOT NULL) FROM verdicts v"
        " JOIN samples s ON s.sample_id = v.sample_id WHERE v.verifier = ?"
        " AND (json_extract(v.details, '$.flagged_pass') IS NOT NULL OR json_extract(v.details, '$.stripped')"
        " IS NOT NULL) GROUP BY s.problem_id", (verifier,)).fetchall()
    return {r[0]: int(r[1]) for r in rows if r[1]}, sum(int(r[2]) for r in rows)


def _sample_stats(db: sqlite3.Connection) -> tuple[str, TokenStats]:
    count, p, c, quad = db.execute(
        "SELECT COUNT(*), AVG(prompt_tokens), AVG(completion_tokens),"
        " AVG(CAST(prompt_tokens + completion_tokens AS REAL) * MAX(prompt_tokens + completion_tokens - 1, 0))"
        " FROM samples").fetchone()
    models = [r[0] for r in db.execute("SELECT DISTINCT model FROM samples LIMIT 3")]
    return ", ".join(models), TokenStats(int(count), float(p or 0), float(c or 0), float(quad or 0))


def _selection(db: sqlite3.Connection, n: np.ndarray, verifier: str | None) -> dict[str, dict[int, float]]:
    """Selection-method accuracy per k from `analysis.selection` when that module exists and the run has
    answers to select from; {} otherwise (the report then leaves the section out)."""
    n_min = int(n.min()) if len(n) else 0
    if n_min < 1:
        return {}
    try:
        from monkeys.analysis.passk import default_ks
        from monkeys.analysis.selection import selection_curves  # type: ignore[import-not-found]
    except ImportError:
        return {}
    if not db.execute("SELECT 1 FROM verdicts WHERE json_extract(details, '$.answer_key') IS NOT NULL"
                      " LIMIT 1").fetchone():
        return {}  # no extracted answers (code or imported runs): nothing to select between
    scorer = db.execute("SELECT scorer FROM scores LIMIT 1").fetchone()
    try:
        curves = selection_curves(db, default_ks(n_min), scorer=scorer[0] if scorer else None, verifier=verifier)
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
        if points and method != "coverage":  # the report draws coverage itself
            out[str(method)] = points
    return out
