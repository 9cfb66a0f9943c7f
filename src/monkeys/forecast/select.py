"""Choosing between forecasters on the pilot's own later samples, never on the truth at large k.

Each model is fitted on an eighth of every problem's samples and asked the one question a forecast
answers: which problems unsolved so far will the remaining samples solve? Its score is the Bernoulli
log-likelihood of what the later samples did (a problem solved in them or not): an 8× extrapolation,
checked against data the fit never saw. One head of n/8 samples decides on few solved problems, so the
score is the mean over `REPEATS` heads: the pilot's own first eighth and random eighths of each problem's
samples (exchangeable: any n/8 of them is a fair head); on published runs this steadied which models the
pilot keeps. A 2× or 4× split mostly checks how well a model fits the pilot's edge, not how it
extrapolates. Models more than `engine.PLAUSIBLE` below the best are rejected; among the rest, the point
is the paper's law when it is kept and its pilot curve straight, else a weighting by exp(score) (see `engine`).

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


def heldout_logliks(views: list[Pilot], name: str, fraction: float) \
        -> list[tuple[float, float, float, int] | None]:
    """Per view: (log-likelihood, predicted share, observed share, problems unsolved in the head) of which
    problems unsolved in the first `fraction` of their samples the rest solved; None when the model cannot
    be fitted on that head."""
    from monkeys.forecast.engine import head_shares

    heads = [view.head(fraction) for view in views]
    grid = np.unique(np.concatenate([view.n for view in views])).astype(float)
    fit = [i for i, h in enumerate(heads) if (h.c > 0).any() and (h.c == 0).any()]  # something to fit and ask
    shares = dict(zip(fit, head_shares(name, [heads[i] for i in fit], grid), strict=True)) if fit else {}
    out: list[tuple[float, float, float, int] | None] = []
    for i, (view, head) in enumerate(zip(views, heads, strict=True)):
        if not (head.c > 0).any():  # nothing solved yet: no model has anything to fit
            out.append(None)
            continue
        unsolved = head.c == 0
        share = shares.get(i)
        if not unsolved.any():
            out.append((0.0, 0.0, 0.0, 0))
            continue
        if share is None:
            out.append(None)
            continue
        q = np.clip(share[np.searchsorted(grid, view.n[unsolved])], _CLIP, 1 - _CLIP)
        flipped = view.c[unsolved] > 0
        out.append((float(np.sum(np.where(flipped, np.log(q), np.log1p(-q)))), float(q.mean()),
                    float(flipped.mean()), int(unsolved.sum())))
    return out


REPEATS = 6  # random heads per split: one head of n/8 samples is a small, noisy test; six halve its noise


def _shuffled(pilot: Pilot, rng: np.random.Generator) -> Pilot:
    """The pilot with each problem's samples in a random order: samples of a problem are exchangeable, so
    any n/8 of them is as fair a head as the first n/8."""
    return type(pilot)(pilot.problem_ids, [rng.permutation(x) for x in pilot.correct])


def heldout_scores(pilot: Pilot, models: dict[str, ModelForecast], names: tuple[str, ...],
                   repeats: int = REPEATS) -> None:
    """Set each fitted model's `heldout` score (the mean over `repeats` random heads of its sum over
    `SPLITS`) and its `misses` (predicted and observed shares per split, averaged over the heads); a model
    that cannot be fitted on some head gets None."""
    rng = np.random.default_rng(20_241_202)
    views = [pilot] + [_shuffled(pilot, rng) for _ in range(repeats - 1)]
    for name in names:
        model = models[name]
        if model.share is None:
            continue
        per_split: dict[float, list[tuple[float, float, int]]] = {}
        scores = np.zeros(len(views))
        for fraction in WIDEN_SPLITS:
            # the scored split over every head; the shorter ones only widen intervals: one head each
            got = heldout_logliks(views if fraction in SPLITS else views[:1], name, fraction)
            if fraction in SPLITS:
                scores += np.array([np.nan if g is None else g[0] for g in got])
            per_split[fraction] = [g[1:] for g in got if g is not None]
        model.misses = [(fraction, float(np.mean([x[0] for x in rows])), float(np.mean([x[1] for x in rows])),
                         int(round(np.mean([x[2] for x in rows])))) for fraction, rows in sorted(per_split.items())
                        if rows]
        model.heldout = float(np.mean(scores)) if np.isfinite(scores).all() else None
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
