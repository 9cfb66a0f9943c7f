"""Import results and samples made elsewhere into a new run store, so they can be analysed (or verified)
without re-running.

`import_results`: correctness tables (Parquet, CSV, JSONL, optionally .gz) with `problem_id`,
`sample_index`, `correct` and optional `model`, `text`, `prompt_tokens`, `completion_tokens`,
`prompt_shared`, `finish_reason`, `outcome`, `answer`, `answer_key`, `details` (what `export` writes), or
large_language_monkeys' YAML directory (one `<problem>.yaml` per problem with `samples` and `is_corrects`);
verdicts go under verifier "imported". `import_samples`: samples to verify later (`monkeys verify`).
A first pass validates every row, so bad input (a `DataError` naming file, row and field) writes nothing;
the second writes everything in one transaction. Tables are read through Arrow and checked column-wise
(dictionary-encoded problem ids, integer and boolean columns as arrays); only a column that fails the fast
check is walked row by row, to name the row. The run dir must not hold samples yet.

A table's columns that no import reads (`RESULT_COLUMNS`, `SAMPLE_COLUMNS`, SWE-bench's, what `export`
writes) are named in one `InputWarning`, each with the column it most likely stands for (`correctt` ->
`correct`, `completion` -> `text`); a missing required column is a `DataError` that names such a column.
"""

from __future__ import annotations

import shutil
import sqlite3
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from monkeys._userfiles import (
    SURROGATE_ESCAPE,
    did_you_mean,
    not_unicode,
    unicode_flaw,
    unique_key_loader,
    unique_pairs,
)
from monkeys.core import Problem, Prompt
from monkeys.errors import DataError, InputWarning, StoreError
from monkeys.store.db import connect, store_path
from monkeys.store.export import COLUMNS as EXPORT_COLUMNS
from monkeys.store.lock import RunLock
from monkeys.store.migrations import MAX_INDEX, SAMPLE_SHIFT
from monkeys.store.writer import Keys, insert_bulk, insert_header

Progress = Callable[[int, int | None], None]  # (rows done, rows total or None)
Columns = Mapping[str, list[Any]]
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


# The columns each import reads (a table's other columns are ignored, and named in a warning unless they are
# one of `_KNOWN_COLUMNS`: what `monkeys export` writes, or SWE-bench predictions' names).
RESULT_COLUMNS = ("problem_id", "sample_index", "correct", "model", "text", "prompt_tokens", "completion_tokens",
                  "prompt_shared", "finish_reason", "outcome", "answer", "answer_key", "details")
SAMPLE_COLUMNS = ("problem_id", "text", "sample_index", "model", "prompt_tokens", "completion_tokens",
                  "finish_reason", "prompt_shared")
SWEBENCH_COLUMNS = ("instance_id", "model_patch", "model_name_or_path")
_RESULT_NEEDS, _SAMPLE_NEEDS = "problem_id, sample_index, correct", "problem_id and text; sample_index optional"
_KNOWN_COLUMNS = frozenset((*RESULT_COLUMNS, *SWEBENCH_COLUMNS, *EXPORT_COLUMNS))
# What other tools call a column monkeys reads (lowercase, `_` for `-` and spaces): only ever a hint.
_SYNONYMS = {
    **dict.fromkeys(("completion", "sample", "response", "output", "generation", "prediction", "solution",
                     "content", "code"), "text"),
    **dict.fromkeys(("problem", "task_id", "question_id", "problem_idx", "problem_index", "id"), "problem_id"),
    **dict.fromkeys(("index", "idx", "sample_id", "sample_idx", "sample_number", "attempt"), "sample_index"),
    **dict.fromkeys(("is_correct", "passed", "pass", "label", "success", "solved", "is_corrects"), "correct"),
    "model_name": "model", "input_tokens": "prompt_tokens", "output_tokens": "completion_tokens",
}


def _near_misses(columns: Iterable[str], field: str, relevant: Iterable[str]) -> list[str]:
    """The columns no import knows that look like a slip for `field` (`problem` for `problem_id`)."""
    relevant = tuple(relevant)
    return [c for c in columns if c not in _KNOWN_COLUMNS and did_you_mean(c, relevant, _SYNONYMS) == field]


def _missing(cols: Columns, field: str, where: str, needs: str) -> DataError:
    """`missing column 'text' (needs ...)`, naming a column that looks like a slip for it (`completion`)."""
    relevant = SAMPLE_COLUMNS if needs == _SAMPLE_NEEDS else RESULT_COLUMNS
    near = _near_misses(cols, field, relevant)
    hint = ""
    if near:
        names = ", ".join(repr(c) for c in near)
        hint = (f"; the file has column{'s' if len(near) > 1 else ''} {names}: rename "
                f"{'it' if len(near) == 1 else 'the one that holds it'} to {field!r}")
    return DataError(f"{where}: missing column {field!r} (needs {needs}){hint}")


def _warn_unknown(path: Path, columns: Iterable[str], relevant: tuple[str, ...], command: str) -> None:
    """One `InputWarning` naming the columns of `path` that no import reads (each with its likely intended
    name), so a typo (`correctt`, `sample_idx`) is not silently dropped."""
    columns = [str(c) for c in dict.fromkeys(columns)]
    unknown = [c for c in columns if c not in _KNOWN_COLUMNS]
    if not unknown:
        return
    named = []
    for column in unknown:
        close = did_you_mean(column, [c for c in relevant if c not in columns], _SYNONYMS)
        named.append(f"{column!r}" + (f" (did you mean {close!r}?)" if close else ""))
    warnings.warn(f"{path}: ignoring unknown column{'s' if len(unknown) > 1 else ''} {', '.join(named)};"
                  f" {command} reads {', '.join(relevant)}", InputWarning, stacklevel=3)


def _kind(path: Path) -> str:
    if path.is_dir():
        return "yaml"
    if path.exists() and not path.is_file():  # reading a FIFO would wait for a writer forever
        raise DataError(f"{path}: not a regular file (a FIFO, socket or device); expected a .parquet, .csv,"
                        " .jsonl or .yaml file")
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    last = suffixes[-1] if suffixes else ""
    if last not in _KINDS:
        raise DataError(f"{path}: unknown format {last or '(no suffix)'}; expected .parquet, .csv, .jsonl,"
                        " .yaml or a directory of large_language_monkeys .yaml files")
    return _KINDS[last]


class _ArrowColumns(Mapping[str, list[Any]]):
    """A batch read through Arrow: its columns become Python lists only when asked for (row-by-row checks,
    texts); the fast paths (`_id_codes`, `_ints`, `_bools`) read the Arrow arrays as they are."""

    def __init__(self, batch: Any) -> None:
        self.batch = batch
        self.rows = int(batch.num_rows)
        self._names = frozenset(batch.schema.names)
        self._lists: dict[str, list[Any]] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __getitem__(self, name: str) -> list[Any]:
        if name not in self:
            raise KeyError(name)
        if name not in self._lists:
            self._lists[name] = self.batch.column(name).to_pylist()
        return self._lists[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.batch.schema.names)

    def __len__(self) -> int:
        return len(self.batch.schema.names)

    def arrow(self, name: str) -> Any:
        """The column as an Arrow array without nulls, else None (then the row-by-row path decides)."""
        if name not in self:
            return None
        column = self.batch.column(name)
        return column if column.null_count == 0 else None


def _rows(cols: Columns) -> int:
    if isinstance(cols, _ArrowColumns):
        return cols.rows
    return len(next(iter(cols.values()))) if cols else 0


def _not_utf8(path: Path, data: bytes, exc: UnicodeDecodeError, kind: str, lines: int = 0,
              offset: int = 0) -> DataError:
    """`file:LINE: not UTF-8 text (byte 0xff at byte offset N)` for a decode error in `data`, which starts
    `lines` lines and `offset` bytes into the file (a BOM that utf-8-sig dropped is counted back in)."""
    start = exc.start + (3 if offset == 0 and data.startswith(b"\xef\xbb\xbf") else 0)
    line = lines + data.count(b"\n", 0, start) + 1
    return DataError(f"{path}:{line}: not UTF-8 text (byte 0x{data[start]:02x} at byte offset {offset + start});"
                     f" expected UTF-8 {kind}")


def _check_text(path: Path, kind: str) -> None:
    """A JSON lines or CSV file (decompressed) is UTF-8 text: a bad byte is one `DataError` naming the line
    and byte offset (Arrow's readers would pass it on, to fail later as a traceback). Read in 1 MiB blocks
    cut at line ends (no UTF-8 sequence holds a newline byte)."""
    import pyarrow as pa

    offset = lines = 0
    carry = b""
    try:
        with pa.input_stream(str(path), compression="detect") as fh:
            while True:
                block = fh.read(1 << 20)
                data = carry + block
                cut = len(data) if not block else data.rfind(b"\n") + 1
                chunk, carry = data[:cut], data[cut:]
                try:
                    chunk.decode("utf-8-sig" if offset == 0 else "utf-8")
                except UnicodeDecodeError as exc:
                    raise _not_utf8(path, chunk, exc, kind.upper(), lines, offset) from None
                offset += len(chunk)
                lines += chunk.count(b"\n")
                if not block:
                    break
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"{path}: cannot read {kind}: {exc}") from exc


def _table_batches(path: Path, kind: str) -> Iterator[tuple[int, Columns, str]]:
    """(first row number, columns, file) per batch of a table, streamed where the format allows."""
    import pyarrow as pa

    if kind in ("jsonl", "csv"):
        _check_text(path, kind)
    if kind == "jsonl":
        yield from _json_batches(path)
        return
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            batches: Any = pq.ParquetFile(path).iter_batches(batch_size=_BATCH)
        else:
            import pyarrow.csv as pcsv

            texts = ("problem_id", *_TEXT_FIELDS, *_SCALAR_FIELDS)  # a model named 7 is the text "7"
            convert = pcsv.ConvertOptions(column_types=dict.fromkeys(texts, pa.string()))
            batches = pcsv.open_csv(pa.input_stream(str(path), compression="detect"), convert_options=convert)
        row = 1
        for batch in batches:
            names = batch.schema.names
            twice = next((name for i, name in enumerate(names) if name in names[:i]), None)
            if twice is not None:  # which one would be read? (Arrow refuses to pick: a KeyError)
                raise DataError(f"{path}: column {twice!r} appears twice; expected each column once")
            try:
                batch.validate(full=True)  # Parquet strings that are not UTF-8
            except pa.ArrowInvalid as exc:
                raise DataError(f"{path}: rows {row}-{row + batch.num_rows - 1}: {exc}; expected UTF-8"
                                " text") from None
            yield row, _ArrowColumns(batch), str(path)
            row += batch.num_rows
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        if kind == "csv" and "columns, got" in str(exc):
            short = _short_csv_row(path)
            if short:
                raise DataError(f"{path} {short}") from exc
        raise DataError(f"{path}: cannot read {kind}: {exc}") from exc


def _short_csv_row(path: Path) -> str | None:
    """`row N (line L): expected K fields (the header's), got M` for the first CSV row whose field count is
    not the header's (Arrow's parse error names the row's text, not its number), else None."""
    import csv
    import io

    import pyarrow as pa

    with pa.input_stream(str(path), compression="detect") as fh:
        reader = csv.reader(io.TextIOWrapper(fh, encoding="utf-8-sig", newline=""))
        header = next(reader, [])
        for n, row in enumerate(reader, 1):
            if row and len(row) != len(header):
                return (f"row {n} (line {reader.line_num}): expected {len(header)} fields (the header's), got"
                        f" {len(row)}")
    return None


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
            yield row, _ArrowColumns(batch), str(path)
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
            raw = fh.read()
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, raw, exc, "JSON") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read JSON: {exc}") from exc
    if array:
        try:
            rows = json.loads(text, object_pairs_hook=unique_pairs)
        except ValueError as exc:
            raise DataError(f"{path}: cannot read JSON: {exc}") from exc
    else:
        rows = []
        for n, line in enumerate((x for x in text.splitlines() if x.strip()), 1):
            try:
                rows.append(json.loads(line, object_pairs_hook=unique_pairs))
            except ValueError as exc:
                raise DataError(f"{path} row {n}: not JSON: {exc}") from exc
    escaped = SURROGATE_ESCAPE.search(text) is not None  # Arrow's reader refused the file for such a row
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise DataError(f"{path} row {n}: expected a JSON object, got {type(row).__name__}")
        flaw = unicode_flaw(row) if escaped else None
        if flaw:
            raise DataError(f"{path} row {n}: field {flaw[0]!r}: {not_unicode(flaw[1])}")
    return rows


def _yaml_docs(path: Path) -> Iterator[tuple[Path, Any]]:
    """(file, parsed document) of each large_language_monkeys YAML file of `path` (a directory or one file)."""
    import yaml

    files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{path}: no .yaml files; expected one large_language_monkeys YAML per problem")
    loader = unique_key_loader(fast=True)  # `samples:` given twice is refused, not the last kept
    for file in files:
        try:
            raw = file.read_bytes()
            text = raw.decode("utf-8-sig")
            doc = yaml.load(text, Loader=loader)
        except UnicodeDecodeError as exc:
            raise _not_utf8(file, raw, exc, "YAML") from None
        except (OSError, yaml.YAMLError) as exc:
            raise DataError(f"{file}: cannot read YAML: {exc}") from exc
        flaw = unicode_flaw(doc) if SURROGATE_ESCAPE.search(text) else None  # libyaml refuses these; PyYAML not
        if flaw:
            raise DataError(f"{file}: field {flaw[0]!r}: {not_unicode(flaw[1])}")
        yield file, doc


def _yaml_batches(path: Path) -> Iterator[tuple[int, Columns, str]]:
    """One batch per large_language_monkeys YAML file: the problem id is the file name's stem."""
    for file, doc in _yaml_docs(path):
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


_MAX_COUNT = 2**62  # token counts are stored as SQLite integers (int64)


def _ints(cols: Columns, field: str, start: int, where: str, required: bool) -> np.ndarray:
    """Column as non-negative int64; the first bad row is named. A missing optional column is zeros.
    Sample indices are below 2**32 (the low half of a sample's key), counts below 2**62."""
    bound, shown_bound = (MAX_INDEX, "2**32") if field == "sample_index" else (_MAX_COUNT, "2**62")
    n = _rows(cols)
    column = cols.arrow(field) if isinstance(cols, _ArrowColumns) else None
    if column is not None and _arrow_kind(column) == "int":
        fast = column.to_numpy(zero_copy_only=False)
        if not len(fast) or (fast.min() >= 0 and fast.max() < bound):
            return fast.astype(np.int64)
    if field not in cols:
        if required:
            raise _missing(cols, field, where, _RESULT_NEEDS)
        return np.zeros(n, dtype=np.int64)
    values = cols[field]
    try:
        fast = np.asarray(values) if values else np.zeros(0, dtype=np.int64)
    except (OverflowError, ValueError):  # huge or ragged values: the row-by-row check below names the row
        fast = np.zeros(0, dtype=object)
    if fast.ndim == 1 and fast.dtype.kind in "iu" and (fast >= 0).all() and (fast < bound).all():  # clean ints
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
        if not 0 <= number < bound or number != int(number):  # NaN fails the first test
            shown = repr(v) if len(repr(v)) <= 40 else repr(v)[:37] + "..."
            raise DataError(f"{where} row {start + i}: field {field!r}: expected a non-negative integer below "
                            f"{shown_bound}, got {shown}")
        out[i] = int(number)
    return out


def _arrow_kind(column: Any) -> str:
    import pyarrow as pa

    t = column.type
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "str"
    return "other"


def _bools(cols: Columns, start: int, where: str) -> list[bool | None] | np.ndarray:
    """`correct` as True/False, or None (unverified: sample stored, no verdict); `outcome` may stand in."""
    if "correct" not in cols and "outcome" not in cols:
        raise _missing(cols, "correct", where, _RESULT_NEEDS)
    column = cols.arrow("correct") if isinstance(cols, _ArrowColumns) else None
    if column is not None and _arrow_kind(column) == "bool":  # no nulls: `outcome` is not consulted
        return column.to_numpy(zero_copy_only=False)
    values = cols.get("correct") or [None] * len(cols["outcome"])
    outcomes = cols.get("outcome")
    if values and all(type(v) is bool for v in values):  # the common case: a clean boolean column (checked
        return values  # per value: np.asarray([[False]]) is a bool array too, and bool([False]) is True
    out: list[bool | None] = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or v is None:
            b = v
        elif isinstance(v, int | float | np.integer | np.floating) and v in (0, 1):
            b = bool(v)
        elif isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
            b = str(v).strip().lower() in _TRUE
        else:
            raise DataError(f"{where} row {start + i}: field 'correct': expected true/false or 1/0, got"
                            f" {type(v).__name__} {_shown(v)}")
        if b is None and outcomes is not None and outcomes[i]:
            b = str(outcomes[i]).lower() == "pass"
        out.append(b)
    return out


def _shown(v: Any) -> str:
    return repr(v) if len(repr(v)) <= 40 else repr(v)[:37] + "..."


_TEXT_FIELDS = ("text", "model", "finish_reason", "outcome", "details")  # strings (or null)
_SCALAR_FIELDS = ("answer", "answer_key")  # a string or number (an extracted answer), or null
_OUTCOMES = {"pass", "fail", "timeout", "error", ""}


def _check_scalars(cols: Columns, start: int, where: str, texts: tuple[str, ...] = _TEXT_FIELDS,
                   scalars: tuple[str, ...] = _SCALAR_FIELDS) -> None:
    """Every optional text field holds a string (or null), `answer`/`answer_key` a string or number, and
    `outcome` a verdict: a list or object (`"text": ["a"]`) is refused with row and field, never stored as
    its `str()`. A column Arrow typed as strings is clean as it is."""
    for field in (*texts, *scalars):
        if field not in cols:
            continue
        column = cols.arrow(field) if isinstance(cols, _ArrowColumns) else None
        if column is not None and _arrow_kind(column) == "str" and field != "outcome":
            continue
        scalar = field in scalars
        for i, v in enumerate(cols[field]):
            if v is None:
                continue
            ok = isinstance(v, str) or (scalar and isinstance(v, int | float) and not isinstance(v, bool))
            if not ok:
                what = "a string or a number" if scalar else "a string"
                raise DataError(f"{where} row {start + i}: field {field!r}: expected {what}, got"
                                f" {type(v).__name__} {_shown(v)}")
            if field == "outcome" and v.strip().lower() not in _OUTCOMES:
                raise DataError(f"{where} row {start + i}: field 'outcome': expected pass, fail, timeout or"
                                f" error, got {_shown(v)}")


def _check_agrees(correct: list[bool | None] | np.ndarray, cols: Columns, start: int, where: str) -> None:
    """An `outcome` that contradicts `correct` (`true` beside `fail`) and `details` that are not a JSON
    object are refused with row and field: either would be read one way and mean another."""
    import json

    if "outcome" in cols:
        for i, (c, o) in enumerate(zip(correct, cols["outcome"], strict=True)):
            if c is None or not isinstance(o, str) or not o.strip():
                continue
            if bool(c) != (o.strip().lower() == "pass"):
                raise DataError(f"{where} row {start + i}: field 'outcome': {o!r} contradicts field 'correct'"
                                f" ({str(bool(c)).lower()}); expected {'pass' if c else 'fail, timeout or error'}")
    if "details" in cols:
        for i, d in enumerate(cols["details"]):
            if d is None or (isinstance(d, str) and d.strip() in ("", "{}")):
                continue
            try:
                ok = isinstance(json.loads(d), dict)
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise DataError(f"{where} row {start + i}: field 'details': expected a JSON object as text (what"
                                f" `monkeys export` writes), got {_shown(d)}")


def _ids(cols: Columns, start: int, where: str, needs: str = _RESULT_NEEDS) -> list[str]:
    ids = cols.get("problem_id")
    if ids is None:
        raise _missing(cols, "problem_id", where, needs)
    for i, v in enumerate(ids):
        if v is None or str(v) == "":
            raise DataError(f"{where} row {start + i}: field 'problem_id' is empty")
        if isinstance(v, bool) or not isinstance(v, str | int | np.integer):
            shown = repr(v) if len(repr(v)) <= 40 else repr(v)[:37] + "..."
            raise DataError(f"{where} row {start + i}: field 'problem_id': expected a string or an integer, "
                            f"got {type(v).__name__} {shown}")
    return [v if isinstance(v, str) else str(v) for v in ids]


def _id_codes(cols: Columns, start: int, where: str, needs: str = _RESULT_NEEDS
              ) -> tuple[list[str], np.ndarray]:
    """The batch's distinct problem ids (first appearance first) and each row's index into them; checked as
    `_ids` does, by Arrow's dictionary encoding when the column is clean strings or integers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = cols.arrow("problem_id") if isinstance(cols, _ArrowColumns) else None
    kind = "other" if column is None else _arrow_kind(column)
    if kind == "int":
        column, kind = pc.cast(column, pa.string()), "str"
    if column is not None and kind == "str" and (not len(column) or pc.min(pc.utf8_length(column)).as_py() > 0):
        encoded = pc.dictionary_encode(column)
        return encoded.dictionary.to_pylist(), encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    ids = _ids(cols, start, where, needs)
    uniq = list(dict.fromkeys(ids))
    code = {pid: i for i, pid in enumerate(uniq)}
    return uniq, np.fromiter((code[p] for p in ids), dtype=np.int64, count=len(ids))


def _first_pass(path: Path, kind: str) -> tuple[list[Problem], int, list[str]]:
    """Validate every row and find duplicates; problems in order of first appearance, the row count, and the
    columns of a table (none for the YAML layout)."""
    problems: dict[str, Problem] = {}
    keys, rows = [], 0
    columns: dict[str, None] = {}
    for start, cols, where in _batches(path, kind):
        if kind != "yaml":  # the YAML layout's columns are made here, not the user's
            columns.update(dict.fromkeys(cols))
        uniq, codes = _id_codes(cols, start, where)
        index = _ints(cols, "sample_index", start, where, required=True)
        _check_scalars(cols, start, where)
        _check_agrees(_bools(cols, start, where), cols, start, where)
        for field in ("prompt_tokens", "completion_tokens", "prompt_shared"):
            _ints(cols, field, start, where, required=False)
        if any(u not in problems for u in uniq):
            described = "gt_answer" in cols or "prompt" in cols  # the YAML layout: prompt and answer per problem
            first_row = np.zeros(len(uniq), dtype=np.int64)
            if described:  # each problem's first row (the last write of a repeated index wins: reversed)
                first_row[codes[::-1]] = np.arange(len(codes))[::-1]
            for u, pid in enumerate(uniq):
                if pid in problems:
                    continue
                i = int(first_row[u])
                answer = cols["gt_answer"][i] if "gt_answer" in cols else None
                prompt = str((cols["prompt"][i] if "prompt" in cols else "") or "")
                problems[pid] = Problem(pid, Prompt(text=prompt), {"answer": str(answer)} if answer is not None else {})
        code = {pid: n for n, pid in enumerate(problems)}
        keys.append(np.array([code[p] for p in uniq], dtype=np.int64)[codes] << 32 | index)
        rows += len(codes)
    if keys:
        allkeys = np.concatenate(keys)
        if len(allkeys) < 2 or (allkeys[1:] > allkeys[:-1]).all():  # sorted input: no duplicate, no sort needed
            return list(problems.values()), rows, list(columns)
        keyset, counts = np.unique(allkeys, return_counts=True)
        if (counts > 1).any():
            dup = int(keyset[np.argmax(counts > 1)])
            pid = list(problems)[dup >> 32]
            raise DataError(f"{path}: duplicate (problem_id, sample_index) = ({pid!r}, {dup & 0xFFFFFFFF})")
    return list(problems.values()), rows, list(columns)


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
    problems, total, columns = _first_pass(path, kind)
    if not total:
        raise DataError(_no_rows(path, kind))
    _warn_unknown(path, columns, RESULT_COLUMNS, "`monkeys import`")
    with _made_or_removed(run_dir), RunLock(run_dir, choose="another run directory").acquire(create_dir=True):
        try:
            return _write(path, kind, run_dir, problems, total, model=model, verifier=verifier,
                          progress=progress)
        except sqlite3.Error as exc:  # a full disk, an I/O error, a store locked by another program
            raise StoreError(f"{store_path(run_dir)}: writing the run store failed: {exc}") from exc


def _no_rows(path: Path, kind: str) -> str:
    """The message for an input without a single row (an empty or blank file, a CSV header alone)."""
    what = {"csv": "no rows (an empty file or a header alone)", "yaml": "no samples"}.get(kind, "no rows")
    return f"{path}: {what}; expected one row per sample"


@contextmanager
def _made_or_removed(run_dir: Path) -> Iterator[None]:
    """A run directory that did not exist is removed again when the import into it fails (its store holds
    nothing then: the import is one transaction), so bad input leaves nothing behind."""
    existed = run_dir.exists()
    try:
        yield
    except BaseException:
        if not existed:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def _write(path: Path, kind: str, run_dir: Path, problems: list[Problem], total: int, *, model: str | None,
           verifier: str, progress: Progress | None) -> ImportSummary:
    """Problems, samples, verdicts and config in one transaction: a kill leaves all of it or an empty store."""
    db = connect(run_dir, create=True)
    try:
        if db.execute("SELECT 1 FROM sample_rows LIMIT 1").fetchone():
            raise StoreError(f"{run_dir}: already holds samples; import into a new run directory")
        db.execute("PRAGMA cache_size = -262144")  # 256 MiB
        keys = Keys(db)
        position = {p.problem_id: i for i, p in enumerate(problems)}
        done = passes = 0
        models: set[str] = set()
        with db:
            insert_header(db, {}, problems)
            for start, cols, where in _batches(path, kind):
                uniq, problem_codes = _id_codes(cols, start, where)
                n = len(problem_codes)
                codes = _outcome_codes(_bools(cols, start, where), cols)
                pos = np.array([position[p] for p in uniq], dtype=np.int64)[problem_codes]
                sample_ids = pos << SAMPLE_SHIFT | _ints(cols, "sample_index", start, where, True)
                names = _strings(cols, "model", model or "unknown")
                models.update([names] if isinstance(names, str) else set(names))
                insert_bulk(
                    db, keys, sample_ids,
                    texts=_strings(cols, "text", ""),
                    prompt_tokens=_optional_ints(cols, "prompt_tokens", start, where, 0),
                    completion_tokens=_optional_ints(cols, "completion_tokens", start, where, 0),
                    prompt_shared=_optional_ints(cols, "prompt_shared", start, where, 1),
                    models=names, finish=_strings(cols, "finish_reason", "unknown"),
                    outcomes=codes, verifier=verifier, reason=f"imported from {path.name}",
                    details=_details(cols, n))
                done += n
                passes += int((codes == 1).sum())
                if progress is not None:
                    progress(done, total)
            insert_header(db, {"config": {"task": "imported", "verifier": verifier, "source": str(path.resolve()),
                                          "format": kind, "model": model or ", ".join(sorted(models)) or None}},
                          [])
    finally:
        db.close()
    return ImportSummary(len(problems), done, passes, verifier)


def _strings(cols: Columns, field: str, default: str) -> list[str] | str:
    """A text column (`str(value or default)` per row), or one value when every row has it."""
    if field not in cols:
        return default
    column = cols.arrow(field) if isinstance(cols, _ArrowColumns) else None
    if column is not None and len(column) and _arrow_kind(column) == "str":
        import pyarrow.compute as pc

        if pc.count_distinct(column).as_py() == 1:
            return str(column[0].as_py() or default)
    return _const([str(v or default) for v in cols[field]])


def _const(values: list[Any] | Any) -> Any:
    """A column whose rows are all one value, as that value (the bulk insert's fast path)."""
    if not isinstance(values, list) or not values:
        return values if not isinstance(values, list) else ""
    first = values[0]
    return first if values.count(first) == len(values) else values


def _optional_ints(cols: Columns, field: str, start: int, where: str, default: int) -> np.ndarray | int:
    if field not in cols:
        return default
    values = _ints(cols, field, start, where, required=False)
    if default and field == "prompt_shared":
        values = np.where(values > 0, values, default)
    if len(values) and (values == values[0]).all():
        return int(values[0])
    return values


def _outcome_codes(correct: list[bool | None] | np.ndarray, cols: Columns) -> np.ndarray:
    """Outcome codes (0 fail, 1 pass, 2 timeout, 3 error, -1 no verdict); a `fail` an export of a monkeys run
    calls timeout or error (its `outcome` column) keeps its kind."""
    if isinstance(correct, np.ndarray):
        codes = correct.astype(np.int64)
    else:
        codes = np.array([-1 if c is None else int(bool(c)) for c in correct], dtype=np.int64)
    if "outcome" not in cols or not (codes == 0).any():
        return codes
    column = cols.arrow("outcome") if isinstance(cols, _ArrowColumns) else None
    if column is not None and _arrow_kind(column) == "str":
        import pyarrow.compute as pc

        lower = pc.utf8_lower(column)
        for code, name in ((2, "timeout"), (3, "error")):
            codes[(codes == 0) & pc.equal(lower, name).to_numpy(zero_copy_only=False)] = code
        return codes
    outcomes = cols["outcome"]
    for i in np.flatnonzero(codes == 0).tolist():
        kind = str(outcomes[i]).lower()
        if kind in ("timeout", "error"):
            codes[i] = 2 if kind == "timeout" else 3
    return codes


def _details(cols: Columns, n: int) -> list[str | None] | None:
    """Verdict details from an export's `details` (JSON text) and `answer`/`answer_key` columns (majority
    vote needs the keys; they win over the same keys in `details`), else None; `{}` is no details."""
    import json

    present = [c for c in ("answer", "answer_key", "details") if c in cols]
    if isinstance(cols, _ArrowColumns):  # columns of nulls only (an export of a run without answers)
        present = [c for c in present if cols.batch.column(c).null_count < cols.rows]
    if not present:
        return None
    texts = cols["details"] if "details" in present else [None] * n
    answers = cols["answer"] if "answer" in present else None
    answer_keys = cols["answer_key"] if "answer_key" in present else None
    out: list[str | None] = []
    for i, raw in enumerate(texts):
        base: dict[str, Any] | None = None
        if isinstance(raw, str) and raw not in ("", "{}"):
            try:
                loaded = json.loads(raw)
            except ValueError:
                loaded = None
            base = loaded if isinstance(loaded, dict) and loaded else None
        answer = None if answers is None else answers[i]
        key = None if answer_keys is None else answer_keys[i]
        if answer is not None or key is not None:
            base = dict(base or {})
            if answer is not None:
                base["answer"] = answer
            if key is not None:
                base["answer_key"] = key
        out.append(None if base is None else json.dumps(base, sort_keys=True))
    return out


# ---- samples to verify later ------------------------------------------------------------------------------


def _sample_yaml_batches(path: Path) -> Iterator[tuple[int, Columns, str]]:
    """large_language_monkeys YAML with raw generations: one file per problem, a `samples` list; the problem
    id is a `problem_id`/`id` field, else the file's stem. `is_corrects`, if any, is ignored."""
    for file, doc in _yaml_docs(path):
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
                    model: str | None, aliases: dict[str, str] | None = None,
                    columns: dict[str, None] | None = None) -> Iterator[_SampleBatch]:
    """Validated batches of samples to verify (the same on both passes: numbering is deterministic).
    A row's problem id that is not one of `known` but one of `aliases` is stored as the id it stands for.
    The columns of a table are added to `columns` (when given) as they are read."""
    batches = _sample_yaml_batches(path) if kind == "yaml" else _table_batches(path, kind)
    counters: dict[str, int] = {}
    for start, raw, where in batches:
        if columns is not None and kind != "yaml":
            columns.update(dict.fromkeys(raw))
        cols = _swebench(raw)
        if not cols:
            continue
        ids = _ids(cols, start, where, _SAMPLE_NEEDS)
        n = len(ids)
        positions = np.empty(n, dtype=np.int64)
        for i, pid in enumerate(ids):
            pos = known.get(pid)
            if pos is None and aliases and pid in aliases:
                ids[i] = pid = aliases[pid]
                pos = known.get(pid)
            if pos is None:
                few = ", ".join(repr(p) for p in list(known)[:3]) + (", ..." if len(known) > 3 else "")
                raise DataError(f"{where} row {start + i}: field 'problem_id': {pid!r} is not a problem of task"
                                f" {task!r} (e.g. {few})")
            positions[i] = pos
        texts = cols.get("text")
        if texts is None:
            raise _missing(cols, "text", where, _SAMPLE_NEEDS)
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
        _check_scalars(cols, start, where, ("model", "finish_reason"), ())
        models = [str(m or model or "unknown") for m in cols.get("model") or [model or "unknown"] * n]
        finish = [str(f or "unknown") for f in cols.get("finish_reason") or ["unknown"] * n]
        shared = _ints(cols, "prompt_shared", start, where, required=False)
        yield _SampleBatch(ids, positions, index, texts, models,
                           _ints(cols, "prompt_tokens", start, where, False),
                           _ints(cols, "completion_tokens", start, where, False), finish,
                           np.where(shared > 0, shared, 1))


def fingerprint(path: Path) -> dict[str, Any]:
    """What a samples file (or a directory of YAML files) held: its size in bytes and the sha256 of its
    bytes (of each file's name and bytes, in name order, for a directory), read in 1 MiB blocks. Stored in
    meta `source_fingerprint` at import, so a rerun of `monkeys verify FILE --out RUN` notices an edited FILE.
    Raises `DataError` when it cannot be read."""
    import hashlib

    path = Path(path)
    files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]
    if not path.is_dir():
        _kind(path)  # a FIFO in place of the file is refused, never waited on
    digest, size = hashlib.sha256(), 0
    for file in files:
        if path.is_dir():
            digest.update(file.name.encode() + b"\0")
        try:
            with open(file, "rb") as fh:
                while block := fh.read(1 << 20):
                    digest.update(block)
                    size += len(block)
        except OSError as exc:
            raise DataError(f"{file}: cannot read: {exc.strerror or exc}") from exc
    return {"size": size, "sha256": digest.hexdigest()}


def _sample_kind(path: Path) -> str:
    if path.is_dir():
        return "yaml"
    return _kind(path)


def import_samples(path: Path, run_dir: Path, problems: list[Problem], *, task: str, config: dict[str, Any],
                   meta: dict[str, Any] | None = None, model: str | None = None,
                   progress: Progress | None = None, aliases: dict[str, str] | None = None) -> ImportSummary:
    """Store samples made elsewhere, unverified, in a new run store, for `monkeys verify` to verify.

    `path`: a table (Parquet, CSV, JSONL, optionally .gz) with `problem_id`, `text` and optional
    `sample_index` (else each problem's rows are numbered 0, 1, ... in file order), `model`, `prompt_tokens`,
    `completion_tokens`, `finish_reason`, `prompt_shared` (`correct`/`outcome` are ignored); a directory of
    large_language_monkeys YAML files with raw generations; or SWE-bench predictions (`instance_id`,
    `model_patch`, `model_name_or_path`). Every problem id must be one of `problems` (the task's), or a key
    of `aliases` (another name of one: the paper's YAML files are named `0.yaml` for the task's `test/0`).
    The whole file is validated first (`DataError` naming file, row and field; nothing written), then meta
    (`config`, `created_at`, `meta`, `source_fingerprint`: see `fingerprint`), the problems the file uses (in
    the order of `problems`) and the samples are written in one transaction under the run directory's lock:
    a kill leaves all or nothing; a file that changed while it was read is refused and nothing is kept.
    Raises `StoreError` when `run_dir` already holds samples or its lock is held.
    """
    path, run_dir = Path(path), Path(run_dir)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    kind = _sample_kind(path)
    before = fingerprint(path)
    known = {p.problem_id: i for i, p in enumerate(problems)}
    positions, indices = [], []
    columns: dict[str, None] = {}
    for batch in _sample_batches(path, kind, known, task, model, aliases, columns):
        positions.append(batch.positions)
        indices.append(batch.index)
    if not sum(len(p) for p in positions):
        raise DataError(_no_rows(path, kind))
    pos = np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64)
    idx = np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64)
    if len(pos):
        order = np.lexsort((idx, pos))
        same = (pos[order][1:] == pos[order][:-1]) & (idx[order][1:] == idx[order][:-1])
        if same.any():
            k = order[int(np.argmax(same))]
            raise DataError(f"{path}: duplicate (problem_id, sample_index) = ({problems[int(pos[k])].problem_id!r},"
                            f" {int(idx[k])})")
    _warn_unknown(path, columns, SAMPLE_COLUMNS, "`monkeys verify`")
    present = np.unique(pos)
    used = [problems[i] for i in present.tolist()]
    stored = np.zeros(len(problems), dtype=np.int64)  # the store keeps the problems used, in task order
    stored[present] = np.arange(len(present))
    total = len(pos)
    header = {**(meta or {}), "config": config, "created_at": datetime.now(UTC).isoformat(),
              "source_fingerprint": before}
    with _made_or_removed(run_dir), RunLock(run_dir, choose="another run directory").acquire(create_dir=True):
        try:
            db = connect(run_dir, create=True)
            try:
                if db.execute("SELECT 1 FROM sample_rows LIMIT 1").fetchone():
                    raise StoreError(f"{run_dir}: already holds samples; import into a new run directory")
                db.execute("PRAGMA cache_size = -262144")
                keys = Keys(db)
                done = 0
                with db:  # one transaction: a kill leaves nothing or everything
                    insert_header(db, header, used)
                    for batch in _sample_batches(path, kind, known, task, model, aliases):
                        insert_bulk(db, keys, stored[batch.positions] << SAMPLE_SHIFT | batch.index,
                                    texts=batch.texts, prompt_tokens=batch.prompt_tokens,
                                    completion_tokens=batch.completion_tokens, prompt_shared=batch.shared,
                                    models=_const(batch.models), finish=_const(batch.finish))
                        done += len(batch.ids)
                        if progress is not None:
                            progress(done, total)
                    if fingerprint(path) != before:  # rolled back: what was checked is not what was read
                        raise DataError(f"{path}: changed while it was being imported; import it again once"
                                        " it is complete")
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise StoreError(f"{store_path(run_dir)}: writing the run store failed: {exc}") from exc
    return ImportSummary(len(used), total, 0, "")
