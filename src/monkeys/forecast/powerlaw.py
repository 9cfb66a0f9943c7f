"""The paper's scaling law as a forecaster: log coverage(k) = a·k^b, fitted on the pilot's own curve.

Fitted on the linearised form log(-log coverage) = log(-a) + b·log k by least squares over the doubling
grid k = 1, 2, 4, …, n where 0 < coverage < 1, so that many bootstrap curves (rows of a matrix) are fitted
in one matrix product; `monkeys report`'s curve fit (least squares in coverage) describes the samples at
hand, this one only has to extrapolate them.
"""

from __future__ import annotations

import numpy as np


def fit_lines(ks: np.ndarray, curves: np.ndarray) -> np.ndarray:
    """(a, b) of each curve (rows of `curves`, coverage at `ks`): (B, 2), NaN where fewer than two ks have
    0 < coverage < 1 or the fitted exponent is not negative (a curve that does not rise is no power law)."""
    curves = np.atleast_2d(np.asarray(curves, dtype=float))
    x = np.log(np.asarray(ks, dtype=float))[None, :]
    ok = np.isfinite(curves) & (curves > 0) & (curves < 1)
    with np.errstate(all="ignore"):
        y = np.where(ok, np.log(-np.log(np.where(ok, curves, 0.5))), 0.0)
        m = ok.sum(axis=1)
        xm = (x * ok).sum(axis=1) / m
        ym = y.sum(axis=1) / m
        dx = np.where(ok, x - xm[:, None], 0.0)
        slope = (dx * (y - ym[:, None])).sum(axis=1) / (dx * dx).sum(axis=1)
        icpt = ym - slope * xm
    good = (m >= 2) & np.isfinite(slope) & (slope < 0)
    return np.where(good[:, None], np.stack([-np.exp(icpt), slope], axis=1), np.nan)


def predict(params: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Coverage exp(a·k^b) for each (a, b) row at each k: (B, len(k))."""
    params = np.atleast_2d(params)
    k = np.asarray(k, dtype=float)[None, :]
    with np.errstate(all="ignore"):
        return np.exp(params[:, :1] * k ** params[:, 1:2])


def bend(ks: np.ndarray, curves: np.ndarray) -> tuple[float, float]:
    """(curvature, z) of the first curve in the law's straight-line coordinates, log(-log coverage) against
    log k: the quadratic coefficient of a least-squares parabola, and that over its spread across the other
    rows (bootstrap curves). A curve that flattens faster than the law (z well above 0: a run running out of
    solvable problems) is one the law over-forecasts; NaN where fewer than 4 ks lie strictly inside (0, 1)."""
    x = np.log(np.asarray(ks, dtype=float))
    quad = np.full(len(curves), np.nan)
    with np.errstate(all="ignore"):
        for i, row in enumerate(np.atleast_2d(curves)):
            ok = np.isfinite(row) & (row > 0) & (row < 1)
            if ok.sum() >= 4:
                quad[i] = np.polyfit(x[ok], np.log(-np.log(row[ok])), 2)[0]
        spread = np.nanstd(quad[1:]) if np.isfinite(quad[1:]).sum() >= 10 else np.nan
    z = quad[0] / spread if np.isfinite(quad[0]) and np.isfinite(spread) and spread > 0 else float("nan")
    return float(quad[0]), float(z)
