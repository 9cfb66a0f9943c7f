"""The report of a run that stopped problems early (`--until-solved`, a budget, adaptive rounds).

Coverage comes from `analysis.early_stop` (1[first pass within k], unbiased under that stopping rule), only
for the ks no problem is censored at; the notes say which estimator was used, how many samples each problem
got and why it stopped, and for a run stopped at first passes what it saved against a fixed n.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from monkeys.analysis.cost import ModelSpec, Price, find_model, find_price, run_cost
from monkeys.analysis.early_stop import ESTIMATOR, FirstPasses, coverage_band, savings
from monkeys.analysis.fit import fit_signal
from monkeys.analysis.passk import default_ks

if TYPE_CHECKING:
    from monkeys.report.analyze import RunAnalysis
    from monkeys.report.data import RunData

_LISTED = 12  # problems listed one by one in the samples-per-problem note; more are summarised


def analyze_early(run: RunData, *, ks: list[int] | None, prices: dict[str, Price] | None,
                  specs: dict[str, ModelSpec] | None, n_boot: int, seed: int) -> RunAnalysis:
    """`analyze.analyze_run` for an early-stopped run (`run.first_passes` set)."""
    from monkeys.report.analyze import RunAnalysis, _sub_band, fit_power_law_into

    unsampled = [i for i, pid in enumerate(run.problem_ids)
                 if getattr(run.stops.get(pid), "reason", "") == "budget" and not run.stops[pid].drawn]
    if unsampled and len(unsampled) < len(run.problem_ids):
        # Problems the budget left without a single sample say nothing: leave them out (the report then says
        # so). Which problems were reached did not depend on their own outcomes, so the rest stay unbiased.
        keep = np.array([i for i in range(len(run.problem_ids)) if i not in set(unsampled)])
        fp = run.first_passes
        run = replace(run, problem_ids=[run.problem_ids[i] for i in keep], n=run.n[keep], c=run.c[keep],
                      first_passes=FirstPasses([fp.problem_ids[i] for i in keep], fp.prefix[keep], fp.first[keep]))
    fp = run.first_passes
    k_max = fp.max_k(int(run.config.get("n") or 0))
    asked = sorted(set(ks)) if ks else None
    notes = stop_notes(run, k_max)
    if unsampled and len(unsampled) < len(run.problem_ids) + len(unsampled):
        notes.append(f"{len(unsampled):,} problems the budget left without a sample are left out: coverage is over"
                     f" the {len(run.problem_ids):,} problems sampled")
    if run.selection:  # majority vote etc. over k of a problem's samples: as biased as pass@k here
        run.selection = {}
        notes.append("selection methods (majority vote, ...) not shown: they need n samples of every problem")
    if k_max < 1:
        return RunAnalysis(run, [], np.zeros(0), None, np.zeros((len(run.n), 0)), extras=notes,
                           estimator=ESTIMATOR, k_max=0)
    grid = default_ks(k_max)
    shown = grid if asked is None else [k for k in asked if k <= k_max]
    missing = [] if asked is None else [k for k in asked if k > k_max]
    union = sorted(set(grid) | set(shown))
    band_all = coverage_band(fp, union, n_boot=n_boot, seed=seed)
    band = _sub_band(band_all, [union.index(k) for k in shown])
    grid_band = _sub_band(band_all, [union.index(k) for k in grid])
    out = RunAnalysis(run, shown, band.estimate, band if shown else None, fp.per_problem(shown), missing_ks=missing,
                      grid_ks=grid, grid_band=grid_band, extras=notes, estimator=ESTIMATOR, k_max=k_max)
    reason = fit_signal(run.n, run.c)
    if reason is None:
        fit_power_law_into(out, grid, grid_band, n_boot)
    else:
        out.fit_reason = reason
    out.beta_reason = "needs n samples of every problem; this run stopped problems early"
    price = find_price(run.model, prices) if prices else None
    out.cost = run_cost(run.model, run.tokens, len(run.problem_ids), spec=find_model(run.model, specs), price=price)
    return out


def stop_notes(run: RunData, k_max: int) -> list[str]:
    """The estimator, samples drawn per problem with why each stopped, censoring, and samples saved."""
    from monkeys.report.analyze import pct

    fp = run.first_passes
    drawn = np.array([run.stops[p].drawn if p in run.stops else int(n) for p, n in zip(run.problem_ids, run.n,
                                                                                         strict=True)])
    reasons = [run.stops[p].reason if p in run.stops else "running" for p in run.problem_ids]
    counts = {r: reasons.count(r) for r in ("solved", "cap", "budget", "running") if r in reasons}
    words = {"solved": "at their first pass", "cap": "at the cap", "budget": "by the budget",
             "running": "not stopped (the run was interrupted)"}
    lines = [f"coverage estimator: {ESTIMATOR}; pass@k on the drawn samples would be biased where how many"
             " samples a problem got depends on its outcomes"]
    stopped = ", ".join(f"{v:,} {words[k]}" for k, v in counts.items())
    if len(drawn) <= _LISTED:
        each = ", ".join(f"{p} {d:,} ({r})" for p, d, r in zip(run.problem_ids, drawn.tolist(), reasons, strict=True))
        lines.append(f"samples per problem: {each}; {int(drawn.sum()):,} in all")
    else:
        lines.append(f"samples per problem: min {int(drawn.min()):,}, median {float(np.median(drawn)):,.0f},"
                     f" max {int(drawn.max()):,}; {int(drawn.sum()):,} in all")
    lines.append(f"problems stopped: {stopped}")
    cap = int(run.config.get("n") or 0)
    censored = [p for p, r in zip(run.problem_ids, reasons, strict=True) if r != "solved"]
    if counts.get("budget"):
        lines.append(f"coverage beyond k={k_max:,} is not estimated: a problem the budget stopped without a pass"
                     f" got only {k_max:,} samples (censored there)")
    elif cap and not counts.get("running") and k_max >= cap and np.isfinite(at_cap := float(fp.coverage([cap])[0])):
        saved = savings(drawn, cap)
        lines.append(f"samples saved: {saved.drawn:,} drawn for {pct(at_cap)} coverage at k={cap:,}; a fixed n={cap:,}"
                     f" run reaches the same coverage (same seeds and batches, same samples) with {saved.fixed:,}:"
                     f" {saved.saved:,} saved ({saved.fraction:.0%})")
    elif censored and k_max < cap:
        lines.append(f"coverage beyond k={k_max:,} is not estimated: some problems without a pass have only"
                     f" {k_max:,} verified samples")
    return lines
