"""matplotlib figures of coverage (Agg backend, imported inside each function): each returns a Figure.

Legends sit outside the axes, right of the plot (a legend inside hides whichever curves run under it, and
low curves are the ones a comparison is about); long run names and titles are shortened or wrapped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from monkeys.report.analyze import RunAnalysis

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(width: float = 6.4, height: float = 4.2) -> Figure:
    """A figure laid out by `_place` (fixed margins in inches): a layout engine would measure every label on
    every save, about half of a figure's drawing time, for margins that hardly vary here."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110)


_MARGINS = {"left": 0.75, "right": 0.2, "bottom": 0.55, "top": 0.2, "title_line": 0.2}  # inches


def _place(fig: Figure, ax: object, right_extra: float = 0.0) -> tuple[float, float]:
    """Put `ax` inside fixed margins (the title's lines counted), leaving `right_extra` inches on the right;
    return the axes' top-right corner in figure fractions."""
    width, height = fig.get_figwidth(), fig.get_figheight()
    lines = ax.get_title().count("\n") + 1 if ax.get_title() else 0  # type: ignore[attr-defined]
    top = _MARGINS["top"] + lines * _MARGINS["title_line"]
    x0, y0 = _MARGINS["left"] / width, _MARGINS["bottom"] / height
    x1 = (width - right_extra - _MARGINS["right"]) / width
    y1 = (height - top) / height
    ax.set_position([x0, y0, x1 - x0, y1 - y0])  # type: ignore[attr-defined]
    return x1, y1


TITLE_WIDTH = 60  # characters per title line
LABEL_WIDTH = 36  # characters of a run's name in a legend


def short(name: str, width: int = LABEL_WIDTH) -> str:
    """`name` cut in the middle to `width` characters (a path keeps its start and its last component)."""
    if len(name) <= width:
        return name
    tail = width * 2 // 3
    return f"{name[:width - tail - 1]}…{name[-tail:]}"


def as_text(text: str) -> str:
    """`text` (a run, model or problem name, an answer: anything from a store) for matplotlib to draw as it
    reads: each `$` escaped, since a pair of them would be parsed as mathtext (`$\\foo$` stops the figure),
    and control characters shown as escapes (an SVG holding them is not well-formed XML)."""
    from monkeys._terminal import printable

    return printable(text).replace("$", r"\$")


def _title(ax: object, text: str) -> None:
    import textwrap

    lines = textwrap.wrap(text, TITLE_WIDTH)[:3]
    ax.set_title(as_text("\n".join(lines)), fontsize=10)  # type: ignore[attr-defined]


def _legend_outside(fig: Figure, ax: Any, extra: list[tuple[Any, str]] | None = None) -> None:
    """A figure legend right of the axes; the figure grows by the legend's width so the plot keeps its size."""
    handles, labels = ax.get_legend_handles_labels()  # type: ignore[attr-defined]
    handles, labels = handles + [h for h, _ in extra or []], labels + [lab for _, lab in extra or []]
    if not handles:
        _place(fig, ax)
        return
    widest = max(len(lab) for lab in labels)
    cols = 1 if len(labels) <= 24 else 2
    legend_width = min(7.0, cols * (0.55 + 0.056 * widest))  # 7 pt text: ~0.05 in a character
    fig.set_figwidth(fig.get_figwidth() + legend_width)
    x1, y1 = _place(fig, ax, right_extra=legend_width)
    fig.legend(handles, [as_text(lab) for lab in labels], fontsize=7, loc="upper left",
               bbox_to_anchor=(x1 + 0.1 / fig.get_figwidth(), y1), frameon=False, ncols=cols, borderaxespad=0.0)


def _log_x(ax: object, *, plain: bool = True) -> None:
    """Log x axis with plain tick labels (1, 10, 100, 1,000 or 1e+15): easier to read than 10^n, and mathtext
    labels are a quarter of a figure's drawing time."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_xscale("log")  # type: ignore[attr-defined]
    fmt = (lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}") if plain else (lambda v, _: f"{v:.0e}")
    ax.xaxis.set_major_formatter(FuncFormatter(fmt))  # type: ignore[attr-defined]
    ax.xaxis.set_minor_formatter(NullFormatter())  # type: ignore[attr-defined]


def _fit_proxy() -> list[tuple[Any, str]]:
    from matplotlib.lines import Line2D

    return [(Line2D([], [], ls="--", color="0.4", lw=1), "dashed: power-law fit")]


def coverage_figure(analyses: list[RunAnalysis], *, title: str = "coverage vs samples") -> Figure:
    """Coverage vs k on a log x axis, a shaded bootstrap band and a dashed power-law fit per run."""
    import numpy as np

    fig = _figure()
    ax = fig.add_subplot()
    fitted = False
    for i, a in enumerate(analyses):
        if not (a.ks or a.grid_ks):
            continue
        color = f"C{i % 10}"
        band = a.grid_band or a.band
        ks = np.asarray(band.ks if band is not None else a.ks)
        cov = band.estimate if band is not None else a.coverage
        label = short(a.run.name) if len(analyses) > 1 else short(a.run.model)
        if len({b.run.model for b in analyses}) > 1 and a.run.model not in a.run.name:
            label += f" ({short(a.run.model, 24)})"
        ax.plot(ks, cov, "o-", color=color, ms=3, label=label)
        if band is not None:
            ax.fill_between(ks, band.lo, band.hi, color=color, alpha=0.2, lw=0)
        if a.fit is not None:
            fitted = True
            grid = np.geomspace(1, max(ks.max() * 4, 8), 200)
            ax.plot(grid, a.fit.predict(grid), "--", color=color, lw=1)
    _log_x(ax)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("samples per problem k")
    ax.set_ylabel("coverage (pass@k)")
    _title(ax, title)
    ax.grid(True, which="both", alpha=0.3)
    _legend_outside(fig, ax, _fit_proxy() if fitted else None)
    return fig


def cost_figure(analyses: list[RunAnalysis], unit: str) -> Figure | None:
    """Coverage vs total inference FLOPs (unit "flops") or dollars ("usd") for every run that has a cost."""
    import numpy as np

    fig = _figure()
    ax = fig.add_subplot()
    drawn = 0
    for i, a in enumerate(analyses):
        per = None if a.cost is None or not (a.ks or a.grid_ks) else (
            a.cost.flops_per_round if unit == "flops" else a.cost.usd_per_round)
        if not per:
            continue
        band = a.grid_band or a.band
        if band is None:
            continue
        x = np.asarray(band.ks, dtype=float) * per
        ax.plot(x, band.estimate, "o-", color=f"C{i % 10}", ms=3, label=short(a.run.name))
        ax.fill_between(x, band.lo, band.hi, color=f"C{i % 10}", alpha=0.2, lw=0)
        drawn += 1
    if not drawn:
        return None
    _log_x(ax, plain=False)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("total inference FLOPs" if unit == "flops" else "total cost (USD)")
    ax.set_ylabel("coverage")
    _title(ax, "coverage vs " + ("FLOPs" if unit == "flops" else "dollars"))
    ax.grid(True, which="both", alpha=0.3)
    _legend_outside(fig, ax)
    return fig


def selection_figure(a: RunAnalysis) -> Figure | None:
    """Selection methods (majority vote, reward model, ...) against coverage: the selection gap."""
    import numpy as np

    if not a.run.selection or not (a.ks or a.grid_ks):
        return None
    fig = _figure()
    ax = fig.add_subplot()
    band = a.grid_band or a.band
    ks_all, cov = (band.ks, band.estimate) if band is not None else (a.ks, a.coverage)
    ax.plot(ks_all, cov, "o-", color="k", ms=3, label="coverage (oracle verifier)")
    for i, (method, points) in enumerate(sorted(a.run.selection.items())):
        ks = np.asarray(sorted(points))
        ax.plot(ks, [points[k] for k in ks], "s--", color=f"C{i % 10}", ms=3, label=method)
    _log_x(ax)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("samples per problem k")
    ax.set_ylabel("success rate")
    _title(ax, f"{short(a.run.name, 48)}: selection methods vs coverage")
    ax.grid(True, which="both", alpha=0.3)
    _legend_outside(fig, ax)
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
    cax = fig.add_axes((0, 0, 1, 1))
    im = ax.imshow(data, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks(range(len(a.ks)), [str(k) for k in a.ks], fontsize=7)
    ax.set_ylabel("k")
    ax.set_xlabel(f"problems ({len(order)} of {len(a.run.c)}, easiest first)")
    solved = int((a.run.c > 0).sum())
    _title(ax, f"{short(a.run.name, 48)}: pass@k per problem · {solved}/{len(a.run.c)} solved at least once")
    x1, y1 = _place(fig, ax, right_extra=0.9)
    y0 = _MARGINS["bottom"] / fig.get_figheight()
    cax.set_position((x1 + 0.15 / fig.get_figwidth(), y0, 0.15 / fig.get_figwidth(), y1 - y0))
    fig.colorbar(im, cax=cax, label="pass@k")
    return fig


def png_bytes(fig: Figure) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def save(fig: Figure, path: Path, *, svg: bool = True, png: bytes | None = None) -> list[Path]:
    """Write `path` (PNG; `png` when already rendered) and, with `svg`, the same figure beside it as SVG (both
    0600, like the store they are drawn from); return what was written. Each file is replaced whole or left
    as it was: a failed write (a full disk) leaves no truncated figure. Raises `OSError`."""
    from monkeys._userfiles import write_atomically

    path = Path(path)
    data = png if png is not None else png_bytes(fig)
    write_atomically(path, lambda tmp: tmp.write_bytes(data))
    written = [path]
    if svg:
        write_atomically(path.with_suffix(".svg"), lambda tmp: fig.savefig(tmp))
        written.append(path.with_suffix(".svg"))
    return written
