"""`monkeys plan` as a user runs it: a real store written by the store writer, the real CLI in a process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import monkeys

from monkeys.core import Completion, Outcome, Problem, Prompt, Verdict
from monkeys.store import StoreWriter, connect, write_meta, write_problems


def _store(run_dir: Path, correct: np.ndarray) -> Path:
    """A run whose problem i has samples j with verdict correct[i, j] (50 prompt, 120 completion tokens)."""
    db = connect(run_dir, create=True)
    write_meta(db, "config", {"task": "synthetic", "model": "SmolLM2-135M", "verifier": "scripted",
                              "n": correct.shape[1]})
    write_problems(db, [Problem(f"p{i}", Prompt(text=f"q{i}")) for i in range(correct.shape[0])])
    db.close()
    writer = StoreWriter(run_dir)
    for i, row in enumerate(correct):
        for j, ok in enumerate(row):
            writer.put_sample(f"p{i}", Completion(j, 0, f"s{j}", 50, 120, "stop", 0.0), "SmolLM2-135M")
            writer.put_verdict(f"p{i}", j, "scripted", Verdict(Outcome.PASS if ok else Outcome.FAIL, "x"))
    writer.close()
    return run_dir


@pytest.fixture(scope="module")
def pilot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 problems × 48 samples: a third never solvable, the rest with rates from Beta(0.4, 3)."""
    rng = np.random.default_rng(11)
    p = np.where(rng.random(60) < 0.33, 0.0, rng.beta(0.4, 3.0, 60))
    return _store(tmp_path_factory.mktemp("plan") / "pilot", rng.random((60, 48)) < p[:, None])


def test_plan_json_table_and_plot(pilot: Path, tmp_path: Path) -> None:
    fig = tmp_path / "plan.png"
    done = monkeys("plan", str(pilot), "--k", "480,4800", "--target", "0.6", "--format", "json", "--plot", str(fig))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["problems"] == 60 and doc["samples_per_problem"] == {"min": 48, "max": 48}
    assert doc["forecast"]["method"] is not None
    rows = {r["k"]: r for r in doc["forecast"]["coverage"]}
    solved = doc["solved_in_pilot"] / 60
    for k in (480, 4800):
        assert solved <= rows[k]["lo"] <= rows[k]["coverage"] <= rows[k]["hi"] <= 1.0
    assert rows[480]["coverage"] <= rows[4800]["coverage"]
    need = doc["target"]["need"]
    assert need["samples"]["value"] == pytest.approx(need["k"]["value"] * 60)
    assert need["tokens"]["value"] == pytest.approx(need["k"]["value"] * 60 * 170)
    assert need["flops"]["value"] > 0  # SmolLM2-135M is in the model table
    assert fig.stat().st_size > 5000 and fig.read_bytes()[:4] == b"\x89PNG"

    table = monkeys("plan", str(pilot), "--target", "0.6")
    assert table.returncode == 0, table.stderr
    assert "for 60% coverage: k =" in table.stdout and "FLOPs" in table.stdout
    assert "95% interval" in table.stdout


def test_plan_says_when_it_cannot(tmp_path: Path) -> None:
    correct = np.zeros((20, 16), dtype=bool)
    correct[3, 5] = True  # one problem solved once
    run = _store(tmp_path / "hopeless", correct)
    done = monkeys("plan", str(run))
    assert done.returncode == 0, done.stderr
    assert "no forecast" in done.stdout and "only 1 of 20 problems solved" in done.stdout
    doc = json.loads(monkeys("plan", str(run), "--format", "json").stdout)
    assert doc["forecast"]["method"] is None and doc["forecast"]["coverage"][0]["coverage"] is None


def test_a_pilot_too_small_to_forecast_still_gives_the_k_its_own_curve_reaches(tmp_path: Path) -> None:
    """4 samples per problem are too few to forecast from, but the pilot's own curve shows 90% coverage by
    k = 4: the plan says no forecast and still gives that k, its interval and what it costs."""
    rng = np.random.default_rng(5)
    correct = rng.random((10, 4)) < 0.6
    correct[:9, 0] = True  # nine of ten problems solved by their first sample
    correct[9] = False
    run = _store(tmp_path / "small", correct)
    done = monkeys("plan", str(run))
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "no forecast" in text and "only 4 verified samples" in text, done.stdout
    doc = json.loads(monkeys("plan", str(run), "--format", "json").stdout)
    assert doc["forecast"]["method"] is None
    k = next(row["k"] for row in doc["pilot"] if row["coverage"] >= 0.9)  # the pilot's curve at 1, 2, 4
    need = doc["target"]["need"]
    assert need["k"]["value"] == k and need["k"]["lo"] <= k <= need["k"]["hi"]
    assert need["samples"]["value"] == 10 * k
    assert f"for 90% coverage: k = {k} samples per problem [" in text and f"samples {10 * k} [" in text, text


@pytest.mark.parametrize("args, words", [
    (["--k", "abc"], "--k"),
    (["--k", "0"], "--k"),
    (["--target", "1.5"], "--target"),
    (["--target", "0"], "--target"),
    (["--plot", "fig.txt"], "--plot"),
    (["--verifier", "nope"], "nope"),
    (["--k", "1e30"], "--k"),  # beyond int64: was a TypeError traceback
    (["--k", "inf"], "--k"),  # was an OverflowError traceback
    (["--k", "nan"], "--k"),  # was a ValueError traceback
    (["--plot", "/proc/absent/fig.png"], "--plot"),  # unwritable: was a FileNotFoundError traceback
])
def test_bad_input_is_one_error_line(pilot: Path, args: list[str], words: str) -> None:
    done = monkeys("plan", str(pilot), *args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], done.stderr


def test_plot_into_a_new_directory(pilot: Path, tmp_path: Path) -> None:
    """As `report --html` and `export`: the figure's directory is made."""
    figure = tmp_path / "figures" / "plan.svg"
    done = monkeys("plan", str(pilot), "--plot", str(figure))
    assert done.returncode == 0, done.stderr
    assert figure.read_text().lstrip().startswith("<?xml")


def test_missing_run_is_one_error_line(tmp_path: Path) -> None:
    done = monkeys("plan", str(tmp_path / "absent"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "absent" in lines[0]


def test_imported_outcomes_without_tokens_cost_unknown_not_zero(tmp_path: Path) -> None:
    """`monkeys import` of correctness alone (no token columns): the plan still gives k and samples, and says why
    tokens, FLOPs and dollars are unknown instead of printing zeros, although the model is in the table."""
    rng = np.random.default_rng(4)
    p = np.where(rng.random(40) < 0.3, 0.0, rng.beta(0.5, 3.0, 40))
    table = tmp_path / "outcomes.csv"
    lines = ["problem_id,sample_index,correct"]
    for i, pi in enumerate(p):
        lines += [f"q{i},{j},{int(ok)}" for j, ok in enumerate(rng.random(32) < pi)]
    table.write_text("\n".join(lines) + "\n")
    done = monkeys("import", str(table), str(tmp_path / "run"), "--model", "SmolLM2-135M")
    assert done.returncode == 0, done.stderr
    doc = json.loads(monkeys("plan", str(tmp_path / "run"), "--target", "0.5", "--format", "json").stdout)
    need = doc["target"]["need"]
    assert need["k"]["value"] is not None and need["samples"]["value"] == pytest.approx(need["k"]["value"] * 40)
    for name in ("tokens", "flops", "usd"):
        assert need[name] == {"value": None, "lo": None, "hi": None}
        assert "no token counts" in need["unknown"][name]
    text = monkeys("plan", str(tmp_path / "run"), "--target", "0.5")
    assert text.returncode == 0 and "no token counts" in " ".join(text.stdout.split()), text.stdout
    assert "tokens 0" not in text.stdout


def test_a_pilot_that_solved_everything_prints_certain_rows_with_their_interval(tmp_path: Path) -> None:
    """As the default run: every problem solved, so coverage at larger k is 100% for certain (its interval
    is the point), and the k for 90% comes with an interval from resampling the problems."""
    rng = np.random.default_rng(2)
    correct = rng.random((12, 16)) < rng.uniform(0.1, 0.6, (12, 1))
    correct[np.arange(12), rng.integers(0, 16, 12)] = True  # each problem solved at least once
    run = _store(tmp_path / "solved", correct)
    done = monkeys("plan", str(run))
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "100.0% – 100.0% │ certain: all solved" in text, done.stdout
    assert "for 90% coverage: k =" in text and "samples per problem [" in text
