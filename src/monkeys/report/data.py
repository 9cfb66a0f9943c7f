"""What a report shows about one run, read from its store once: correctness, tokens, config, protections."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from monkeys.analysis.cost import TokenStats
from monkeys.report import swe
from monkeys.store import read_config, read_meta, read_store, run_verifier, scorers, verifiers
from monkeys.store.migrations import is_compact
from monkeys.store.read import checker_id


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
    stops: dict[str, Any] = field(default_factory=dict)  # problem -> `store.read.ProblemStop` (drawn, reason)
    first_passes: Any = None  # `analysis.early_stop.FirstPasses` when sampling stopped problems early, else None
    stripped: int = 0  # samples whose top-level code was removed before their tests ran
    timeouts: dict[str, int] = field(default_factory=dict)  # problem -> 'timeout' verdicts of `verifier`
    timeout_limits: dict[str, int] = field(default_factory=dict)  # "cpu"/"wall"/other -> time-outs (details)
    verifiers: list[str] = field(default_factory=list)  # every verifier with verdicts in the store
    swe: Any = None  # `report.swe.SweData` of a SWE-bench run, else None
    revisions: tuple[int, int] | None = None  # (stored, installed) revision of `verifier` when they differ

    @property
    def n_samples(self) -> int:
        return self.tokens.samples


def load_run(run_dir: Path, verifier: str | None = None) -> RunData:
    """Read everything the report needs from the store, opened read-only (`store.read_store`: never
    written, never migrated); raises `StoreError` naming the file when it is not a readable monkeys store.
    `verifier` picks whose verdicts are counted (default: the run's, `store.run_verifier`)."""
    run_dir = Path(run_dir)
    return read_store(run_dir, lambda db: _with_stops(db, _load(run_dir, db, verifier)))


def _with_stops(db: sqlite3.Connection, run: RunData) -> RunData:
    """The run's per-problem stops (m003) and, when any problem stopped at its first pass or by the budget,
    each problem's first pass and verified prefix: the report's coverage then uses `analysis.early_stop`."""
    from monkeys.analysis.early_stop import FirstPasses
    from monkeys.store.read import problem_stops, verified_indices

    run.stops = problem_stops(db)
    run.revisions = _stale(db, run.run_dir, run.verifier)
    if any(stop.reason in ("solved", "budget") for stop in run.stops.values()):
        run.first_passes = FirstPasses.from_verdicts(verified_indices(db, run.verifier), run.problem_ids)
    return run


def _stale(db: sqlite3.Connection, run_dir: Path, key: str | None) -> tuple[int, int] | None:
    """(stored, installed) revision of the verifier whose verdicts are counted, when an other revision of it
    made them (`store.revisions`); None when they agree or either is unknown."""
    from monkeys.registry import verifier_revision
    from monkeys.store import revisions

    if not key:
        return None
    extra = read_meta(db, "verifiers") or {}
    name = extra[key].get("verifier", key) if isinstance(extra, dict) and isinstance(extra.get(key), dict) else key
    return revisions.stale(db, run_dir, key, verifier_revision(str(name)))


def _load(run_dir: Path, db: sqlite3.Connection, verifier: str | None = None) -> RunData:
    config = read_config(db)
    verifier = verifier if verifier is not None else run_verifier(db)
    if is_compact(db):
        return _load_compact(run_dir, db, config, verifier)
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
        timeout_limits=limits, verifiers=verifiers(db), swe=swe.load(db, config, verifier))


def _load_compact(run_dir: Path, db: sqlite3.Connection, config: dict[str, Any], verifier: str | None) -> RunData:
    """`_load` on the integer-keyed tables: each aggregate is one scan in key order, no joins per row (a
    1.4-million-sample store in a fraction of a second)."""
    vid = checker_id(db, "verifier", verifier)
    rows = db.execute(  # per problem, its range of verdict keys (position << 40 .. + 2**40 - 1), outcome
        # codes as one string of digits: counted in Python, twice as fast as COUNT/SUM per row in SQL
        "SELECT p.problem_id, (SELECT group_concat(v.outcome, '') FROM verdict_rows v WHERE v.key BETWEEN"
        " p.position << 40 AND (p.position << 40) + 1099511627775 AND (v.key & 255) = ?) FROM problems p"
        " ORDER BY p.position", (vid,)).fetchall()
    ids = [r[0] for r in rows]
    n = np.array([len(r[1] or "") for r in rows], dtype=np.int64)
    c = np.array([(r[1] or "").count("1") for r in rows], dtype=np.int64)
    timeouts = {r[0]: r[1].count("2") for r in rows if r[1] and "2" in r[1]}
    position = dict(db.execute("SELECT position, problem_id FROM problems").fetchall())
    flagged: dict[str, int] = {}
    stripped = 0
    limits: dict[str, int] = {}
    has_keys = False
    for key, outcome, flag, strip, limit, answer_key in db.execute(
            "SELECT key, outcome, json_extract(details, '$.flagged_pass'), json_extract(details, '$.stripped'),"
            " json_extract(details, '$.time_limit'), json_extract(details, '$.answer_key') IS NOT NULL"
            " FROM verdict_rows WHERE details IS NOT NULL AND (key & 255) = ?", (vid,)):
        has_keys = has_keys or bool(answer_key)
        if flag:
            pid = position.get(key >> 40)
            if pid is not None:
                flagged[pid] = flagged.get(pid, 0) + int(flag)
        stripped += strip is not None
        if outcome == 2:
            name = str(limit) if limit is not None else "unknown"
            limits[name] = limits.get(name, 0) + 1
    if timeouts and sum(limits.values()) < sum(timeouts.values()):  # time-outs without details
        limits["unknown"] = limits.get("unknown", 0) + sum(timeouts.values()) - sum(limits.values())
    limits = dict(sorted(limits.items(), key=lambda kv: -kv[1]))
    named = config.get("model") or read_meta(db, "model")
    model, tokens = _sample_stats(db, models=not named)
    selection = _selection(db, n, verifier) if has_keys else {}
    return RunData(
        run_dir=run_dir, name=run_dir.name or str(run_dir), problem_ids=ids, n=n, c=c, verifier=verifier,
        model=str(named or model or "?"), config=config,
        protections=read_meta(db, "protections"), tokens=tokens, selection=selection, flagged=flagged,
        stripped=stripped, timeouts=timeouts, timeout_limits=limits, verifiers=verifiers(db),
        swe=swe.load(db, config, verifier))


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


# per sample, with p, c, s its prompt, completion and prompt_shared: the prompt is charged p/s (processed once
# per request), the attention term is (p+c)(p+c-1) - p(p-1)(1 - 1/s): as `analysis.cost.TokenStats`. Summed
# in integer arithmetic (t(t-1) = t·max(t-1, 0) for counts), the s > 1 corrections apart: a third of the time
# of AVG over REAL expressions on a million rows
_TOKEN_SUMS = (
    "COUNT(*), TOTAL(prompt_tokens), TOTAL(completion_tokens),"
    " TOTAL((prompt_tokens + completion_tokens) * (prompt_tokens + completion_tokens - 1)),"
    " TOTAL(CASE WHEN prompt_shared > 1 THEN prompt_tokens * (1 - 1.0 / prompt_shared) END),"
    " TOTAL(CASE WHEN prompt_shared > 1 THEN prompt_tokens * (prompt_tokens - 1) * (1 - 1.0 / prompt_shared) END)")


def _token_stats(count: int, p: float, c: float, quad: float, p_shared: float, quad_shared: float) -> TokenStats:
    if not count:
        return TokenStats(0, 0.0, 0.0, 0.0)
    return TokenStats(int(count), (p - p_shared) / count, c / count, (quad - quad_shared) / count)


def _sample_stats(db: sqlite3.Connection, *, models: bool = True) -> tuple[str, TokenStats]:
    """(the samples' models, when asked, up to three; token means). Samples without tokens (an import of
    outcomes) add nothing to the sums, so only the others are read."""
    if is_compact(db):
        count = db.execute("SELECT COUNT(*) FROM sample_rows").fetchone()[0]
        sums = db.execute(f"SELECT {_TOKEN_SUMS} FROM sample_rows WHERE prompt_tokens OR completion_tokens"
                          ).fetchone()
        names = [r[0] for r in db.execute(
            "SELECT text FROM strings WHERE id IN (SELECT DISTINCT model FROM sample_rows LIMIT 3) ORDER BY id")
        ] if models else []
        return ", ".join(names), _token_stats(count, *sums[1:])
    else:
        columns = [r[1] for r in db.execute("PRAGMA table_info(samples)")]
        shared = "prompt_shared" if "prompt_shared" in columns else "1"
        sums = db.execute(f"SELECT {_TOKEN_SUMS.replace('prompt_shared', shared)} FROM samples").fetchone()
        names = [r[0] for r in db.execute("SELECT DISTINCT model FROM samples LIMIT 3")]
    return ", ".join(names), _token_stats(*sums)


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
    if not is_compact(db) and not db.execute(
            "SELECT 1 FROM verdicts WHERE json_extract(details, '$.answer_key') IS NOT NULL LIMIT 1").fetchone():
        return {}  # no extracted answers (code or imported runs): nothing to select between
    scorer = next(iter(scorers(db)), None)
    try:
        curves = selection_curves(db, default_ks(n_min), scorer=scorer, verifier=verifier)
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
            found: Any = next((getattr(curve, a) for a in ("values", "accuracy", "curve") if hasattr(curve, a)), [])
            points = {int(k): float(v) for k, v in zip(curve.ks, found, strict=False)}
        else:
            points = {k: float(v) for k, v in zip(ks, curve, strict=False)}
        if points and method != "coverage":  # the report draws coverage itself
            out[str(method)] = points
    return out
