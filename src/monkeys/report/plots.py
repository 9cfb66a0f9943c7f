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


def cost_figure(analyses: list[RunAnalysis], unit: str) -> Figure | None:
    """Coverage vs total inference FLOPs (unit "flops") or dollars ("usd") for every run that has a cost."""
    import numpy as np

    fig = _figure()
    ax = fig.add_subplot()
    drawn = 0
    for i, a in enumerate(analyses):
        per = None if a.cost is None or not a.ks else (
            a.cost.flops_per_round if unit == "flops" else a.cost.usd_per_round)
        if not per:
            continue
        x = np.asarray(a.ks, dtype=float) * per
        ax.plot(x, a.coverage, "o-", color=f"C{i % 10}", ms=3, label=f"{a.run.name} ({a.run.model})")
        if a.band is not None:
            ax.fill_between(x, a.band.lo, a.band.hi, color=f"C{i % 10}", alpha=0.2, lw=0)
        drawn += 1
    if not drawn:
        return None
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("total inference FLOPs" if unit == "flops" else "total cost (USD)")
    ax.set_ylabel("coverage")
    ax.set_title("coverage vs " + ("FLOPs" if unit == "flops" else "dollars"))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def selection_figure(a: RunAnalysis) -> Figure | None:
    """Selection methods (majority vote, reward model, ...) against coverage: the selection gap."""
    import numpy as np

    if not a.run.selection or not a.ks:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(a.ks, a.coverage, "o-", color="k", ms=3, label="coverage (oracle verifier)")
    for i, (method, points) in enumerate(sorted(a.run.selection.items())):
        ks = np.asarray(sorted(points))
        ax.plot(ks, [points[k] for k in ks], "s--", color=f"C{i % 10}", ms=3, label=method)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("samples per problem k")
    ax.set_ylabel("success rate")
    ax.set_title(f"{a.run.name}: selection methods vs coverage")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def heatmap_figure(a: RunAnalysis, max_problems: int = 400) -> Figure | None:
    """Per-problem solved/unsolved by k (pass@k shading), problems sorted hardest last.

    Runs with more than `max_problems` problems show an evenly spaced subset (stated in the title).
    """
    import numpy as np

    if not a.ks or a.per_problem.size == 0:
        return None
    order = np.lexsort((np.arange(len(a.run.c)), -a.per_problem[:, -1], -a.per_problem[:, 0]))
    if len(order) > max_problems:
        order = order[np.linspace(0, len(order) - 1, max_problems).astype(int)]
    data = a.per_problem[order].T
    fig = _figure(width=max(6.4, min(14.0, 2 + len(order) * 0.03)), height=3.2)
    ax = fig.add_subplot()
    im = ax.imshow(data, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks(range(len(a.ks)), [str(k) for k in a.ks], fontsize=7)
    ax.set_ylabel("k")
    ax.set_xlabel(f"problems ({len(order)} of {len(a.run.c)}, easiest first)")
    solved = int((a.run.c > 0).sum())
    ax.set_title(f"{a.run.name}: pass@k per problem · {solved}/{len(a.run.c)} solved at least once")
    fig.colorbar(im, ax=ax, label="pass@k")
    return fig


def save(fig: Figure, path: Path, *, svg: bool = True) -> list[Path]:
    """Write `path` (PNG) and, with `svg`, the same figure beside it as SVG (both 0600, like the store they
    are drawn from); return what was written."""
    from monkeys.store import private_file

    path = Path(path)
    fig.savefig(private_file(path))
    written = [path]
    if svg:
        fig.savefig(private_file(path.with_suffix(".svg")))
        written.append(path.with_suffix(".svg"))
    return written
