"""Record helpers shared by the GSM8K and MATH tasks: numbered hub rows, checked fields, gold answers.

Every bad record is a `DataError` naming the file, the line (row) and the field. Files are read by
`tasks._files`; the hub is reached through `datasets`, imported only when no local file is given.
"""

from __future__ import annotations

import re
from typing import Any

from monkeys.errors import DataError
from monkeys.tasks._files import load_hub


def field(record: dict[str, Any], name: str, where: str) -> str:
    """`record[name]` as a non-empty string, else a `DataError` naming `where` (file:line) and the field."""
    value = record.get(name)
    if not isinstance(value, str) or not value.strip():
        got = "missing" if value is None else f"{type(value).__name__} {str(value)[:40]!r}"
        raise DataError(f"{where}: field {name!r} must be a non-empty string, got {got}")
    return value


def hub_records(dataset: str, config: str | None, split: str, task: str) -> list[tuple[int, dict[str, Any]]]:
    """Numbered rows of a hub dataset; offline or without `datasets`, a `DataError` saying to pass `--data`."""
    try:
        rows = load_hub(dataset, config, split)
    except DataError as exc:
        raise DataError(f"task {task}: {exc} (e.g. ../shared/data/)") from None
    return list(enumerate(rows, start=1))


# A problem that asks for its answers as a list ("Enter all the solutions, separated by commas")
_ASKS_FOR_LIST = re.compile(r"separated\s+by\s+comma", re.IGNORECASE)


# What joins a reference solution's boxed items: "$\\boxed{-2}$ and $\\boxed{1}$", "$x = \\boxed{-\\tfrac32}$ and
# $x = \\boxed{-\\tfrac34}$", "$\\boxed{3}$ or $\\boxed{\\frac{2}{5}}$"
_ITEM_JOIN = re.compile(r"[\s$,.]*(?:\\text\s*\{\s*)?(?:and|or)?\s*\}?[\s$,]*(?:[a-z]\s*=\s*)?", re.IGNORECASE)


def reference_answer(problem: str, solution: str) -> str | None:
    """The gold answer a reference solution states: its last box, or, where the problem asks for a
    comma-separated list and the solution boxes each item ("the answers are $\\boxed{-2}$ and $\\boxed{1}$"),
    the list of them ("-2, 1"): the last box alone would pass a sample naming one of the answers, or hedging
    between them. 5 of MATH's 5,000 test solutions do this. (Trusted text, read simply: the verifier reads
    samples with its own, stricter reader.)"""
    gold = last_boxed(solution)
    spans = _boxes(solution) if gold is not None and _ASKS_FOR_LIST.search(problem) else []
    items = spans[-1:]
    for earlier, later in zip(spans[-2::-1], spans[::-1], strict=False):
        if not _ITEM_JOIN.fullmatch(solution, earlier[2], later[0]):
            break
        items.insert(0, earlier)
    contents = list(dict.fromkeys(content for _, content, _ in items))
    return ", ".join(contents) if len(contents) > 1 and contents[-1] == gold else gold


def _boxes(text: str) -> list[tuple[int, str, int]]:
    """(start, content, end) of every balanced `\\boxed{...}` in `text`."""
    out, start = [], text.find("\\boxed")
    while start >= 0:
        i, depth, end = text.find("{", start), 0, -1
        for j in range(i, len(text)) if i >= 0 else ():
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                end = j
                break
        if end < 0:
            break
        out.append((start, text[i + 1:end].strip(), end + 1))
        start = text.find("\\boxed", end + 1)
    return out


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
