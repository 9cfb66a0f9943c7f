"""Scaling-law fits of coverage: the paper's exp(a·k^b) curve fit, and a per-problem Beta estimator.

`fit_power_law` fits coverage(k) ≈ exp(a·k^b) (a, b < 0; paper §3) by least squares in coverage. Its
intervals come from parameter draws: a normal approximation for independent points, or refits of bootstrap
curves (`fit_power_law_draws`) for a real run, whose points share problems and are far from independent.
`fit_beta` fits per-problem success rates p ~ Beta(α, β) by beta-binomial maximum likelihood (Schaeffer et
al. 2025): 1 - coverage(k) ≈ Γ(α+β)/Γ(β)·k^(-α), so the power-law exponent is b ≈ -α from pass counts alone.

A fit that the data cannot pin down is not a result: both fits raise `NoSignal` (a ValueError saying why)
rather than return parameters stuck at a bound, intervals of zero width or an α of 1e15; `fit_signal` says
up front when per-problem counts cannot support either fit. No numpy/scipy warning escapes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special  # not scipy.stats: its import alone costs a second of every report


@dataclass(frozen=True)
class PowerLawFit:
    """coverage(k) = exp(a·k^b); `draws` (m, 2) of (a, b) carry the uncertainty into every prediction."""

    a: float
    b: float
    a_ci: tuple[float, float]
    b_ci: tuple[float, float]
    rmse: float  # of the fit against the points it was fitted to, in coverage
    draws: np.ndarray
    method: str  # "normal" or "bootstrap"
    alpha: float = 0.05
    ks: tuple[int, ...] = ()  # the k grid the curve was fitted on (points with coverage > 0)

    def predict(self, k: float | np.ndarray) -> np.ndarray | float:
        return np.exp(self.a * np.power(np.asarray(k, dtype=float), self.b))

    def predict_ci(self, k: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) of coverage at k over the parameter draws: extrapolation with honest width."""
        k = np.atleast_1d(np.asarray(k, dtype=float))
        curves = np.exp(self.draws[:, :1] * np.power(k[None, :], self.draws[:, 1:]))
        lo, hi = np.quantile(curves, [self.alpha / 2, 1 - self.alpha / 2], axis=0)
        return lo, hi

    def k_for(self, target: float) -> tuple[float, float, float]:
        """Samples per problem needed for coverage `target`, with (lo, hi); inf where never reached."""
        if not 0 < target < 1:
            raise ValueError(f"target coverage must be in (0, 1), got {target}")

        def solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            with np.errstate(all="ignore"):
                k = np.power(np.log(target) / a, 1 / b)
            return np.where((a < 0) & (b < 0) & np.isfinite(k), np.maximum(k, 1.0), np.inf)

        k = float(solve(np.asarray(self.a), np.asarray(self.b)))
        ks = solve(self.draws[:, 0], self.draws[:, 1])
        lo, hi = np.quantile(ks, [self.alpha / 2, 1 - self.alpha / 2])
        return k, float(lo), float(hi)


class NoSignal(ValueError):  # noqa: N818 - read as "no signal (to fit)", like StopIteration
    """The data cannot support the fit; the message says why, to be shown as "not enough signal to fit"."""


MIN_SOLVED = 3  # problems solved at least once a fit needs: fewer make a curve of one or two problems
_B_FLOOR = -10.0  # lower bound of the exponent in the curve fit: a fit that ends there is a step, not a law
_BETA_MAX = 1e4  # α or β above this: the likelihood is flat out to infinity (binomial limit)
_ALPHA_SPREAD = 100.0  # an α whose interval spans more than this factor is not an estimate
_ALPHA_MAX = 50.0  # an exponent -α below -50: every problem has about the same rate, no power law to speak of


@contextmanager
def _quiet() -> Iterator[None]:
    """Overflow in exp/gammaln and scipy's OptimizeWarning are handled by checking results, not printed."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def fit_signal(n: np.ndarray, c: np.ndarray) -> str | None:
    """Why per-problem counts (n, c) cannot support a scaling fit, or None when they can.

    Coverage only grows with k through problems solved by some but not all samples; with none the curve is
    flat (every problem is solved by all or none of its samples), and with one or two solved problems the
    "curve" describes those problems, not the model.
    """
    n = np.asarray(n)
    c = np.asarray(c)
    keep = n > 0
    n, c = n[keep], c[keep]
    solved = int((c > 0).sum())
    if len(n) == 0:
        return "no verified samples"
    if solved == 0:
        return "no problem solved by any sample"
    if solved < MIN_SOLVED:
        return f"only {solved} of {len(n)} problems solved by any sample (a fit needs {MIN_SOLVED})"
    if not ((c > 0) & (c < n)).any():
        return (f"every problem is solved by all or none of its samples (coverage is {solved / len(n):.4g} "
                "at every k)")
    return None


def _points(ks: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.isfinite(cov) & (cov > 0)
    return np.asarray(ks, dtype=float)[keep], np.asarray(cov, dtype=float)[keep]


def _curve(k: np.ndarray, a: float, b: float) -> np.ndarray:
    return np.exp(a * k**b)


def _curve_jac(k: np.ndarray, a: float, b: float) -> np.ndarray:
    """d/da and d/db of exp(a·k^b): analytic, a third of a refit's time when left to finite differences."""
    kb = k**b
    f = np.exp(a * kb)
    return np.stack([kb * f, a * kb * np.log(k) * f], axis=1)


def _least_squares(ks: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(a, b) and their covariance (None when it cannot be estimated)."""
    inner = (cov > 0) & (cov < 1)
    if inner.sum() >= 2:  # start from the linearised fit: log(-log cov) = log(-a) + b·log k
        slope, icpt = np.polyfit(np.log(ks[inner]), np.log(-np.log(cov[inner])), 1)
        p0 = [-np.exp(icpt), min(slope, -1e-3)]
    else:
        p0 = [-1.0, -0.5]
    with np.errstate(all="ignore"):
        try:
            params, pcov = optimize.curve_fit(_curve, ks, cov, p0=p0, jac=_curve_jac,
                                              bounds=([-np.inf, _B_FLOOR], [0, 0]), maxfev=5000)
        except (RuntimeError, ValueError):
            return np.asarray(p0, dtype=float), None
    return params, (pcov if np.isfinite(pcov).all() else None)


def fit_power_law(ks: np.ndarray, coverage: np.ndarray, *, alpha: float = 0.05, n_draws: int = 4000,
                  seed: int = 0) -> PowerLawFit:
    """Fit points assumed independent with equal noise; intervals by a t-scaled normal approximation.

    Raises ValueError with fewer than 3 points of nonzero coverage (two parameters need a residual).
    """
    with _quiet():
        k, cov = _points(np.asarray(ks), np.asarray(coverage))
        _check_curve(k, cov)
        params, pcov = _least_squares(k, cov)
        _check_params(params)
        if pcov is None:
            pcov = np.diag([np.inf, np.inf])
        t = special.stdtrit(len(k) - 2, 1 - alpha / 2)  # Student's t quantile
        se = np.sqrt(np.diag(pcov))
        rng = np.random.default_rng(seed)
        dof_scale = np.sqrt((len(k) - 2) / rng.chisquare(len(k) - 2, size=(n_draws, 1)))
        draws = (params + rng.multivariate_normal(np.zeros(2), np.nan_to_num(pcov, posinf=0.0), n_draws)
                 * dof_scale if np.isfinite(se).all() else np.tile(params, (n_draws, 1)))
        a, b = (float(x) for x in params)
        rmse = float(np.sqrt(np.mean((np.exp(a * k**b) - cov) ** 2)))
    return PowerLawFit(a, b, (a - t * se[0], a + t * se[0]), (b - t * se[1], b + t * se[1]), rmse, draws,
                       "normal", alpha, tuple(int(x) for x in k))


def _check_curve(k: np.ndarray, cov: np.ndarray) -> None:
    """Raise NoSignal for curves whose shape two parameters cannot be read from."""
    if len(k) < 3:
        raise NoSignal(f"a power-law fit needs at least 3 ks with coverage > 0, got {len(k)}")
    inner = (cov > 0) & (cov < 1)
    if inner.sum() < 3:
        raise NoSignal(f"coverage reaches 100% by k={int(k[np.argmax(cov >= 1)])}: a saturated curve has no "
                       "shape to fit" if (cov >= 1).any() else "fewer than 3 ks with 0 < coverage < 1")
    if cov.max() - cov.min() < max(1e-9, 1e-3 * cov.max()):
        raise NoSignal(f"coverage is flat ({cov.max():.4g} from k={int(k[0])} to k={int(k[-1])})")


def _check_params(params: np.ndarray) -> None:
    a, b = (float(x) for x in params)
    if not (np.isfinite(a) and np.isfinite(b)) or a >= 0:
        raise NoSignal(f"the curve fit did not converge (ended at a {a:.3g}, b {b:.3g})")
    if b <= _B_FLOOR + 1e-3 or b >= -1e-6:
        raise NoSignal(f"the exponent ran to its bound ({b:.3g}): the curve is a step, not a power law")


def _refit_many(ks: np.ndarray, curves: np.ndarray, start: np.ndarray, iters: int = 60) -> np.ndarray:
    """Least-squares (a, b) of many curves at once: Levenberg-Marquardt from `start` (the observed curve's
    fit, close to every bootstrap curve's), with the bounds of `_least_squares` (a <= 0, -10 <= b <= 0) and
    each curve's points with coverage > 0. Curves with fewer than 3 such points are dropped. One vectorised
    loop instead of a scipy call per curve: a 200-curve refit takes milliseconds, not a second."""
    ks = np.asarray(ks, dtype=float)
    w = (np.isfinite(curves) & (curves > 0)).astype(float)
    keep = w.sum(axis=1) >= 3
    y, w = np.nan_to_num(curves[keep]), w[keep]
    m = len(y)
    a = np.full(m, float(start[0]))
    b = np.full(m, float(start[1]))
    lam = np.full(m, 1e-3)
    logk = np.log(ks)[None, :]

    def sse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (w * (np.exp(a[:, None] * ks[None, :] ** b[:, None]) - y) ** 2).sum(axis=1)

    cost = sse(a, b)
    for _ in range(iters):
        kb = ks[None, :] ** b[:, None]
        f = np.exp(a[:, None] * kb)
        r = (f - y) * w
        ja, jb = kb * f * w, a[:, None] * kb * logk * f * w
        g = np.stack([(ja * r).sum(1), (jb * r).sum(1)], axis=1)
        h11, h12, h22 = (ja * ja).sum(1), (ja * jb).sum(1), (jb * jb).sum(1)
        h11d, h22d = h11 * (1 + lam) + 1e-12, h22 * (1 + lam) + 1e-12
        det = h11d * h22d - h12 * h12
        da = -(h22d * g[:, 0] - h12 * g[:, 1]) / det
        db = -(h11d * g[:, 1] - h12 * g[:, 0]) / det
        na, nb = np.minimum(a + da, 0.0), np.clip(b + db, _B_FLOOR, 0.0)
        new = sse(na, nb)
        better = np.isfinite(new) & (new <= cost)
        a, b, cost = np.where(better, na, a), np.where(better, nb, b), np.where(better, new, cost)
        lam = np.where(better, lam / 3, lam * 4)
        if (np.abs(np.where(better, da, 0)) < 1e-10).all() and (np.abs(np.where(better, db, 0)) < 1e-10).all() \
                and better.all():
            break
    return np.stack([a, b], axis=1)


def fit_power_law_draws(ks: np.ndarray, coverage: np.ndarray, curve_draws: np.ndarray, *,
                        alpha: float = 0.05, max_refits: int = 300) -> PowerLawFit:
    """Fit the observed curve; intervals from refitting bootstrap curves (`Band.draws`, (n_boot, len(ks)))."""
    base = fit_power_law(ks, coverage, alpha=alpha, n_draws=10)
    curves = np.asarray(curve_draws, dtype=float)[:max_refits]
    with _quiet():
        draws = _refit_many(np.asarray(ks, dtype=float), curves, np.array([base.a, base.b]))
    refits = list(draws)
    if not refits:
        return base
    (a_lo, b_lo), (a_hi, b_hi) = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=0)
    if len(refits) > 1 and a_lo == a_hi and b_lo == b_hi:
        raise NoSignal("every bootstrap curve gives the same fit (intervals of zero width)")
    return PowerLawFit(base.a, base.b, (float(a_lo), float(a_hi)), (float(b_lo), float(b_hi)), base.rmse,
                       draws, "bootstrap", alpha, base.ks)


@dataclass(frozen=True)
class BetaFit:
    """Per-problem success rates p ~ Beta(alpha_, beta_) with (1 - level) Wald intervals on the log scale."""

    alpha_: float
    beta_: float
    alpha_ci: tuple[float, float]
    beta_ci: tuple[float, float]
    loglik: float

    def coverage(self, k: float | np.ndarray) -> np.ndarray:
        """Expected coverage at k: 1 - E[(1-p)^k] = 1 - B(α, β+k)/B(α, β)."""
        k = np.asarray(k, dtype=float)
        return -np.expm1(special.betaln(self.alpha_, self.beta_ + k) - special.betaln(self.alpha_, self.beta_))

    @property
    def power_law(self) -> tuple[float, float]:
        """(a, b) of the large-k power law it implies: log coverage ≈ -Γ(α+β)/Γ(β)·k^(-α)."""
        with _quiet():
            a = -float(np.exp(special.gammaln(self.alpha_ + self.beta_) - special.gammaln(self.beta_)))
        return a, -self.alpha_


def _neg_loglik(theta: np.ndarray, n: np.ndarray, c: np.ndarray) -> float:
    a, b = np.exp(theta)
    return -float(np.sum(special.betaln(c + a, n - c + b) - special.betaln(a, b)))


def fit_beta(n: np.ndarray, c: np.ndarray, *, alpha: float = 0.05) -> BetaFit:
    """Beta-binomial maximum likelihood on per-problem (n, c).

    Raises ValueError without 2 usable problems, NoSignal when the likelihood has no finite maximum (α or β
    running off to 1e15: rates with no spread, or too few solved problems to place one).
    """
    n = np.asarray(n, dtype=float)
    c = np.asarray(c, dtype=float)
    keep = n > 0
    n, c = n[keep], c[keep]
    if len(n) < 2:
        raise ValueError("a Beta fit needs at least 2 problems with verified samples")
    if not c.any():
        raise NoSignal("no problem solved by any sample")
    with _quiet():
        rate = c / n
        m, v = rate.mean(), rate.var()
        common = m * (1 - m) / v - 1 if 0 < m < 1 and v > 0 else 1.0  # method of moments start
        start = np.log(np.clip([m * common, (1 - m) * common], 1e-3, 1e3))
        res = optimize.minimize(_neg_loglik, start, args=(n, c), method="Nelder-Mead",
                                options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000})
        theta = res.x
        a, b = np.exp(theta)
        if not (np.isfinite(res.fun) and np.isfinite(theta).all()) or max(a, b) > _BETA_MAX:
            raise NoSignal(f"the Beta likelihood has no finite maximum (α runs off to {a:.2g}): the pass rates"
                           " show no spread across problems that a Beta can describe")
        if a > _ALPHA_MAX:
            raise NoSignal(f"the pass rates hardly differ across problems (α ran to {a:.3g}): no heavy tail of"
                           " hard problems for a Beta power law to describe")
        cov = np.linalg.pinv(_hessian(lambda t: _neg_loglik(t, n, c), theta))
        se = np.sqrt(np.clip(np.diag(cov), 0, None))
        z = special.ndtri(1 - alpha / 2)  # normal quantile
        lo, hi = np.exp(theta - z * se), np.exp(theta + z * se)
        if not hi[0] < _ALPHA_SPREAD * lo[0]:
            raise NoSignal(f"α is not pinned down: its {1 - alpha:.0%} interval runs from {lo[0]:.2g} to {hi[0]:.2g}")
    return BetaFit(float(a), float(b), (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1])), -res.fun)


def _hessian(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Central finite-difference Hessian (two parameters: nine evaluations is all it takes)."""
    d = len(x)
    out = np.empty((d, d))
    for i in range(d):
        for j in range(d):
            ei, ej = np.eye(d)[i] * h, np.eye(d)[j] * h
            out[i, j] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h * h)
    return out
