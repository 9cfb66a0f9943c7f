"""The viewer's reads: every query is bounded by one problem's key range or one page, except the one
per-problem aggregate behind the index.

A compact store (m002) is read through its integer-keyed tables, since the compatibility views (`samples`,
`verdicts`) compute `sample_id` from a key, which no index can serve (a page of a 100k-sample store took
25 s through them); an m001 store through its own tables and indexes. Both give the same rows.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from monkeys.store.migrations import OUTCOMES, SAMPLE_SHIFT, is_compact
from monkeys.store.read import checker_id, scorers, verifiers

PREVIEW = 240  # characters of a sample shown in a list
_LOW = (1 << SAMPLE_SHIFT) - 1  # the sample-index bits of a sample key


@dataclass
class ProblemStat:
    problem_id: str
    position: int
    n: int  # verdicts of the chosen verifier
    passes: int
    timeouts: int
    errors: int

    @property
    def rate(self) -> float | None:
        return self.passes / self.n if self.n else None


@dataclass
class SampleRow:
    index: int
    preview: str
    length: int
    outcome: str | None
    reason: str | None
    answer: str | None
    answer_key: str | None
    scores: dict[str, float] = field(default_factory=dict)


@dataclass
class Facets:
    samples: int
    outcomes: dict[str, int]
    reasons: list[tuple[str, int]]  # most frequent first


@dataclass
class AnswerCount:
    key: str
    shown: str
    count: int
    passes: int


@dataclass
class SampleDetail:
    index: int
    text: str
    info: dict[str, Any]
    verdicts: list[dict[str, Any]]
    scores: dict[str, float]


@dataclass
class Filters:
    outcome: str | None = None
    reason: str | None = None
    answer_key: str | None = None

    def any(self) -> bool:
        return any(v is not None for v in (self.outcome, self.reason, self.answer_key))


def _json(text: str | None) -> Any:
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return {"unreadable": text}


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


class Queries:
    """Reads of one store; `trace` (a list) collects each statement and its arguments, for query-plan tests."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.compact = is_compact(db)
        self.trace: list[tuple[str, tuple[Any, ...]]] | None = None

    def _q(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.trace is not None:
            self.trace.append((sql, args))
        return self.db.execute(sql, args).fetchall()

    def verifiers(self) -> list[str]:
        return verifiers(self.db)

    def scorers(self) -> list[str]:
        return scorers(self.db)

    def _outcome(self, value: Any) -> str | None:
        if value is None:
            return None
        return OUTCOMES[value] if self.compact and isinstance(value, int) else str(value)

    def _vid(self, verifier: str | None) -> int:
        return checker_id(self.db, "verifier", verifier)

    def _position(self, problem_id: str) -> int | None:
        rows = self._q("SELECT position FROM problems WHERE problem_id = ?", (problem_id,))
        return int(rows[0][0]) if rows else None

    # ---- the index --------------------------------------------------------------------------------------

    def problem_stats(self, verifier: str | None) -> list[ProblemStat]:
        """Per problem, in dataset order: verdicts, passes, time-outs and errors of `verifier` (one query)."""
        if self.compact:
            rows = self._q(
                "SELECT p.problem_id, p.position, COUNT(v.key), TOTAL(v.outcome = 1), TOTAL(v.outcome = 2),"
                " TOTAL(v.outcome = 3) FROM problems p LEFT JOIN verdict_rows v ON v.key BETWEEN p.position << 40"
                " AND (p.position << 40) + 1099511627775 AND (v.key & 255) = ? GROUP BY p.position"
                " ORDER BY p.position", (self._vid(verifier),))
        else:
            rows = self._q(
                "SELECT p.problem_id, p.position, COUNT(v.sample_id), TOTAL(v.outcome = 'pass'),"
                " TOTAL(v.outcome = 'timeout'), TOTAL(v.outcome = 'error') FROM problems p"
                " LEFT JOIN samples s ON s.problem_id = p.problem_id"
                " LEFT JOIN verdicts v ON v.sample_id = s.sample_id AND v.verifier = ?"
                " GROUP BY p.position ORDER BY p.position", (verifier,))
        return [ProblemStat(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows]

    def sample_count(self) -> int:
        table = "sample_rows" if self.compact else "samples"
        return int(self._q(f"SELECT COUNT(*) FROM {table}")[0][0])

    # ---- one problem ------------------------------------------------------------------------------------

    def problem(self, problem_id: str) -> tuple[dict[str, Any], Any] | None:
        """The problem's prompt and reference (parsed JSON), or None when the store has no such problem."""
        rows = self._q("SELECT prompt, reference FROM problems WHERE problem_id = ?", (problem_id,))
        if not rows:
            return None
        return _json(rows[0][0]), _json(rows[0][1])

    def facets(self, problem_id: str, verifier: str | None) -> Facets:
        """The problem's sample count, and its verdicts by outcome and by reason (one range each)."""
        if self.compact:
            pos = self._position(problem_id)
            if pos is None:
                return Facets(0, {}, [])
            lo = pos << SAMPLE_SHIFT
            n = self._q("SELECT COUNT(*) FROM sample_rows WHERE sample_id BETWEEN ? AND ?", (lo, lo + _LOW))
            rows = self._q(
                "SELECT v.outcome, r.text, COUNT(*) FROM verdict_rows v JOIN strings r ON r.id = v.reason"
                " WHERE v.key BETWEEN ? AND ? AND (v.key & 255) = ? GROUP BY v.outcome, v.reason",
                (lo << 8, ((lo + _LOW) << 8) | 255, self._vid(verifier)))
        else:
            n = self._q("SELECT COUNT(*) FROM samples WHERE problem_id = ?", (problem_id,))
            rows = self._q(
                "SELECT v.outcome, v.reason, COUNT(*) FROM samples s JOIN verdicts v ON v.sample_id = s.sample_id"
                " AND v.verifier = ? WHERE s.problem_id = ? GROUP BY v.outcome, v.reason", (verifier, problem_id))
        outcomes: dict[str, int] = {}
        reasons: dict[str, int] = {}
        for outcome, reason, count in rows:
            name = self._outcome(outcome) or "?"
            outcomes[name] = outcomes.get(name, 0) + int(count)
            reasons[str(reason)] = reasons.get(str(reason), 0) + int(count)
        return Facets(int(n[0][0]), outcomes, sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))

    def samples(self, problem_id: str, verifier: str | None, filters: Filters, *, offset: int,
                limit: int) -> list[SampleRow]:
        """One page of the problem's samples in index order, with `verifier`'s verdict; filtered samples are
        those with such a verdict. Each page is one range read of the problem's keys (or its index)."""
        query = self._sample_query(problem_id, verifier, filters)
        if query is None:
            return []
        rows = self._q(query[0] + " LIMIT ? OFFSET ?", (*query[1], limit, offset))
        out = [SampleRow(int(r[0]), str(r[1]), int(r[2] or 0), self._outcome(r[3]), _str(r[4]), _str(r[5]),
                         _str(r[6])) for r in rows]
        self._attach_scores(out, [int(r[7]) for r in rows])
        return out

    def count(self, problem_id: str, verifier: str | None, filters: Filters) -> int:
        """How many of the problem's samples `samples` lists under `filters` (one range read)."""
        query = self._sample_query(problem_id, verifier, filters)
        return int(self._q(f"SELECT COUNT(*) FROM ({query[0]})", query[1])[0][0]) if query else 0

    def _sample_query(self, problem_id: str, verifier: str | None,
                      filters: Filters) -> tuple[str, tuple[Any, ...]] | None:
        where: list[str] = []
        args: list[Any] = []
        if self.compact:
            pos = self._position(problem_id)
            if pos is None:
                return None
            lo = pos << SAMPLE_SHIFT
            vid = self._vid(verifier)
            cols = (f"s.sample_id & {_LOW}, substr(s.text, 1, {PREVIEW}), length(s.text), v.outcome, r.text,"
                    " json_extract(v.details, '$.answer'), json_extract(v.details, '$.answer_key'), s.sample_id")
            if filters.outcome is not None:
                where.append("v.outcome = ?")
                args.append(OUTCOMES.index(filters.outcome) if filters.outcome in OUTCOMES else -1)
            if filters.reason is not None:
                where.append("v.reason = (SELECT id FROM strings WHERE text = ?)")
                args.append(filters.reason)
            if filters.answer_key is not None:
                where.append("json_extract(v.details, '$.answer_key') = ?")
                args.append(filters.answer_key)
            if where:
                return (f"SELECT {cols} FROM verdict_rows v JOIN sample_rows s ON s.sample_id = v.key >> 8"
                        " LEFT JOIN strings r ON r.id = v.reason WHERE v.key BETWEEN ? AND ? AND (v.key & 255) = ?"
                        f" AND {' AND '.join(where)} ORDER BY v.key",
                        (lo << 8, ((lo + _LOW) << 8) | 255, vid, *args))
            return (f"SELECT {cols} FROM sample_rows s LEFT JOIN verdict_rows v ON v.key = (s.sample_id << 8) | ?"
                    " LEFT JOIN strings r ON r.id = v.reason WHERE s.sample_id BETWEEN ? AND ?"
                    " ORDER BY s.sample_id", (vid, lo, lo + _LOW))
        cols = (f"s.sample_index, substr(s.text, 1, {PREVIEW}), length(s.text), v.outcome, v.reason,"
                " json_extract(v.details, '$.answer'), json_extract(v.details, '$.answer_key'), s.sample_id")
        for column, value in (("v.outcome", filters.outcome), ("v.reason", filters.reason),
                              ("json_extract(v.details, '$.answer_key')", filters.answer_key)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        join = "JOIN" if where else "LEFT JOIN"
        return (f"SELECT {cols} FROM samples s {join} verdicts v ON v.sample_id = s.sample_id AND v.verifier = ?"
                f" WHERE s.problem_id = ?{''.join(' AND ' + w for w in where)} ORDER BY s.sample_index",
                (verifier, problem_id, *args))

    def _attach_scores(self, rows: list[SampleRow], ids: list[int]) -> None:
        if not rows:
            return
        if self.compact:
            found = self._q("SELECT id, name FROM checkers WHERE kind = 'scorer'")
            if not found:
                return
            names = {int(i): str(n) for i, n in found}
            keys = [(sid << 8) | cid for sid in ids for cid in names]
            by_id = {sid: row for sid, row in zip(ids, rows, strict=True)}
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                for key, value in self._q(
                        f"SELECT key, value FROM score_rows WHERE key IN ({','.join('?' * len(chunk))})",
                        tuple(chunk)):
                    by_id[int(key) >> 8].scores[names[int(key) & 255]] = float(value)
        else:
            by_id = {sid: row for sid, row in zip(ids, rows, strict=True)}
            for sid, scorer, value in self._q(
                    f"SELECT sample_id, scorer, value FROM scores WHERE sample_id IN ({','.join('?' * len(ids))})",
                    tuple(ids)):
                by_id[int(sid)].scores[str(scorer)] = float(value)

    def answers(self, problem_id: str, verifier: str | None, limit: int = 40) -> list[AnswerCount]:
        """The extracted answers (verdict details `answer_key`) of the problem's samples, most frequent first."""
        if self.compact:
            pos = self._position(problem_id)
            if pos is None:
                return []
            lo = pos << SAMPLE_SHIFT
            rows = self._q(
                "SELECT json_extract(details, '$.answer_key') AS k, MIN(json_extract(details, '$.answer')),"
                " COUNT(*), TOTAL(outcome = 1) FROM verdict_rows WHERE key BETWEEN ? AND ? AND (key & 255) = ?"
                " AND details IS NOT NULL GROUP BY k HAVING k IS NOT NULL ORDER BY 3 DESC, 1 LIMIT ?",
                (lo << 8, ((lo + _LOW) << 8) | 255, self._vid(verifier), limit))
        else:
            rows = self._q(
                "SELECT json_extract(v.details, '$.answer_key') AS k, MIN(json_extract(v.details, '$.answer')),"
                " COUNT(*), TOTAL(v.outcome = 'pass') FROM samples s JOIN verdicts v ON v.sample_id = s.sample_id"
                " AND v.verifier = ? WHERE s.problem_id = ? GROUP BY k HAVING k IS NOT NULL ORDER BY 3 DESC, 1"
                " LIMIT ?", (verifier, problem_id, limit))
        return [AnswerCount(str(r[0]), str(r[1] if r[1] is not None else r[0]), int(r[2]), int(r[3])) for r in rows]

    def first_index(self, problem_id: str, verifier: str | None, outcome: str) -> int | None:
        """The lowest sample index of the problem with `outcome` under `verifier` (a diff's other side)."""
        rows = self.samples(problem_id, verifier, Filters(outcome=outcome), offset=0, limit=1)
        return rows[0].index if rows else None

    # ---- one sample -------------------------------------------------------------------------------------

    def sample(self, problem_id: str, index: int) -> SampleDetail | None:
        """The sample's full text, what the sampler recorded, every verifier's verdict and every score."""
        if self.compact:
            pos = self._position(problem_id)
            if pos is None or not 0 <= index <= _LOW:
                return None
            sid = (pos << SAMPLE_SHIFT) | index
            rows = self._q(
                "SELECT s.text, s.seed, s.prompt_tokens, s.completion_tokens, f.text, m.text, s.latency_s"
                " FROM sample_rows s JOIN strings f ON f.id = s.finish JOIN strings m ON m.id = s.model"
                " WHERE s.sample_id = ?", (sid,))
            verdict_rows = self._q(
                "SELECT c.name, v.outcome, r.text, v.details, v.duration_s FROM verdict_rows v"
                " JOIN checkers c ON c.id = v.key & 255 JOIN strings r ON r.id = v.reason"
                " WHERE v.key BETWEEN ? AND ? ORDER BY c.name", (sid << 8, (sid << 8) | 255))
            score_rows = self._q(
                "SELECT c.name, x.value FROM score_rows x JOIN checkers c ON c.id = x.key & 255"
                " WHERE x.key BETWEEN ? AND ? ORDER BY c.name", (sid << 8, (sid << 8) | 255))
        else:
            found = self._q(
                "SELECT sample_id, text, seed, prompt_tokens, completion_tokens, finish_reason, model, latency_s"
                " FROM samples WHERE problem_id = ? AND sample_index = ?", (problem_id, index))
            if not found:
                return None
            sid = int(found[0][0])
            rows = [found[0][1:]]
            verdict_rows = self._q(
                "SELECT verifier, outcome, reason, details, duration_s FROM verdicts WHERE sample_id = ?"
                " ORDER BY verifier", (sid,))
            score_rows = self._q("SELECT scorer, value FROM scores WHERE sample_id = ? ORDER BY scorer", (sid,))
        if not rows:
            return None
        text, seed, prompt_tokens, completion_tokens, finish, model, latency = rows[0]
        info = {"seed": seed, "prompt tokens": prompt_tokens, "completion tokens": completion_tokens,
                "finish reason": finish, "model": model, "latency (s)": latency}
        verdicts = [{"verifier": str(name), "outcome": self._outcome(outcome), "reason": str(reason),
                     "details": _json(details), "duration_s": duration}
                    for name, outcome, reason, details, duration in verdict_rows]
        return SampleDetail(index, str(text), info, verdicts, {str(n): float(v) for n, v in score_rows})
