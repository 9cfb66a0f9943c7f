"""Forecast coverage of a pilot's problems at larger k, with intervals, from per-sample verdicts alone.

What is known and what is forecast: a problem the pilot solved stays solved at any k >= n, so coverage at
k = S/N + (the share of the U unsolved problems solved in samples n+1..k)·U/N. Only that share is forecast,
by each model in `MODELS`:

- `power-law-full`: the paper's exp(a·k^b) fitted on the whole of the pilot's curve (k = 1, 2, 4, ..., n),
  as the paper fits it; its relative rise from n to k, (C(k) - C(n)) / (1 - C(n)), is the share.
- `power-law`: the same law fitted on the top of the pilot's curve (k >= n/8) only: its local slope.
- `zero-inflated-beta`: per-problem rates p = 0 w.p. π0 else Beta(a, b) by maximum likelihood on the pass
  counts; the share is each unsolved problem's posterior P(solved by k | no pass in n).
- `smooth-grid`: the same posterior under a smooth discretised distribution of p with a mass at zero.
- `power-tail`: only the rare end of the distribution matters for the unsolved problems: a density of p
  near zero ~ p^(α-1) (Schaeffer et al. 2025) makes coverage rise like k^(-α); α by maximum likelihood
  from how the problems solved 1..m times in the pilot split between those counts, the density's level
  from how many there are (exact binomial, no Poisson approximation); the never-solvable rest is what it
  does not claim.
- `flat-tail`: as many problems per unit of log p below the pilot's reach as at its edge (Good-Turing):
  not a forecast but a bracket, the upper end of every interval.

Intervals come from a bootstrap over problems (refits on resampled problems), plus the binomial spread of
which unsolved problems happen to be solved. The models are scored on the pilot's own later samples
(`select`: fitted on a random eighth of each problem's samples, six times over, and scored on which
then-unsolved problems the rest solved); those the later samples reject are dropped. The point forecast
is the paper's law (`power-law-full`) whenever the later samples cannot reject it and the pilot's own
curve does not bend away from it (`powerlaw.bend`: flattening faster than the law, as a run running out of
solvable problems does), else the other kept models weighted by their held-out likelihood; the same law
fitted on the top of the curve (`power-law`) takes its place where the later samples clearly favour that
fit (a curve that has steepened: the whole-curve fit lags it). Why the
paper's law first: the pilot often cannot tell it from a
model with a share of never-solvable problems (on the simulated "zeros+tail" shape it passes the 8× check
and still misses at 100×), so some prior must break the tie, and on the published runs we could check
(Pythia 70M-12B on MATH, 10,000 samples; `benchmarks/forecast.py --counts`) the paper's law is the one
that held, within ~3 points from 100 samples where the distributional models missed by 5-25. The interval
spans every kept forecaster's interval, each stretched by how far that model's own held-out forecast
missed, and reaches up to the flat-tail bracket: where the models disagree and the pilot cannot tell them
apart, the interval says so by its width. A pilot that leaves most problems unsolved and solves fewer than
`MIN_SOLVED_TAIL` gets no forecast: there every model missed by 10-35 points.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from monkeys.analysis.passk import pass_at_ks
from monkeys.forecast import powerlaw

MODELS = ("power-law-full", "power-law", "zero-inflated-beta", "smooth-grid", "power-tail", "flat-tail")
PRIMARY = "power-law-full"  # the paper's law: the point forecast whenever the pilot cannot reject it
BEND_Z = 1.64  # ... nor its own curve: flattening faster than the law at one-sided 5% (`powerlaw.bend`)
TOP = "power-law"  # the same law fitted on the top of the curve: the point instead where the pilot's later
TOP_BETTER = 3.0  # samples clearly favour it (held-out log-likelihood higher by this; see `forecast`)
BRACKET = "flat-tail"  # not a forecast but the upper end of every interval (see `flat_share`)
COMBINED = "combined"
MIN_SAMPLES = 8  # per problem: fewer leave no later samples to choose models on


@dataclass(frozen=True)
class Pilot:
    """Per-problem verdicts in sample order (True = pass); problems without verdicts are left out."""

    problem_ids: list[str]
    correct: list[np.ndarray]

    @property
    def n(self) -> np.ndarray:
        return np.array([len(x) for x in self.correct], dtype=np.int64)

    @property
    def c(self) -> np.ndarray:
        return np.array([int(np.sum(x)) for x in self.correct], dtype=np.int64)

    @classmethod
    def from_counts(cls, n: np.ndarray, c: np.ndarray, rng: np.random.Generator | None = None) -> Pilot:
        """A pilot with the given counts, passes placed at random positions (for simulations and tests)."""
        rng = rng or np.random.default_rng(0)
        correct = []
        for ni, ci in zip(np.asarray(n), np.asarray(c), strict=True):
            x = np.zeros(int(ni), dtype=bool)
            x[rng.choice(int(ni), int(ci), replace=False)] = True
            correct.append(x)
        return cls([str(i) for i in range(len(correct))], correct)

    def head(self, fraction: float) -> Pilot:
        """Each problem's first ⌊fraction·n⌋ samples (at least one)."""
        return Pilot(self.problem_ids, [x[:max(1, int(len(x) * fraction))] for x in self.correct])


@dataclass
class ModelForecast:
    """One model's forecast: `share[b, j]` = expected share of unsolved problems solved by `grid[j]` in
    bootstrap replicate b (row 0: the fit to all problems); None with `reason` when it cannot forecast."""

    name: str
    share: np.ndarray | None = None
    reason: str | None = None
    heldout: float | None = None  # log-likelihood of the pilot's later samples (see `select`)
    weight: float = 0.0  # its share of the point forecast
    kept: bool = False  # not rejected by the pilot's later samples: its interval is part of the forecast's
    params: dict[str, float] = field(default_factory=dict)
    # per held-out split: (head fraction, predicted share, observed share, problems unsolved in the head)
    misses: list[tuple[float, float, float, int]] = field(default_factory=list)


def pilot_grid(n: int, points: int = 160) -> np.ndarray:
    """ks within a pilot of n samples: every k up to `points`, then a geometric grid ending at n."""
    if n <= points:
        return np.arange(1, n + 1)
    return np.unique(np.concatenate([np.arange(1, 65), np.round(np.geomspace(64, n, points - 64))])).astype(int)


def doubling(n: int) -> np.ndarray:
    ks = [1]
    while ks[-1] * 2 <= n:
        ks.append(ks[-1] * 2)
    if ks[-1] != n:
        ks.append(n)
    return np.asarray(ks)


def power_law_share(pilot: Pilot, grid: np.ndarray, n_boot: int, rng: np.random.Generator,
                    name: str = "power-law", lowest: float = 1 / 8) -> ModelForecast:
    """Bootstrap refits of the pilot's curve (k <= the smallest n) and the share each implies."""
    out = ModelForecast(name)
    n, c = pilot.n, pilot.c
    n_min = int(n.min())
    ks = doubling(n_min)
    if (ks >= n_min * lowest).sum() >= 3:  # the top of the curve: its local slope is what extrapolates
        ks = ks[ks >= n_min * lowest]
    per = pass_at_ks(n, c, ks)
    idx = np.vstack([np.arange(len(n))[None, :], rng.integers(0, len(n), (n_boot, len(n)))])
    curves = per[idx].mean(axis=1)  # (B+1, ks)
    params = powerlaw.fit_lines(ks, curves)
    if not np.isfinite(params[0]).all():
        out.reason = "the pilot's coverage curve does not rise like a power law (fewer than two ks strictly" \
                     " between 0 and 100% coverage)"
        return out
    at_n = powerlaw.predict(params, np.array([float(n_min)]))
    ahead = powerlaw.predict(params, grid)
    with np.errstate(all="ignore"):
        share = np.clip((ahead - at_n) / (1 - at_n), 0.0, 1.0)
    share = np.where(grid[None, :] <= n_min, 0.0, share)
    share[~np.isfinite(share).all(axis=1)] = np.nan
    out.share = _fill(share)
    out.params = {"a": float(params[0, 0]), "b": float(params[0, 1])}
    if lowest == 0.0:  # the whole curve: does it stay straight in the law's coordinates?
        out.params["bend"], out.params["bend_z"] = powerlaw.bend(ks, curves)
    return out


def zib_share(pilot: Pilot, grid: np.ndarray, n_boot: int, rng: np.random.Generator) -> ModelForecast:
    """Bootstrap refits of the zero-inflated Beta and each unsolved problem's posterior P(solved by k)."""
    from monkeys.forecast import success_rates  # scipy.special: imported when a model is fitted, not before

    out = ModelForecast("zero-inflated-beta")
    fit, solve = success_rates.fit_zib, success_rates.solve_prob
    n, c = pilot.n, pilot.c
    un, uc, inv = success_rates.patterns(n, c)
    counts = _boot_counts(inv, len(un), n_boot, rng)
    full = fit(un, uc, counts[:1])
    theta = np.vstack([full, fit(un, uc, counts[1:], start=full[0])]) if n_boot else full
    out.share = _over_unsolved(n[c == 0], lambda value: solve(theta, np.asarray(value), grid),
                               (len(theta), len(grid)))
    zib = success_rates.ZIBeta.from_theta(full[0])
    out.params = {"pi0": zib.pi0, "a": zib.a, "b": zib.b}
    return out


def gmodel_share(pilot: Pilot, grid: np.ndarray, n_boot: int, rng: np.random.Generator) -> ModelForecast:
    """Bootstrap refits of the smooth discretised distribution (`success_rates.fit_gmodel`)."""
    from monkeys.forecast import success_rates

    out = ModelForecast("smooth-grid")
    n, c = pilot.n, pilot.c
    un, uc, inv = success_rates.patterns(n, c)
    counts = _boot_counts(inv, len(un), n_boot, rng)
    p_grid = success_rates.gmodel_grid()
    basis = success_rates.gmodel_basis(p_grid, int(n.min()))
    table = success_rates.gmodel_loglik_table(un, uc, p_grid)
    full = success_rates.fit_gmodel(table, basis, counts[:1])
    theta = np.vstack([full, success_rates.fit_gmodel(table, basis, counts[1:], start=full[0])]) if n_boot else full
    out.share = _over_unsolved(n[c == 0], lambda value: success_rates.gmodel_solve_prob(
        theta, basis, p_grid, value, grid), (len(theta), len(grid)))
    out.params = {"pi0": float(1 / (1 + np.exp(-full[0, 0])))}
    return out


def head_shares(name: str, heads: list[Pilot], grid: np.ndarray) -> list[np.ndarray | None]:
    """Each head's fitted share at `grid` under model `name` (no bootstrap): the held-out checks fit many
    heads of one pilot. The two likelihood models fit all heads in one batched call (a head only reweights
    the distinct (n, c) patterns, as a bootstrap replicate does); the others one head at a time."""
    if name not in ("zero-inflated-beta", "smooth-grid"):
        out: list[np.ndarray | None] = []
        for head in heads:
            share = FORECASTERS[name](head, grid, 0, np.random.default_rng(0)).share
            out.append(None if share is None else share[0])
        return out
    from monkeys.forecast import success_rates

    un, uc, inv = success_rates.patterns(np.concatenate([h.n for h in heads]), np.concatenate([h.c for h in heads]))
    counts = np.zeros((len(heads), len(un)))
    rows = np.repeat(np.arange(len(heads)), [len(h.n) for h in heads])
    np.add.at(counts, (rows, inv), 1.0)
    if name == "zero-inflated-beta":
        theta = success_rates.fit_zib(un, uc, counts)

        def solve(r: int, value: float) -> np.ndarray:
            return success_rates.solve_prob(theta[r:r + 1], np.asarray(value), grid)[0]
    else:
        p_grid = success_rates.gmodel_grid()
        basis = success_rates.gmodel_basis(p_grid, int(min(h.n.min() for h in heads)))
        theta = success_rates.fit_gmodel(success_rates.gmodel_loglik_table(un, uc, p_grid), basis, counts)

        def solve(r: int, value: float) -> np.ndarray:
            return success_rates.gmodel_solve_prob(theta[r:r + 1], basis, p_grid, value, grid)[0]
    shares = [_over_unsolved(head.n[head.c == 0], functools.partial(solve, r), (len(grid),))
              for r, head in enumerate(heads)]
    return [share if np.isfinite(share).all() else None for share in shares]


def _over_unsolved(unsolved_n: np.ndarray, solve: Callable[[float], np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """The mean over the unsolved problems of each one's P(solved by k) (`solve` of its own n), one call per
    distinct n; zeros where nothing is unsolved."""
    share = np.zeros(shape)
    values, numbers = np.unique(unsolved_n, return_counts=True)
    for value, number in zip(values, numbers, strict=True):
        share += number * solve(float(value))
    return share / max(len(unsolved_n), 1)


TAIL_ALPHAS = np.linspace(0.0, 2.0, 201)  # α = 0 is the flat tail (the bracket); 2 a tail thinner than any Beta's


def tail_share(pilot: Pilot, grid: np.ndarray, n_boot: int, rng: np.random.Generator) -> ModelForecast:
    """The power-tail model: density D·p^(α-1) of success rates below the pilot's edge, fitted on the
    problems solved 1..m times in the first n_min samples of each (m = n_min/10, at least 3).

    Under it a problem count with exactly j passes in n is D·C(n,j)·B(j+α, n-j+1), so the split between
    j = 1..m gives α (a likelihood that does not involve D) and their total gives D; k samples then solve
    D·(B(α, n+1) - B(α, k+1)) of the unsolved problems (capped at all of them). Unlike the Betas it
    assumes nothing about p far from zero, and unlike the flat-tail bracket it lets the data thin the tail.
    """
    from scipy import special

    out = ModelForecast("power-tail")
    n0 = int(pilot.n.min())
    c0 = np.array([int(np.sum(x[:n0])) for x in pilot.correct], dtype=np.int64)
    m = max(1, min(max(3, round(n0 / 10)), n0 - 1))
    idx = np.vstack([np.arange(len(c0))[None, :], rng.integers(0, len(c0), (n_boot, len(c0)))])
    cb = c0[idx]
    j = np.arange(1, m + 1)
    f = (cb[:, :, None] == j[None, None, :]).sum(axis=1).astype(float)  # (B+1, m)
    unsolved = (cb == 0).sum(axis=1).astype(float)
    if f[0].sum() == 0:
        out.reason = f"no problem was solved between 1 and {m} times in the first {n0} samples: nothing shows" \
                     " how dense the rare end is"
        return out
    a = np.maximum(TAIL_ALPHAS, 1e-6)
    log_c = special.gammaln(n0 + 1) - special.gammaln(j + 1) - special.gammaln(n0 - j + 1)
    log_t = log_c[None, :] + special.betaln(j[None, :] + a[:, None], n0 - j[None, :] + 1)  # (A, m)
    log_p = log_t - special.logsumexp(log_t, axis=1, keepdims=True)
    best = np.argmax(f @ log_p.T, axis=1)  # (B+1,)
    level = f.sum(axis=1) / np.exp(log_t).sum(axis=1)[best]
    ks = np.maximum(grid, n0)
    with np.errstate(all="ignore"):
        base = special.betaln(a[:, None], n0 + 1.0)
        new = np.exp(base) * -np.expm1(special.betaln(a[:, None], ks[None, :] + 1.0) - base)  # (A, G)
        share = np.clip(level[:, None] * new[best] / unsolved[:, None], 0.0, 1.0)
    share = np.where(np.isfinite(share), share, 0.0)
    out.share = np.where(grid[None, :] <= n0, 0.0, share)
    out.params = {"alpha": float(TAIL_ALPHAS[best[0]]), "density": float(level[0])}
    return out


def flat_share(pilot: Pilot, grid: np.ndarray, n_boot: int, rng: np.random.Generator) -> ModelForecast:
    """The flat-tail bracket: as many problems per unit of log p below the pilot's reach as at its edge.

    With D problems per unit of ln p near p = 1/n, a problem count with exactly j passes is about N·D/j
    (Good-Turing), and k samples solve about N·D·ln(k/n) of the unsolved ones. If harder problems are no
    more numerous than those at the pilot's edge (true of every Beta tail, log-uniform at the limit), this
    is the most that more samples can solve: the upper end of every interval.
    """
    out = ModelForecast("flat-tail")
    n, c = pilot.n, pilot.c
    idx = np.vstack([np.arange(len(n))[None, :], rng.integers(0, len(n), (n_boot, len(n)))])
    f1 = (c[idx] == 1).sum(axis=1)
    f2 = (c[idx] == 2).sum(axis=1)
    unsolved = (c[idx] == 0).sum(axis=1)
    edge = (f1 + 2.0 * f2) / 2  # N·D from the problems solved once and twice
    reach = np.log(np.maximum(grid[None, :] / n.min(), 1.0))
    with np.errstate(all="ignore"):
        share = np.clip(edge[:, None] * reach / unsolved[:, None], 0.0, 1.0)
    out.share = np.where(np.isfinite(share), share, 0.0)
    out.params = {"problems_per_unit_log_p": float(edge[0])}
    return out


def _boot_counts(inv: np.ndarray, patterns: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(1 + n_boot, patterns) problems per pattern: row 0 the pilot, then resamples of its problems."""
    counts = np.zeros((n_boot + 1, patterns))
    counts[0] = np.bincount(inv, minlength=patterns)
    if n_boot:
        idx = rng.integers(0, len(inv), (n_boot, len(inv)))
        rows = np.repeat(np.arange(1, n_boot + 1), len(inv))
        np.add.at(counts, (rows, inv[idx].ravel()), 1.0)
    return counts


def _fill(share: np.ndarray) -> np.ndarray:
    """Bootstrap rows whose refit failed are replaced by the full fit (row 0), so that weights stay meaningful;
    if row 0 itself failed the caller has already given up."""
    bad = ~np.isfinite(share).all(axis=1)
    share[bad] = share[0]
    return share


def power_law_full_share(pilot: Pilot, grid: np.ndarray, n_boot: int, rng: np.random.Generator) -> ModelForecast:
    """The paper's fit: the whole of the pilot's curve, k = 1, 2, 4, ..., n."""
    return power_law_share(pilot, grid, n_boot, rng, "power-law-full", 0.0)


FORECASTERS = {"power-law": power_law_share, "power-law-full": power_law_full_share,
               "zero-inflated-beta": zib_share, "smooth-grid": gmodel_share, "power-tail": tail_share,
               "flat-tail": flat_share}


PLAUSIBLE = 5.41  # held-out log-likelihood below the best by more than this: rejected (χ²₁ 99.9% / 2: one 8× split
# decides on fewer problems than two shorter ones did, so a model leaves the interval only on strong evidence)


@dataclass
class Forecast:
    """Everything `monkeys plan` shows, for one pilot.

    `chosen` is COMBINED (models the pilot's later samples cannot reject: point by their held-out weights,
    interval spanning all of their intervals), a model name, "observed" (every problem already solved: no
    forecast needed), or None with `reason` when the pilot cannot support a forecast.
    """

    n_problems: int
    solved: int  # problems with a pass in the pilot
    n_min: int
    n_max: int
    grid: np.ndarray  # ks the curves are on (pilot ks and beyond)
    pilot_ks: np.ndarray
    pilot_curve: np.ndarray  # pass@k of the pilot at pilot_ks
    models: dict[str, ModelForecast]
    chosen: str | None
    reason: str | None = None
    alpha: float = 0.05
    seed: int = 0
    picks: np.ndarray | None = None  # (B, problems) the problems of each bootstrap resample
    counts: tuple[np.ndarray, np.ndarray] | None = None  # the pilot's (n, c) per problem
    unsampled: int = 0  # problems of the run without a verified sample: left out of everything

    @property
    def plausible(self) -> list[ModelForecast]:
        """Models whose intervals make up the forecast's (the bracket only bounds it)."""
        return [m for m in self.models.values() if m.kept and m.share is not None and m.name != BRACKET]

    def _coverage(self, share: np.ndarray) -> np.ndarray:
        return (self.solved + (self.n_problems - self.solved) * share) / self.n_problems

    def _cols(self, ks: np.ndarray) -> np.ndarray:
        return np.minimum(np.searchsorted(self.grid, np.asarray(ks, dtype=float)), len(self.grid) - 1)

    def model_draws(self, name: str, ks: np.ndarray, realized: bool = True) -> np.ndarray:
        """(1 + B, len(ks)) coverage at ks under one model; row 0 its point forecast. With `realized`, each
        bootstrap row also draws how many unsolved problems get solved (binomial), as running k would."""
        share = self.models[name].share
        assert share is not None
        share = share[:, self._cols(ks)]
        unsolved = self.n_problems - self.solved
        flips = unsolved * share
        if realized:
            rng = np.random.default_rng([self.seed, 7])
            flips = np.vstack([flips[:1], rng.binomial(unsolved, np.clip(share[1:], 0, 1))])
        return (self.solved + flips) / self.n_problems

    def coverage(self, ks: list[int] | np.ndarray, realized: bool = True,
                 model: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(point, lo, hi) coverage at each k of the chosen forecast (or of `model`); within the pilot
        (k <= its smallest n) the pilot's own pass@k."""
        ks = np.asarray(ks, dtype=float)
        inside = ks <= self.n_min
        observed = np.interp(np.log(np.maximum(ks, 1)), np.log(self.pilot_ks), self.pilot_curve)
        if self.chosen == "observed":
            full = np.where(inside, observed, 1.0)
            return full, full, full
        point, lo, hi = self._band(ks, realized, model)
        return tuple(np.where(inside, observed, x) for x in (point, lo, hi))  # type: ignore[return-value]

    def _band(self, ks: np.ndarray, realized: bool, model: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(point, lo, hi) beyond the pilot: each model's bootstrap quantiles, stretched by its held-out misses
        (`select.widening`), then the envelope over the plausible models; the point by their weights."""
        from monkeys.forecast.select import widening

        names = [model] if model is not None else [m.name for m in self.plausible]
        unsolved_frac = (self.n_problems - self.solved) / self.n_problems
        points, los, his = [], [], []
        for name in names:
            draws = self.model_draws(name, ks, realized)
            lo, hi = np.quantile(draws[1:], [self.alpha / 2, 1 - self.alpha / 2], axis=0)
            down, up = widening(self.models[name], self.n_min, ks)
            floor = self.solved / self.n_problems
            points.append(draws[0])
            los.append(np.maximum(lo - unsolved_frac * down, floor))
            his.append(np.minimum(hi + unsolved_frac * up, 1.0))
        weights = np.array([1.0] if model is not None else [m.weight for m in self.plausible])
        point = (weights[:, None] * np.asarray(points)).sum(axis=0)
        bracket = self.models.get(BRACKET)
        if model is None and bracket is not None and bracket.share is not None:
            flat = self.model_draws(BRACKET, ks, realized)
            his.append(np.quantile(flat[1:], 1 - self.alpha / 2, axis=0))
            los.append(np.full(len(ks), 1.0))
        return point, np.min(los, axis=0), np.max(his, axis=0)

    def k_needed(self, target: float, model: str | None = None) -> tuple[float, float, float]:
        """(point, lo, hi) samples per problem for expected coverage `target`; inf where not reached on the
        grid (up to its last k). Within the pilot: the first k of its own curve, the interval from its
        problems resampled with their success rates drawn from their posteriors (`first_k_draws`)."""
        reach = np.flatnonzero(self.pilot_curve >= target)
        if len(reach):  # within the pilot: its curve; the interval from its problems' posterior rates
            k = float(self.pilot_ks[reach[0]])
            if self.picks is None or self.counts is None:
                return k, k, k
            first = first_k_draws(*self.counts, self.picks, target, int(self.grid[-1]),
                                  np.random.default_rng([self.seed, 13]))
            lo = min(k, float(np.quantile(first, self.alpha / 2, method="lower")))
            hi = max(k, float(np.quantile(first, 1 - self.alpha / 2, method="higher")))
            if not np.isfinite(hi) and self.chosen not in (None, "observed"):
                hi = self.k_needed_beyond(target, model)[2]
            return k, lo, hi
        if self.chosen == "observed":
            k = float(self.n_min)
            return k, k, k
        return self.k_needed_beyond(target, model)

    def k_needed_beyond(self, target: float, model: str | None = None) -> tuple[float, float, float]:
        """`k_needed` from the forecast beyond the pilot."""
        beyond = self.grid > self.n_min
        ks = self.grid[beyond]
        point, lo, hi = self._band(ks, False, model)

        def first(curve: np.ndarray) -> float:
            hit = np.flatnonzero(curve >= target)
            return float(ks[hit[0]]) if len(hit) else float("inf")

        return first(point), first(hi), first(lo)


def first_k_draws(n: np.ndarray, c: np.ndarray, picks: np.ndarray, target: float, k_max: int,
                  rng: np.random.Generator) -> np.ndarray:
    """(B,) the first k at which each bootstrap resample of the problems (`picks`) reaches expected coverage
    `target`, inf if not by `k_max`; each drawn problem's success rate from its posterior, Jeffreys
    Beta(c + 1/2, n - c + 1/2).

    Both levels count: a pilot of few problems is mostly uncertain in each problem's rate (resampling the
    problems alone gave one problem an interval of a single k, and held 12-56% of the time on simulated
    pilots of 1-3 problems: `benchmarks/forecast.py --k-interval`), a large one in which problems it drew.
    Expected coverage rises with k, so each draw's first k is found by bisection: about log2(k_max) passes
    over the problems."""
    n_boot = len(picks)
    first = np.full(n_boot, np.inf)
    step = max(1, 2_000_000 // max(picks.shape[1], 1))  # replicates at a time: bounded memory for large runs
    for start in range(0, n_boot, step):
        rows = picks[start:start + step]
        p = rng.beta(c[rows] + 0.5, n[rows] - c[rows] + 0.5)
        log_miss = np.log1p(-np.minimum(p, 1.0 - 1e-15))

        def reaches(k: np.ndarray) -> np.ndarray:
            return -np.expm1(log_miss * k[:, None]).mean(axis=1) >= target  # noqa: B023 - used at once

        lo, hi = np.zeros(len(rows)), np.full(len(rows), float(k_max))
        ok = reaches(hi)
        while np.any(open_ := hi - lo > 1):  # invariant: not reached at lo (or lo = 0), reached at hi where ok
            mid = np.floor((lo + hi) / 2)
            good = reaches(np.maximum(mid, 1))
            hi, lo = np.where(open_ & good, mid, hi), np.where(open_ & ~good, mid, lo)  # settled rows stay
        first[start:start + step] = np.where(ok, hi, np.inf)
    return first


def forecast(pilot: Pilot, ks: list[int] | None = None, *, n_boot: int = 200, seed: int = 0,
             alpha: float = 0.05, models: tuple[str, ...] = MODELS, k_max: int | None = None) -> Forecast:
    """Fit every model in `models` to the pilot, score them on its later samples, and keep the plausible."""
    from monkeys.forecast.select import heldout_scores

    keep = [i for i, x in enumerate(pilot.correct) if len(x)]
    unsampled = len(pilot.correct) - len(keep)
    pilot = Pilot([pilot.problem_ids[i] for i in keep], [np.asarray(pilot.correct[i], dtype=bool) for i in keep])
    n, c = pilot.n, pilot.c
    rng = np.random.default_rng(seed)
    n_min = int(n.min()) if len(n) else 0
    n_max = int(n.max()) if len(n) else 0
    top = max([k_max or 10_000 * max(n_max, 1), *(ks or [])])
    pilot_ks = pilot_grid(max(n_min, 1))
    grid = np.unique(np.concatenate([np.round(np.geomspace(1, top, 300)), pilot_ks,
                                     np.asarray(ks or [], dtype=float)])).astype(float)
    per = pass_at_ks(n, c, pilot_ks) if len(n) else np.zeros((0, len(pilot_ks)))
    pilot_curve = per.mean(axis=0) if len(n) else np.zeros(len(pilot_ks))
    picks = rng.integers(0, len(n), (n_boot, len(n))) if len(n) else None
    out = Forecast(len(n), int((c > 0).sum()), n_min, n_max, grid, pilot_ks, pilot_curve, {}, None,
                   alpha=alpha, seed=seed, picks=picks, counts=(n, c), unsampled=unsampled)
    if len(n) and (c > 0).all():
        out.chosen = "observed"
        out.reason = f"every problem is already solved by the pilot: coverage is 100% at any k >= {n_min}"
        return out
    why = _cannot(n, c)
    if why is not None:
        out.reason = why
        return out
    for name in models:
        out.models[name] = FORECASTERS[name](pilot, grid, n_boot, rng)
    heldout_scores(pilot, out.models, models)
    scored = [m for m in out.models.values() if m.share is not None and m.heldout is not None]
    usable = [m for m in scored if m.name != BRACKET]
    if not usable:
        out.reason = "; ".join(f"{m.name}: {m.reason}" for m in out.models.values() if m.reason) or \
            "no model could be fitted"
        return out
    best = max(m.heldout for m in scored if m.heldout is not None)
    kept = [m for m in scored if (m.heldout or 0.0) >= best - PLAUSIBLE]
    if not any(m.name != BRACKET for m in kept):  # the bracket alone: keep the best forecaster beside it
        kept.append(max(usable, key=lambda m: m.heldout or 0.0))
    for m in kept:
        m.kept = True
    primary = out.models.get(PRIMARY)
    straight = primary is not None and not primary.params.get("bend_z", 0.0) > BEND_Z  # NaN: no evidence
    top_fit = out.models.get(TOP)
    if primary is not None and primary.kept and straight:
        # the paper's law, which the pilot's later samples cannot reject, is the point: fitted on the whole
        # curve, or on its top where the later samples clearly say the curve has steepened away from the
        # whole-curve fit (it lags such a curve: 6-24 points low on Pythia checkpoint runs from 1,000
        # samples, where the top fit scored 4-8 higher; on the MATH runs from 100 the two scored within 1.2)
        point = top_fit if top_fit is not None and top_fit.kept and \
            (top_fit.heldout or 0.0) > (primary.heldout or 0.0) + TOP_BETTER else primary
        point.weight = 1.0
    else:  # the bracket bounds the interval; it is no forecast, so it has no part in the point; nor has the
        # paper's law where its own pilot curve bends away from it (it stays in the interval)
        points = [m for m in kept if m.name != BRACKET and m is not primary] or \
            [m for m in kept if m.name != BRACKET]
        lead = max(float(m.heldout or 0.0) for m in points)
        raw = {m.name: float(np.exp((m.heldout or 0.0) - lead)) for m in points}
        total = sum(raw.values())
        for m in points:
            m.weight = raw[m.name] / total
    for m in usable:
        if m not in kept:
            m.reason = f"rejected: its held-out log-likelihood is {best - (m.heldout or 0.0):.1f} below the best"
    forecasters = [m for m in kept if m.name != BRACKET]
    out.chosen = COMBINED if len(kept) > 1 else forecasters[0].name
    return out


MIN_SOLVED = 3  # as `analysis.fit.MIN_SOLVED` (not imported: that module pulls in scipy.optimize, a second)
MIN_SOLVED_TAIL = 20  # solved problems needed to forecast a run that the pilot left mostly unsolved


def _cannot(n: np.ndarray, c: np.ndarray) -> str | None:
    """Why the pilot cannot support a forecast, or None (the same rules as `analysis.fit.fit_signal`, plus
    enough samples per problem to check a fit on later samples)."""
    if len(n) == 0:
        return "no problem has a verified sample"
    if int(n.min()) < MIN_SAMPLES:
        return (f"some problems have only {int(n.min())} verified samples; a forecast needs at least"
                f" {MIN_SAMPLES} per problem (a fit on the first ones is checked on the later ones)")
    solved = int((c > 0).sum())
    if solved == 0:
        return f"no problem was solved by any of its {int(n.min()):,}+ samples, so nothing shows how hard the" \
               " others are: a forecast would be a guess"
    if solved < MIN_SOLVED:
        return (f"only {solved} of {len(n)} problems solved by any sample (a forecast needs at least {MIN_SOLVED}"
                " solved problems to see how success rates spread)")
    if solved < MIN_SOLVED_TAIL and solved < len(n) - solved:
        return (f"only {solved} of {len(n)} problems solved by any sample: where most problems are unsolved, coverage"
                f" at larger k is decided by them, and fewer than {MIN_SOLVED_TAIL} solved problems are too few to"
                " see how success rates spread below the pilot's reach (on published runs and simulated ones"
                " forecasts from such pilots missed by 10-35 points); sample more problems or more samples")
    if not ((c > 0) & (c < n)).any():
        return (f"every problem is solved by all or none of its samples (coverage is {solved / len(n):.4g} at"
                " every k): nothing shows how unsolved problems would ever get solved")
    return None
