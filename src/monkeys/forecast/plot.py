"""The plan's figure: the pilot's coverage curve, then the forecast with its band, on a log k axis."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from monkeys.forecast.engine import Forecast
from monkeys.report.plots import as_text


def plot_plan(fc: Forecast, path: Path, ks: list[int], target: float | None, title: str) -> None:
    """Write the figure (format from the suffix: .png, .svg, .pdf)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.8, 4.2), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(fc.pilot_ks, 100 * fc.pilot_curve, "o-", color="C0", ms=3, label=f"pilot (n = {fc.n_min:,})")
    if fc.chosen is not None and fc.chosen != "observed":
        grid = fc.grid[fc.grid >= fc.n_min]
        point, lo, hi = fc.coverage(grid, realized=False)
        ax.fill_between(grid, 100 * lo, 100 * hi, color="C1", alpha=0.25, lw=0, label="95% interval")
        ax.plot(grid, 100 * point, "-", color="C1", label=f"forecast ({fc.chosen})")
        at = np.asarray([k for k in ks if k > fc.n_min], dtype=float)
        if len(at):
            p, lo_k, hi_k = fc.coverage(at)
            ax.errorbar(at, 100 * p, yerr=[100 * (p - lo_k), 100 * (hi_k - p)], fmt="s", color="C3", ms=4,
                        capsize=3, label="forecast at asked k")
    elif fc.reason:
        ax.text(0.02, 0.95, "no forecast: " + fc.reason[:90], transform=ax.transAxes, va="top", fontsize=8)
    if target is not None:
        ax.axhline(100 * target, color="0.5", ls=":", lw=1)
    ax.axvline(fc.n_min, color="0.7", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_ylim(0, 101)
    ax.set_xlabel("samples per problem (k)")
    ax.set_ylabel("coverage (%)")
    ax.set_title(as_text(title[:90]), fontsize=10)  # a run directory's name: drawn as it reads
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    path.parent.mkdir(parents=True, exist_ok=True)  # as `report --html` and `export` do
    fig.savefig(path)
