"""Read task records from local files (JSONL, JSONL.gz, JSON, Parquet) or the Hugging Face hub.

Local files always work offline; the hub is tried only when no file is given, through `datasets`
imported lazily, and a failure says how to pass a local file instead.

Every record comes with where it was found: `file:LINE` for JSON lines, `file: record N` for a JSON list or
a Parquet table, so a bad record (not JSON, not UTF-8, a field of the wrong type, a repeated problem id) is
one `DataError` naming the file, the line or record, and the field.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from monkeys._userfiles import (
    UserFile,
    check_regular,
    decode,
    not_utf8,
    open_regular,
    parse,
    read_bytes,
    type_name,
)
from monkeys.errors import DataError
from monkeys.registry import describe

FORMATS = "a .jsonl, .jsonl.gz, .json or .parquet file"
_STRICT = ConfigDict(strict=True)
DATA_FILE = UserFile("data file", FORMATS, DataError)


def stream_jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`file:LINE`, record) for each non-blank line of a .jsonl or .jsonl.gz file. Raises DataError."""
    gz = path.suffix == ".gz"
    lineno = 0
    try:
        with open_regular(path, DATA_FILE) as raw_fh, (gzip.GzipFile(fileobj=raw_fh) if gz else raw_fh) as fh:
            for lineno, raw in enumerate(fh, 1):
                try:
                    line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    raise not_utf8(path, raw, exc, DATA_FILE, "JSON", lineno) from None
                if not line.strip():
                    continue
                record = parse(path, line, "JSON", DATA_FILE, line=lineno, expected="one JSON object per line")
                if not isinstance(record, dict):
                    raise DataError(f"{path}:{lineno}: expected a JSON object per line, got "
                                    f"{type_name(record)}")
                yield f"{path}:{lineno}", record
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        after = f" after line {lineno}" if lineno else ""
        raise DataError(f"{path}: truncated or corrupt gzip data{after} ({exc}); expected a complete .gz "
                        "file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read data file: {exc.strerror or exc}") from None


def _json_list(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    items = parse(path, decode(path, read_bytes(path, DATA_FILE), DATA_FILE, "JSON"), "JSON", DATA_FILE)
    if not isinstance(items, list):
        raise DataError(f"{path}: expected a JSON list of records, got {type_name(items)}")
    for n, record in enumerate(items, 1):
        if not isinstance(record, dict):
            raise DataError(f"{path}: record {n}: expected a JSON object, got {type_name(record)}")
        yield f"{path}: record {n}", record


def _parquet(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises its own classes (ArrowInvalid, ...) for a bad file
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise DataError(f"{path}: not a readable Parquet file ({first})") from None
    for n, record in enumerate(rows, 1):
        yield f"{path}: record {n}", record


_OTHER_FORMATS = {".csv": "a CSV file", ".tsv": "a TSV file", ".yaml": "a YAML file", ".yml": "a YAML file",
                  ".xlsx": "a spreadsheet", ".xls": "a spreadsheet", ".zip": "a zip archive",
                  ".bz2": "a bzip2 file", ".xz": "an xz file", ".zst": "a zstd file"}


def iter_records(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, record) of a local .jsonl(.gz), .json (a list) or .parquet file; `where` is `file:LINE` or
    `file: record N`. Raises DataError naming the file (and line) when it is missing, unreadable or not
    records."""
    path = Path(path).expanduser()
    check_regular(path, DATA_FILE)
    other = _OTHER_FORMATS.get(path.suffix.lower())
    if other:  # read as JSON lines it failed on its first line as "not valid JSON", which hid the reason
        raise DataError(f"{path}: {other} is not a task data format; expected {FORMATS}")
    if path.suffix == ".parquet":
        yield from _parquet(path)
    elif path.suffix == ".json":
        yield from _json_list(path)
    else:
        yield from stream_jsonl(path)


def check_fields(record: dict[str, Any], where: str, fields: Mapping[str, Any],
                 optional: Mapping[str, Any] | None = None) -> None:
    """Every name in `fields` is present and every present field of `fields`/`optional` has its type
    (a type or type expression, checked strictly: `str`, `str | int`, `list[str]`). Raises DataError."""
    expected = ", ".join(fields)
    for name, kind in {**fields, **(optional or {})}.items():
        if name not in record:
            if name in fields:
                raise DataError(f"{where}: missing field {name!r}; expected fields {expected}")
            continue
        value = record[name]
        try:
            TypeAdapter(kind, config=_STRICT).validate_python(value)
        except ValidationError:
            shown = repr(value)
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            raise DataError(f"{where}: field {name!r}: expected {describe(kind)}, got {type_name(value)} "
                            f"{shown}") from None


def read_records(path: str | Path, fields: Mapping[str, Any] | None = None,
                 optional: Mapping[str, Any] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """All (where, record) of a local data file, each with the `fields` (name -> type) and well-typed
    `optional` fields (see `check_fields`). Raises DataError naming the file, line/record and field."""
    numbered = list(iter_records(path))
    for where, record in numbered:
        check_fields(record, where, fields or {}, optional)
    if not numbered:
        raise DataError(f"{path}: no records found; expected {FORMATS} with one record per problem")
    return numbered


def check_unique_ids(ids: Iterable[tuple[str, str]]) -> None:
    """(where, problem id) pairs: a repeated id is a DataError naming both places (a problem would be lost),
    and so is an empty or blank one."""
    seen: dict[str, str] = {}
    for where, pid in ids:
        if not pid.strip():  # a problem no --problems can name, shown blank in every report
            raise DataError(f"{where}: problem id {pid!r} is empty; expected a non-empty id per problem")
        if pid in seen:
            raise DataError(f"{where}: problem id {pid!r} appears twice (first at {seen[pid]}); "
                            "expected a unique id per problem")
        seen[pid] = where


def load_hub(dataset: str, config: str | None, split: str) -> list[dict[str, Any]]:
    """Records of a hub dataset split. Raises DataError (with the --data hint) when it cannot load."""
    try:
        import datasets
    except ImportError:
        raise DataError(f"loading {dataset!r} from the hub needs `pip install monkeys[hub]`; "
                        "or pass a local file with --data") from None
    try:
        ds = datasets.load_dataset(dataset, config, split=split)
    except Exception as exc:  # offline, renamed, gated: all mean "use a local file"
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"cannot load {dataset!r} ({split}) from the Hugging Face hub ({first}); "
                        "pass a local file with --data") from None
    return [dict(r) for r in ds]
