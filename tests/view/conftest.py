"""Fixtures of the viewer's tests: real run stores (import, GSM8K verify) and viewers over them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from viewkit import SHARED_DATA, Viewer, make_import_run, monkeys, start_viewer


@pytest.fixture(scope="session")
def import_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_import_run(tmp_path_factory.mktemp("view-import"), "imported-run", 0)


@pytest.fixture(scope="session")
def second_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_import_run(tmp_path_factory.mktemp("view-second"), "second-run", 1)


GSM_ANSWERS = ["18", "3", "70000", "540", "20"]


@pytest.fixture(scope="session")
def math_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GSM8K samples verified by `monkeys verify` (verdict details carry the extracted answers): on problem
    test/1 (reference 3) answer 1 is the majority (12 of 30), the right 3 has 8."""
    data = SHARED_DATA / "gsm8k" / "test.jsonl"
    if not data.is_file():
        pytest.skip(f"GSM8K test file not found at {data} (the repo's sibling shared/data)")
    tmp = tmp_path_factory.mktemp("view-math")
    rows = tmp / "samples.jsonl"
    with rows.open("w") as fh:
        for p, right in enumerate(GSM_ANSWERS):
            for i in range(30):
                answer = "1" if i < 12 else right if i < 20 else str(100 + i % 3)
                fh.write(json.dumps({"problem_id": f"test/{p}", "sample_index": i,
                                     "text": f"Thinking <b>hard</b> about it.\nThe answer is {answer}."}) + "\n")
    out = tmp / "gsm-run"
    result = monkeys("verify", str(rows), "--task", "gsm8k", "--data", str(data), "--task-option", "shots=0",
                     "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def viewer(import_run: Path, second_run: Path) -> Iterator[Viewer]:
    """One viewer over two imported runs (run 0 and run 1)."""
    yield from start_viewer([import_run, second_run])


@pytest.fixture(scope="session")
def math_viewer(math_run: Path) -> Iterator[Viewer]:
    yield from start_viewer([math_run])
