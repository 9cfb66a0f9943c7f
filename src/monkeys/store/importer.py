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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from monkeys.core import Problem, Prompt
from monkeys.errors import DataError, StoreError
from monkeys.store.db import connect, store_path
from monkeys.store.lock import RunLock
from monkeys.store.writer import insert_columns, insert_header, write_columns, write_meta, write_problems

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

    if kind == "jsonl":
        yield from _json_batches(path)
        return
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            batches: Any = pq.ParquetFile(path).iter_batches(batch_size=_BATCH)
        else:
            import pyarrow.csv as pcsv

            convert = pcsv.ConvertOptions(column_types={"problem_id": pa.string(), "text": pa.string()})
            batches = pcsv.open_csv(pa.input_stream(str(path), compression="detect"), convert_options=convert)
        row = 1
        for batch in batches:
            yield row, batch.to_pydict(), str(path)
            row += batch.num_rows
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise DataError(f"{path}: cannot read {kind}: {exc}") from exc


def _json_batches(path: Path) -> Iterator[tuple[int, Columns, str]]:
    """JSON lines through Arrow's reader; a file it refuses (a column of mixed types, a bad line) or one
    JSON array (a predictions list) is read row by row, so the error names the row and field."""
    import pyarrow as pa
    import pyarrow.json as pjson

    try:
        with pa.input_stream(str(path), compression="detect") as fh:
            head = fh.read(4096).lstrip()
        table = None if head[:1] == b"[" else pjson.read_json(pa.input_stream(str(path), compression="detect"))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        table = None
    except OSError as exc:
        raise DataError(f"{path}: cannot read jsonl: {exc.strerror or exc}") from exc
    if table is not None:
        row = 1
        for batch in table.to_batches(_BATCH):
            yield row, batch.to_pydict(), str(path)
            row += batch.num_rows
        return
    rows = _json_rows(path, array=head[:1] == b"[")
    for first in range(0, len(rows), _BATCH):
        chunk = rows[first:first + _BATCH]
        keys = list(dict.fromkeys(k for r in chunk for k in r))
        yield first + 1, {k: [r.get(k) for r in chunk] for k in keys}, str(path)


def _json_rows(path: Path, *, array: bool) -> list[dict[str, Any]]:
    import json

    import pyarrow as pa

    try:
        with pa.input_stream(str(path), compression="detect") as fh:
            text = fh.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read JSON: {exc}") from exc
    if array:
        try:
            rows = json.loads(text)
        except ValueError as exc:
            raise DataError(f"{path}: cannot read JSON: {exc}") from exc
    else:
        rows = []
        for n, line in enumerate((x for x in text.splitlines() if x.strip()), 1):
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise DataError(f"{path} row {n}: not JSON: {exc}") from exc
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise DataError(f"{path} row {n}: expected a JSON object, got {type(row).__name__}")
    return rows


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
        if isinstance(doc, dict) and isinstance(doc.get("samples"), list) and "is_corrects" not in doc:
            raise DataError(f"{file}: raw generations ('samples' without 'is_corrects'); `monkeys import` takes"
                            f" evaluated results: verify these with `monkeys verify {path} --task TASK --out RUN`")
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


def _ids(cols: Columns, start: int, where: str, needs: str = "problem_id, sample_index, correct") -> list[str]:
    ids = cols.get("problem_id")
    if ids is None:
        raise DataError(f"{where}: missing column 'problem_id' (needs {needs})")
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


# ---- samples to verify later ------------------------------------------------------------------------------


def _sample_yaml_batches(path: Path) -> Iterator[tuple[int, Columns, str]]:
    """large_language_monkeys YAML with raw generations: one file per problem, a `samples` list; the problem
    id is a `problem_id`/`id` field, else the file's stem. `is_corrects`, if any, is ignored."""
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
        if not isinstance(doc, dict) or not isinstance(doc.get("samples"), list):
            raise DataError(f"{file}: expected a mapping with a 'samples' list (the generations to verify)")
        samples = doc["samples"]
        for i, text in enumerate(samples):
            if not isinstance(text, str):
                raise DataError(f"{file} row {i + 1}: field 'samples': expected a string (a generation), got"
                                f" {type(text).__name__}")
        pid = doc.get("problem_id", doc.get("id", file.stem))
        n = len(samples)
        yield 1, {"problem_id": [pid] * n, "sample_index": list(range(n)), "text": samples}, str(file)


def _swebench(cols: Columns) -> Columns:
    """A SWE-bench predictions file (`instance_id`, `model_patch`, `model_name_or_path`) as problem_id/text/
    model; a null patch (the model produced none) is the empty text, as SWE-bench's harness reads it."""
    if "problem_id" in cols or "instance_id" not in cols:
        return cols
    out = dict(cols)
    out["problem_id"] = cols["instance_id"]
    if "text" not in cols and "model_patch" in cols:
        out["text"] = ["" if t is None else t for t in cols["model_patch"]]
    if "model" not in cols and "model_name_or_path" in cols:
        out["model"] = cols["model_name_or_path"]
    return out


@dataclass
class _SampleBatch:
    ids: list[str]
    positions: np.ndarray
    index: np.ndarray
    texts: list[str]
    models: list[str]
    prompt_tokens: np.ndarray
    completion_tokens: np.ndarray
    finish: list[str]
    shared: np.ndarray


def _sample_batches(path: Path, kind: str, known: dict[str, int], task: str,
                    model: str | None) -> Iterator[_SampleBatch]:
    """Validated batches of samples to verify (the same on both passes: numbering is deterministic)."""
    batches = _sample_yaml_batches(path) if kind == "yaml" else _table_batches(path, kind)
    counters: dict[str, int] = {}
    for start, raw, where in batches:
        cols = _swebench(raw)
        if not cols:
            continue
        ids = _ids(cols, start, where, "problem_id and text; sample_index optional")
        n = len(ids)
        positions = np.empty(n, dtype=np.int64)
        for i, pid in enumerate(ids):
            pos = known.get(pid)
            if pos is None:
                few = ", ".join(repr(p) for p in list(known)[:3]) + (", ..." if len(known) > 3 else "")
                raise DataError(f"{where} row {start + i}: field 'problem_id': {pid!r} is not a problem of task"
                                f" {task!r} (e.g. {few})")
            positions[i] = pos
        texts = cols.get("text")
        if texts is None:
            raise DataError(f"{where}: missing column 'text' (needs problem_id and text; sample_index optional)")
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                what = "missing field 'text'" if t is None else (
                    f"field 'text': expected a string, got {type(t).__name__}")
                raise DataError(f"{where} row {start + i}: {what}")
        if "sample_index" in cols:
            index = _ints(cols, "sample_index", start, where, required=True)
        else:
            index = np.empty(n, dtype=np.int64)
            for i, pid in enumerate(ids):
                index[i] = counters.get(pid, 0)
                counters[pid] = int(index[i]) + 1
        models = [str(m or model or "unknown") for m in cols.get("model") or [model or "unknown"] * n]
        finish = [str(f or "unknown") for f in cols.get("finish_reason") or ["unknown"] * n]
        shared = _ints(cols, "prompt_shared", start, where, required=False)
        yield _SampleBatch(ids, positions, index, texts, models,
                           _ints(cols, "prompt_tokens", start, where, False),
                           _ints(cols, "completion_tokens", start, where, False), finish,
                           np.where(shared > 0, shared, 1))


def _sample_kind(path: Path) -> str:
    if path.is_dir():
        return "yaml"
    return _kind(path)


def import_samples(path: Path, run_dir: Path, problems: list[Problem], *, task: str, config: dict[str, Any],
                   meta: dict[str, Any] | None = None, model: str | None = None,
                   progress: Progress | None = None) -> ImportSummary:
    """Store samples made elsewhere, unverified, in a new run store, for `monkeys verify` to verify.

    `path`: a table (Parquet, CSV, JSONL, optionally .gz) with `problem_id`, `text` and optional
    `sample_index` (else each problem's rows are numbered 0, 1, ... in file order), `model`, `prompt_tokens`,
    `completion_tokens`, `finish_reason`, `prompt_shared` (`correct`/`outcome` are ignored); a directory of
    large_language_monkeys YAML files with raw generations; or SWE-bench predictions (`instance_id`,
    `model_patch`, `model_name_or_path`). Every problem id must be one of `problems` (the task's).
    The whole file is validated first (`DataError` naming file, row and field; nothing written), then meta
    (`config`, `created_at`, `meta`), the problems the file uses (in the order of `problems`) and the
    samples are written in one transaction under the run directory's lock: a kill leaves all or nothing.
    Raises `StoreError` when `run_dir` already holds samples or its lock is held.
    """
    path, run_dir = Path(path), Path(run_dir)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    kind = _sample_kind(path)
    known = {p.problem_id: i for i, p in enumerate(problems)}
    positions, indices = [], []
    for batch in _sample_batches(path, kind, known, task, model):
        positions.append(batch.positions)
        indices.append(batch.index)
    pos = np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64)
    idx = np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64)
    if len(pos):
        order = np.lexsort((idx, pos))
        same = (pos[order][1:] == pos[order][:-1]) & (idx[order][1:] == idx[order][:-1])
        if same.any():
            k = order[int(np.argmax(same))]
            raise DataError(f"{path}: duplicate (problem_id, sample_index) = ({problems[int(pos[k])].problem_id!r},"
                            f" {int(idx[k])})")
    present = set(np.unique(pos).tolist())
    used = [p for i, p in enumerate(problems) if i in present]
    total = len(pos)
    header = {**(meta or {}), "config": config, "created_at": datetime.now(UTC).isoformat()}
    with RunLock(run_dir, choose="another run directory").acquire(create_dir=True):
        try:
            db = connect(run_dir, create=True)
            try:
                if db.execute("SELECT 1 FROM samples LIMIT 1").fetchone():
                    raise StoreError(f"{run_dir}: already holds samples; import into a new run directory")
                db.execute("PRAGMA cache_size = -262144")
                done = 0
                with db:  # one transaction: a kill leaves nothing or everything
                    insert_header(db, header, used)
                    for batch in _sample_batches(path, kind, known, task, model):
                        insert_columns(db, batch.ids, batch.index.tolist(), None, texts=batch.texts,
                                       prompt_tokens=batch.prompt_tokens.tolist(),
                                       completion_tokens=batch.completion_tokens.tolist(), models=batch.models,
                                       finish_reasons=batch.finish, prompt_shared=batch.shared.tolist())
                        done += len(batch.ids)
                        if progress is not None:
                            progress(done, total)
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise StoreError(f"{store_path(run_dir)}: writing the run store failed: {exc}") from exc
    return ImportSummary(len(used), total, 0, "")
