"""Per-problem success rates p with a point mass at zero: p = 0 with probability π0, else p ~ Beta(a, b).

Fitted by maximum likelihood on per-problem pass counts (n, c) (beta-binomial with an extra mass at c = 0).
The mass at zero is what a plain Beta lacks: a run where most problems are never solved makes a Beta put
its mass near (not at) zero, and the Beta then promises those problems will be solved at k = 10,000.

Every fit here is batched: `fit_zib` takes a (B, P) matrix of weights over the distinct (n, c) patterns
(one row per bootstrap replicate: resampling problems only reweights patterns) and fits all B rows at once
by damped Newton steps on (logit π0, log a, log b) with finite-difference derivatives. Two hundred
bootstrap refits cost about as much as one scipy.optimize call per refit would cost ten.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

# Box on θ = (logit π0, log a, log b): π0 in [6e-6, 1 - 6e-6]; a, b in [1e-3, 1e4].
_LO = np.array([-12.0, np.log(1e-3), np.log(1e-3)])
_HI = np.array([12.0, np.log(1e3), np.log(1e4)])


def patterns(n: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (n, c) pairs and, per problem, the index of its pair (problems sharing one cost one row)."""
    n = np.asarray(n, dtype=np.int64)
    c = np.asarray(c, dtype=np.int64)
    base = int(c.max(initial=0)) + 1
    keys, inverse = np.unique(n * base + c, return_inverse=True)
    return keys // base, keys % base, inverse.ravel()


def _loglik(theta: np.ndarray, n: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(B, P) log P(c | n, θ) up to the binomial coefficient (which no parameter touches)."""
    lp0 = -np.logaddexp(0.0, -theta[:, :1])  # log π0
    lp1 = -np.logaddexp(0.0, theta[:, :1])  # log (1 - π0)
    a, b = np.exp(theta[:, 1:2]), np.exp(theta[:, 2:3])
    bb = special.betaln(c[None, :] + a, (n - c)[None, :] + b) - special.betaln(a, b)
    return np.where(c[None, :] == 0, np.logaddexp(lp0, lp1 + bb), lp1 + bb)


def _objective(theta: np.ndarray, n: np.ndarray, c: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Negative log-likelihood per row (weights w: problems per pattern), with a whisper of a ridge on
    the log a's and log b's so that flat directions (a Beta that cannot be told from its limit) stay finite."""
    ridge = 1e-3 * (theta[:, 1] ** 2 + (theta[:, 2] - 1.0) ** 2)
    return -(w * _loglik(theta, n, c)).sum(axis=1) + ridge


def fit_zib(n: np.ndarray, c: np.ndarray, weights: np.ndarray, start: np.ndarray | None = None,
            iters: int = 60) -> np.ndarray:
    """θ (B, 3) maximising each weight row's likelihood. `n`, `c`: distinct patterns (P,); `weights` (B, P).

    Several starts (a mass at zero or not; a Beta near zero or spread) guard against the flat ridge between
    "many exact zeros" and "a Beta with a tiny a"; the best end point wins per row.
    """
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    n = np.asarray(n, dtype=float)
    c = np.asarray(c, dtype=float)
    starts = [np.array([-1.0, np.log(0.3), np.log(3.0)]), np.array([-6.0, np.log(0.1), np.log(1.0)]),
              np.array([0.5, np.log(1.0), np.log(1.0)])]
    if start is not None:
        starts = [np.asarray(start, dtype=float)]
    best, best_f = None, None
    for s in starts:
        th = _newton(np.tile(s, (len(w), 1)), n, c, w, iters)
        f = _objective(th, n, c, w)
        if best is None or best_f is None:
            best, best_f = th, f
        else:
            better = f < best_f
            best = np.where(better[:, None], th, best)
            best_f = np.where(better, f, best_f)
    assert best is not None
    return best


def _newton(theta: np.ndarray, n: np.ndarray, c: np.ndarray, w: np.ndarray, iters: int) -> np.ndarray:
    """Levenberg-damped Newton on every row at once, inside the box `_LO`..`_HI`; rows that have converged
    (no step of them moves θ by 1e-6) drop out of the work."""
    theta = theta.copy()
    active = np.arange(len(theta))
    lam = np.full(len(theta), 1e-2)
    with np.errstate(all="ignore"):
        f0 = _objective(theta, n, c, w)
        for _ in range(iters):
            if not len(active):
                break
            th, wa, la = theta[active], w[active], lam[active]
            g, hess = _derivatives(th, n, c, wa, f0[active])
            eye = np.eye(th.shape[1])[None]
            damp = hess + la[:, None, None] * (np.abs(np.diagonal(hess, axis1=1, axis2=2))[:, :, None] + 1.0) * eye
            damp = np.where(np.isfinite(damp), damp, 0.0) + 1e-9 * eye
            try:
                step = -np.linalg.solve(damp, np.nan_to_num(g)[:, :, None])[:, :, 0]
            except np.linalg.LinAlgError:
                step = -np.nan_to_num(g) * 1e-2
            new = np.clip(th + np.clip(np.nan_to_num(step), -2.0, 2.0), _LO, _HI)
            f1 = _objective(new, n, c, wa)
            better = np.isfinite(f1) & (f1 <= f0[active])
            moved = np.abs(new - th).max(axis=1)
            theta[active] = np.where(better[:, None], new, th)
            f0[active] = np.where(better, f1, f0[active])
            lam[active] = np.where(better, np.maximum(la / 4, 1e-6), np.minimum(la * 8, 1e8))
            done = (better & (moved < 1e-6)) | (lam[active] >= 1e8)
            active = active[~done]
    return theta


def _derivatives(theta: np.ndarray, n: np.ndarray, c: np.ndarray, w: np.ndarray,
                 f0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient (B, d) and Hessian (B, d, d) by central differences (all shifts of all rows in one call)."""
    h = 1e-4
    d = theta.shape[1]
    eye = np.eye(d)
    shifts = [h * eye[i] for i in range(d)] + [-h * eye[i] for i in range(d)]
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    for i, j in pairs:
        shifts += [h * (eye[i] + eye[j]), h * (eye[i] - eye[j]), -h * (eye[i] - eye[j]), -h * (eye[i] + eye[j])]
    m = len(theta)
    stacked = (theta[None, :, :] + np.asarray(shifts)[:, None, :]).reshape(-1, d)
    f = _objective(stacked, n, c, np.tile(w, (len(shifts), 1))).reshape(len(shifts), m)
    g = np.empty((m, d))
    hess = np.empty((m, d, d))
    for i in range(d):
        g[:, i] = (f[i] - f[d + i]) / (2 * h)
        hess[:, i, i] = (f[i] - 2 * f0 + f[d + i]) / (h * h)
    for q, (i, j) in enumerate(pairs):
        pp, pm, mp, mm = f[2 * d + 4 * q: 2 * d + 4 + 4 * q]
        hess[:, i, j] = hess[:, j, i] = (pp - pm - mp + mm) / (4 * h * h)
    return g, hess


@dataclass(frozen=True)
class ZIBeta:
    """π0 (mass at p = 0), a, b: per-problem success rates p = 0 w.p. π0, else Beta(a, b)."""

    pi0: float
    a: float
    b: float

    @classmethod
    def from_theta(cls, theta: np.ndarray) -> ZIBeta:
        t = np.asarray(theta, dtype=float)
        return cls(float(special.expit(t[0])), float(np.exp(t[1])), float(np.exp(t[2])))


def solve_prob(theta: np.ndarray, n: np.ndarray, k: np.ndarray) -> np.ndarray:
    """P(solved within k samples | none of its first n passed) under each θ row: (B, len(k)) for one n.

    = (1-π0)·[B(a, b+n) - B(a, b+k)]/B(a, b) / (π0 + (1-π0)·B(a, b+n)/B(a, b)); 0 for k <= n.
    """
    theta = np.atleast_2d(theta)
    k = np.asarray(k, dtype=float)[None, :]
    lp0 = -np.logaddexp(0.0, -theta[:, :1])
    lp1 = -np.logaddexp(0.0, theta[:, :1])
    a, b = np.exp(theta[:, 1:2]), np.exp(theta[:, 2:3])
    with np.errstate(all="ignore"):
        base = special.betaln(a, b)
        still_n = special.betaln(a, b + n) - base  # log P(no pass in n | Beta part)
        still_k = special.betaln(a, b + np.maximum(k, n)) - base
        unsolved = np.logaddexp(lp0, lp1 + still_n)
        # P(solved in (n, k] and not before) = (1-π0)·(e^still_n - e^still_k)
        gap = lp1 + still_n + np.log(-np.expm1(np.minimum(still_k - still_n, 0.0)))
        out = np.exp(gap - unsolved)
    return np.where(k > n, np.nan_to_num(out, nan=0.0), 0.0)


def expected_coverage(theta: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Population coverage 1 - E[(1-p)^k] under each θ row: (B, len(k))."""
    theta = np.atleast_2d(theta)
    k = np.asarray(k, dtype=float)[None, :]
    p1 = special.expit(-theta[:, :1])
    a, b = np.exp(theta[:, 1:2]), np.exp(theta[:, 2:3])
    return p1 * -np.expm1(special.betaln(a, b + k) - special.betaln(a, b))


def heldout_solve_prob(theta: np.ndarray, m: int, n: int) -> np.ndarray:
    """P(a problem unsolved in its first m samples is solved by sample n), per θ row: (B,)."""
    return solve_prob(theta, np.asarray(float(m)), np.asarray([float(n)]))[:, 0]


# A smooth discretised distribution ("g-model", after Efron 2016): p on a grid uniform in logit p from 1e-7
# to 1 - 1e-4 plus an atom at 0; log g is a natural cubic spline in logit p whose boundary knots sit at the
# edges of what the pilot can see (p ≈ 1/(2n) and 1 - 1/(2n)), so below the pilot's reach log g continues
# as a straight line in logit p: a power-law tail whose slope the visible part sets, not a Beta's shape.
GRID_FLOOR = 1e-7
_GRID_J = 56


def gmodel_grid() -> np.ndarray:
    return special.expit(np.linspace(special.logit(GRID_FLOOR), special.logit(1 - 1e-4), _GRID_J))


def gmodel_basis(grid: np.ndarray, n: int, knots: int = 4) -> np.ndarray:
    """(J, knots - 1) natural cubic spline basis in logit p (ESL eq. 5.4-5.5), linear outside the knots."""
    u = special.logit(grid)
    n = max(n, 2)  # a head of one sample per problem sees p only as "about 1/2": span at least that
    xi = np.linspace(special.logit(0.5 / n), special.logit(1 - 0.5 / n), knots)
    scale = (xi[-1] - xi[0]) / 2
    x = (u - xi.mean()) / scale
    k = (xi - xi.mean()) / scale

    def d(j: int) -> np.ndarray:
        return (np.maximum(x - k[j], 0) ** 3 - np.maximum(x - k[-1], 0) ** 3) / (k[-1] - k[j])

    cols = [x] + [d(j) - d(len(k) - 2) for j in range(len(k) - 2)]
    return np.stack(cols, axis=1)


def gmodel_loglik_table(n: np.ndarray, c: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(P, 1 + J) log Bin(c | n, p) over the atom at 0 (first column) and the grid, binomial coefficient dropped."""
    n = np.asarray(n, dtype=float)[:, None]
    c = np.asarray(c, dtype=float)[:, None]
    with np.errstate(divide="ignore"):
        grid_ll = c * np.log(grid)[None, :] + (n - c) * np.log1p(-grid)[None, :]
        atom = np.where(c == 0, 0.0, -np.inf)
    return np.hstack([atom, grid_ll])


def _gmodel_weights(theta: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """(B, 1 + J) log weights: atom π0, then (1 - π0)·softmax(basis·β)."""
    lp0 = -np.logaddexp(0.0, -theta[:, :1])
    lp1 = -np.logaddexp(0.0, theta[:, :1])
    eta = theta[:, 1:] @ basis.T
    eta = eta - special.logsumexp(eta, axis=1, keepdims=True)
    return np.hstack([lp0, lp1 + eta])


_RIDGE = 0.05


def fit_gmodel(table: np.ndarray, basis: np.ndarray, weights: np.ndarray, start: np.ndarray | None = None,
               iters: int = 100) -> np.ndarray:
    """θ (B, 1 + d) = (logit π0, β) maximising each weight row's penalised likelihood (ridge on β), by
    Fisher-scoring steps with the empirical information (BHHH), damped; analytic scores, all rows at once."""
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    d = basis.shape[1]
    theta = np.tile(np.zeros(1 + d) if start is None else np.asarray(start, dtype=float), (len(w), 1))
    if start is None:
        theta[:, 0] = -1.0

    shift = table.max(axis=1, keepdims=True)  # per pattern, so that its best grid point has likelihood 1
    like = np.exp(table - shift)  # (P, 1+J)
    basis_all = np.vstack([np.zeros((1, d)), basis])  # the atom has no spline coordinate

    def objective_and_scores(th: np.ndarray, ww: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mixture likelihoods as one matrix product (weights · likelihood table), scores from the same."""
        v = np.exp(_gmodel_weights(th, basis))  # (B, 1+J)
        total = v @ like.T  # (B, P)
        ll = np.log(np.maximum(total, 1e-300)) + shift[:, 0][None, :]
        r0 = v[:, :1] * like[None, :, 0] / np.maximum(total, 1e-300)  # (B, P) posterior of the atom
        pi0 = special.expit(th[:, :1])
        gq = (v[:, 1:] / (1 - pi0)) @ basis  # (B, d): E_g[basis]
        rq = np.matmul(like[None], v[:, :, None] * basis_all[None]) / np.maximum(total, 1e-300)[:, :, None]
        sb = rq - (1 - r0)[:, :, None] * gq[:, None, :]
        scores = np.concatenate([(r0 - pi0)[:, :, None], sb], axis=2)
        obj = -(ww * ll).sum(axis=1) + _RIDGE * (th[:, 1:] ** 2).sum(axis=1)
        return obj, scores

    lam = np.full(len(w), 1e-3)
    active = np.arange(len(w))
    with np.errstate(all="ignore"):
        f0, scores = objective_and_scores(theta, w)
        for _ in range(iters):
            if not len(active):
                break
            th, ww, sc = theta[active], w[active], scores[active]
            grad = (ww[:, :, None] * sc).sum(axis=1)
            grad[:, 1:] -= 2 * _RIDGE * th[:, 1:]
            info = np.matmul((sc * ww[:, :, None]).transpose(0, 2, 1), sc)
            info[:, 1:, 1:] += 2 * _RIDGE * np.eye(d)[None]
            damp = info + lam[active, None, None] * (np.diagonal(info, axis1=1, axis2=2)[:, :, None] + 1e-6) \
                * np.eye(1 + d)[None]
            step = np.linalg.solve(damp + 1e-9 * np.eye(1 + d)[None], grad[:, :, None])[:, :, 0]
            new = th + np.clip(np.nan_to_num(step), -3.0, 3.0)
            new[:, 0] = np.clip(new[:, 0], -12.0, 12.0)
            f1, s1 = objective_and_scores(new, ww)
            f0_old = f0[active]
            better = np.isfinite(f1) & (f1 <= f0_old)
            moved = np.abs(new - th).max(axis=1)
            theta[active] = np.where(better[:, None], new, th)
            scores[active] = np.where(better[:, None, None], s1, sc)
            f0[active] = np.where(better, f1, f0[active])
            lam[active] = np.where(better, np.maximum(lam[active] / 4, 1e-8), np.minimum(lam[active] * 8, 1e8))
            gain = np.where(better, f0_old - f1, 0.0)
            done = (better & ((moved < 1e-4) | (gain < 1e-7))) | (lam[active] >= 1e8)
            active = active[~done]
    return theta


def gmodel_solve_prob(theta: np.ndarray, basis: np.ndarray, grid: np.ndarray, n: float,
                      k: np.ndarray) -> np.ndarray:
    """`solve_prob` under the g-model: (B, len(k))."""
    lw = _gmodel_weights(np.atleast_2d(theta), basis)
    k = np.asarray(k, dtype=float)
    log_q = np.log1p(-grid)
    post = lw.copy()
    post[:, 1:] += n * log_q[None, :]
    post = np.exp(post - special.logsumexp(post, axis=1, keepdims=True))  # (B, 1+J)
    more = np.maximum(k - n, 0.0)
    solve = -np.expm1(more[None, :] * log_q[:, None])  # (J, K)
    return post[:, 1:] @ solve
