"""Degenerate pilots say they cannot forecast; held-out selection picks the model that the pilot's later
samples support; k and cost intervals are ordered."""

from __future__ import annotations

import numpy as np

from monkeys.analysis.cost import RunCost, TokenStats
from monkeys.forecast.budget import budget
from monkeys.forecast.engine import Pilot, forecast


def _pilot(p: np.ndarray, n: int, seed: int = 0) -> Pilot:
    rng = np.random.default_rng(seed)
    return Pilot.from_counts(np.full(len(p), n), rng.binomial(n, p), rng)


def test_nothing_solved_says_it_cannot() -> None:
    fc = forecast(_pilot(np.zeros(50), 100), [10_000], n_boot=20)
    assert fc.chosen is None
    assert "no problem was solved" in (fc.reason or "")


def test_one_solved_says_it_cannot() -> None:
    p = np.zeros(50)
    p[0] = 0.3
    fc = forecast(_pilot(p, 100), [10_000], n_boot=20)
    assert fc.chosen is None
    assert "only 1 of 50" in (fc.reason or "")


def test_all_solved_is_certain_not_forecast() -> None:
    fc = forecast(_pilot(np.full(30, 0.5), 60), [6000], n_boot=20)
    assert fc.chosen == "observed"
    assert "already solved" in (fc.reason or "")
    point, lo, hi = fc.coverage([6000])
    assert point[0] == lo[0] == hi[0] == 1.0


def test_too_few_samples_per_problem_says_it_cannot() -> None:
    fc = forecast(_pilot(np.full(30, 0.2), 4), [400], n_boot=20)
    assert fc.chosen is None
    assert "at least 8" in (fc.reason or "")


def test_heldout_rejects_the_power_law_on_a_saturating_run() -> None:
    """Half the problems impossible, half easy: coverage stops at 50%; the power law keeps climbing, and the
    pilot's later samples (no new problem solved after the first quarter) say so."""
    rng = np.random.default_rng(5)
    p = np.where(rng.random(300) < 0.5, 0.0, rng.beta(3.0, 2.0, 300))
    fc = forecast(_pilot(p, 100, seed=5), [10_000], n_boot=20)
    assert fc.models["power-law"].weight == 0.0
    assert "rejected" in (fc.models["power-law"].reason or "")
    assert fc.models["zero-inflated-beta"].weight > 0.2


def test_heldout_rejects_the_zero_inflated_beta_on_a_bimodal_run() -> None:
    """Hard and easy problems in two clusters: one Beta cannot fit both, and misjudges which unsolved
    problems the later samples solve."""
    rng = np.random.default_rng(6)
    p = np.where(rng.random(400) < 0.5, rng.beta(0.3, 30.0, 400), rng.beta(4.0, 1.5, 400))
    fc = forecast(_pilot(p, 100, seed=6), [10_000], n_boot=20)
    assert fc.models["zero-inflated-beta"].weight == 0.0
    assert fc.chosen is not None


def test_k_needed_grows_with_the_target_and_costs_follow() -> None:
    rng = np.random.default_rng(7)
    p = np.where(rng.random(150) < 0.2, 0.0, rng.beta(0.4, 3.0, 150))
    fc = forecast(_pilot(p, 100, seed=7), [10_000], n_boot=50)
    k50, k70 = fc.k_needed(0.5), fc.k_needed(0.7)
    assert k50[1] <= k50[0] <= k50[2]
    assert k50[0] <= k70[0]
    tokens = TokenStats(100, 50.0, 150.0, 4e4)
    cost = budget(k70, 150, tokens, RunCost(1e9, 0.01, 100.0))
    assert cost.samples.point == k70[0] * 150
    assert cost.tokens.point == k70[0] * 150 * 200.0
    assert cost.flops.point == k70[0] * 1e9
    if np.isfinite(k70[2]):
        assert cost.usd.hi == k70[2] * 0.01
    else:
        assert cost.usd.hi is None  # unbounded k: unbounded cost, never a number
