"""Export a run's samples with their verdicts to Parquet or JSONL, streamed in batches (read side only:
the store is opened read-only, see `db.open_readonly`; the output is written beside its final name and
moved into place when complete, so a failure leaves no partial file; `_userfiles.write_output`).

One row per sample and verdict of the chosen verifier (default: the run's, `read.run_verifier`); a sample
without a verdict gets null outcome and correct. The verdict's details travel too: `answer` and
`answer_key` (null when the verifier extracts none) and `details` (the JSON text). The columns are what
`importer` reads back, so export → import round-trips, majority vote included.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from monkeys._userfiles import check_output, write_output
from monkeys.errors import DataError
from monkeys.store.db import read_store
from monkeys.store.migrations import is_compact
from monkeys.store.read import checker_id, run_verifier

COLUMNS = ("problem_id", "sample_index", "seed", "text", "prompt_tokens", "completion_tokens", "finish_reason",
           "latency_s", "model", "verifier", "outcome", "reason", "correct", "prompt_shared", "answer", "answer_key",
           "details")



def _answer(details: str, key: str) -> str:
    """SQL for a details key as the export's text: a string as it is, another JSON value as JSON, else NULL."""
    return (f"CASE json_type({details}, '$.{key}') WHEN 'text' THEN {details} ->> '$.{key}' WHEN 'null' THEN NULL"
            f" ELSE {details} -> '$.{key}' END")


_COMPACT = (
    "SELECT p.problem_id, s.sample_id & 4294967295, s.seed, s.text, s.prompt_tokens, s.completion_tokens, f.text,"
    " s.latency_s, m.text, CASE WHEN v.key IS NULL THEN NULL ELSE ?1 END,"
    " CASE v.outcome WHEN 0 THEN 'fail' WHEN 1 THEN 'pass' WHEN 2 THEN 'timeout' WHEN 3 THEN 'error' END, r.text,"
    f" v.outcome = 1, s.prompt_shared, {_answer('v.details', 'answer')}, {_answer('v.details', 'answer_key')},"
    " CASE WHEN v.key IS NULL THEN NULL ELSE COALESCE(v.details, '{}') END"
    " FROM problems p JOIN sample_rows s ON s.sample_id BETWEEN p.position << 32 AND (p.position << 32) + 4294967295"
    " JOIN strings f ON f.id = s.finish JOIN strings m ON m.id = s.model"
    " LEFT JOIN verdict_rows v ON v.key = (s.sample_id << 8) | ?2 LEFT JOIN strings r ON r.id = v.reason"
    " ORDER BY p.position, s.sample_id")
_M001 = (
    "SELECT s.problem_id, s.sample_index, s.seed, s.text, s.prompt_tokens, s.completion_tokens,"
    " s.finish_reason, s.latency_s, s.model, v.verifier, v.outcome, v.reason,"
    f" CASE WHEN v.outcome IS NULL THEN NULL ELSE v.outcome = 'pass' END, 1, {_answer('v.details', 'answer')},"
    f" {_answer('v.details', 'answer_key')}, v.details"
    " FROM samples s JOIN problems p ON p.problem_id = s.problem_id"
    " LEFT JOIN verdicts v ON v.sample_id = s.sample_id AND v.verifier = ?"
    " ORDER BY p.position, s.sample_index")
_BATCH = 20_000


def _format(out_path: Path, fmt: str | None) -> str:
    fmt = (fmt or "").lower() or {".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
                                  ".ndjson": "jsonl", ".json": "jsonl"}.get(out_path.suffix.lower(), "")
    if fmt not in ("parquet", "jsonl"):
        raise DataError(f"{out_path}: cannot tell the export format; use a .parquet or .jsonl name, or fmt")
    return fmt


def export_run(run_dir: Path, out_path: Path, fmt: str | None = None, *, verifier: str | None = None,
               progress: Callable[[int, int | None], None] | None = None) -> int:
    """Write every sample of `run_dir` to `out_path` ("parquet" or "jsonl"; default from the suffix).

    Returns the number of rows. Raises `StoreError` without a readable monkeys store, `DataError` for an
    unknown format or an output that cannot be written.
    """
    run_dir, out_path = Path(run_dir), Path(out_path)
    fmt = _format(out_path, fmt)
    check_output(out_path, "the export", DataError)  # a directory, a device, a run store: refused before reading

    def write(db: sqlite3.Connection) -> int:
        name = verifier if verifier is not None else run_verifier(db)
        if is_compact(db):
            total = db.execute("SELECT COUNT(*) FROM sample_rows").fetchone()[0]
            cursor = db.execute(_COMPACT, (name, checker_id(db, "verifier", name)))
        else:
            total = db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
            cursor = db.execute(_M001, (name,))

        done = 0

        def fill(partial: Path) -> None:
            nonlocal done
            writer = _parquet_writer(partial) if fmt == "parquet" else _jsonl_writer(partial)
            try:
                while rows := cursor.fetchmany(_BATCH):
                    writer.send(rows)
                    done += len(rows)
                    if progress is not None:
                        progress(done, total)
            finally:
                writer.close()

        write_output(out_path, "the export", DataError, fill)  # whole or not at all, mode 0600
        return done

    return read_store(run_dir, write)


_CORRECT = COLUMNS.index("correct")


def _bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def _parquet_writer(path: Path):  # type: ignore[no-untyped-def]
    """A generator that takes lists of row tuples and writes them as Parquet row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("problem_id", pa.string()), ("sample_index", pa.int64()), ("seed", pa.int64()),
                        ("text", pa.string()), ("prompt_tokens", pa.int64()), ("completion_tokens", pa.int64()),
                        ("finish_reason", pa.string()), ("latency_s", pa.float64()), ("model", pa.string()),
                        ("verifier", pa.string()), ("outcome", pa.string()), ("reason", pa.string()),
                        ("correct", pa.bool_()), ("prompt_shared", pa.int64()), ("answer", pa.string()),
                        ("answer_key", pa.string()), ("details", pa.string())])

    def run():  # type: ignore[no-untyped-def]
        with pq.ParquetWriter(path, schema) as writer:
            while True:
                try:
                    rows = yield
                except GeneratorExit:
                    return
                columns = list(zip(*rows, strict=True))
                columns[_CORRECT] = [_bool(x) for x in columns[_CORRECT]]
                writer.write_batch(pa.record_batch([pa.array(c, type=f.type) for c, f in zip(columns, schema,
                                                                                              strict=True)],
                                                   schema=schema))

    gen = run()
    next(gen)
    return gen


def _jsonl_writer(path: Path):  # type: ignore[no-untyped-def]
    def run():  # type: ignore[no-untyped-def]
        with open(path, "w", encoding="utf-8") as fh:
            while True:
                try:
                    rows = yield
                except GeneratorExit:
                    return
                for r in rows:
                    row = dict(zip(COLUMNS, r, strict=True))
                    row["correct"] = _bool(row["correct"])
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")

    gen = run()
    next(gen)
    return gen
