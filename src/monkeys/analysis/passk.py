"""Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k), for many problems and k at once."""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln


def pass_at_k(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """Per-problem pass@k; problems with n < k get NaN (the estimate would not mean what it says)."""
    n = np.asarray(n, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    out = np.full(n.shape, np.nan)
    ok = n >= k
    fails = n - c
    certain = ok & (fails < k)  # every k-subset holds a correct sample
    out[certain] = 1.0
    rest = ok & ~certain
    f, m = fails[rest], n[rest]
    log_ratio = gammaln(f + 1) - gammaln(f - k + 1) - gammaln(m + 1) + gammaln(m - k + 1)
    out[rest] = -np.expm1(log_ratio)
    return out


def default_ks(n_max: int) -> list[int]:
    """1, 2, 4, ... up to n_max, plus n_max itself."""
    ks, k = [], 1
    while k < n_max:
        ks.append(k)
        k *= 2
    if n_max >= 1:
        ks.append(n_max)
    return ks


def coverage_curve(n: np.ndarray, c: np.ndarray, ks: list[int]) -> dict[int, float]:
    """Mean pass@k over problems for each k that every problem has at least k samples for."""
    n = np.asarray(n)
    return {k: float(np.mean(pass_at_k(n, c, k))) for k in ks if len(n) and (n >= k).all()}
