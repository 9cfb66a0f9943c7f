"""Scaling-law fits of coverage: the paper's exp(a·k^b) curve fit, and a per-problem Beta estimator.

`fit_power_law` fits coverage(k) ≈ exp(a·k^b) (a, b < 0; paper §3) by least squares in coverage. Its
intervals come from parameter draws: a normal approximation for independent points, or refits of bootstrap
curves (`fit_power_law_draws`) for a real run, whose points share problems and are far from independent.
`fit_beta` fits per-problem success rates p ~ Beta(α, β) by beta-binomial maximum likelihood (Schaeffer et
al. 2025): 1 - coverage(k) ≈ Γ(α+β)/Γ(β)·k^(-α), so the power-law exponent is b ≈ -α from pass counts alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats


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


def _points(ks: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.isfinite(cov) & (cov > 0)
    return np.asarray(ks, dtype=float)[keep], np.asarray(cov, dtype=float)[keep]


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
            params, pcov = optimize.curve_fit(lambda k, a, b: np.exp(a * k**b), ks, cov, p0=p0,
                                              bounds=([-np.inf, -10], [0, 0]), maxfev=5000)
        except (RuntimeError, ValueError):
            return np.asarray(p0, dtype=float), None
    return params, (pcov if np.isfinite(pcov).all() else None)


def fit_power_law(ks: np.ndarray, coverage: np.ndarray, *, alpha: float = 0.05, n_draws: int = 4000,
                  seed: int = 0) -> PowerLawFit:
    """Fit points assumed independent with equal noise; intervals by a t-scaled normal approximation.

    Raises ValueError with fewer than 3 points of nonzero coverage (two parameters need a residual).
    """
    k, cov = _points(np.asarray(ks), np.asarray(coverage))
    if len(k) < 3:
        raise ValueError(f"a power-law fit needs at least 3 points with coverage > 0, got {len(k)}")
    params, pcov = _least_squares(k, cov)
    if pcov is None:
        pcov = np.diag([np.inf, np.inf])
    t = stats.t.ppf(1 - alpha / 2, df=len(k) - 2)
    se = np.sqrt(np.diag(pcov))
    rng = np.random.default_rng(seed)
    dof_scale = np.sqrt((len(k) - 2) / rng.chisquare(len(k) - 2, size=(n_draws, 1)))
    draws = (params + rng.multivariate_normal(np.zeros(2), np.nan_to_num(pcov, posinf=0.0), n_draws)
             * dof_scale if np.isfinite(se).all() else np.tile(params, (n_draws, 1)))
    a, b = (float(x) for x in params)
    rmse = float(np.sqrt(np.mean((np.exp(a * k**b) - cov) ** 2)))
    return PowerLawFit(a, b, (a - t * se[0], a + t * se[0]), (b - t * se[1], b + t * se[1]), rmse, draws,
                       "normal", alpha)


def fit_power_law_draws(ks: np.ndarray, coverage: np.ndarray, curve_draws: np.ndarray, *,
                        alpha: float = 0.05, max_refits: int = 300) -> PowerLawFit:
    """Fit the observed curve; intervals from refitting bootstrap curves (`Band.draws`, (n_boot, len(ks)))."""
    base = fit_power_law(ks, coverage, alpha=alpha, n_draws=10)
    refits = []
    for curve in curve_draws[:max_refits]:
        k, cov = _points(np.asarray(ks), curve)
        if len(k) >= 3:
            refits.append(_least_squares(k, cov)[0])
    if not refits:
        return base
    draws = np.asarray(refits)
    (a_lo, b_lo), (a_hi, b_hi) = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=0)
    return PowerLawFit(base.a, base.b, (float(a_lo), float(a_hi)), (float(b_lo), float(b_hi)), base.rmse,
                       draws, "bootstrap", alpha)


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
        a = -float(np.exp(special.gammaln(self.alpha_ + self.beta_) - special.gammaln(self.beta_)))
        return a, -self.alpha_


def _neg_loglik(theta: np.ndarray, n: np.ndarray, c: np.ndarray) -> float:
    a, b = np.exp(theta)
    return -float(np.sum(special.betaln(c + a, n - c + b) - special.betaln(a, b)))


def fit_beta(n: np.ndarray, c: np.ndarray, *, alpha: float = 0.05) -> BetaFit:
    """Beta-binomial maximum likelihood on per-problem (n, c); raises ValueError without usable problems."""
    n = np.asarray(n, dtype=float)
    c = np.asarray(c, dtype=float)
    keep = n > 0
    n, c = n[keep], c[keep]
    if len(n) < 2:
        raise ValueError("a Beta fit needs at least 2 problems with verified samples")
    rate = c / n
    m, v = rate.mean(), rate.var()
    common = m * (1 - m) / v - 1 if 0 < m < 1 and v > 0 else 1.0  # method of moments start
    start = np.log(np.clip([m * common, (1 - m) * common], 1e-3, 1e3))
    res = optimize.minimize(_neg_loglik, start, args=(n, c), method="Nelder-Mead",
                            options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000})
    theta = res.x
    cov = np.linalg.pinv(_hessian(lambda t: _neg_loglik(t, n, c), theta))
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    z = stats.norm.ppf(1 - alpha / 2)
    lo, hi = np.exp(theta - z * se), np.exp(theta + z * se)
    a, b = np.exp(theta)
    return BetaFit(float(a), float(b), (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1])), -res.fun)


def _hessian(f, x: np.ndarray, h: float = 1e-4) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Central finite-difference Hessian (two parameters: nine evaluations is all it takes)."""
    d = len(x)
    out = np.empty((d, d))
    for i in range(d):
        for j in range(d):
            ei, ej = np.eye(d)[i] * h, np.eye(d)[j] * h
            out[i, j] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h * h)
    return out
