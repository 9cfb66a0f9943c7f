"""Bootstrap bands and the "is A better than B at k" comparison."""

from __future__ import annotations

import numpy as np

from monkeys.analysis.bootstrap import compare_at_k, coverage_band


def runs(rates: np.ndarray, n: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return [f"p{i}" for i in range(len(rates))], np.full(len(rates), n), rng.binomial(n, rates)


def test_band_brackets_estimate_and_narrows_with_more_problems() -> None:
    rng = np.random.default_rng(0)
    widths = []
    for p in (30, 300):
        _, n, c = runs(rng.beta(0.4, 3, p), 200, p)
        for level in ("problems", "samples", "both"):
            band = coverage_band(n, c, [1, 10, 100], n_boot=300, level=level)
            assert (band.lo <= band.estimate + 1e-12).all() and (band.estimate <= band.hi + 1e-12).all()
        widths.append(float((band.hi - band.lo)[1]))
    assert widths[1] < widths[0]


def test_compare_finds_a_clearly_better_run_paired() -> None:
    rng = np.random.default_rng(1)
    rates = rng.beta(0.5, 5, 200)
    a = runs(np.minimum(rates * 3, 1), 200, 1)
    b = runs(rates, 200, 2)
    result = compare_at_k(a, b, 100)
    assert result.paired and result.lo > 0 and result.p_better > 0.97
    assert "A is better than B at k=100" in result.verdict()


def test_compare_same_model_is_not_distinguishable_and_unpaired_works() -> None:
    rates = np.random.default_rng(2).beta(0.5, 5, 100)
    a, b = runs(rates, 100, 3), runs(rates, 100, 4)
    assert compare_at_k(a, b, 10).lo < 0 < compare_at_k(a, b, 10).hi
    other = (["q" + p for p in b[0]], b[1], b[2])
    result = compare_at_k(a, other, 10)
    assert not result.paired and result.lo < 0 < result.hi
