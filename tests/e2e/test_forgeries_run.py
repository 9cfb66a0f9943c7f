"""The forgery suite through `monkeys run` end to end: the scripted sampler (pick=index) feeds every forgery
once per problem, the real verifier judges it, and the store and the printed report show 0 passes."""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from pathlib import Path

import pytest
import yaml
from conftest import monkeys

ROOT = Path(__file__).parents[2]
HUMANEVAL = ROOT / "../shared/data/humaneval/HumanEval.jsonl"
sys.path.insert(0, str(ROOT / "tests/cases/forgeries"))
from forgeries import ASSERT_PROBLEMS, FORGERIES, STDIO_PROBLEMS  # noqa: E402

# Forgeries that stand alone (channel, memory and cache forgeries need a correct program before them).
ASSERTS = [f.text for f in FORGERIES.values() if f.attack in ("exit", "tamper")]
STDIO = [f.text for f in FORGERIES.values() if f.attack == "comparator"]


def _run(tmp_path: Path, task: str, records: list[dict], responses: list[str], *extra: str) -> tuple[Path, str]:
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"sampler": "scripted",
                                      "sampler_options": {"responses": responses, "pick": "index"}}))
    out = tmp_path / "run"
    proc = monkeys("run", "--config", str(config), "--task", task, "--data", str(data),
                   "--problems", str(len(records)), "-n", str(len(responses)), "--max-tokens", "100000",
                   "--batch-size", "8", "--verifier-option", "timeout_s=3", "--out", str(out), *extra, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc.stdout + proc.stderr


def _check_store(out: Path, responses: list[str], n_problems: int) -> None:
    db = sqlite3.connect(out / "monkeys.db")
    try:
        rows = db.execute("SELECT s.problem_id, s.sample_index, s.text, v.outcome, v.reason FROM samples s "
                          "JOIN verdicts v USING (sample_id) ORDER BY s.problem_id, s.sample_index").fetchall()
    finally:
        db.close()
    assert len(rows) == len(responses) * n_problems
    for problem in {r[0] for r in rows}:  # pick=index: every forgery exactly once, in order
        assert [r[2] for r in rows if r[0] == problem] == responses
    passes = [(r[0], r[1], r[4]) for r in rows if r[3] == "pass"]
    assert passes == [], f"forged passes: {passes}"


def _check_report(output: str, n_problems: int) -> None:
    assert f"0/{n_problems} problems solved" in output, output[-2000:]
    coverage = re.findall(r"│\s*\d+\s*│\s*([0-9.]+)%\s*│", output)  # the report prints percent
    assert coverage and all(float(c) == 0.0 for c in coverage), output[-2000:]


def test_asserts_forgeries_through_monkeys_run(tmp_path: Path) -> None:
    if not HUMANEVAL.exists():
        pytest.skip(f"HumanEval data not found at {HUMANEVAL}")
    records = [r for r in map(json.loads, HUMANEVAL.read_text().splitlines()) if r["task_id"] in ASSERT_PROBLEMS]
    assert len(records) == len(ASSERT_PROBLEMS)
    out, output = _run(tmp_path, "humaneval", records, ASSERTS)
    _check_store(out, ASSERTS, len(records))
    _check_report(output, len(records))
    # the objects that agree with every expected value complete the tests: flagged, counted as fails
    assert re.search(r"flagged passes \(counted as fail\): [1-9]\d* samples", output), output[-2000:]


def test_flagged_passes_count_only_by_policy_and_the_report_says_so(tmp_path: Path) -> None:
    if not HUMANEVAL.exists():
        pytest.skip(f"HumanEval data not found at {HUMANEVAL}")
    records = [r for r in map(json.loads, HUMANEVAL.read_text().splitlines()) if r["task_id"] == "HumanEval/0"]
    responses = [FORGERIES["always_equal_object"].text, FORGERIES["sys_exit_toplevel"].text]
    out, output = _run(tmp_path, "humaneval", records, responses, "--verifier-option", "flagged=pass")
    db = sqlite3.connect(out / "monkeys.db")
    try:
        rows = db.execute("SELECT v.outcome, json_extract(v.details, '$.flagged_pass') FROM verdicts v "
                          "JOIN samples s USING (sample_id) WHERE s.sample_index = 0").fetchall()
    finally:
        db.close()
    assert rows == [("pass", 1)]  # the policy counts it, and the verdict stays flagged
    assert "flagged passes (counted as pass): " in output and "HumanEval/0 (" in output, output[-2000:]


def test_stdio_forgeries_through_monkeys_run(tmp_path: Path) -> None:
    records = [{"content": f"Problem {name}.", "labels": json.dumps({"name": name, "source": "forgery"}),
                "test": json.dumps([{"input": {"stdin": t["stdin"]}, "output": {"stdout": t["stdout"]}}
                                    for t in ref["tests"]])}
               for name, ref in STDIO_PROBLEMS.items()]
    out, output = _run(tmp_path, "code-contests", records, STDIO)
    _check_store(out, STDIO, len(records))
    _check_report(output, len(records))
