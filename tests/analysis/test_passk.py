"""pass@k against brute force with math.comb (exact rationals), at the edges and at n = 100,000."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from monkeys.analysis.passk import coverage_curve, default_ks, pass_at_k, pass_at_ks


def brute(n: int, c: int, k: int) -> float:
    if k > n:
        return math.nan
    if n - c < k:
        return 1.0
    return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))


def check(n: int, cs: list[int], ks: list[int]) -> None:
    got = pass_at_ks(np.full(len(cs), n), np.array(cs), ks)
    want = np.array([[brute(n, c, k) for k in ks] for c in cs])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("n", [1, 2, 3, 10, 57, 150])
def test_small_n_every_c_and_k(n: int) -> None:
    check(n, list(range(n + 1)), list(range(1, n + 2)))  # includes c = 0, c = n, k = n and k > n


@pytest.mark.parametrize("n", [10_000, 100_000])
def test_large_n_random_and_edges(n: int) -> None:
    rng = np.random.default_rng(n)
    cs = [0, 1, 2, n // 2, n - 1, n, *rng.integers(0, n + 1, 6).tolist()]
    ks = [1, 2, 7, 100, n // 3, n - 1, n, *rng.integers(1, n + 1, 4).tolist()]
    check(n, cs, ks)


def test_mixed_n_per_problem_and_whole_curve_path() -> None:
    rng = np.random.default_rng(1)
    n = rng.integers(100, 400, 30)
    c = rng.integers(0, n + 1)
    full = pass_at_ks(n, c, np.arange(1, 401))  # consecutive ks take the slice path
    sparse = pass_at_ks(n, c, [*range(1, 401), 10**6])[:, :-1]  # non-consecutive: the gather path
    np.testing.assert_array_equal(np.isnan(full), np.isnan(sparse))
    np.testing.assert_allclose(full, sparse, atol=1e-15, equal_nan=True)
    for i in range(0, 30, 7):
        for k in (1, 50, int(n[i])):
            assert abs(full[i, k - 1] - brute(int(n[i]), int(c[i]), k)) < 1e-12
    assert np.isnan(full[n < 400, -1]).all()


def test_pipeline_names_keep_working() -> None:
    assert default_ks(10) == [1, 2, 4, 8, 10]
    assert np.isnan(pass_at_k(np.array([3, 5]), np.array([1, 1]), 4)[0])
    curve = coverage_curve(np.array([10, 10]), np.array([0, 10]), [1, 5, 10, 20])
    assert curve == {1: 0.5, 5: 0.5, 10: 0.5}  # k=20 dropped: no problem has 20 samples


def test_bad_input_raises() -> None:
    with pytest.raises(ValueError, match="k must be"):
        pass_at_ks([5], [1], [0])
    with pytest.raises(ValueError, match="c must lie"):
        pass_at_ks([5], [6], [1])
