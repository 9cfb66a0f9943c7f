"""`monkeys report` as a user runs it (a subprocess) on stores made by `monkeys import`: --k, --format
json/csv, small-value precision, fits without signal, time-outs, --verifier."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from monkeys.analysis.passk import pass_at_ks

MONKEYS = str(Path(sys.executable).with_name("monkeys"))


def report(*args: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([MONKEYS, "report", *map(str, args)], capture_output=True, text=True, env=env)


def spread(problems: int, n: int, seed: int = 0) -> np.ndarray:
    """Correctness with per-problem rates spread like a real run (a fifth never solved)."""
    rng = np.random.default_rng(seed)
    rates = np.where(rng.random(problems) < 0.2, 0.0, rng.beta(0.3, 3.0, problems))
    return rng.random((problems, n)) < rates[:, None]


def test_k_list_as_json_matches_pass_at_k_and_leaves_ks_beyond_the_samples_empty(
        imported: Callable[..., Path]) -> None:
    correct = spread(30, 200)
    run = imported("run-a", correct)
    done = report(run, "--k", "1,10,100,1000", "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)  # the whole of stdout is the document
    (r,) = doc["runs"]
    n, c = correct.sum(axis=1) * 0 + 200, correct.sum(axis=1)
    expected = pass_at_ks(n, c, [1, 10, 100]).mean(axis=0)
    rows = {row["k"]: row for row in r["coverage"]}
    assert sorted(rows) == [1, 10, 100, 1000]
    assert np.allclose([rows[k]["coverage"] for k in (1, 10, 100)], expected, rtol=0, atol=1e-12)
    assert all(rows[k]["ci"][0] <= rows[k]["coverage"] <= rows[k]["ci"][1] for k in (1, 10, 100))
    assert rows[1000]["coverage"] is None and "beyond" in rows[1000]["note"]
    fit = r["power_law_fit"]
    assert fit["status"] == "ok" and fit["fitted_ks"][0] == 1 and fit["fitted_ks"][-1] == 200
    beta = r["beta_fit"]["at_largest_k"]
    assert beta["k"] == 200 and beta["observed"] == pytest.approx(float(np.mean(c > 0)), abs=1e-12)
    assert r["verifiers"] == ["imported"] and r["timeouts"]["samples"] == 0
    assert doc["comparison"]["ranking"][0]["coverage"]["1000"] is None

    table = report(run, "--k", "1,10,100,1000")
    assert table.returncode == 0, table.stderr
    assert "beyond samples" in table.stdout and "k = 1,000 not shown" in table.stdout
    assert "fitted on k = 1, 2, …, 200" in table.stdout
    assert "implied" not in table.stdout and f"(observed {_pct(float(np.mean(c > 0)))})" in table.stdout


def _pct(x: float) -> str:
    from monkeys.report.analyze import pct

    return pct(x)


def test_small_coverage_keeps_significant_digits_and_a_one_problem_run_is_not_fitted(
        imported: Callable[..., Path]) -> None:
    correct = np.zeros((50, 100), dtype=bool)
    correct[7, 3] = True  # one sample of one problem: coverage at k=1 is 1/5000 = 0.02%
    run = imported("sparse", correct)
    table = report(run)
    assert table.returncode == 0, table.stderr
    assert "0.0200%" in table.stdout and "0.000 " not in table.stdout
    assert "not enough signal to fit (only 1 of 50 problems solved" in table.stdout
    assert "Warning" not in table.stderr
    doc = json.loads(report(run, "--format", "json").stdout)
    (r,) = doc["runs"]
    assert r["coverage"][0] == {"k": 1, "coverage": 0.0002, "coverage_text": "0.0200%", "ci": r["coverage"][0]["ci"],
                                "fit": None}
    assert r["power_law_fit"]["status"] == "no fit" and "only 1 of 50" in r["power_law_fit"]["reason"]
    assert r["beta_fit"]["status"] == "no fit"


def test_saturated_flat_and_unsolved_runs_say_there_is_not_enough_signal(imported: Callable[..., Path]) -> None:
    rng = np.random.default_rng(1)
    saturated = np.ones((20, 64), dtype=bool)
    saturated[:, :2] = rng.random((20, 2)) < 0.5  # every problem solved by nearly every sample
    flat = np.zeros((20, 64), dtype=bool)
    flat[:8] = True  # 8 problems solved by every sample, the rest by none: coverage 40% at every k
    runs = [imported("saturated", saturated), imported("flat", flat), imported("unsolved", np.zeros((20, 64), bool))]
    done = report(*runs)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "saturated curve has no shape" in out or "coverage reaches 100%" in out
    assert "every problem is solved by all or none of its samples" in out
    assert "not enough signal to fit (no problem solved by any sample)" in out
    assert out.count("power-law fit: not enough signal to fit") == 3
    assert "b = " not in out and "α = " not in out  # no parameters printed for any of them
    assert "Warning" not in done.stderr


def test_csv_prints_one_block_per_table_on_stdout_or_files_with_out_dir(
        imported: Callable[..., Path], tmp_path: Path) -> None:
    a, b = imported("a", spread(12, 64, 1)), imported("b", spread(12, 64, 2))
    done = report(a, b, "--k", "1,8,64", "--format", "csv")
    assert done.returncode == 0, done.stderr
    blocks = {}
    for block in done.stdout.split("# table: ")[1:]:
        name, _, body = block.partition("\n")
        blocks[name] = list(csv.DictReader(io.StringIO(body.strip() + "\n")))
    assert done.stdout.startswith("# table: coverage\n")
    assert {"coverage", "power_law_fit", "beta_fit", "selection", "timeouts", "ranking", "pairs"} <= set(blocks)
    cov = [(r["run"], int(r["k"])) for r in blocks["coverage"]]
    assert cov == [("a", 1), ("a", 8), ("a", 64), ("b", 1), ("b", 8), ("b", 64)]
    ranking = blocks["ranking"]
    assert [float(r["coverage_at_64"]) for r in ranking] == sorted((float(r["coverage_at_64"]) for r in ranking),
                                                                    reverse=True)
    assert {r["k"] for r in blocks["pairs"]} == {"64"}

    out = tmp_path / "tables"
    done = report(a, b, "--format", "csv", "--out-dir", out)
    assert done.returncode == 0 and done.stdout == ""
    assert (out / "coverage.csv").read_text().startswith("run,k,coverage,ci_lo,ci_hi,fit,note\n")
    assert len(list(csv.DictReader((out / "ranking.csv").open()))) == 2


def test_time_outs_are_counted_per_problem(imported: Callable[..., Path]) -> None:
    correct = spread(10, 32, 3)
    outcome = np.where(correct, "pass", "fail").astype(object)
    outcome[1, :3] = "timeout"
    outcome[4, 5:7] = "timeout"
    correct[1, :3] = correct[4, 5:7] = False
    run = imported("slow", correct, outcome=outcome)
    done = report(run)
    assert done.returncode == 0, done.stderr
    assert "time-outs: 5 samples on 2 problems (unknown 5): p001 (3), p004 (2)" in done.stdout
    doc = json.loads(report(run, "--format", "json").stdout)
    assert doc["runs"][0]["timeouts"] == {"samples": 5, "by_limit": {"unknown": 5},
                                          "per_problem": {"p001": 3, "p004": 2}}


def test_another_verifier_stored_in_the_run_is_reported_with_verifier(tmp_path: Path,
                                                                       run_writer: Callable[..., Path]) -> None:
    from monkeys.core import Outcome, Verdict
    from monkeys.store import StoreWriter

    correct = spread(10, 16, 4)
    run = run_writer(tmp_path / "two", correct, verifier="math-verify")
    writer = StoreWriter(run)
    for i in range(10):
        for j in range(16):
            writer.put_verdict(f"p{i}", j, "minerva", Verdict(Outcome.PASS if j == 0 else Outcome.FAIL, "x"))
    writer.close()
    first = json.loads(report(run, "--format", "json").stdout)["runs"][0]
    other = json.loads(report(run, "--format", "json", "--verifier", "minerva").stdout)["runs"][0]
    assert first["verifier"] == "math-verify" and other["verifier"] == "minerva"
    assert first["verifiers"] == other["verifiers"] == ["math-verify", "minerva"]
    assert other["coverage"][-1]["coverage"] == 1.0 and first["coverage"][0]["coverage"] == correct.mean()
    table = report(run)
    assert "verifier math-verify (also stored: minerva)" in table.stdout
    missing = report(run, "--verifier", "nope")
    assert missing.returncode != 0 and "no verdicts by verifier 'nope' (stored: math-verify, minerva)" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_bad_k_list_is_one_error_line(imported: Callable[..., Path]) -> None:
    run = imported("r", spread(4, 8))
    for bad in ("1,x", "0,10", "2.5"):
        done = report(run, "--k", bad)
        assert done.returncode == 2 and "Traceback" not in done.stderr and "--k" in done.stderr
