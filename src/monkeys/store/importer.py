"""Import correctness results made elsewhere into a new run store, so they can be analysed without re-running.

Two layouts: a table (Parquet, CSV, JSONL, optionally .gz) with `problem_id`, `sample_index`, `correct` and
optional `model`, `text`, `prompt_tokens`, `completion_tokens`, `outcome`; or large_language_monkeys' YAML
directory (one `<problem>.yaml` per problem with `samples` and `is_corrects`). A first pass validates every
row, so bad input (a `DataError` naming file, row and field) writes nothing; the second writes columns in
bulk through the normal schema, verdicts under verifier "imported". The run dir must not hold samples yet.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from monkeys.core import Problem, Prompt
from monkeys.errors import DataError, StoreError
from monkeys.store.db import connect, store_path
from monkeys.store.lock import RunLock
from monkeys.store.writer import write_columns, write_meta, write_problems

Progress = Callable[[int, int | None], None]  # (rows done, rows total or None)
Columns = dict[str, list[Any]]
_BATCH = 65_536
_TRUE = {"true", "1", "yes", "t", "y", "pass"}
_FALSE = {"false", "0", "no", "f", "n", "fail"}
_KINDS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl",
          ".ndjson": "jsonl", ".yaml": "yaml", ".yml": "yaml"}


@dataclass(frozen=True)
class ImportSummary:
    problems: int
    samples: int
    passes: int
    verifier: str


def _kind(path: Path) -> str:
    if path.is_dir():
        return "yaml"
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    last = suffixes[-1] if suffixes else ""
    if last not in _KINDS:
        raise DataError(f"{path}: unknown format {last or '(no suffix)'}; expected .parquet, .csv, .jsonl,"
                        " .yaml or a directory of large_language_monkeys .yaml files")
    return _KINDS[last]


def _table_batches(path: Path, kind: str) -> Iterator[tuple[int, Columns, str]]:
    """(first row number, columns, file) per batch of a table, streamed where the format allows."""
    import pyarrow as pa

    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            batches: Any = pq.ParquetFile(path).iter_batches(batch_size=_BATCH)
        elif kind == "csv":
            import pyarrow.csv as pcsv

            convert = pcsv.ConvertOptions(column_types={"problem_id": pa.string(), "text": pa.string()})
            batches = pcsv.open_csv(pa.input_stream(str(path), compression="detect"), convert_options=convert)
        else:
            import pyarrow.json as pjson

            batches = pjson.read_json(pa.input_stream(str(path), compression="detect")).to_batches(_BATCH)
        row = 1
        for batch in batches:
            yield row, batch.to_pydict(), str(path)
            row += batch.num_rows
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise DataError(f"{path}: cannot read {kind}: {exc}") from exc


def _yaml_batches(path: Path) -> Iterator[tuple[int, Columns, str]]:
    """One batch per large_language_monkeys YAML file: the problem id is the file name's stem."""
    import yaml

    files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{path}: no .yaml files; expected one large_language_monkeys YAML per problem")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for file in files:
        try:
            doc = yaml.load(file.read_text(encoding="utf-8"), Loader=loader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise DataError(f"{file}: cannot read YAML: {exc}") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("is_corrects"), list):
            raise DataError(f"{file}: expected a mapping with an 'is_corrects' list (and 'samples')")
        flags, samples = doc["is_corrects"], doc.get("samples") or []
        if samples and len(samples) != len(flags):
            raise DataError(f"{file}: field 'samples' has {len(samples)} entries but 'is_corrects' has {len(flags)}")
        n = len(flags)
        yield 1, {"problem_id": [file.stem] * n, "sample_index": list(range(n)), "correct": flags,
                  "text": [str(s) for s in samples] or [""] * n,
                  "prompt": [str(doc.get("prompt") or doc.get("question") or "")] * n,
                  "gt_answer": [doc.get("gt_answer")] * n}, f"{file}: is_corrects"


def _batches(path: Path, kind: str) -> Iterator[tuple[int, Columns, str]]:
    return _yaml_batches(path) if kind == "yaml" else _table_batches(path, kind)


_MAX_INDEX = 2**62  # sample indices and token counts are stored as SQLite integers (int64)


def _ints(cols: Columns, field: str, start: int, where: str, required: bool) -> np.ndarray:
    """Column as non-negative int64; the first bad row is named. A missing optional column is zeros."""
    n = len(next(iter(cols.values()))) if cols else 0
    if field not in cols:
        if required:
            raise DataError(f"{where}: missing column {field!r} (needs problem_id, sample_index, correct)")
        return np.zeros(n, dtype=np.int64)
    values = cols[field]
    try:
        fast = np.asarray(values) if values else np.zeros(0, dtype=np.int64)
    except (OverflowError, ValueError):  # huge or ragged values: the row-by-row check below names the row
        fast = np.zeros(0, dtype=object)
    if fast.dtype.kind in "iu" and (fast >= 0).all() and (fast < _MAX_INDEX).all():  # a clean integer column
        return fast.astype(np.int64)
    out = np.zeros(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        if v is None or v == "":
            if required:
                raise DataError(f"{where} row {start + i}: missing field {field!r}")
            continue
        try:
            number = float(v) if not isinstance(v, bool) else -1.0
        except (TypeError, ValueError):
            number = -1.0
        if number < 0 or number >= _MAX_INDEX or number != int(number):
            shown = repr(v) if len(repr(v)) <= 40 else repr(v)[:37] + "..."
            raise DataError(f"{where} row {start + i}: field {field!r}: expected a non-negative integer below "
                            f"2**62, got {shown}")
        out[i] = int(number)
    return out


def _bools(cols: Columns, start: int, where: str) -> list[bool | None]:
    """`correct` as True/False, or None (unverified: sample stored, no verdict); `outcome` may stand in."""
    if "correct" not in cols and "outcome" not in cols:
        raise DataError(f"{where}: missing column 'correct' (needs problem_id, sample_index, correct)")
    values = cols.get("correct") or [None] * len(cols["outcome"])
    outcomes = cols.get("outcome")
    if values and np.asarray(values).dtype == bool:  # the common case: a clean boolean column
        return values
    out: list[bool | None] = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or v is None:
            b = v
        elif isinstance(v, int | float) and v in (0, 1):
            b = bool(v)
        elif str(v).strip().lower() in _TRUE | _FALSE:
            b = str(v).strip().lower() in _TRUE
        else:
            raise DataError(f"{where} row {start + i}: field 'correct': expected true/false or 1/0, got {v!r}")
        if b is None and outcomes is not None and outcomes[i]:
            b = str(outcomes[i]).lower() == "pass"
        out.append(b)
    return out


def _ids(cols: Columns, start: int, where: str) -> list[str]:
    ids = cols.get("problem_id")
    if ids is None:
        raise DataError(f"{where}: missing column 'problem_id' (needs problem_id, sample_index, correct)")
    for i, v in enumerate(ids):
        if v is None or str(v) == "":
            raise DataError(f"{where} row {start + i}: field 'problem_id' is empty")
        if isinstance(v, bool) or not isinstance(v, str | int | np.integer):
            shown = repr(v) if len(repr(v)) <= 40 else repr(v)[:37] + "..."
            raise DataError(f"{where} row {start + i}: field 'problem_id': expected a string or an integer, "
                            f"got {type(v).__name__} {shown}")
    return [v if isinstance(v, str) else str(v) for v in ids]


def _first_pass(path: Path, kind: str) -> tuple[list[Problem], int]:
    """Validate every row and find duplicates; problems in order of first appearance, and the row count."""
    problems: dict[str, Problem] = {}
    keys, rows = [], 0
    for start, cols, where in _batches(path, kind):
        ids = _ids(cols, start, where)
        index = _ints(cols, "sample_index", start, where, required=True)
        _bools(cols, start, where)
        for field in ("prompt_tokens", "completion_tokens"):
            _ints(cols, field, start, where, required=False)
        for i, pid in enumerate(ids):
            if pid not in problems:
                answer = (cols.get("gt_answer") or [None] * len(ids))[i]
                problems[pid] = Problem(pid, Prompt(text=str((cols.get("prompt") or [""] * len(ids))[i] or "")),
                                        {"answer": str(answer)} if answer is not None else {})
        code = {pid: n for n, pid in enumerate(problems)}
        keys.append(np.array([code[p] for p in ids], dtype=np.int64) << 32 | index)
        rows += len(ids)
    if keys:
        allkeys = np.concatenate(keys)
        uniq, counts = np.unique(allkeys, return_counts=True)
        if (counts > 1).any():
            dup = int(uniq[np.argmax(counts > 1)])
            pid = list(problems)[dup >> 32]
            raise DataError(f"{path}: duplicate (problem_id, sample_index) = ({pid!r}, {dup & 0xFFFFFFFF})")
    return list(problems.values()), rows


def import_results(path: Path, run_dir: Path, *, model: str | None = None, verifier: str = "imported",
                   progress: Progress | None = None) -> ImportSummary:
    """Import `path` (table file or YAML directory) into a new store in `run_dir`.

    `model` names the model where the input has no `model` column. `progress(done, total)` is called after
    each batch. Raises `DataError` on bad input (file, row, field) before anything is written, and
    `StoreError` when `run_dir` already holds samples, another monkeys process writes to it (the run
    directory's lock is held from before the store is opened to the end), or the store cannot be written.
    """
    path, run_dir = Path(path), Path(run_dir)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    kind = _kind(path)
    problems, total = _first_pass(path, kind)
    with RunLock(run_dir, choose="another run directory").acquire(create_dir=True):
        try:
            return _write(path, kind, run_dir, problems, total, model=model, verifier=verifier,
                          progress=progress)
        except sqlite3.Error as exc:  # a full disk, an I/O error, a store locked by another program
            raise StoreError(f"{store_path(run_dir)}: writing the run store failed: {exc}") from exc


def _write(path: Path, kind: str, run_dir: Path, problems: list[Problem], total: int, *, model: str | None,
           verifier: str, progress: Progress | None) -> ImportSummary:
    db = connect(run_dir, create=True)
    try:
        if db.execute("SELECT 1 FROM samples LIMIT 1").fetchone():
            raise StoreError(f"{run_dir}: already holds samples; import into a new run directory")
        write_problems(db, problems)
        done = passes = 0
        models: set[str] = set()
        for start, cols, where in _batches(path, kind):
            ids = _ids(cols, start, where)
            correct = _bools(cols, start, where)
            names = [str(m or model or "unknown") for m in cols.get("model") or [model or "unknown"] * len(ids)]
            models.update(names)
            write_columns(db, ids, _ints(cols, "sample_index", start, where, True).tolist(), correct,
                          texts=[str(t or "") for t in cols.get("text") or [""] * len(ids)],
                          prompt_tokens=_ints(cols, "prompt_tokens", start, where, False).tolist(),
                          completion_tokens=_ints(cols, "completion_tokens", start, where, False).tolist(),
                          models=names, verifier=verifier, reason=f"imported from {path.name}",
                          outcomes=cols.get("outcome"))
            done += len(ids)
            passes += sum(1 for c in correct if c)
            if progress is not None:
                progress(done, total)
        write_meta(db, "config", {"task": "imported", "verifier": verifier, "source": str(path.resolve()),
                                  "format": kind, "model": model or ", ".join(sorted(models)) or None})
    finally:
        db.close()
    return ImportSummary(len(problems), done, passes, verifier)
