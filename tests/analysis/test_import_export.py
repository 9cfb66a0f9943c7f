"""Import tables and the large_language_monkeys YAML layout into real stores; export round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from monkeys.errors import DataError, StoreError
from monkeys.store import connect, read_meta, read_results
from monkeys.store.export import export_run
from monkeys.store.importer import import_results


def results(run: Path) -> tuple[list[str], list[list[bool]]]:
    db = connect(run)
    try:
        r = read_results(db)
        return r.problem_ids, [x.tolist() for x in r.correct]
    finally:
        db.close()


def test_import_llmonk_yaml_directory(tmp_path: Path) -> None:
    src = tmp_path / "llmonk"
    src.mkdir()
    for pid, flags in (("0", [True, False, False]), ("1", [False, False, False])):
        doc = {"prompt": f"Question {pid}", "samples": [f"answer {i}" for i in range(3)], "is_corrects": flags,
               "gt_answer": "#### 4"}
        (src / f"{pid}.yaml").write_text(yaml.safe_dump(doc))
    summary = import_results(src, tmp_path / "run", model="llama-3-8b")
    assert (summary.problems, summary.samples, summary.passes) == (2, 6, 1)
    assert results(tmp_path / "run") == (["0", "1"], [[True, False, False], [False, False, False]])
    db = connect(tmp_path / "run")
    assert db.execute("SELECT text, model FROM samples WHERE problem_id='0' AND sample_index=2").fetchone() == (
        "answer 2", "llama-3-8b")
    assert read_meta(db, "config")["verifier"] == "imported"
    assert json.loads(db.execute("SELECT prompt FROM problems WHERE problem_id='1'").fetchone()[0])["text"] == (
        "Question 1")


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet", ".jsonl.gz"])
def test_import_table_formats(tmp_path: Path, suffix: str) -> None:
    table = pa.table({"problem_id": ["a", "a", "b", "b"], "sample_index": [1, 0, 0, 1],
                      "correct": [True, False, False, False], "completion_tokens": [5, 6, 7, 8]})
    path = tmp_path / f"t{suffix}"
    if suffix == ".csv":
        path.write_text("problem_id,sample_index,correct,completion_tokens\na,1,true,5\na,0,false,6\n"
                        "b,0,0,7\nb,1,no,8\n")
    elif suffix == ".parquet":
        pq.write_table(table, path)
    else:
        lines = "".join(json.dumps(r) + "\n" for r in table.to_pylist())
        if suffix.endswith(".gz"):
            import gzip

            path.write_bytes(gzip.compress(lines.encode()))
        else:
            path.write_text(lines)
    import_results(path, tmp_path / "run")
    assert results(tmp_path / "run") == (["a", "b"], [[False, True], [False, False]])


@pytest.mark.parametrize(("body", "message"), [
    ("problem_id,sample_index,correct\na,0,true\na,x,false\n", r"t.csv row 2: field 'sample_index'"),
    ("problem_id,sample_index,correct\na,0,maybe\n", r"row 1: field 'correct'"),
    ("problem_id,sample_index\na,0\n", r"missing column 'correct'"),
    ("problem_id,sample_index,correct\na,0,1\na,0,0\n", r"duplicate \(problem_id, sample_index\) = \('a', 0\)"),
    ("problem_id,sample_index,correct\na,0,true\na,1\na,2,false\n",
     r"t.csv row 2 \(line 3\): expected 3 fields \(the header's\), got 2"),
    ("problem_id,sample_index,correct,outcome\na,0,false,fail\na,1,true,fail\n",
     r"t.csv row 2: field 'outcome': 'fail' contradicts field 'correct' \(true\)"),
    ("problem_id,sample_index,correct,details\na,0,true,{}\na,1,true,{not json\n",
     r"t.csv row 2: field 'details': expected a JSON object as text"),
])
def test_bad_tables_name_file_row_and_field_and_write_nothing(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(body)
    with pytest.raises(DataError, match=message):
        import_results(path, tmp_path / "run")
    assert not (tmp_path / "run" / "monkeys.db").exists()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("correct", [False], r"row 1: field 'correct': expected true/false or 1/0, got list \[False\]"),
    ("correct", [], r"row 1: field 'correct': expected true/false or 1/0, got list \[\]"),
    ("correct", {"ok": False}, r"row 1: field 'correct': .* got dict"),
    ("sample_index", [0], r"row 1: field 'sample_index': expected a non-negative integer"),
    ("text", ["a"], r"row 1: field 'text': expected a string, got list"),
    ("model", {"name": "m"}, r"row 1: field 'model': expected a string, got dict"),
    ("outcome", ["pass"], r"row 1: field 'outcome': expected a string, got list"),
    ("outcome", "maybe", r"row 1: field 'outcome': expected pass, fail, timeout or error"),
    ("answer", [4], r"row 1: field 'answer': expected a string or a number, got list"),
])
def test_nested_values_are_refused_with_row_and_field(tmp_path: Path, field: str, value: object,
                                                      message: str) -> None:
    """A list or object where a scalar belongs is bad input, never its truth value or its str() (a
    `"correct": [false]` was stored as a pass: np.asarray([[False]]) is a bool array, bool([False]) is True)."""
    rows = [{"problem_id": "p", "sample_index": i, "correct": False, field: value} for i in range(2)]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match="t.jsonl row 1: " + message.removeprefix("row 1: ")):
        import_results(path, tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("name", "data", "message"), [
    ("t.jsonl", b'{"problem_id": "p", "sample_index": 0, "correct": true}\n'
                b'{"problem_id": "p", "sample_index": 1, "correct": true, "text": "a\xffb"}\n',
     r"t.jsonl:2: not UTF-8 text \(byte 0xff at byte offset 122\)"),
    ("t.csv", b"problem_id,sample_index,correct,text\np,0,true,a\xffb\n",
     r"t.csv:2: not UTF-8 text \(byte 0xff at byte offset 47\)"),
])
def test_text_that_is_not_utf8_names_line_and_byte_and_makes_nothing(tmp_path: Path, name: str, data: bytes,
                                                                       message: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DataError, match=message):
        import_results(path, tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("name", "body", "message"), [
    ("t.jsonl", "", r"t.jsonl: no rows; expected one row per sample"),
    ("t.jsonl", "\n  \n", r"t.jsonl: no rows"),
    ("t.csv", "problem_id,sample_index,correct\n", r"t.csv: no rows \(an empty file or a header alone\)"),
])
def test_input_without_rows_is_refused_and_makes_nothing(tmp_path: Path, name: str, body: str, message: str) -> None:
    """An empty results file is no result: refused, not imported as an empty run."""
    path = tmp_path / name
    path.write_text(body)
    with pytest.raises(DataError, match=message):
        import_results(path, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_csv_text_columns_that_look_like_numbers_stay_text(tmp_path: Path) -> None:
    """Arrow types a CSV column of digits as integers; a model named 7 or an answer 42 is still text."""
    path = tmp_path / "t.csv"
    path.write_text("problem_id,sample_index,correct,model,answer,outcome\na,0,1,7,42,pass\na,1,0,7,41,\n")
    import_results(path, tmp_path / "run")
    db = connect(tmp_path / "run")
    assert db.execute("SELECT DISTINCT model FROM samples").fetchall() == [("7",)]


def test_import_refuses_a_run_with_samples(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("problem_id,sample_index,correct\na,0,true\n")
    import_results(path, tmp_path / "run")
    with pytest.raises(StoreError, match="already holds samples"):
        import_results(path, tmp_path / "run")


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_export_round_trip(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(0)
    rows = [{"problem_id": f"p{i}", "sample_index": j, "correct": bool(rng.random() < 0.3), "text": f"t{i}-{j}",
             "prompt_tokens": 10 + i, "completion_tokens": j, "model": "SmolLM2-135M"}
            for i in range(5) for j in range(7)]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    import_results(src, tmp_path / "a")
    out = tmp_path / f"out.{fmt}"
    assert export_run(tmp_path / "a", out) == 35
    import_results(out, tmp_path / "b")
    assert results(tmp_path / "a") == results(tmp_path / "b")
    cols = "problem_id, sample_index, text, prompt_tokens, completion_tokens, model"
    a = connect(tmp_path / "a").execute(f"SELECT {cols} FROM samples ORDER BY 1, 2").fetchall()
    b = connect(tmp_path / "b").execute(f"SELECT {cols} FROM samples ORDER BY 1, 2").fetchall()
    assert a == b


def test_export_rejects_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("problem_id,sample_index,correct\na,0,true\n")
    import_results(path, tmp_path / "run")
    with pytest.raises(DataError, match="export format"):
        export_run(tmp_path / "run", tmp_path / "out.xlsx")


def test_cli_import_then_export(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from monkeys.cli import data_cmd

    app = typer.Typer()
    data_cmd.register(app)
    src = tmp_path / "t.csv"
    src.write_text("problem_id,sample_index,correct\na,0,true\na,1,false\n")
    result = CliRunner().invoke(app, ["import", str(src), str(tmp_path / "run"), "--model", "SmolLM2-135M"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["export", str(tmp_path / "run"), str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(r["problem_id"], r["sample_index"], r["correct"], r["model"]) for r in rows] == [
        ("a", 0, True, "SmolLM2-135M"), ("a", 1, False, "SmolLM2-135M")]
