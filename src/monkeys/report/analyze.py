"""Everything the report computes about runs, computed once and shared by terminal, plots and HTML.

Each optional piece (fit, Beta estimate, cost, comparison) is None or absent when the data cannot support
it (too few points, unknown model shape, no price), and the renderers leave that part out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from monkeys.analysis.bootstrap import Band, Comparison, compare_at_k, coverage_band
from monkeys.analysis.cost import ModelSpec, Price, RunCost, cheapest, find_model, find_price, run_cost
from monkeys.analysis.fit import BetaFit, PowerLawFit, fit_beta, fit_power_law_draws
from monkeys.analysis.passk import default_ks, pass_at_ks, usable_ks
from monkeys.report.data import RunData

TARGETS = (0.5, 0.8, 0.9)  # coverage levels for "k needed" and cost-optimal choices


@dataclass
class RunAnalysis:
    """Coverage with a band, and (when they could be computed) fits and cost, of one run."""

    run: RunData
    ks: list[int]
    coverage: np.ndarray
    band: Band | None
    per_problem: np.ndarray  # (problems, ks) pass@k
    fit: PowerLawFit | None = None
    beta: BetaFit | None = None
    cost: RunCost | None = None
    extras: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        """Short lines under the run's table: fits, extrapolation, cost."""
        lines = []
        if self.fit is not None:
            f = self.fit
            lines.append(f"power-law fit: coverage ≈ exp(a·k^b), a = {f.a:.3f} [{f.a_ci[0]:.3f}, {f.a_ci[1]:.3f}],"
                         f" b = {f.b:.3f} [{f.b_ci[0]:.3f}, {f.b_ci[1]:.3f}], rmse {f.rmse:.4f} ({f.method})")
            far = 10 * self.ks[-1]
            lo, hi = f.predict_ci(far)
            lines.append(f"extrapolated coverage at k={far:,}: {float(f.predict(far)):.3f}"
                         f" [{lo[0]:.3f}, {hi[0]:.3f}]")
            for t in TARGETS:
                k, klo, khi = f.k_for(t)
                if t > self.coverage[0]:
                    lines.append(f"k for {t:.0%} coverage: {_k(k)} [{_k(klo)}, {_k(khi)}]")
        if self.beta is not None:
            bt = self.beta
            a_b, b_b = bt.power_law
            gap = f", |Δb| vs curve fit {abs(b_b - self.fit.b):.3f}" if self.fit is not None else ""
            lines.append(f"Beta per-problem fit: α = {bt.alpha_:.3f} [{bt.alpha_ci[0]:.3f}, {bt.alpha_ci[1]:.3f}],"
                         f" β = {bt.beta_:.3g}; implied b = {b_b:.3f}, a = {a_b:.3f}{gap}")
        run = self.run
        if run.flagged:
            policy = (run.config.get("verifier_options") or {}).get("flagged", "fail")
            worst = sorted(run.flagged.items(), key=lambda kv: -kv[1])[:5]
            lines.append(f"flagged passes (counted as {policy}): {sum(run.flagged.values())} samples on "
                         f"{len(run.flagged)} problems: " + ", ".join(f"{p} ({c})" for p, c in worst)
                         + (" ..." if len(run.flagged) > 5 else ""))
        if run.stripped:
            lines.append(f"top-level code stripped before the tests: {run.stripped} of {run.n_samples} samples")
        return lines + self.extras

    def cost_text(self, unit: str) -> str:
        if self.cost is None:
            return "-"
        value = self.cost.total_flops if unit == "flops" else self.cost.total_usd
        if value is None:
            return "-"
        return f"{value:.3g}" if unit == "flops" else f"${value:,.2f}"


def _k(k: float) -> str:
    return "∞" if not np.isfinite(k) else f"{k:,.0f}" if k < 1e7 else f"{k:.1e}"


def analyze_run(run: RunData, *, prices: dict[str, Price] | None = None,
                specs: dict[str, ModelSpec] | None = None, n_boot: int = 500, seed: int = 0) -> RunAnalysis:
    """Coverage at 1, 2, 4, … up to the smallest per-problem sample count, a bootstrap band, and fits."""
    n_min = int(run.n.min()) if len(run.n) else 0
    ks = usable_ks(run.n, default_ks(n_min)) if n_min > 0 else []
    if not ks:
        return RunAnalysis(run, [], np.zeros(0), None, np.zeros((len(run.n), 0)))
    per_problem = pass_at_ks(run.n, run.c, ks)
    band = coverage_band(run.n, run.c, ks, n_boot=n_boot, seed=seed)
    out = RunAnalysis(run, ks, per_problem.mean(axis=0), band, per_problem)
    try:
        out.fit = fit_power_law_draws(np.asarray(ks), out.coverage, band.draws, max_refits=200)
    except ValueError as exc:
        out.extras.append(f"no power-law fit: {exc}")
    if n_min >= 2 and len(run.n) >= 2 and run.c.sum() > 0:
        try:
            out.beta = fit_beta(run.n, run.c)
        except (ValueError, np.linalg.LinAlgError) as exc:
            out.extras.append(f"no Beta fit: {exc}")
    price = find_price(run.model, prices) if prices else None
    spec = find_model(run.model, specs)
    out.cost = run_cost(run.model, run.tokens, len(run.problem_ids), spec=spec, price=price)
    return out


@dataclass
class RunsComparison:
    """A pairwise comparison line and the cost-optimal choices across runs."""

    lines: list[str]
    comparisons: list[tuple[str, str, Comparison]]
    cheapest: dict[str, Any]


def compare_runs(analyses: list[RunAnalysis]) -> RunsComparison:
    """Every pair at the largest k both support (and at k=100 when both have it); cheapest run per target."""
    lines, comps = [], []
    ready = [a for a in analyses if a.ks]
    for x, y in combinations(ready, 2):
        shared = sorted(set(x.ks) & set(y.ks))
        for k in sorted({k for k in (100, shared[-1] if shared else 0) if k and k <= min(x.ks[-1], y.ks[-1])}):
            try:
                c = compare_at_k((x.run.problem_ids, x.run.n, x.run.c), (y.run.problem_ids, y.run.n, y.run.c), k)
            except ValueError:
                continue
            comps.append((x.run.name, y.run.name, c))
            lines.append(c.verdict(x.run.name, y.run.name))
    best: dict[str, Any] = {}
    for unit in ("flops", "usd"):
        options = []
        for a in ready:
            per = None if a.cost is None else (a.cost.flops_per_round if unit == "flops" else a.cost.usd_per_round)
            if per:
                full = np.arange(1, a.ks[-1] + 1)
                options.append((a.run.name, full, pass_at_ks(a.run.n, a.run.c, full).mean(axis=0), per))
        for t in TARGETS:
            hit = cheapest(options, t) if options else None
            if hit:
                best[f"{unit}@{t}"] = hit
                amount = f"{hit[2]:.3g} FLOPs" if unit == "flops" else f"${hit[2]:,.4f}"
                lines.append(f"cheapest to {t:.0%} coverage by {unit}: {hit[0]} with k={hit[1]} ({amount})")
    return RunsComparison(lines, comps, best)
