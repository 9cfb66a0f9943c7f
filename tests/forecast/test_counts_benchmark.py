"""`benchmarks/forecast.py --counts`: the check on published per-problem pass counts runs as a user would run
it, on a small table written here, and a table without the needed columns is one clear error."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "forecast.py"


def _write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _bench():  # type: ignore[no-untyped-def]
    import importlib.util

    spec = importlib.util.spec_from_file_location("forecast_benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_counts_mode_reports_each_published_run(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows: list[list[object]] = []
    for run in ("model-a", "model-b"):
        p = 10 ** rng.uniform(-3.5, 0, 60)
        for i, c in enumerate(rng.binomial(2000, p)):
            rows.append([run, f"q{i}", 2000, int(c)])
    table = tmp_path / "counts.csv"
    _write(table, ["run", "problem", "samples", "correct"], rows)
    out = subprocess.run([sys.executable, str(SCRIPT), "--counts", str(table), "--pilots", "20", "--reps", "2"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("model-")]
    assert len(lines) == 2
    for line in lines:
        fields = line.split()
        assert fields[1:3] == ["20", "2000"]  # pilot n, then the run's full samples
        truth = float(fields[3].rstrip("%"))
        assert 0 < truth <= 100


def test_counts_mode_forecasts_at_a_chosen_k_when_problems_have_more_samples(tmp_path: Path) -> None:
    """Problems with 2,000 and 4,000 samples: at --at 2000 every problem is cut to what a run of 2,000 would
    have shown; a K beyond the fewest samples is declined in words."""
    rng = np.random.default_rng(1)
    p = 10 ** rng.uniform(-3.5, 0, 60)
    totals = np.where(np.arange(60) % 2 == 0, 2000, 4000)
    correct = rng.binomial(totals, p)
    rows = [["m", f"q{i}", int(t), int(c)] for i, (t, c) in enumerate(zip(totals, correct, strict=True))]
    table = tmp_path / "mixed.csv"
    _write(table, ["run", "problem", "samples", "correct"], rows)
    for at, expect in ((2000, "m                            20   2000"), (3000, "samples per problem or fewer")):
        out = subprocess.run([sys.executable, str(SCRIPT), "--counts", str(table), "--pilots", "20", "--reps", "2",
                              "--at", str(at)], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        assert expect in out.stdout, out.stdout


def test_counts_mode_names_a_bad_row_and_an_unreadable_file(tmp_path: Path) -> None:
    table = tmp_path / "rows.csv"
    _write(table, ["run", "problem", "samples", "correct"], [["m", "q0", 10, 3], ["m", "q1", 10, 12]])
    out = subprocess.run([sys.executable, str(SCRIPT), "--counts", str(table)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "rows.csv: row 2: correct 12 is not within 0..samples 10" in out.stderr
    missing = subprocess.run([sys.executable, str(SCRIPT), "--counts", str(tmp_path / "absent.parquet")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and missing.stderr.startswith("error: ") and "absent.parquet" in missing.stderr


def test_counts_mode_names_the_missing_column(tmp_path: Path) -> None:
    table = tmp_path / "bad.csv"
    _write(table, ["run", "problem", "samples"], [["m", "q0", 10]])
    out = subprocess.run([sys.executable, str(SCRIPT), "--counts", str(table)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2
    assert out.stderr.startswith("error: ") and len(out.stderr.strip().splitlines()) == 1
    assert "bad.csv" in out.stderr and "'correct'" in out.stderr and "Num. Samples Correct" in out.stderr


def test_twins_show_what_no_pilot_can_tell() -> None:
    """The benchmark's twin of a shape (every p below t/n set to 0) must be a pilot-indistinguishable one
    (≤ 0.25 more problems solved, in expectation, over the set), and the coverage gap it reports must be
    real: recomputed here from fresh draws of p. Saturating runs have no such twin."""
    bench = _bench()
    t, pilot_gap, gap = bench.twin("heavy-near-zero", 100, 130)
    assert pilot_gap <= bench.TWIN_PILOT_GAP and gap > 4
    p = np.minimum(bench.SHAPES["heavy-near-zero"][1](np.random.default_rng(5), 400_000), 1 - 1e-12)
    low = p < t / 100
    assert 130 * np.mean(np.where(low, -np.expm1(100 * np.log1p(-p)), 0)) < 0.3
    assert abs(100 * np.mean(np.where(low, -np.expm1(10_000 * np.log1p(-p)), 0)) - gap) < 0.5
    assert bench.twin("saturating", 100, 130)[2] < 0.2


def test_published_references_match_random_pilots_of_the_run() -> None:
    """The two references printed beside each published run: the oracle's share (P(solved by k | unsolved in
    the first n), knowing the counts) equals what random pilots of the run show, pooled; the twin's gap is the
    coverage at k of the rarest problems whose removal moves the pilot by ≤ 0.25 solved problems."""
    bench = _bench()
    rng = np.random.default_rng(3)
    total = np.full(80, 2000)
    correct = np.minimum(rng.binomial(2000, 10 ** rng.uniform(-3.6, -0.5, 80)), 2000)
    n, k = 20, 2000
    share = bench.oracle_share(total, correct, n, k)
    unsolved = later = 0
    for _ in range(4000):
        c = rng.hypergeometric(correct, total - correct, n)
        rest = rng.hypergeometric(correct - c, total - n - (correct - c), k - n)
        unsolved += int(np.sum(c == 0))
        later += int(np.sum((c == 0) & (rest > 0)))
    assert abs(later / unsolved - share) < 0.01, (later / unsolved, share)
    gap = bench.twin_gap(total, correct, n, k)
    from scipy import stats

    solved_n = 1 - stats.hypergeom.pmf(0, total, correct, n)  # an independent computation of the pilot's chances
    best = 0.0
    for j in np.sort(np.unique(correct[correct > 0])):
        low = (correct > 0) & (correct <= j)
        if solved_n[low].sum() > 0.25:
            break
        best = 100 * low.mean()  # every problem with a pass is solved by k = all of its samples
    assert gap > 0 and abs(gap - best) < 1e-9


def test_k_interval_mode_runs_as_a_user_runs_it() -> None:
    """`--k-interval`: one row per small-pilot case, both intervals' shares printed."""
    done = subprocess.run([sys.executable, str(SCRIPT), "--k-interval", "--reps", "3"], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.count("|") == 2 and "%" in line]
    assert len(rows) == len(_bench().K_CASES), done.stdout


def test_true_k_is_the_first_k_reaching_the_target() -> None:
    bench = _bench()
    assert bench._true_k(np.array([0.5]), 0.9) == 4.0  # 1 - 0.5^3 = 0.875, 1 - 0.5^4 = 0.9375
    assert bench._true_k(np.array([1.0, 0.0]), 0.9) == float("inf")  # half the problems never solved


def test_oracle_misses_is_zero_without_luck_and_grows_as_the_bar_falls() -> None:
    bench = _bench()
    rng = np.random.default_rng(0)
    every = np.full(40, 1000)
    assert bench.oracle_misses(every, every.copy(), 10, 1000, rng) == 0.0  # every sample passes: no luck
    correct = rng.integers(0, 5, 40)  # rarely solved problems: which ones a pilot of 10 catches is luck
    strict = bench.oracle_misses(every, correct, 10, 1000, np.random.default_rng(1), points=0.5)
    loose = bench.oracle_misses(every, correct, 10, 1000, np.random.default_rng(1), points=10.0)
    assert strict > loose >= 0.0
