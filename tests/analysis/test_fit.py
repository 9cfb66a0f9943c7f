"""Fits recover known parameters within their reported intervals in at least 90% of seeded trials."""

from __future__ import annotations

import numpy as np
import pytest

from monkeys.analysis.fit import fit_beta, fit_power_law, fit_power_law_draws
from monkeys.analysis.passk import default_ks, pass_at_ks

KS = np.array(default_ks(10_000), dtype=float)


def test_power_law_recovers_a_and_b_from_noisy_curves() -> None:
    trials, hit_a, hit_b, hit_both = 200, 0, 0, 0
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        a, b = -rng.uniform(0.5, 3.0), -rng.uniform(0.1, 0.6)
        fit = fit_power_law(KS, np.exp(a * KS**b) + rng.normal(0, 0.01, len(KS)))
        in_a, in_b = fit.a_ci[0] <= a <= fit.a_ci[1], fit.b_ci[0] <= b <= fit.b_ci[1]
        hit_a, hit_b, hit_both = hit_a + in_a, hit_b + in_b, hit_both + (in_a and in_b)
    print(f"power law: a {hit_a / trials:.1%}, b {hit_b / trials:.1%}, both {hit_both / trials:.1%}")
    assert hit_a / trials >= 0.9 and hit_b / trials >= 0.9


def test_beta_recovers_alpha_and_beta_from_pass_counts() -> None:
    trials, hit_a, hit_b, hit_both = 150, 0, 0, 0
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        al, be = rng.uniform(0.2, 1.5), rng.uniform(1.0, 20.0)
        n = np.full(200, 1000)
        fit = fit_beta(n, rng.binomial(n, rng.beta(al, be, 200)))
        in_a, in_b = fit.alpha_ci[0] <= al <= fit.alpha_ci[1], fit.beta_ci[0] <= be <= fit.beta_ci[1]
        hit_a, hit_b, hit_both = hit_a + in_a, hit_b + in_b, hit_both + (in_a and in_b)
    print(f"beta: alpha {hit_a / trials:.1%}, beta {hit_b / trials:.1%}, both {hit_both / trials:.1%}")
    assert hit_a / trials >= 0.9 and hit_b / trials >= 0.9


def test_beta_curve_matches_pass_at_k_and_implies_the_exponent() -> None:
    rng = np.random.default_rng(7)
    n = np.full(2000, 2000)
    c = rng.binomial(n, rng.beta(0.4, 4.0, 2000))
    fit = fit_beta(n, c)
    ks = [1, 10, 100, 1000]
    assert np.abs(fit.coverage(np.array(ks)) - pass_at_ks(n, c, ks).mean(axis=0)).max() < 0.02
    assert abs(fit.power_law[1] + 0.4) < 0.05


def test_extrapolation_and_k_for_target_are_consistent() -> None:
    a, b = -2.0, -0.35
    fit = fit_power_law(KS, np.exp(a * KS**b) + np.random.default_rng(0).normal(0, 0.005, len(KS)))
    k, lo, hi = fit.k_for(0.95)
    assert lo <= k <= hi and abs(float(fit.predict(k)) - 0.95) < 1e-6
    lo_c, hi_c = fit.predict_ci(1e6)
    assert lo_c[0] <= float(np.exp(a * 1e6**b)) <= hi_c[0]


def test_bootstrap_refit_intervals_from_curve_draws() -> None:
    rng = np.random.default_rng(3)
    curve = np.exp(-1.5 * KS[:10] ** -0.4)
    draws = curve + rng.normal(0, 0.01, (100, 10))
    fit = fit_power_law_draws(KS[:10], curve, draws)
    assert fit.method == "bootstrap" and fit.a_ci[0] < -1.5 < fit.a_ci[1] and fit.b_ci[0] < -0.4 < fit.b_ci[1]


@pytest.mark.slow
def test_bootstrap_refit_covers_the_population_curve_fit() -> None:
    """Per-problem data from a known Beta: the report's interval method (refit bootstrap curves) should
    contain the exp(a·k^b) fit of the population curve 1 - B(α, β+k)/B(α, β)."""
    from scipy import special

    from monkeys.analysis.bootstrap import coverage_band

    ks = np.array(default_ks(1024))
    trials, hit_a, hit_b = 30, 0, 0
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        al, be = rng.uniform(0.2, 0.8), rng.uniform(2.0, 10.0)
        population = -np.expm1(special.betaln(al, be + ks) - special.betaln(al, be))
        truth = fit_power_law(ks, population, n_draws=10)
        n = np.full(200, 1024)
        band = coverage_band(n, rng.binomial(n, rng.beta(al, be, 200)), ks, n_boot=200, level="problems")
        fit = fit_power_law_draws(ks, band.estimate, band.draws)
        hit_a += fit.a_ci[0] <= truth.a <= fit.a_ci[1]
        hit_b += fit.b_ci[0] <= truth.b <= fit.b_ci[1]
    print(f"bootstrap refit: a {hit_a / trials:.1%}, b {hit_b / trials:.1%}")
    assert hit_a / trials >= 0.85 and hit_b / trials >= 0.85


def _no_warnings() -> object:
    import warnings

    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("error")
    return ctx


@pytest.mark.parametrize("curve, why", [
    (np.full(len(KS), 0.4), "flat"),  # every problem solved by all or none of its samples
    (np.minimum(1.0, 0.6 + KS / 4), "saturated"),  # 100% by k=2: no shape left
    (np.zeros(len(KS)), "3 ks"),
])
def test_curves_without_shape_are_not_fitted(curve: np.ndarray, why: str) -> None:
    from monkeys.analysis.fit import NoSignal

    ctx = _no_warnings()
    try:
        with pytest.raises(NoSignal, match=why):
            fit_power_law(KS, curve)
    finally:
        ctx.__exit__(None, None, None)  # type: ignore[attr-defined]


@pytest.mark.parametrize("rate, seed", [(0.02, 0), (0.02, 2), (0.01, 0)])
def test_beta_without_spread_says_so_instead_of_an_alpha_of_1e15(rate: float, seed: int) -> None:
    from monkeys.analysis.fit import NoSignal

    rng = np.random.default_rng(seed)
    n = np.full(300, 100)
    c = rng.binomial(n, rate)  # one rate for every problem: the Beta's α + β runs to infinity
    ctx = _no_warnings()
    try:
        with pytest.raises(NoSignal, match="no finite maximum|hardly differ|not pinned down"):
            fit_beta(n, c)
    finally:
        ctx.__exit__(None, None, None)  # type: ignore[attr-defined]


@pytest.mark.parametrize("solved, why", [(0, "no problem solved"), (1, "only 1 of 140"), (2, "only 2 of 140")])
def test_fit_signal_needs_three_solved_problems(solved: int, why: str) -> None:
    from monkeys.analysis.fit import fit_signal

    n = np.full(140, 2000)
    c = np.zeros(140, dtype=int)
    c[:solved] = 1
    assert why in (fit_signal(n, c) or "")
    c[:3] = [1, 5, 2000]
    assert fit_signal(n, c) is None
