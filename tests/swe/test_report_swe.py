"""The SWE-bench section of `monkeys report`: resolved rate vs attempts, attempts per instance, cost per
resolved instance, verdict reasons; in the terminal, JSON, CSV and HTML, from a real run store."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from monkeys.core import Completion, Outcome, Problem, Prompt, Verdict
from monkeys.store import StoreWriter, connect, write_meta, write_problems

MONKEYS = str(Path(sys.executable).with_name("monkeys"))

# instance -> verdicts of its attempts, in order: (outcome, reason, details)
APPLY = (Outcome.FAIL, "patch does not apply: pkg/a.py hunk 2 does not match", {})
STILL = (Outcome.FAIL, "FAIL_TO_PASS test still fails: tests/test_a.py::test_fix", {})
BROKE = (Outcome.FAIL, "PASS_TO_PASS test broke: tests/test_b.py::test_other", {})
GUARD = (Outcome.FAIL, "the patch edits tests/conftest.py", {"category": "edits test configuration"})
BUILD = (Outcome.ERROR, "environment build failed: pip install exited 1", {})
OK = (Outcome.PASS, "resolved", {})
FLAKY = (Outcome.PASS, "resolved", {"flaky": ["tests/test_c.py::test_timing"]})
RUN = {
    "acme__a-1": [APPLY, OK, STILL, OK],
    "acme__a-2": [APPLY, APPLY, STILL, BROKE],
    "acme__b-3": [GUARD, STILL, APPLY, FLAKY],
    "acme__b-4": [BUILD, BUILD, BUILD, BUILD],
}


def write_swe_run(run_dir: Path, *, task: str = "swe-bench") -> Path:
    db = connect(run_dir, create=True)
    write_meta(db, "config", {"task": task, "model": "tiny-coder", "n": 4})
    write_meta(db, "verifier", "swe-tests")
    write_problems(db, [Problem(pid, Prompt(text=f"fix {pid}"), {"kind": "swe-bench"}) for pid in RUN])
    db.close()
    writer = StoreWriter(run_dir)
    for pid, verdicts in RUN.items():
        for j, (outcome, reason, details) in enumerate(verdicts):
            writer.put_sample(pid, Completion(j, j, f"patch {j}", 1000, 200, "stop", 0.0), "tiny-coder")
            writer.put_verdict(pid, j, "swe-tests", Verdict(outcome, reason, details))
    writer.close()
    return run_dir


def report(*args: str) -> str:
    done = subprocess.run([MONKEYS, "report", *args], capture_output=True, text=True, env={
        "COLUMNS": "200", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_swe_run(tmp_path_factory.mktemp("swe") / "run")


def test_terminal_report_shows_the_swe_tables(run: Path) -> None:
    out = report(str(run))
    assert "k (attempts)" in out and "coverage (resolved rate)" in out
    assert "SWE-bench: 2 of 4 instances resolved by some attempt, 16 attempts verified" in out
    assert "resolved rate vs attempts (= coverage vs k)" in out
    assert "4 attempts on 1 instances could not be judged" in out
    assert "flaky tests (failed, then passed when run again; not counted against a patch): acme__b-3: " \
           "tests/test_c.py::test_timing" in out
    # 16 attempts of 1200 tokens over 2 resolved instances
    assert "9,600 tokens per resolved instance" in out
    lines = out.splitlines()
    row = next(line for line in lines if "acme__b-3" in line)
    assert [c.strip() for c in row.split("│")[2:5]] == ["4", "1", "4"]  # attempts, resolved, first resolving
    reasons = {tuple(c.strip() for c in line.split("│")[1:5]) for line in lines if line.count("│") >= 6}
    assert ("fail", "patch does not apply", "4", "3") in reasons
    assert ("fail", "FAIL_TO_PASS test still fails", "3", "3") in reasons
    assert ("fail", "edits test configuration", "1", "1") in reasons
    assert ("error", "environment build failed", "4", "1") in reasons
    assert ("pass", "resolved", "3", "2") in reasons


def test_json_and_csv_carry_every_row(run: Path, tmp_path: Path) -> None:
    doc = json.loads(report(str(run), "--format", "json"))
    swe = doc["runs"][0]["swe"]
    rows = {r["k"]: r for r in swe["resolved_rate_vs_attempts"]}
    assert rows[1]["resolved_rate"] == pytest.approx((2 / 4 + 0 + 1 / 4 + 0) / 4)
    assert rows[4]["resolved_rate"] == pytest.approx(0.5) and rows[4]["instances_resolved"] == pytest.approx(2)
    assert rows[4]["tokens_per_resolved"] == pytest.approx(4 * 4 * 1200 / 2)
    first = {s["instance_id"]: s["first_resolved"] for s in swe["instances"]}
    assert first == {"acme__a-1": 2, "acme__a-2": None, "acme__b-3": 4, "acme__b-4": None}
    assert [s["flaky_tests"] for s in swe["instances"]] == [[], [], ["tests/test_c.py::test_timing"], []]
    assert swe["totals"]["resolved"] == 2 and swe["totals"]["attempts"] == 16
    csv_dir = tmp_path / "csv"
    report(str(run), "--format", "csv", "--out-dir", str(csv_dir))
    reasons = list(csv.reader(io.StringIO((csv_dir / "swe_reasons.csv").read_text())))
    assert reasons[0] == ["run", "outcome", "reason", "attempts", "instances", "example"]
    assert ["run", "fail", "PASS_TO_PASS test broke", "1", "1", BROKE[1]] in reasons
    instances = list(csv.reader(io.StringIO((csv_dir / "swe_instances.csv").read_text())))
    assert len(instances) == 5 and instances[3][-1] == "tests/test_c.py::test_timing"


def test_cost_per_resolved_with_pricing_and_html(run: Path, tmp_path: Path) -> None:
    pricing = tmp_path / "prices.json"
    pricing.write_text(json.dumps({"tiny-coder": {"prompt_usd_per_mtok": 1.0, "completion_usd_per_mtok": 2.0}}))
    html = tmp_path / "r.html"
    doc = json.loads(report(str(run), "--format", "json", "--pricing", str(pricing), "--html", str(html)))
    swe = doc["runs"][0]["swe"]
    per_attempt = (1000 * 1.0 + 200 * 2.0) / 1e6
    assert swe["totals"]["usd_per_resolved"] == pytest.approx(16 * per_attempt / 2)
    k4 = next(r for r in swe["resolved_rate_vs_attempts"] if r["k"] == 4)
    assert k4["usd_per_resolved"] == pytest.approx(16 * per_attempt / 2)
    page = html.read_text()
    assert "resolved rate vs attempts (= coverage vs k)" in page and "acme__b-4" in page
    assert "edits test configuration" in page


def test_other_tasks_have_no_swe_section(tmp_path: Path) -> None:
    from monkeys.report.data import load_run

    other = write_swe_run(tmp_path / "other", task="humaneval")
    with connect(other) as db:
        db.execute("UPDATE meta SET value = '\"code-tests\"' WHERE key = 'verifier'")
    db.close()
    assert load_run(other).swe is None
    swe = load_run(other, verifier="swe-tests").swe  # swe-tests verdicts make it a SWE-bench report
    assert swe is not None and [s.resolved for s in swe.instances] == [2, 0, 1, 0]
