"""Everything the report computes about one run, computed once and shared by terminal, plots and HTML."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monkeys.analysis.bootstrap import Band, coverage_band
from monkeys.analysis.passk import default_ks, pass_at_ks, usable_ks
from monkeys.report.data import RunData


@dataclass
class RunAnalysis:
    """Coverage with a band, and (when they could be computed) fits and cost, of one run."""

    run: RunData
    ks: list[int]
    coverage: np.ndarray
    band: Band | None
    per_problem: np.ndarray  # (problems, ks) pass@k
    fit: Any = None  # analysis.fit.PowerLawFit
    beta: Any = None  # analysis.fit.BetaFit
    cost: Any = None  # analysis.cost.RunCost
    extras: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        """Short lines under the run's table: fits, extrapolation, cost."""
        return list(self.extras)

    def cost_text(self, unit: str) -> str:
        if self.cost is None:
            return "-"
        value = self.cost.total_flops if unit == "flops" else self.cost.total_usd
        if value is None:
            return "-"
        return f"{value:.3g}" if unit == "flops" else f"${value:,.2f}"


def analyze_run(run: RunData, *, n_boot: int = 500, seed: int = 0) -> RunAnalysis:
    """Coverage at 1, 2, 4, … up to the smallest per-problem sample count, with a bootstrap band."""
    n_min = int(run.n.min()) if len(run.n) else 0
    ks = usable_ks(run.n, default_ks(n_min)) if n_min > 0 else []
    if not ks:
        return RunAnalysis(run, [], np.zeros(0), None, np.zeros((len(run.n), 0)))
    per_problem = pass_at_ks(run.n, run.c, ks)
    band = coverage_band(run.n, run.c, ks, n_boot=n_boot, seed=seed)
    return RunAnalysis(run, ks, per_problem.mean(axis=0), band, per_problem)
