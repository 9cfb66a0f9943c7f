"""An imported table of 100 problems × 10,000 samples is analysed and reported end to end.

Timing is printed for the notes, not asserted (benchmarks measure; tests check behaviour).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from monkeys.report import report_runs
from monkeys.report.analyze import pct
from monkeys.store.importer import import_results


@pytest.mark.slow
def test_import_and_report_100_problems_by_10000_samples(tmp_path: Path) -> None:
    from chromium import CHROMIUM, probe_figures

    problems, n = 100, 10_000
    rng = np.random.default_rng(0)
    rates = np.where(rng.random(problems) < 0.2, 0.0, rng.beta(0.3, 3.0, problems))
    correct = rng.random((problems, n)) < rates[:, None]
    table = pa.table({
        "problem_id": np.repeat([f"p{i:03d}" for i in range(problems)], n),
        "sample_index": np.tile(np.arange(n), problems),
        "correct": correct.ravel(),
        "prompt_tokens": np.full(problems * n, 150),
        "completion_tokens": rng.integers(20, 400, problems * n),
        "model": np.full(problems * n, "SmolLM2-135M"),
    })
    src = tmp_path / "results.parquet"
    pq.write_table(table, src)
    t0 = time.perf_counter()
    seen: list[int] = []
    summary = import_results(src, tmp_path / "run", progress=lambda done, total: seen.append(done))
    t1 = time.perf_counter()
    console = Console(record=True, width=140)
    report_runs([tmp_path / "run"], console=console, html_path=tmp_path / "report.html")
    t2 = time.perf_counter()
    print(f"import {t1 - t0:.1f} s, analyse + report {t2 - t1:.1f} s")
    assert summary.samples == problems * n and summary.passes == int(correct.sum())
    assert seen[-1] == problems * n and len(seen) > 1  # progress reported along the way
    text = console.export_text()
    assert "10000" in text and "power-law fit" in text and "Beta per-problem fit" in text
    expected = float(np.mean(correct.any(axis=1)))
    assert pct(expected) in text  # coverage at k = n is the share of problems solved at least once
    assert (tmp_path / "run" / "coverage.png").exists()
    if CHROMIUM is not None:
        figures = probe_figures(tmp_path / "report.html", tmp_path)
        assert figures and all(f["w"] > 100 and f["std"] > 5 for f in figures)
