"""Read task records from local files (JSONL, JSONL.gz, JSON, Parquet) or the Hugging Face hub.

Local files always work offline; the hub is tried only when no file is given, through `datasets`
imported lazily, and a failure says how to pass a local file instead.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from monkeys.errors import DataError


def stream_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for each non-blank line of a .jsonl or .jsonl.gz file."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not valid JSON: {exc.msg}") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object per line")
            yield lineno, record


def iter_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line or row number, record) of a local .jsonl(.gz), .json (a list) or .parquet file.

    Raises DataError naming the file (and line) when it is missing, unreadable or not records.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: data file not found; expected a .jsonl, .jsonl.gz, .json or .parquet file")
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            yield from enumerate(pq.read_table(path).to_pylist(), 1)
        elif path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, list):
                raise DataError(f"{path}: expected a JSON list of records")
            yield from enumerate(data, 1)
        else:
            yield from stream_jsonl(path)
    except DataError:
        raise
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # pyarrow's errors are ValueErrors too
        raise DataError(f"{path}: cannot read data file: {exc}") from None


def read_records(path: str | Path, required: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """All records of a local data file; each must have the `required` fields. Raises DataError."""
    numbered = list(iter_records(path))
    for where, record in numbered:
        missing = [f for f in required if f not in record]
        if missing:
            raise DataError(f"{path}: record {where}: missing field {missing[0]!r}; "
                            f"expected fields {', '.join(required)}")
    if not numbered:
        raise DataError(f"{path}: no records found")
    return [record for _, record in numbered]


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
