"""Everything the report computes about runs, computed once and shared by terminal, plots, HTML, JSON and CSV.

Each optional piece (fit, Beta estimate, cost, comparison) is None or absent when the data cannot support
it (too few points, unknown model shape, no price), and the renderers leave that part out or say why.
`report_document` and `report_tables` are the machine-readable forms: one JSON document, and the same
numbers as flat tables (one CSV each); coverage there is a fraction in [0, 1] at full precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations, pairwise
from typing import Any

import numpy as np

from monkeys.analysis.bootstrap import Band, Comparison, compare_at_k, coverage_band
from monkeys.analysis.cost import ModelSpec, Price, RunCost, cheapest, find_model, find_price, run_cost
from monkeys.analysis.fit import BetaFit, PowerLawFit, fit_beta, fit_power_law_draws, fit_signal
from monkeys.analysis.passk import default_ks, pass_at_ks
from monkeys.report import swe
from monkeys.report.data import RunData

TARGETS = (0.5, 0.8, 0.9)  # coverage levels for "k needed" and cost-optimal choices
ALL_PAIRS_UP_TO = 4  # more runs than this are compared neighbour to neighbour in the ranking


def pct(x: float | None) -> str:
    """Coverage as a percent that shows small values and small gaps to 100%: three significant digits of
    whichever of x and 1 - x is smaller (0.0002 → 0.0200%, 0.5 → 50.0%, 0.9995 → 99.9500%)."""
    if x is None or not math.isfinite(x):
        return "–"
    p = 100.0 * x
    if p <= 0:
        return "0%"
    if p >= 100:
        return "100%"
    small = min(p, 100.0 - p)
    decimals = min(8, max(1, 2 - math.floor(math.log10(small))))
    return f"{p:.{decimals}f}%"


def k_text(ks: list[int] | tuple[int, ...]) -> str:
    """A k grid in a few words: the list when short, else its ends and spacing."""
    ks = list(ks)
    if len(ks) <= 6:
        return ", ".join(f"{k:,}" for k in ks)
    doubling = all(b == 2 * a for a, b in pairwise(ks[:-1]))
    return f"{ks[0]:,}, {ks[1]:,}, …, {ks[-1]:,} ({len(ks)} ks{', doubling' if doubling else ''})"


@dataclass
class RunAnalysis:
    """Coverage with a band, and (when they could be computed) fits and cost, of one run.

    `ks`/`coverage`/`band`/`per_problem` are the ks shown (asked for with `--k`, else 1, 2, 4, …, n) that
    every problem has samples for; `missing_ks` were asked for but lie beyond some problem's samples.
    `grid_ks`/`grid_band` are the doubling grid the fit and the figures use.
    """

    run: RunData
    ks: list[int]
    coverage: np.ndarray
    band: Band | None
    per_problem: np.ndarray  # (problems, ks) pass@k
    fit: PowerLawFit | None = None
    beta: BetaFit | None = None
    cost: RunCost | None = None
    extras: list[str] = field(default_factory=list)
    missing_ks: list[int] = field(default_factory=list)
    grid_ks: list[int] = field(default_factory=list)
    grid_band: Band | None = None
    fit_reason: str | None = None  # why there is no power-law fit
    beta_reason: str | None = None  # why there is no Beta fit
    estimator: str | None = None  # how coverage was estimated; None: pass@k (`early_stop.FIXED_ESTIMATOR`)
    k_max: int | None = None  # an early-stopped run: the largest k no problem is censored at

    @property
    def n_min(self) -> int:
        if self.k_max is not None:
            return self.k_max
        return int(self.run.n.min()) if len(self.run.n) else 0

    def problem_coverage(self, ks: list[int]) -> np.ndarray:
        """(problems, ks) coverage per problem, by the estimator this run needs (`estimator`)."""
        if self.run.first_passes is not None:
            return np.asarray(self.run.first_passes.per_problem(ks))
        return pass_at_ks(self.run.n, self.run.c, ks)

    def notes(self) -> list[str]:
        """Short lines under the run's table: missing ks, fits, extrapolation, integrity, time-outs."""
        lines = []
        if self.missing_ks:
            lines.append(f"k = {', '.join(f'{k:,}' for k in self.missing_ks)} not shown: beyond this run's samples"
                         f" ({self.n_min:,} per problem at least); nothing is extrapolated")
        if self.fit is not None:
            f = self.fit
            lines.append(f"power-law fit: coverage ≈ exp(a·k^b), a = {f.a:.3g} [{f.a_ci[0]:.3g}, {f.a_ci[1]:.3g}],"
                         f" b = {f.b:.3g} [{f.b_ci[0]:.3g}, {f.b_ci[1]:.3g}], fitted on k = {k_text(f.ks)},"
                         f" rmse {pct(f.rmse)} ({f.method})")
            far = 10 * self.n_min
            lo, hi = f.predict_ci(far)
            lines.append(f"extrapolated coverage at k={far:,}: {pct(float(f.predict(far)))}"
                         f" [{pct(float(lo[0]))}, {pct(float(hi[0]))}]")
            for t in TARGETS:
                k, klo, khi = f.k_for(t)
                if self.grid_band is not None and t > self.grid_band.estimate[0]:
                    lines.append(f"k for {t:.0%} coverage: {_k(k)} [{_k(klo)}, {_k(khi)}]")
        elif self.fit_reason:
            lines.append(f"power-law fit: not enough signal to fit ({self.fit_reason})")
        if self.beta is not None:
            bt, k = self.beta, self.n_min
            lines.append(f"Beta per-problem fit: α = {bt.alpha_:.3g} [{bt.alpha_ci[0]:.3g}, {bt.alpha_ci[1]:.3g}],"
                         f" β = {bt.beta_:.3g}; predicts {pct(float(bt.coverage(k)))} at k={k:,}"
                         f" (observed {pct(self.observed(k))})")
        elif self.beta_reason:
            lines.append(f"Beta per-problem fit: not enough signal to fit ({self.beta_reason})")
        run = self.run
        if run.flagged:
            policy = (run.config.get("verifier_options") or {}).get("flagged", "fail")
            lines.append(f"flagged passes (counted as {policy}): " + _per_problem(run.flagged))
        if run.timeouts:
            limits = run.timeout_limits
            which = ", ".join(f"{k} {v:,}" for k, v in sorted(limits.items()) if v)
            lines.append("time-outs: " + _per_problem(run.timeouts, f" ({which})" if which else ""))
        if run.stripped:
            lines.append(f"top-level code stripped before the tests: {run.stripped} of {run.n_samples} samples")
        if run.revisions is not None:
            old, new = run.revisions
            lines.append(f"verdicts made by revision {old} of {run.verifier}, this monkeys has revision {new}:"
                         f" counted by the old rules; `monkeys verify {run.run_dir} --reverify` re-checks them"
                         + (" (with the --verifier and --verifier-option that made them)" if "[" in str(run.verifier)
                            else ""))
        return lines + self.extras

    def observed(self, k: int) -> float | None:
        """Coverage at k from the data (None beyond the samples)."""
        if k < 1 or k > self.n_min:
            return None
        return float(self.problem_coverage([k]).mean())

    def cost_text(self, unit: str) -> str:
        value = self.cost_value(unit)
        if value is None:
            return "-"
        return f"{value:.3g}" if unit == "flops" else f"${value:,.2f}"

    def cost_value(self, unit: str) -> float | None:
        if self.cost is None:
            return None
        return self.cost.total_flops if unit == "flops" else self.cost.total_usd


def _per_problem(counts: dict[str, int], limits: str = "") -> str:
    worst = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    return (f"{sum(counts.values()):,} samples on {len(counts):,} problems{limits}: "
            + ", ".join(f"{p} ({c:,})" for p, c in worst) + (" …" if len(counts) > 5 else ""))


def _k(k: float) -> str:
    return "∞" if not np.isfinite(k) else f"{k:,.0f}" if k < 1e7 else f"{k:.1e}"


def _sub_band(band: Band, idx: list[int]) -> Band:
    return Band([band.ks[i] for i in idx], band.estimate[idx], band.lo[idx], band.hi[idx], band.draws[:, idx],
                band.level, band.alpha)


def analyze_run(run: RunData, *, ks: list[int] | None = None, prices: dict[str, Price] | None = None,
                specs: dict[str, ModelSpec] | None = None, n_boot: int = 500, seed: int = 0) -> RunAnalysis:
    """Coverage at `ks` (default 1, 2, 4, … up to the smallest per-problem sample count) with a bootstrap
    band, fits on the doubling grid, and cost. Asked-for ks beyond the samples are listed, never estimated."""
    if run.first_passes is not None:  # problems stopped early: pass@k would be biased (see analysis.early_stop)
        from monkeys.report.early import analyze_early

        return analyze_early(run, ks=ks, prices=prices, specs=specs, n_boot=n_boot, seed=seed)
    n_min = int(run.n.min()) if len(run.n) else 0
    asked = sorted(set(ks)) if ks else None
    if n_min < 1:
        return RunAnalysis(run, [], np.zeros(0), None, np.zeros((len(run.n), 0)))
    grid = default_ks(n_min)
    shown = grid if asked is None else [k for k in asked if k <= n_min]
    missing = [] if asked is None else [k for k in asked if k > n_min]
    union = sorted(set(grid) | set(shown))
    band_all = coverage_band(run.n, run.c, union, n_boot=n_boot, seed=seed)
    band = _sub_band(band_all, [union.index(k) for k in shown])
    grid_band = _sub_band(band_all, [union.index(k) for k in grid])
    per_problem = pass_at_ks(run.n, run.c, shown)
    out = RunAnalysis(run, shown, band.estimate, band if shown else None, per_problem, missing_ks=missing,
                      grid_ks=grid, grid_band=grid_band)
    reason = fit_signal(run.n, run.c)
    if reason is None:
        fit_power_law_into(out, grid, grid_band, n_boot)
        if n_min >= 2:
            try:
                out.beta = fit_beta(run.n, run.c)
            except (ValueError, np.linalg.LinAlgError) as exc:
                out.beta_reason = str(exc)
    else:
        out.fit_reason = out.beta_reason = reason
    price = find_price(run.model, prices) if prices else None
    spec = find_model(run.model, specs)
    out.cost = run_cost(run.model, run.tokens, len(run.problem_ids), spec=spec, price=price)
    return out


@dataclass
class RunsComparison:
    """The runs × ks coverage matrix (ranked), pairwise comparisons and the cost-optimal choices."""

    lines: list[str]
    comparisons: list[tuple[str, str, Comparison]]
    cheapest: dict[str, Any]
    matrix_ks: list[int] = field(default_factory=list)
    matrix: list[dict[str, Any]] = field(default_factory=list)  # ranked rows: run, model, coverage {k: v|None}


def matrix_ks_for(analyses: list[RunAnalysis], asked: list[int] | None) -> list[int]:
    """The matrix's columns: the asked-for ks, else 1, 10, 100, … below the largest k all runs share, and
    that k."""
    if asked:
        return sorted(set(asked))
    ready = [a.n_min for a in analyses if a.ks]
    if not ready:
        return []
    top = min(ready)
    out = [10**i for i in range(int(math.log10(top)) + 1) if 10**i < top]
    return [*out, top]


def compare_runs(analyses: list[RunAnalysis], *, ks: list[int] | None = None) -> RunsComparison:
    """Rank runs by coverage at the largest k they all have; compare pairs (all of them for a few runs,
    neighbours in the ranking for many) at that k and at k=100; find the cheapest run per target."""
    ready = [a for a in analyses if a.ks]
    mks = matrix_ks_for(analyses, ks)
    rows: list[dict[str, Any]] = []
    for a in analyses:
        usable = [k for k in mks if a.ks and k <= a.n_min]
        values = dict(zip(usable, a.problem_coverage(usable).mean(axis=0).tolist(), strict=True)) \
            if usable else {}
        rows.append({"run": a.run.name, "model": a.run.model, "problems": len(a.run.problem_ids),
                     "samples": a.run.n_samples, "max_k": a.n_min if a.ks else 0,
                     "coverage_at_max_k": float(a.coverage[-1]) if a.ks and a.ks[-1] == a.n_min
                     else a.observed(a.n_min),
                     "coverage": {k: values.get(k) for k in mks},
                     "flops": a.cost_value("flops"), "usd": a.cost_value("usd")})
    common = [k for k in mks if all(r["coverage"][k] is not None for r in rows if r["max_k"])]
    rank_k = common[-1] if common else None
    rows.sort(key=lambda r: (-(r["coverage"].get(rank_k) or -1.0) if rank_k else 0.0, -(r["max_k"] or 0)))
    lines, comps = [], []
    by_name = {a.run.name: a for a in ready}
    ranked = [by_name[r["run"]] for r in rows if r["run"] in by_name]
    pairs = combinations(ranked, 2) if len(ranked) <= ALL_PAIRS_UP_TO else pairwise(ranked)
    for x, y in pairs:
        if x.run.first_passes is not None or y.run.first_passes is not None:
            early = x.run.name if x.run.first_passes is not None else y.run.name
            lines.append(f"{x.run.name} vs {y.run.name}: not compared pairwise ({early} stopped problems early;"
                         " the paired bootstrap needs n samples of every problem)")
            continue
        top = min(x.n_min, y.n_min)
        for k in sorted({k for k in (100, top) if k <= top}):
            try:
                c = compare_at_k((x.run.problem_ids, x.run.n, x.run.c), (y.run.problem_ids, y.run.n, y.run.c), k)
            except ValueError:
                continue
            comps.append((x.run.name, y.run.name, c))
            lines.append(c.verdict(x.run.name, y.run.name))
    if len(ranked) > ALL_PAIRS_UP_TO and comps:
        lines.insert(0, f"{len(ranked)} runs: each compared with the next in the ranking")
    best: dict[str, Any] = {}
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for unit in ("flops", "usd"):
        options = []
        for a in ready:
            per = None if a.cost is None else (a.cost.flops_per_round if unit == "flops" else a.cost.usd_per_round)
            if per:
                if a.run.name not in curves:
                    full = np.arange(1, a.n_min + 1)
                    curves[a.run.name] = (full, a.problem_coverage(list(full)).mean(axis=0))
                options.append((a.run.name, *curves[a.run.name], per))
        for t in TARGETS:
            hit = cheapest(options, t) if options else None
            if hit:
                best[f"{unit}@{t}"] = hit
                amount = f"{hit[2]:.3g} FLOPs" if unit == "flops" else f"${hit[2]:,.4f}"
                lines.append(f"cheapest to {t:.0%} coverage by {unit}: {hit[0]} with k={hit[1]} ({amount})")
    return RunsComparison(lines, comps, best, mks, rows)


# ---- machine-readable forms --------------------------------------------------------------------------


def _num(x: Any) -> Any:
    """Plain JSON numbers: numpy scalars to Python, NaN/inf to None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _fit_doc(a: RunAnalysis) -> dict[str, Any]:
    f = a.fit
    if f is None:
        return {"status": "no fit", "reason": a.fit_reason or "not computed"}
    far = 10 * a.n_min
    lo, hi = f.predict_ci(far)
    targets = {}
    for t in TARGETS:
        k, klo, khi = f.k_for(t)
        targets[str(t)] = {"k": _num(k), "ci": [_num(klo), _num(khi)]}
    return {"status": "ok", "model": "coverage = exp(a * k**b)", "a": _num(f.a), "a_ci": [_num(v) for v in f.a_ci],
            "b": _num(f.b), "b_ci": [_num(v) for v in f.b_ci], "fitted_ks": list(f.ks), "rmse": _num(f.rmse),
            "interval_method": f.method, "extrapolated": {"k": far, "coverage": _num(f.predict(far)),
                                                           "ci": [_num(lo[0]), _num(hi[0])]},
            "k_for_coverage": targets}


def _beta_doc(a: RunAnalysis) -> dict[str, Any]:
    bt = a.beta
    if bt is None:
        return {"status": "no fit", "reason": a.beta_reason or "not computed"}
    k = a.n_min
    return {"status": "ok", "alpha": _num(bt.alpha_), "alpha_ci": [_num(v) for v in bt.alpha_ci],
            "beta": _num(bt.beta_), "beta_ci": [_num(v) for v in bt.beta_ci],
            "at_largest_k": {"k": k, "predicted": _num(bt.coverage(k)), "observed": _num(a.observed(k))}}


def _stop_doc(a: RunAnalysis) -> dict[str, Any]:
    """The estimator used, and for a run whose store records stops, the samples drawn per problem and why
    sampling stopped."""
    from monkeys.analysis.early_stop import FIXED_ESTIMATOR

    doc: dict[str, Any] = {"estimator": a.estimator or FIXED_ESTIMATOR}
    if a.run.stops:
        doc["stops"] = {pid: {"drawn": s.drawn, "reason": s.reason} for pid, s in a.run.stops.items()}
    return doc


def run_document(a: RunAnalysis) -> dict[str, Any]:
    """One run as plain JSON values: coverage rows (null beyond the samples), fits, cost, selection, ..."""
    run = a.run
    rows = []
    for i, k in enumerate(a.ks):
        rows.append({"k": k, "coverage": _num(a.coverage[i]), "coverage_text": pct(a.coverage[i]),
                     "ci": [_num(a.band.lo[i]), _num(a.band.hi[i])] if a.band is not None else None,
                     "fit": _num(a.fit.predict(k)) if a.fit is not None else None})
    for k in a.missing_ks:
        rows.append({"k": k, "coverage": None, "coverage_text": None, "ci": None, "fit": None,
                     "note": f"beyond this run's samples ({a.n_min} per problem at least)"})
    rows.sort(key=lambda r: r["k"])
    cost = None
    if a.cost is not None:
        cost = {"flops_per_round": _num(a.cost.flops_per_round), "usd_per_round": _num(a.cost.usd_per_round),
                "total_flops": _num(a.cost.total_flops), "total_usd": _num(a.cost.total_usd),
                "samples_per_problem": _num(a.cost.n_rounds)}
    return {
        "name": run.name, "run_dir": str(run.run_dir), "model": run.model, "verifier": run.verifier,
        "verifiers": list(run.verifiers), **_stop_doc(a),
        "problems": len(run.problem_ids), "samples": run.n_samples, "min_samples_per_problem": a.n_min,
        "problems_solved": int((run.c > 0).sum()), "coverage": rows,
        "coverage_interval": None if a.band is None else "95% bootstrap (problems resampled)" if a.estimator
        else "95% bootstrap (problems and samples resampled)",
        "power_law_fit": _fit_doc(a), "beta_fit": _beta_doc(a), "cost": cost,
        "selection": {m: {str(k): _num(v) for k, v in sorted(pts.items())} for m, pts in sorted(run.selection.items())},
        "timeouts": {"samples": sum(run.timeouts.values()), "by_limit": dict(run.timeout_limits),
                     "per_problem": dict(run.timeouts)},
        "flagged_passes": dict(sorted(run.flagged.items())), "stripped_samples": run.stripped,
        "notes": a.notes(), "swe": swe.document(a),
    }


def report_document(analyses: list[RunAnalysis], comparison: RunsComparison) -> dict[str, Any]:
    """Everything the report says, as one JSON-ready document (coverage as fractions)."""
    return {
        "format": "monkeys-report/1",
        "coverage_unit": "fraction of problems (0..1)",
        "runs": [run_document(a) for a in analyses],
        "comparison": {
            "ks": comparison.matrix_ks,
            "ranking": [{**r, "coverage": {str(k): _num(v) for k, v in r["coverage"].items()},
                         "coverage_at_max_k": _num(r["coverage_at_max_k"]), "flops": _num(r["flops"]),
                         "usd": _num(r["usd"])} for r in comparison.matrix],
            "pairs": [{"a": x, "b": y, "k": c.k, "diff": _num(c.diff), "ci": [_num(c.lo), _num(c.hi)],
                       "p_better": _num(c.p_better), "paired": c.paired, "problems": c.n_problems,
                       "verdict": c.verdict(x, y)} for x, y, c in comparison.comparisons],
            "cheapest": [{"unit": key.split("@")[0], "target": float(key.split("@")[1]), "run": hit[0], "k": hit[1],
                          "amount": _num(hit[2])} for key, hit in comparison.cheapest.items()],
        },
    }


Table = tuple[list[str], list[list[Any]]]


def report_tables(analyses: list[RunAnalysis], comparison: RunsComparison) -> dict[str, Table]:
    """The report's tables as (columns, rows) of plain values, one row per run × item: what CSV writes."""
    doc = report_document(analyses, comparison)
    cov_rows, fit_rows, beta_rows, sel_rows, to_rows, flag_rows = [], [], [], [], [], []
    swe_rows: dict[str, list[list[Any]]] = {name: [] for name in swe.COLUMNS}
    for r in doc["runs"]:
        for row in r["coverage"]:
            ci = row["ci"] or [None, None]
            cov_rows.append([r["name"], row["k"], row["coverage"], ci[0], ci[1], row["fit"], row.get("note", "")])
        f, b = r["power_law_fit"], r["beta_fit"]
        fit_rows.append([r["name"], f["status"], f.get("a"), *(f.get("a_ci") or [None, None]), f.get("b"),
                         *(f.get("b_ci") or [None, None]), " ".join(map(str, f.get("fitted_ks", []))),
                         f.get("rmse"), f.get("reason", "")])
        at = b.get("at_largest_k") or {}
        beta_rows.append([r["name"], b["status"], b.get("alpha"), *(b.get("alpha_ci") or [None, None]),
                          b.get("beta"), at.get("k"), at.get("predicted"), at.get("observed"), b.get("reason", "")])
        for method, pts in r["selection"].items():
            sel_rows += [[r["name"], method, int(k), v] for k, v in pts.items()]
        to_rows += [[r["name"], p, c] for p, c in r["timeouts"]["per_problem"].items()]
        flag_rows += [[r["name"], p, c] for p, c in r["flagged_passes"].items()]
        for name, rows in swe.tables(r["name"], r["swe"]).items():
            swe_rows[name] += rows
    comp = doc["comparison"]
    ks = comp["ks"]
    ranking = [[i + 1, r["run"], r["model"], r["problems"], r["samples"], r["max_k"], r["coverage_at_max_k"],
                *(r["coverage"][str(k)] for k in ks), r["flops"], r["usd"]] for i, r in enumerate(comp["ranking"])]
    return {
        "coverage": (["run", "k", "coverage", "ci_lo", "ci_hi", "fit", "note"], cov_rows),
        "power_law_fit": (["run", "status", "a", "a_lo", "a_hi", "b", "b_lo", "b_hi", "fitted_ks", "rmse",
                           "reason"], fit_rows),
        "beta_fit": (["run", "status", "alpha", "alpha_lo", "alpha_hi", "beta", "k", "predicted", "observed",
                      "reason"], beta_rows),
        "selection": (["run", "method", "k", "accuracy"], sel_rows),
        "timeouts": (["run", "problem", "timeouts"], to_rows),
        "flagged": (["run", "problem", "flagged_passes"], flag_rows),
        "ranking": (["rank", "run", "model", "problems", "samples", "max_k", "coverage_at_max_k",
                     *(f"coverage_at_{k}" for k in ks), "flops", "usd"], ranking),
        "pairs": (["a", "b", "k", "diff", "ci_lo", "ci_hi", "p_better", "paired", "problems"],
                  [[p["a"], p["b"], p["k"], p["diff"], *p["ci"], p["p_better"], p["paired"], p["problems"]]
                   for p in comp["pairs"]]),
        "cheapest": (["unit", "target", "run", "k", "amount"],
                     [[c["unit"], c["target"], c["run"], c["k"], c["amount"]] for c in comp["cheapest"]]),
        **{name: (swe.COLUMNS[name], rows) for name, rows in swe_rows.items() if rows},
    }


def fit_power_law_into(out: RunAnalysis, grid: list[int], grid_band: Any, n_boot: int) -> None:
    """The paper's power law fitted to the coverage band on the k grid (with its bootstrap draws), or why not."""
    try:
        out.fit = fit_power_law_draws(np.asarray(grid), grid_band.estimate, grid_band.draws, max_refits=n_boot)
    except ValueError as exc:
        out.fit_reason = str(exc)
