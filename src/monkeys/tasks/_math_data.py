"""Record loading shared by the GSM8K and MATH tasks: local JSONL/Parquet files, or the HF hub.

Every bad record is a `DataError` naming the file, the line (row) and the field. The hub is reached
through `datasets`, imported only when no local file is given.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from monkeys.errors import DataError


def read_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for each record of a `.jsonl`/`.json` lines or `.parquet` file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such data file; expected a .jsonl or .parquet file")
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
            rows = pq.read_table(path).to_pylist()
        except Exception as exc:
            raise DataError(f"{path}: cannot read the Parquet file: {exc}") from exc
        yield from enumerate(rows, start=1)
        return
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{line_no}: not valid JSON ({exc.msg})") from exc
            if not isinstance(record, dict):
                raise DataError(f"{path}:{line_no}: expected a JSON object, got {type(record).__name__}")
            yield line_no, record


def field(record: dict[str, Any], name: str, where: str) -> str:
    """`record[name]` as a non-empty string, else a `DataError` naming `where` (file:line) and the field."""
    value = record.get(name)
    if not isinstance(value, str) or not value.strip():
        got = "missing" if value is None else f"{type(value).__name__} {str(value)[:40]!r}"
        raise DataError(f"{where}: field {name!r} must be a non-empty string, got {got}")
    return value


def hub_records(dataset: str, config: str | None, split: str, task: str) -> list[tuple[int, dict[str, Any]]]:
    """Rows of a hub dataset; offline or without `datasets`, a `DataError` saying to pass `--data`."""
    hint = f"pass a local file with --data (task {task}), e.g. ../shared/data/"
    try:
        import datasets
    except ImportError as exc:
        raise DataError(f"task {task}: the hub needs `pip install datasets`; or {hint}") from exc
    try:
        rows = datasets.load_dataset(dataset, config, split=split)
    except Exception as exc:  # offline, gated, renamed: the user's fix is the same
        raise DataError(f"task {task}: cannot load {dataset} from the Hugging Face hub ({exc}); "
                        f"{hint}") from exc
    return list(enumerate((dict(r) for r in rows), start=1))


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` in a reference solution (the verifier has its own, for samples)."""
    start = text.rfind("\\boxed")
    if start < 0:
        return None
    i = text.find("{", start)
    depth = 0
    for j in range(i, len(text)) if i >= 0 else ():
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1:j].strip()
    return None
