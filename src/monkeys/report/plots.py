"""matplotlib figures of coverage (Agg backend, imported inside each function): each returns a Figure."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from monkeys.report.analyze import RunAnalysis

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(width: float = 6.4, height: float = 4.2) -> Figure:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def coverage_figure(analyses: list[RunAnalysis], *, title: str = "coverage vs samples") -> Figure:
    """Coverage vs k on a log x axis, a shaded bootstrap band and a dashed power-law fit per run."""
    import numpy as np

    fig = _figure()
    ax = fig.add_subplot()
    for i, a in enumerate(analyses):
        if not a.ks:
            continue
        color = f"C{i % 10}"
        ks = np.asarray(a.ks)
        ax.plot(ks, a.coverage, "o-", color=color, ms=3, label=f"{a.run.name} ({a.run.model})")
        if a.band is not None:
            ax.fill_between(ks, a.band.lo, a.band.hi, color=color, alpha=0.2, lw=0)
        if a.fit is not None:
            grid = np.geomspace(1, max(ks.max() * 4, 8), 200)
            ax.plot(grid, a.fit.predict(grid), "--", color=color, lw=1,
                    label=f"fit exp({a.fit.a:.2f}·k^{a.fit.b:.2f})")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("samples per problem k")
    ax.set_ylabel("coverage (pass@k)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower right")
    return fig


def save(fig: Figure, path: Path, *, svg: bool = True) -> list[Path]:
    """Write `path` (PNG) and, with `svg`, the same figure beside it as SVG; return what was written."""
    path = Path(path)
    fig.savefig(path)
    written = [path]
    if svg:
        fig.savefig(path.with_suffix(".svg"))
        written.append(path.with_suffix(".svg"))
    return written
