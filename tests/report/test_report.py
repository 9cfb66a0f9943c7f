"""report_runs end to end on real run stores: terminal table, coverage.png/.svg, HTML."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from monkeys.report import report_runs


def test_report_writes_coverage_png_and_table(make_run) -> None:
    run = make_run("run-a", [0.0, 0.01, 0.2, 0.9], n=64)
    console = Console(record=True, width=120)
    report_runs([run], console=console)
    text = console.export_text()
    assert "coverage" in text and "64" in text
    assert (run / "coverage.png").stat().st_size > 1000
    assert (run / "coverage.svg").exists()


def test_report_of_empty_run_says_so(make_run, tmp_path: Path) -> None:
    run = make_run("empty", [], n=0)
    console = Console(record=True, width=120)
    report_runs([run], console=console)
    assert "no verified samples" in console.export_text()


def test_html_compares_runs_and_opens_in_chromium(make_run, tmp_path: Path) -> None:
    import json

    import numpy as np
    from chromium import CHROMIUM, probe_figures, screenshot
    from matplotlib.image import imread

    rates = np.random.default_rng(5).beta(0.3, 3, 30)
    a = make_run("weak", list(rates), n=128, seed=1, model="SmolLM2-135M")
    b = make_run("strong", list(np.minimum(rates * 3, 1)), n=128, seed=2, model="llama-3-8b")
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({m: {"prompt_usd_per_mtok": p, "completion_usd_per_mtok": 2 * p}
                                  for m, p in (("SmolLM2-135M", 0.01), ("llama-3-8b", 0.2))}))
    html = tmp_path / "report.html"
    console = Console(record=True, width=140)
    report_runs([a, b], console=console, html_path=html, pricing=prices)
    text = console.export_text()
    assert "strong and weak" in text and "cheapest to 50% coverage by usd" in text
    page = html.read_text()
    for expected in ("coverage vs total inference FLOPs", "coverage vs total cost", "per-problem pass@k",
                     "power-law fit", "protections", "&quot;sandbox&quot;"):
        assert expected in page
    assert "http://" not in page and "https://" not in page  # self-contained
    assert page.count("<img") == 5  # coverage, FLOPs and $ for both runs, then a heatmap per run
    if CHROMIUM is None:
        pytest.skip("headless Chromium not installed (apt-get install chromium)")
    figures = probe_figures(html, tmp_path)
    assert len(figures) == page.count("<img")
    assert all(f["w"] > 100 and f["shown"] > 100 and f["std"] > 5 for f in figures), figures
    shot = imread(screenshot(html, tmp_path / "shot.png"))
    assert shot.std() > 0.05  # not a blank page


def test_selection_section_when_the_run_has_answers(tmp_path: Path) -> None:
    import numpy as np

    pytest.importorskip("monkeys.analysis.selection", reason="selection methods not in this tree yet")
    from monkeys.core import Completion, Outcome, Problem, Prompt, Verdict
    from monkeys.store import StoreWriter, connect, write_meta, write_problems

    run = tmp_path / "math"
    db = connect(run, create=True)
    write_meta(db, "config", {"model": "SmolLM2-135M", "verifier": "math-answer"})
    write_problems(db, [Problem(f"p{i}", Prompt(text="q")) for i in range(8)])
    db.close()
    rng = np.random.default_rng(0)
    writer = StoreWriter(run)
    for i in range(8):
        for j in range(16):
            ok = bool(rng.random() < 0.3)
            writer.put_sample(f"p{i}", Completion(j, 0, "t", 10, 20, "stop", 0.0), "SmolLM2-135M")
            writer.put_verdict(f"p{i}", j, "math-answer", Verdict(Outcome.PASS if ok else Outcome.FAIL, "x",
                                                                  {"answer_key": "42" if ok else str(j % 3)}))
    writer.close()
    console = Console(record=True, width=160)
    report_runs([run], console=console, html_path=tmp_path / "r.html")
    assert (run / "selection.png").exists()
    page = (tmp_path / "r.html").read_text()
    assert "selection methods vs coverage" in page and "selection: success rate of one chosen answer" in page
    text = console.export_text()
    assert "selection: success rate of one chosen answer" in text and "majority" in text
    out = io.StringIO()
    report_runs([run], console=Console(file=io.StringIO()), fmt="json", out=out)
    selection = json.loads(out.getvalue())["runs"][0]["selection"]
    assert any("majority" in m for m in selection) and all(0 <= v <= 1 for pts in selection.values()
                                                            for v in pts.values())


def test_verifier_resolved_from_meta_when_config_leaves_it_to_the_task(make_run) -> None:
    from monkeys.store import connect, read_meta, write_meta

    run = make_run("resolved", [0.5, 0.1], n=16, verifier="code-tests")
    db = connect(run)
    write_meta(db, "config", {**read_meta(db, "config"), "verifier": None})  # as `monkeys run` stores it
    write_meta(db, "verifier", "code-tests")
    db.close()
    console = Console(record=True, width=120)
    report_runs([run], console=console)
    assert "verifier code-tests" in console.export_text() and (run / "coverage.png").exists()


def test_many_runs_are_ranked_in_one_matrix_and_compared_neighbour_to_neighbour(make_run) -> None:
    import numpy as np

    from monkeys.report.analyze import analyze_run, compare_runs
    from monkeys.report.data import load_run

    base = np.random.default_rng(2).beta(0.3, 3, 20)
    runs = [make_run(f"run-{i:02d}", list(np.minimum(base * (1 + i / 3), 1)), n=32, seed=i) for i in range(11)]
    analyses = [analyze_run(load_run(r), n_boot=100) for r in runs]
    comparison = compare_runs(analyses)
    assert comparison.matrix_ks == [1, 10, 32]
    top = [row["coverage"][32] for row in comparison.matrix]
    assert top == sorted(top, reverse=True) and len(top) == 11
    pairs = {(a, b) for a, b, _ in comparison.comparisons}
    ranked = [row["run"] for row in comparison.matrix]
    assert pairs == set(zip(ranked, ranked[1:], strict=False))  # 10 neighbour pairs, not 55
    console = Console(record=True, width=200)
    report_runs(runs, console=console, ks=[1, 10, 32, 100])
    text = console.export_text()
    assert "comparison (ranked by coverage at the largest shared k)" in text and "k=100" in text
    assert "11 runs: each compared with the next in the ranking" in text


def test_legends_sit_outside_the_axes_and_long_titles_wrap(make_run) -> None:
    from monkeys.report import plots
    from monkeys.report.analyze import analyze_run
    from monkeys.report.data import load_run

    runs = [make_run(f"a-very-long-run-directory-name-for-model-variant-{i}-with-temperature-0.{i}",
                     [0.01 * (i + 1), 0.2, 0.05], n=32, seed=i) for i in range(10)]
    analyses = [analyze_run(load_run(r), n_boot=50) for r in runs]
    title = "coverage vs samples per problem for " + ", ".join(a.run.name for a in analyses[:3])
    for fig in (plots.coverage_figure(analyses, title=title), plots.cost_figure(analyses, "flops")):
        assert fig is not None
        fig.draw_without_rendering()  # runs the constrained layout, as saving does
        (ax,) = fig.axes
        assert ax.get_legend() is None
        (legend,) = fig.legends
        box, axes_box = legend.get_window_extent(), ax.get_window_extent()
        assert box.x0 >= axes_box.x1, (box, axes_box)  # right of the plot, over no curve
        assert box.x1 <= fig.bbox.x1 + 1  # and inside the figure
        assert all(len(line) <= plots.TITLE_WIDTH for line in ax.get_title().splitlines())
        assert all(len(t.get_text()) <= plots.LABEL_WIDTH + 30 for t in legend.get_texts())


def test_time_outs_are_counted_by_the_limit_that_ended_them(tmp_path: Path) -> None:
    from monkeys.core import Completion, Outcome, Problem, Prompt, Verdict
    from monkeys.store import StoreWriter, connect, write_meta, write_problems

    run = tmp_path / "slow"
    db = connect(run, create=True)
    write_meta(db, "config", {"model": "SmolLM2-135M", "verifier": "code-tests"})
    write_problems(db, [Problem(f"p{i}", Prompt(text="q")) for i in range(3)])
    db.close()
    limits = {("p1", 0): "cpu", ("p1", 1): "cpu", ("p1", 2): "wall", ("p2", 5): "cpu"}
    writer = StoreWriter(run)
    for i in range(3):
        for j in range(8):
            writer.put_sample(f"p{i}", Completion(j, 0, "t", 10, 20, "stop", 0.0), "SmolLM2-135M")
            limit = limits.get((f"p{i}", j))
            verdict = (Verdict(Outcome.TIMEOUT, "time limit", {"time_limit": limit}) if limit
                       else Verdict(Outcome.PASS if j % 3 == i else Outcome.FAIL, "x"))
            writer.put_verdict(f"p{i}", j, "code-tests", verdict)
    writer.close()
    console = Console(record=True, width=200)
    report_runs([run], console=console)
    assert "time-outs: 4 samples on 2 problems (cpu 3, wall 1): p1 (3), p2 (1)" in console.export_text()
