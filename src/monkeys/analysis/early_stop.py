"""Coverage of a run that stopped problems early (`--until-solved`, a budget, adaptive rounds), unbiased.

Sample problem i in index order and let J_i be the index (from 0) of its first passing sample. Whatever
rule stopped the sampling, as long as it looked only at samples already drawn, the indicator 1[J_i < k]
(the first pass is among the first k samples) is known as soon as a pass below k or all of the first k
samples have been seen, and E 1[J_i < k] = 1 - (1 - p_i)^k: it estimates problem i's coverage at k without
bias, and its mean over problems estimates coverage@k. The usual estimator 1 - C(n-c, k)/C(n, k) does not
here: n depends on the outcomes (a problem that passes early stops with few samples, one pass among them),
which biases it (tests/schedule/test_early_stop_estimator.py shows by how much on a seeded simulation).

A problem the budget stopped before k samples without a pass is censored at k: nothing says whether its
first pass would have come below k. Coverage@k is then given only up to `max_k`, the samples every such
problem received.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from monkeys.analysis.bootstrap import Band

ESTIMATOR = "first pass within k, 1(first-pass index ≤ k): unbiased when sampling stops at a problem's first pass"
FIXED_ESTIMATOR = "pass@k (Chen et al. 2021, unbiased with n samples drawn for every problem)"


@dataclass(frozen=True)
class FirstPasses:
    """Per problem: `prefix`, how many leading samples (indices 0..prefix-1) have a verdict, and `first`, the
    index of its first verified pass (-1 when none)."""

    problem_ids: list[str]
    prefix: np.ndarray
    first: np.ndarray

    @classmethod
    def from_verdicts(cls, verdicts: Mapping[str, tuple[np.ndarray, np.ndarray]],
                      problem_ids: Sequence[str]) -> FirstPasses:
        """From {problem: (verified indices ascending, passed)} (`store.read.verified_indices`)."""
        prefix, first = [], []
        for pid in problem_ids:
            idx, ok = verdicts.get(pid, (np.zeros(0, np.int64), np.zeros(0, bool)))
            idx = np.asarray(idx, dtype=np.int64)
            gaps = np.flatnonzero(idx != np.arange(len(idx)))
            prefix.append(int(gaps[0]) if len(gaps) else len(idx))
            hits = np.flatnonzero(np.asarray(ok, dtype=bool))
            first.append(int(idx[hits[0]]) if len(hits) else -1)
        return cls(list(problem_ids), np.array(prefix, dtype=np.int64), np.array(first, dtype=np.int64))

    @classmethod
    def from_outcomes(cls, outcomes: Sequence[np.ndarray]) -> FirstPasses:
        """From each problem's outcomes in index order with no gaps (a simulation, a test)."""
        prefix = np.array([len(o) for o in outcomes], dtype=np.int64)
        first = np.array([int(np.argmax(o)) if np.any(o) else -1 for o in outcomes], dtype=np.int64)
        return cls([str(i) for i in range(len(outcomes))], prefix, first)

    def max_k(self, cap: int = 0) -> int:
        """The largest k no problem is censored at: the samples every problem without a pass in its verified
        prefix received. When every problem passed within its prefix nothing is censored: the larger of the
        longest prefix and `cap` (the run's per-problem cap, beyond which nothing is claimed)."""
        open_ = ~((self.first >= 0) & (self.first < self.prefix))
        if open_.any():
            return int(self.prefix[open_].min())
        return max(int(self.prefix.max(initial=0)), int(cap))

    def per_problem(self, ks: Sequence[int]) -> np.ndarray:
        """(problems, ks) of 1[first pass < k]: 1.0, 0.0, or NaN where the problem is censored at k."""
        k = np.asarray(ks, dtype=np.int64)[None, :]
        first, prefix = self.first[:, None], self.prefix[:, None]
        out = np.full((len(self.first), k.shape[1]), np.nan)
        out[(first >= 0) & (first < k)] = 1.0
        out[((first < 0) | (first >= k)) & (prefix >= k)] = 0.0
        return out

    def coverage(self, ks: Sequence[int]) -> np.ndarray:
        """Mean over problems per k (NaN where some problem is censored)."""
        if not len(self.first):
            return np.full(len(ks), np.nan)
        return self.per_problem(ks).mean(axis=0)


def coverage_band(fp: FirstPasses, ks: Sequence[int], *, n_boot: int = 500, seed: int = 0,
                  alpha: float = 0.05) -> Band:
    """Coverage at `ks` with a percentile bootstrap over problems (each problem's indicator is one draw of
    its own randomness; resampling problems covers both sources)."""
    per = fp.per_problem(ks)
    rng = np.random.default_rng(seed)
    p = per.shape[0]
    draws = np.empty((n_boot, len(ks)))
    for start in range(0, n_boot, 256):
        rows = rng.integers(0, p, size=(min(256, n_boot - start), p))
        draws[start:start + len(rows)] = per[rows].mean(axis=1)
    lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=0) if n_boot else (per.mean(0), per.mean(0))
    return Band(list(ks), per.mean(axis=0), lo, hi, draws, "problems", alpha)


@dataclass(frozen=True)
class Savings:
    """Samples an until-solved run drew against a fixed-n run that reaches the same coverage at n (the same
    seeds draw the same samples, so a fixed run of n per problem solves exactly the same problems)."""

    drawn: int
    fixed: int  # n × problems

    @property
    def saved(self) -> int:
        return self.fixed - self.drawn

    @property
    def fraction(self) -> float:
        return self.saved / self.fixed if self.fixed else 0.0


def savings(drawn: Sequence[int] | np.ndarray, cap: int) -> Savings:
    return Savings(int(np.sum(drawn)), int(cap) * len(drawn))
