"""Bad rows in `monkeys import` files: one `error:` line naming the file, the row and the field, exit 2,
no traceback, and no run directory made (every row is checked before anything is created)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("monkeys_e2e_conftest", Path(__file__).parents[1] / "conftest.py")
assert _spec is not None and _spec.loader is not None
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
monkeys = _e2e.monkeys

GOOD = {"problem_id": "a", "sample_index": 0, "correct": True}
CASES = {
    "huge sample_index": ({**GOOD, "sample_index": 10**23}, "sample_index"),
    "sample_index beyond int64": ({**GOOD, "sample_index": 2**63}, "sample_index"),
    "negative sample_index": ({**GOOD, "sample_index": -1}, "sample_index"),
    "fractional sample_index": ({**GOOD, "sample_index": 1.5}, "sample_index"),
    "sample_index a list": ({**GOOD, "sample_index": [1]}, "sample_index"),
    "problem_id an object": ({**GOOD, "problem_id": {"x": [1]}}, "problem_id"),
    "problem_id a list": ({**GOOD, "problem_id": ["a", "b"]}, "problem_id"),
    "problem_id a boolean": ({**GOOD, "problem_id": True}, "problem_id"),
    "problem_id empty": ({**GOOD, "problem_id": ""}, "problem_id"),
    "sample_index NaN": ({**GOOD, "sample_index": float("nan")}, "sample_index"),
    "completion_tokens NaN": ({**GOOD, "completion_tokens": float("nan")}, "completion_tokens"),
    "prompt_tokens -Infinity": ({**GOOD, "prompt_tokens": float("-inf")}, "prompt_tokens"),
    "correct a word": ({**GOOD, "correct": "maybe"}, "correct"),
    "correct a number": ({**GOOD, "correct": 7}, "correct"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_import_row_is_one_line_and_nothing_is_made(tmp_path: Path, name: str) -> None:
    row, field = CASES[name]
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps(GOOD) + "\n" + json.dumps(row) + "\n")
    out = tmp_path / "run"
    proc = monkeys("import", str(data), str(out))
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    # the file, the row (ours: "row 2"; pyarrow's JSON reader: "in row 1", zero-based) and the field
    assert "rows.jsonl" in lines[0] and "row" in lines[0] and field in lines[0], lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not out.exists()


TWICE_JSON = ('{"problem_id": "a", "sample_index": 0, "correct": true}\n'
              '{"problem_id": "a", "sample_index": 1, "correct": true, "correct": false, "x": [1, "a"]}\n')


@pytest.mark.parametrize("text", ["problem_id,sample_index,correct,correct\na,0,true,false\n", TWICE_JSON],
                         ids=["csv-column-twice", "json-key-twice"])
def test_a_column_given_twice_is_one_line_and_nothing_is_made(tmp_path: Path, text: str) -> None:
    """Which of the two would be read? (The CSV ended in a KeyError traceback; the JSON row kept the last.)
    The JSON case mixes types in a column so the row-by-row reader, which sees the keys, reads it."""
    data = tmp_path / ("rows.csv" if text.startswith("problem_id") else "rows.jsonl")
    data.write_text(text)
    out = tmp_path / "run"
    proc = monkeys("import", str(data), str(out))
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert data.name in lines[0] and "'correct' appears twice" in lines[0], lines[0]
    assert not out.exists()


def test_a_key_given_twice_in_a_large_language_monkeys_yaml_file_is_one_line(tmp_path: Path) -> None:
    """`is_corrects:` twice in one problem's file: the reader kept the second list silently."""
    folder = tmp_path / "llmonk"
    folder.mkdir()
    (folder / "test_0.yaml").write_text('samples: ["a", "b"]\nis_corrects: [true, true]\nis_corrects: [false, false]\n')
    out = tmp_path / "run"
    proc = monkeys("import", str(folder), str(out))
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert "test_0.yaml" in lines[0] and "'is_corrects' appears twice" in lines[0], lines[0]
    assert not out.exists()
