"""Confidence bands on coverage(k) by bootstrap, and "is run A better than run B at k" with an interval.

Two sources of noise: which problems were drawn (resample problems) and which samples each problem got
(resample a problem's n samples, i.e. c* ~ Binomial(n, c/n)). `level="both"` does both, nested. A problem
with c = 0 resamples to c* = 0 every time: the band says nothing about successes no sample has seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from monkeys.analysis.passk import pass_at_ks

Level = Literal["problems", "samples", "both"]
_CELLS = 4_000_000  # replicate × problem × k cells per block of `bootstrap_draws` (~32 MB of float64)


@dataclass(frozen=True)
class Band:
    """Coverage per k with a (1 - alpha) percentile interval; `draws` is (n_boot, len(ks))."""

    ks: list[int]
    estimate: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    draws: np.ndarray
    level: Level
    alpha: float


def _draw_counts(n: np.ndarray, c: np.ndarray, rows: np.ndarray, rng: np.random.Generator,
                 level: Level) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap replicates as (n*, c*) per chosen problem row (`rows` of any shape)."""
    bn, bc = n[rows], c[rows]
    if level in ("samples", "both"):
        bc = rng.binomial(bn, np.divide(bc, bn, out=np.zeros(bn.shape), where=bn > 0))
    return bn, bc


def bootstrap_draws(n: np.ndarray, c: np.ndarray, ks: Sequence[int], *, n_boot: int = 1000,
                    level: Level = "both", seed: int = 0, rows: np.ndarray | None = None) -> np.ndarray:
    """Bootstrap replicates of coverage(k), shape (n_boot, len(ks)).

    `rows` (n_boot, problems) fixes which problems each replicate draws, so two runs over the same problems
    can be resampled in step (a paired comparison).
    """
    n = np.asarray(n, dtype=np.int64)
    c = np.asarray(c, dtype=np.int64)
    rng = np.random.default_rng(seed)
    p = len(n)
    if rows is None:
        rows = (rng.integers(0, p, size=(n_boot, p)) if level in ("problems", "both")
                else np.broadcast_to(np.arange(p), (n_boot, p)))
    if level == "problems":
        # pass@k is deterministic per problem: one matrix, then weighted means over problem counts.
        per_problem = pass_at_ks(n, c, ks)
        weights = np.stack([np.bincount(r, minlength=p) for r in rows]) / p
        return weights @ per_problem
    # Replicates in blocks: one binomial call and one pass_at_ks over the block's (n*, c*) pairs (few distinct
    # ones, since c* <= n), drawn in the same order as one replicate at a time would draw them.
    out = np.empty((len(rows), len(ks)))
    block = max(1, _CELLS // max(1, p * max(1, len(ks))))
    for start in range(0, len(rows), block):
        r = np.asarray(rows[start:start + block])
        bn, bc = _draw_counts(n, c, r, rng, level)
        out[start:start + len(r)] = pass_at_ks(bn.ravel(), bc.ravel(), ks).reshape(len(r), p, len(ks)).mean(axis=1)
    return out


def coverage_band(n: np.ndarray, c: np.ndarray, ks: Sequence[int], *, n_boot: int = 1000,
                  level: Level = "both", alpha: float = 0.05, seed: int = 0) -> Band:
    """Point estimate (the unbiased estimator on the data as is) and a bias-centred percentile interval.

    Resampling a problem's samples with replacement repeats some and loses others, which pulls pass@k down
    at large k (a problem with c = 2 of n = 200 redraws c* = 0 one time in seven); the draws are shifted
    by that bias (mean of draws minus estimate) before taking quantiles, and clipped to [0, 1].
    """
    ks = [int(k) for k in ks]
    draws = bootstrap_draws(n, c, ks, n_boot=n_boot, level=level, seed=seed)
    estimate = pass_at_ks(n, c, ks).mean(axis=0)
    draws = np.clip(draws - (draws.mean(axis=0) - estimate), 0.0, 1.0)
    lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=0)
    return Band(ks, estimate, lo, hi, draws, level, alpha)


@dataclass(frozen=True)
class Comparison:
    """coverage_A(k) - coverage_B(k) with a (1 - alpha) interval; `p_better` = share of draws with A > B."""

    k: int
    diff: float
    lo: float
    hi: float
    p_better: float
    paired: bool
    n_problems: int

    def verdict(self, a: str = "A", b: str = "B") -> str:
        """One line a user can act on: better, worse, or not distinguishable at this confidence."""
        span = f"{100 * self.diff:+.3g} pp [{100 * self.lo:+.3g}, {100 * self.hi:+.3g}]"  # percentage points
        if self.lo > 0:
            word = f"{a} is better than {b}"
        elif self.hi < 0:
            word = f"{a} is worse than {b}"
        else:
            word = f"{a} and {b} are not distinguishable"
        how = "paired" if self.paired else "unpaired"
        return f"{word} at k={self.k}: {span} ({how}, {self.n_problems} problems)"


def compare_at_k(a: tuple[list[str], np.ndarray, np.ndarray], b: tuple[list[str], np.ndarray, np.ndarray],
                 k: int, *, n_boot: int = 2000, alpha: float = 0.05, seed: int = 0) -> Comparison:
    """Is A better than B at k? `a`, `b` are (problem_ids, n, c).

    Runs over the same problem ids are paired: each replicate resamples the shared problems once for both
    runs, which removes problem difficulty from the difference. Otherwise the runs are resampled apart.
    Raises ValueError when some problem of either run has fewer than k samples.
    """
    (ids_a, n_a, c_a), (ids_b, n_b, c_b) = a, b
    n_a, c_a, n_b, c_b = (np.asarray(x, dtype=np.int64) for x in (n_a, c_a, n_b, c_b))
    for name, n in (("A", n_a), ("B", n_b)):
        if len(n) == 0 or (n < k).any():
            raise ValueError(f"run {name} has problems with fewer than k={k} verified samples")
    shared = sorted(set(ids_a) & set(ids_b))
    paired = len(shared) == len(ids_a) == len(ids_b)
    if paired:
        ia = {p: i for i, p in enumerate(ids_a)}
        ib = {p: i for i, p in enumerate(ids_b)}
        n_a, c_a = n_a[[ia[p] for p in shared]], c_a[[ia[p] for p in shared]]
        n_b, c_b = n_b[[ib[p] for p in shared]], c_b[[ib[p] for p in shared]]
        rows = np.random.default_rng(seed).integers(0, len(shared), size=(n_boot, len(shared)))
        da = bootstrap_draws(n_a, c_a, [k], rows=rows, seed=seed + 1)[:, 0]
        db = bootstrap_draws(n_b, c_b, [k], rows=rows, seed=seed + 2)[:, 0]
    else:
        da = bootstrap_draws(n_a, c_a, [k], n_boot=n_boot, seed=seed + 1)[:, 0]
        db = bootstrap_draws(n_b, c_b, [k], n_boot=n_boot, seed=seed + 2)[:, 0]
    diff = float(pass_at_ks(n_a, c_a, [k]).mean() - pass_at_ks(n_b, c_b, [k]).mean())
    diffs = (da - db) - (np.mean(da - db) - diff)  # bias-centred, as in `coverage_band`
    lo, hi = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    return Comparison(k, diff, float(lo), float(hi), float(np.mean(diffs > 0)), paired,
                      len(shared) if paired else len(ids_a) + len(ids_b))
