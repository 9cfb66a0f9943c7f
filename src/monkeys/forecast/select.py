"""Choosing between forecasters on the pilot's own later samples, never on the truth at large k.

Each model is fitted on the first eighth of every problem's samples and asked the one question a
forecast answers: which problems unsolved so far will the remaining samples solve? Its score is the
Bernoulli log-likelihood of what the later samples did (a problem solved in them or not): an 8×
extrapolation, checked against data the fit never saw. A 2× or 4× split (tried first) mostly checks how
well a model fits the pilot's edge, not how it extrapolates; on the simulated suite
(benchmarks/forecast.py) weighting by the 8× split alone cut the combined forecast's median error at 100×
by about a fifth. Models are then weighted by exp(score) (pseudo-Bayesian model averaging): a clear
winner takes the forecast, a tie keeps both in the interval.

The same 8× split and a 4× and a 2× one widen each model's interval (`widening`): where a model's forecast
of the later samples missed by more than their binomial noise, its interval at k is stretched in that
direction by the miss, scaled with the extrapolation distance in log k (log(k/n) / log 8 for the 8× split),
the largest stretch over the three splits. A bootstrap
only measures how the fit varies over problems; this measures how wrong the model's shape was, in the
one place the pilot can check it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from monkeys.forecast.engine import ModelForecast, Pilot

SPLITS = (0.125,)  # scored: an 8× extrapolation, as near the 10-100× asked as the pilot allows
WIDEN_SPLITS = (0.125, 0.25, 0.5)  # checked for misses (`widening`): a shape wrong at 2× or 4× is wrong further
_CLIP = 1e-4  # a model that says "certainly not" and is wrong loses log(1e-4), not infinity


def heldout_loglik(pilot: Pilot, name: str, fraction: float) -> tuple[float, float, float, int] | None:
    """(log-likelihood, predicted share, observed share, problems unsolved in the head) of which problems
    unsolved in the first `fraction` of their samples the rest solved; None when the model cannot be fitted
    on that head of the pilot."""
    from monkeys.forecast.engine import FORECASTERS

    head = pilot.head(fraction)
    hc = head.c
    if not (hc > 0).any():  # nothing solved yet: no model has anything to fit
        return None
    unsolved = hc == 0
    if not unsolved.any():
        return 0.0, 0.0, 0.0, 0
    grid = np.unique(pilot.n).astype(float)
    fitted = FORECASTERS[name](head, grid, 0, np.random.default_rng(0))
    if fitted.share is None:
        return None
    q = np.clip(fitted.share[0][np.searchsorted(grid, pilot.n[unsolved])], _CLIP, 1 - _CLIP)
    flipped = pilot.c[unsolved] > 0
    return float(np.sum(np.where(flipped, np.log(q), np.log1p(-q)))), float(q.mean()), float(flipped.mean()), \
        int(unsolved.sum())


def heldout_scores(pilot: Pilot, models: dict[str, ModelForecast], names: tuple[str, ...]) -> None:
    """Set each fitted model's `heldout` score (sum over `SPLITS`); a model unscorable on a split gets None."""
    for name in names:
        model = models[name]
        if model.share is None:
            continue
        total = 0.0
        model.misses = []
        for fraction in WIDEN_SPLITS:
            got = heldout_loglik(pilot, name, fraction)
            if got is None:
                if fraction in SPLITS:
                    total = float("nan")
                continue
            if fraction in SPLITS:
                total += got[0]
            model.misses.append((fraction, *got[1:]))
        model.heldout = total if np.isfinite(total) else None
        if model.heldout is None and model.reason is None:
            model.reason = "could not be fitted on the first part of the pilot's samples to check it"


def widening(model: ModelForecast, n: int, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(down, up) >= 0 in share units at each k: how far to stretch the model's interval of the share of
    unsolved problems solved by k (see the module docstring)."""
    ks = np.asarray(ks, dtype=float)
    reach = np.log(np.maximum(ks / n, 1.0))
    down, up = np.zeros(len(ks)), np.zeros(len(ks))
    for fraction, predicted, observed, unsolved in model.misses:
        if unsolved == 0:
            continue
        noise = np.sqrt(max(predicted * (1 - predicted), 1.0 / unsolved) / unsolved)
        excess = max(0.0, abs(observed - predicted) - noise)
        scaled = excess * reach / np.log(1 / fraction)
        if observed > predicted:
            up = np.maximum(up, scaled)
        else:
            down = np.maximum(down, scaled)
    return down, up
