"""Each forecaster on seeded simulations whose truth is known: parameters recovered, intervals holding."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from monkeys.forecast import powerlaw, success_rates
from monkeys.forecast.engine import Pilot, forecast


def _counts(p: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c = rng.binomial(n, p)
    un, uc, inv = success_rates.patterns(np.full(len(p), n), c)
    return un, uc, np.bincount(inv, minlength=len(un))[None, :].astype(float)


def test_zero_inflated_beta_recovers_its_parameters() -> None:
    rng = np.random.default_rng(1)
    p = np.where(rng.random(4000) < 0.3, 0.0, rng.beta(0.5, 3.0, 4000))
    un, uc, w = _counts(p, 200, rng)
    fit = success_rates.ZIBeta.from_theta(success_rates.fit_zib(un, uc, w)[0])
    assert fit.pi0 == pytest.approx(0.3, abs=0.04)
    assert fit.a == pytest.approx(0.5, rel=0.15)
    assert fit.b == pytest.approx(3.0, rel=0.2)


def test_solve_prob_is_the_posterior_of_an_unsolved_problem() -> None:
    """P(solved by k | unsolved in n) against a Monte Carlo of the same zero-inflated Beta."""
    rng = np.random.default_rng(2)
    theta = np.array([[special.logit(0.2), np.log(0.4), np.log(2.0)]])
    p = np.where(rng.random(400_000) < 0.2, 0.0, rng.beta(0.4, 2.0, 400_000))
    unsolved = rng.random(len(p)) < (1 - p) ** 50
    later = rng.random(len(p)) < 1 - (1 - p) ** 950
    mc = later[unsolved].mean()
    got = success_rates.solve_prob(theta, np.asarray(50.0), np.array([1000.0]))[0, 0]
    assert got == pytest.approx(mc, abs=0.005)
    assert success_rates.solve_prob(theta, np.asarray(50.0), np.array([50.0]))[0, 0] == 0.0


def test_smooth_grid_fits_the_coverage_curve_of_a_beta() -> None:
    rng = np.random.default_rng(3)
    p = rng.beta(0.6, 2.0, 3000)
    un, uc, w = _counts(p, 100, rng)
    grid = success_rates.gmodel_grid()
    basis = success_rates.gmodel_basis(grid, 100)
    theta = success_rates.fit_gmodel(success_rates.gmodel_loglik_table(un, uc, grid), basis, w)
    # P(solved by 1000 | unsolved in 100), against the sample's own truth
    c = rng.binomial(100, p)
    truth = (1 - (1 - p[c == 0]) ** 900).mean()
    got = success_rates.gmodel_solve_prob(theta, basis, grid, 100.0, np.array([1000.0]))[0, 0]
    assert got == pytest.approx(truth, abs=0.05)


def test_power_law_lines_recover_a_and_b() -> None:
    ks = np.array([1, 2, 4, 8, 16, 32, 64])
    curves = np.exp(-1.7 * ks ** -0.45)[None, :]
    a, b = powerlaw.fit_lines(ks, curves)[0]
    assert a == pytest.approx(-1.7, rel=1e-9)
    assert b == pytest.approx(-0.45, rel=1e-9)
    assert np.isnan(powerlaw.fit_lines(ks, np.ones((1, len(ks))))).all()  # no rise: no law


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_forecast_interval_holds_the_realised_coverage(seed: int) -> None:
    """A run with exact zeros and easy problems (the power law's worst case): the combined forecast of the
    realised coverage at 100× holds the truth, and its point is close."""
    rng = np.random.default_rng(seed)
    p = np.where(rng.random(200) < 0.35, 0.0, rng.beta(2.0, 3.0, 200))
    n, k = 50, 5000
    c = rng.binomial(n, p)
    truth = np.mean((c > 0) | (rng.random(200) < 1 - (1 - p) ** (k - n)))
    fc = forecast(Pilot.from_counts(np.full(200, n), c, rng), [k], n_boot=100)
    point, lo, hi = fc.coverage([k])
    assert lo[0] <= truth <= hi[0]
    assert abs(point[0] - truth) < 0.03


def test_power_tail_recovers_alpha_and_ignores_the_never_solvable() -> None:
    """p with density ∝ p^(α-1) on (0, 0.2) (α = 0.4) plus 40% never solvable: α from the low counts, and
    the share of unsolved problems solved by 20n matches the simulation's, zeros and all."""
    from monkeys.forecast.engine import tail_share

    rng = np.random.default_rng(5)
    size, n, k = 6000, 100, 2000
    p = np.where(rng.random(size) < 0.4, 0.0, 0.2 * rng.random(size) ** (1 / 0.4))
    c = rng.binomial(n, p)
    pilot = Pilot.from_counts(np.full(size, n), c, rng)
    grid = np.array([float(n), float(k)])
    fit = tail_share(pilot, grid, 0, np.random.default_rng(0))
    assert fit.share is not None
    assert fit.params["alpha"] == pytest.approx(0.4, abs=0.12)
    stay = c == 0
    truth = np.mean(rng.random(int(stay.sum())) < -np.expm1((k - n) * np.log1p(-p[stay])))
    assert fit.share[0, 1] == pytest.approx(truth, abs=0.03)
    assert fit.share[0, 0] == 0.0
