"""`import_samples`: samples made elsewhere stored unverified for `monkeys verify` (real files, real store)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from monkeys.core import Problem, Prompt
from monkeys.errors import DataError, StoreError
from monkeys.store import connect, read_meta, read_problems, unverified_samples
from monkeys.store.importer import import_results, import_samples

PROBLEMS = [Problem(f"T/{i}", Prompt(f"question {i}"), {"answer": str(i)}) for i in range(5)]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _imp(path: Path, run: Path, **kw: object):  # type: ignore[no-untyped-def]
    return import_samples(path, run, PROBLEMS, task="t", config={"task": "t", "k": 1}, **kw)  # type: ignore[arg-type]


def test_rows_without_indices_are_numbered_per_problem_in_file_order(tmp_path: Path) -> None:
    src = _jsonl(tmp_path / "s.jsonl", [
        {"problem_id": "T/3", "text": "a", "correct": True, "prompt_tokens": 7},
        {"problem_id": "T/1", "text": "b", "outcome": "pass"},
        {"problem_id": "T/3", "text": "c", "model": "m2", "finish_reason": "length"},
    ])
    summary = _imp(src, tmp_path / "run", meta={"model": "m1"}, model="m1")
    assert (summary.problems, summary.samples, summary.passes, summary.verifier) == (2, 3, 0, "")
    db = connect(tmp_path / "run")
    assert [p.problem_id for p in read_problems(db)] == ["T/1", "T/3"]  # the task's order
    assert read_problems(db)[1].reference == {"answer": "3"}
    assert read_meta(db, "config") == {"task": "t", "k": 1} and read_meta(db, "model") == "m1"
    assert read_meta(db, "created_at")
    rows = [(s.problem_id, s.index, s.text, s.prompt_tokens, s.finish_reason)
            for s in unverified_samples(db, "anything")]
    assert rows == [("T/1", 0, "b", 0, "unknown"), ("T/3", 0, "a", 7, "unknown"), ("T/3", 1, "c", 0, "length")]
    assert db.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 0  # `correct` ignored
    assert sorted(r[0] for r in db.execute("SELECT model FROM samples")) == ["m1", "m1", "m2"]


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl.gz"])
def test_tables_with_indices(tmp_path: Path, suffix: str) -> None:
    table = pa.table({"problem_id": ["T/0", "T/0", "T/2"], "sample_index": [5, 2, 0], "text": ["x", "y", "z"]})
    path = tmp_path / f"s{suffix}"
    if suffix == ".parquet":
        pq.write_table(table, path)
    elif suffix == ".csv":
        path.write_text("problem_id,sample_index,text\nT/0,5,x\nT/0,2,y\nT/2,0,z\n")
    else:
        import gzip

        path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in table.to_pylist()).encode()))
    assert _imp(path, tmp_path / "run").samples == 3
    got = [(s.problem_id, s.index, s.text) for s in unverified_samples(connect(tmp_path / "run"), "v")]
    assert got == [("T/0", 2, "y"), ("T/0", 5, "x"), ("T/2", 0, "z")]


@pytest.mark.parametrize(("rows", "message"), [
    ([{"problem_id": "T/0", "text": "a"}, {"problem_id": "nope", "text": "b"}],
     "s.jsonl row 2: field 'problem_id': 'nope' is not a problem of task 't' (e.g. 'T/0', 'T/1', 'T/2', ...)"),
    ([{"problem_id": "T/0", "text": "a"}, {"problem_id": "T/0", "text": 5}],
     "s.jsonl row 2: field 'text': expected a string, got int"),
    ([{"problem_id": "T/0", "text": "a"}, {"problem_id": "T/0"}], "s.jsonl row 2: missing field 'text'"),
    ([{"problem_id": "T/0"}], "missing column 'text'"),
    ([{"problem_id": "T/0", "text": "a", "sample_index": 1}, {"problem_id": "T/0", "text": "b", "sample_index": 1}],
     "duplicate (problem_id, sample_index) = ('T/0', 1)"),
    ([{"problem_id": "T/0", "text": "a", "sample_index": -1}], "row 1: field 'sample_index'"),
])
def test_bad_rows_are_one_error_and_nothing_is_written(tmp_path: Path, rows: list[dict], message: str) -> None:
    src = _jsonl(tmp_path / "s.jsonl", rows)
    with pytest.raises(DataError) as info:
        _imp(src, tmp_path / "run")
    assert message in str(info.value)
    assert not (tmp_path / "run").exists()


def test_raw_generation_yaml_directory(tmp_path: Path) -> None:
    src = tmp_path / "gens"
    src.mkdir()
    (src / "T_1.yaml").write_text(yaml.safe_dump({"problem_id": "T/1", "samples": ["s0", "s1"]}))
    (src / "T_4.yaml").write_text(yaml.safe_dump({"id": "T/4", "samples": ["t0"], "prompt": "q"}))
    assert _imp(src, tmp_path / "run").samples == 3
    got = [(s.problem_id, s.index, s.text) for s in unverified_samples(connect(tmp_path / "run"), "v")]
    assert got == [("T/1", 0, "s0"), ("T/1", 1, "s1"), ("T/4", 0, "t0")]
    (src / "T_4.yaml").write_text(yaml.safe_dump({"id": "T/4", "samples": ["t0", 3]}))
    with pytest.raises(DataError, match=r"T_4.yaml row 2: field 'samples': expected a string"):
        _imp(src, tmp_path / "run2")


def test_yaml_problem_id_is_the_file_stem_by_default(tmp_path: Path) -> None:
    problems = [Problem("0", Prompt("q")), Problem("1", Prompt("q"))]
    src = tmp_path / "gens"
    src.mkdir()
    (src / "1.yaml").write_text(yaml.safe_dump({"samples": ["a"], "is_corrects": [True]}))
    import_samples(src, tmp_path / "run", problems, task="gsm8k", config={})
    assert [(s.problem_id, s.text) for s in unverified_samples(connect(tmp_path / "run"), "v")] == [("1", "a")]


def test_raw_generations_given_to_import_results_point_at_verify(tmp_path: Path) -> None:
    src = tmp_path / "gens"
    src.mkdir()
    (src / "0.yaml").write_text(yaml.safe_dump({"samples": ["a"]}))
    with pytest.raises(DataError, match="monkeys verify"):
        import_results(src, tmp_path / "run")


@pytest.mark.parametrize("layout", ["jsonl", "json-array"])
def test_swebench_predictions(tmp_path: Path, layout: str) -> None:
    problems = [Problem("astropy__astropy-1", Prompt("fix")), Problem("django__django-2", Prompt("fix"))]
    preds = [{"instance_id": "django__django-2", "model_patch": "diff --git a b", "model_name_or_path": "agent"},
             {"instance_id": "astropy__astropy-1", "model_patch": None, "model_name_or_path": "agent"}]
    src = tmp_path / "preds.json"
    if layout == "jsonl":
        _jsonl(src, preds)
    else:
        src.write_text(json.dumps(preds))
    import_samples(src, tmp_path / "run", problems, task="swe", config={})
    db = connect(tmp_path / "run")
    got = [(s.problem_id, s.index, s.text) for s in unverified_samples(db, "v")]
    assert got == [("astropy__astropy-1", 0, ""), ("django__django-2", 0, "diff --git a b")]
    assert {r[0] for r in db.execute("SELECT model FROM samples")} == {"agent"}


def test_a_run_dir_with_samples_is_refused(tmp_path: Path) -> None:
    src = _jsonl(tmp_path / "s.jsonl", [{"problem_id": "T/0", "text": "a"}])
    _imp(src, tmp_path / "run")
    with pytest.raises(StoreError, match="already holds samples"):
        _imp(src, tmp_path / "run")


def test_killed_midway_leaves_nothing(tmp_path: Path) -> None:
    """A kill -9 after the first batch was inserted (inside the one transaction) leaves no samples, no config."""
    src = _jsonl(tmp_path / "s.jsonl", [{"problem_id": f"T/{i % 5}", "text": "t"} for i in range(70_000)])
    run = tmp_path / "run"
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from monkeys.core import Problem, Prompt\n"
        "from monkeys.store.importer import import_samples\n"
        "problems = [Problem(f'T/{i}', Prompt('q')) for i in range(5)]\n"
        "def die(done, total):\n"
        "    os.kill(os.getpid(), 9)\n"
        "import_samples(Path(sys.argv[1]), Path(sys.argv[2]), problems, task='t', config={'task': 't'},"
        " progress=die)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(src), str(run)], capture_output=True, timeout=300)
    assert proc.returncode == -9, proc.stderr
    db = sqlite3.connect(run / "monkeys.db")
    assert db.execute("SELECT count(*) FROM samples").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM meta WHERE key = 'config'").fetchone()[0] == 0
    db.close()
    assert _imp(src, run).samples == 70_000  # and the import can simply be run again
