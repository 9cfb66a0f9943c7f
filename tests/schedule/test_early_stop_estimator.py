"""The report's coverage estimator for early-stopped runs, against a seeded simulation of `--until-solved`.

Problems with known pass rates are sampled as the schedule samples them (batches in index order, stop after
the batch that holds the first pass, at most n); over many simulated runs the mean of the estimate must
match the true coverage 1 - (1 - p)^k, while pass@k on the same drawn samples misses it by many standard
errors (the number of samples depends on the outcomes).
"""

from __future__ import annotations

import numpy as np

from monkeys.analysis.early_stop import FirstPasses, coverage_band, savings
from monkeys.analysis.passk import pass_at_ks

N, BATCH, PROBLEMS, RUNS = 32, 4, 200, 300
KS = [1, 2, 4, 8, 16, 32]
NAIVE_KS = [1, 2, 4]  # pass@k needs n >= k: every problem has at least one batch


def _simulate(p: np.ndarray, rng: np.random.Generator) -> tuple[FirstPasses, np.ndarray, np.ndarray]:
    """One until-solved run: (first passes as the report reads them, samples drawn, passes among them)."""
    outcomes = rng.random((len(p), N)) < p[:, None]
    solved = outcomes.any(axis=1)
    first = np.where(solved, outcomes.argmax(axis=1), -1)
    drawn = np.where(solved, np.minimum(N, (first // BATCH + 1) * BATCH), N)
    passes = np.array([int(o[:d].sum()) for o, d in zip(outcomes, drawn, strict=True)])
    return FirstPasses([str(i) for i in range(len(p))], drawn, first), drawn, passes


def test_first_pass_estimator_is_unbiased_and_pass_at_k_is_not():
    rng = np.random.default_rng(14)
    p = rng.beta(0.3, 3.0, size=PROBLEMS)
    truth = np.array([np.mean(1 - (1 - p) ** k) for k in KS])
    estimates, naive = np.empty((RUNS, len(KS))), np.empty((RUNS, len(NAIVE_KS)))
    for r in range(RUNS):
        fp, drawn, passes = _simulate(p, rng)
        assert fp.max_k() == N  # no budget: nothing censored up to the cap
        estimates[r] = fp.coverage(KS)
        naive[r] = pass_at_ks(drawn, passes, NAIVE_KS).mean(axis=0)
    se = estimates.std(axis=0, ddof=1) / np.sqrt(RUNS)
    bias = estimates.mean(axis=0) - truth
    assert (np.abs(bias) < 4 * se + 1e-12).all(), (bias, se)
    naive_bias = naive.mean(axis=0) - truth[: len(NAIVE_KS)]
    naive_se = naive.std(axis=0, ddof=1) / np.sqrt(RUNS)
    assert (naive_bias > 10 * naive_se).all() and (naive_bias > 0.02).all(), (naive_bias, naive_se)


def test_budget_censoring_and_gaps():
    # a: passed at 2; b: no pass in 5 verified; c: verified 0..3, a gap at 4, a pass at 6
    verdicts = {"a": (np.array([0, 1, 2]), np.array([False, False, True])),
                "b": (np.arange(5), np.zeros(5, bool)),
                "c": (np.array([0, 1, 2, 3, 5, 6]), np.array([False] * 5 + [True]))}
    fp = FirstPasses.from_verdicts(verdicts, ["a", "b", "c"])
    assert fp.prefix.tolist() == [3, 5, 4] and fp.first.tolist() == [2, -1, 6]
    assert fp.max_k() == 4  # c's first pass may lie at 4, a sample never verified
    per = fp.per_problem([1, 3, 4, 5, 7])
    assert np.array_equal(per[0], [0, 1, 1, 1, 1])
    assert np.array_equal(per[1][:4], [0, 0, 0, 0]) and np.isnan(per[1][4])
    assert np.array_equal(per[2][:3], [0, 0, 0]) and np.isnan(per[2][3]) and per[2][4] == 1
    band = coverage_band(fp, [1, 3, 4], n_boot=200)
    assert np.allclose(band.estimate, [0, 1 / 3, 1 / 3]) and (band.lo <= band.estimate).all()
    everyone = FirstPasses(["a", "b"], np.array([4, 8]), np.array([1, 6]))
    assert everyone.max_k() == 8 and everyone.max_k(32) == 32  # nobody censored: up to the run's cap
    assert np.array_equal(everyone.coverage([1, 2, 7, 32]), [0, 0.5, 1, 1])
    saved = savings([2, 32, 8], 32)
    assert (saved.drawn, saved.fixed, saved.saved) == (42, 96, 54)
