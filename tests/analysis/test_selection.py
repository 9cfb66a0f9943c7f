"""Selection methods and selection-gap curves: hand-computed votes, closed forms, a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import hypergeom

from monkeys.analysis.selection import (
    best_of_n,
    majority_vote,
    selection_curves,
    selection_curves_from_arrays,
)
from monkeys.core import Completion, Outcome, Problem, Prompt, Verdict
from monkeys.store import StoreWriter, connect, write_meta, write_problems
from monkeys.verifiers._answer_extract import gsm8k_answer

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "gsm8k"
MODELS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


def test_majority_vote_counts_classes_and_breaks_ties_by_first_sample() -> None:
    assert majority_vote(["n:1", "n:2", "n:2", None]) == 1
    assert majority_vote(["n:3", "n:2", "n:2", "n:3"]) == 0  # tie: the class seen first wins
    assert majority_vote([None, None]) is None
    assert majority_vote(["a", "b", "b"], weights=[5.0, 1.0, 1.0]) == 0
    assert best_of_n([0.1, 0.9, 0.9]) == 1


@pytest.mark.skipif(not (DATA / "example_model_solutions.jsonl").exists(), reason="../shared/data absent")
def test_majority_vote_on_gsm8k_example_solutions() -> None:
    """First 8 questions x 4 solutions. By hand, from the answers (gold in brackets):
    [26 224 4 18] (18) -> 26 ✗ (all differ, first wins); [3 3 250 3] (3) -> 3 ✓; [90000 115000 -129025
    65000] (70000) -> 90000 ✗; [60 540 540 540] (540) -> 540 ✓; [266 20 43 800] (20) -> 266 ✗;
    [77 128 1 32] (64) -> 77 ✗; [15 260 260 260] (260) -> 260 ✓; [140 60 40 160] (160) -> 140 ✗.
    Majority vote: 3/8 right; oracle (any correct label): 6/8."""
    rows = [json.loads(line) for line in (DATA / "example_model_solutions.jsonl").read_text().splitlines()[:8]]
    answers = [[gsm8k_answer(r[m]["solution"]) for m in MODELS] for r in rows]
    labels = [[r[m]["is_correct"] for m in MODELS] for r in rows]
    picks = [majority_vote(["n:" + a if a else None for a in row]) for row in answers]
    assert [answers[i][p] for i, p in enumerate(picks)] == [  # type: ignore[index]
        "26", "3", "90000", "540", "266", "77", "260", "140"]
    assert sum(labels[i][p] for i, p in enumerate(picks)) == 3  # type: ignore[index]
    keys = [["n:" + a for a in row] for row in answers]  # type: ignore[operator]
    curves = selection_curves_from_arrays(keys, [np.array(x) for x in labels], [1, 4], n_subsets=500)
    assert curves["coverage"][4] == pytest.approx(6 / 8)
    # at k = 4 the vote is over all four: ties are a uniform pick, so q0/q2/q4/q5/q7 (all distinct) count
    # 1/4 each where one of the four is right (q0, q4, q7): 3 + 3/4 = 3.75 of 8
    assert curves["majority"][4] == pytest.approx(3.75 / 8)


def majority_closed_form(n: int, good: int, k: int) -> float:
    """Two classes (good vs one wrong answer): P(good > k/2) + P(good = k/2) / 2, X ~ Hypergeom."""
    x = np.arange(k + 1)
    p = hypergeom(n, good, k).pmf(x)
    return float(p[2 * x > k].sum() + 0.5 * p[2 * x == k].sum())


def build_store(tmp_path: Path, specs: list[tuple[int, int]]) -> Path:
    """Problem i has n samples; the first `good` answer "n:1" (pass), the rest "n:2" (fail), score = index."""
    run = tmp_path / "run"
    db = connect(run, create=True)
    write_meta(db, "config", {"verifier": "math-answer"})
    write_problems(db, [Problem(f"p{i}", Prompt(text="q"), {"answer": "1"}) for i in range(len(specs))])
    db.close()
    writer = StoreWriter(run)
    for i, (n, good) in enumerate(specs):
        for j in range(n):
            writer.put_sample(f"p{i}", Completion(j, j, "x", 1, 1, "stop", 0.0), "m")
            ok = j < good
            writer.put_verdict(f"p{i}", j, "math-answer", Verdict(
                Outcome.PASS if ok else Outcome.FAIL, "r", {"answer_key": "n:1" if ok else "n:2"}))
            writer.put_score(f"p{i}", j, "rm", float(n - j) if i == 0 else float(j))
    writer.close()
    return run


def test_curves_from_a_store_match_the_closed_forms(tmp_path: Path) -> None:
    specs = [(20, 12), (20, 7), (20, 0)]
    db = connect(build_store(tmp_path, specs))
    ks = [1, 2, 3, 5, 10, 20]
    curves = selection_curves(db, ks, scorer="rm", n_subsets=4000, seed=1)
    assert set(curves) == {"coverage", "majority", "best_of_n", "weighted_vote"}
    for k in ks:
        want = np.mean([majority_closed_form(n, g, k) for n, g in specs])
        assert curves["majority"][k] == pytest.approx(want, abs=0.02)
        cover = np.mean([1 - hypergeom(n, g, k).pmf(0) for n, g in specs])
        assert curves["coverage"][k] == pytest.approx(cover, abs=1e-9)
        # p0 scores its good samples highest: right when the subset holds one; p1 scores its bad ones
        # highest: right only when the subset is all good samples; p2 has none
        best = (1 - hypergeom(20, 12, k).pmf(0) + hypergeom(20, 7, k).pmf(k)) / 3
        assert curves["best_of_n"][k] == pytest.approx(best, abs=1e-9)
    assert curves["majority"][20] == pytest.approx(1 / 3)


def test_same_seed_same_curves_and_store_without_keys_gives_nothing(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    keys = [[f"n:{x}" for x in rng.integers(0, 3, 50)] for _ in range(4)]
    correct = [np.array([k == "n:0" for k in ks]) for ks in keys]
    a = selection_curves_from_arrays(keys, correct, [1, 8, 50], seed=3)
    assert a == selection_curves_from_arrays(keys, correct, [1, 8, 50], seed=3)
    assert a["majority"][1] == pytest.approx(np.mean([c.mean() for c in correct]), abs=0.05)
    db = connect(tmp_path / "empty", create=True)
    assert selection_curves(db, [1]) == {}


def test_unanswered_samples_never_win() -> None:
    keys = [[None, None, "n:5", "n:5"]]
    curves = selection_curves_from_arrays(keys, [np.array([False, False, True, True])], [1, 2, 4], n_subsets=2000)
    assert curves["majority"][4] == 1.0
    assert curves["majority"][1] == pytest.approx(0.5, abs=0.05)
    assert curves["majority"][1] == pytest.approx(curves["coverage"][1], abs=0.05)
