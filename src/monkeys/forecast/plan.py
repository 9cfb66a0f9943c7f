"""`monkeys plan`: read a pilot run, forecast, price, and render (terminal table or one JSON document)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from monkeys._terminal import printable
from monkeys.analysis.cost import load_cost_file
from monkeys.errors import DataError
from monkeys.forecast.budget import Budget, budget, round_cost
from monkeys.forecast.engine import BRACKET, COMBINED, PRIMARY, TOP, Forecast, Pilot, forecast
from monkeys.report.data import RunData, load_run

WIDE = 0.3  # an interval wider than 30 points is flagged as barely constrained by the pilot


@dataclass
class Plan:
    run: RunData
    fc: Forecast
    ks: list[int]
    target: float
    coverage: tuple[np.ndarray, np.ndarray, np.ndarray]  # (point, lo, hi) at ks, realised coverage
    need: Budget | None  # None when nothing can be forecast
    need_reason: str | None


def read_pilot(run_dir: Path, verifier: str | None) -> tuple[RunData, Pilot]:
    """The run as the report reads it, plus its verdicts in sample order; `DataError` when the verifier has
    no verdicts there."""
    from monkeys.store import read_results, read_store, verifiers

    run = load_run(run_dir, verifier)

    def read(db: Any) -> tuple[Any, list[str]]:
        return read_results(db, run.verifier), verifiers(db)

    results, known = read_store(run_dir, read)
    if verifier is not None and verifier not in known:
        raise DataError(f"{run_dir}: no verdicts of verifier {verifier!r} in this run (it has: "
                        f"{', '.join(known) or 'none'})")
    return run, Pilot(results.problem_ids, results.correct)


def make_plan(run_dir: Path, ks: list[int] | None, target: float, verifier: str | None = None,
              pricing: Path | None = None, n_boot: int = 200, seed: int = 0) -> Plan:
    run, pilot = read_pilot(run_dir, verifier)
    prices, specs = load_cost_file(pricing) if pricing is not None else (None, None)
    n_max = int(pilot.n.max()) if len(pilot.n) else 0
    ks = ks or [10 * max(n_max, 1), 100 * max(n_max, 1)]
    fc = forecast(pilot, ks, n_boot=n_boot, seed=seed)
    cov = fc.coverage(ks) if fc.chosen is not None else tuple(np.full(len(ks), np.nan) for _ in range(3))
    need, why = None, None
    within = len(fc.pilot_curve) > 0 and float(fc.pilot_curve.max()) >= target  # the pilot's own curve gets there
    if fc.chosen is None and not within:
        why = fc.reason
    else:  # a pilot too small to forecast from still shows the k its own curve reaches the target at
        k = fc.k_needed(target)
        problems = fc.n_problems
        cost = round_cost(run.model, run.tokens, len(run.problem_ids), prices, specs)
        need = budget(k, problems, run.tokens, cost)
        if not math.isfinite(k[0]):
            why = (f"the forecast does not reach {target:.0%} coverage by k = {int(fc.grid[-1]):,}: most unsolved"
                   " problems look unsolvable to it")
        elif not math.isfinite(k[2]):
            why = (f"the upper end cannot be bounded: some plausible forecasts never reach {target:.0%} by"
                   f" k = {int(fc.grid[-1]):,}")
    return Plan(run, fc, ks, target, cov, need, why)  # type: ignore[arg-type]


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def document(plan: Plan) -> dict[str, Any]:
    """One JSON document: fractions in [0, 1]; null where a number cannot be given (with the reason)."""
    fc = plan.fc
    point, lo, hi = plan.coverage
    models = [{"name": m.name, "weight": m.weight, "kept": m.kept, "heldout_loglik": _num(m.heldout),
               "params": {key: _num(value) for key, value in m.params.items()},
               "role": "upper bracket" if m.name == BRACKET else "forecaster", "note": m.reason}
              for m in fc.models.values()]
    rows = []
    for i, k in enumerate(plan.ks):
        rows.append({"k": k, "coverage": _num(point[i]), "lo": _num(lo[i]), "hi": _num(hi[i]),
                     "observed": bool(k <= fc.n_min) or fc.chosen == "observed"})
    need = None
    if plan.need is not None:
        need = {"k": plan.need.k.as_dict(), "samples": plan.need.samples.as_dict(),
                "tokens": plan.need.tokens.as_dict(), "flops": plan.need.flops.as_dict(),
                "usd": plan.need.usd.as_dict(), "unknown": plan.need.unknown}
    return {
        "run": str(plan.run.run_dir), "model": plan.run.model, "verifier": plan.run.verifier,
        "problems": fc.n_problems, "problems_without_samples": fc.unsampled, "solved_in_pilot": fc.solved,
        "samples_per_problem": {"min": fc.n_min, "max": fc.n_max},
        "pilot": [{"k": int(k), "coverage": float(c)} for k, c in zip(fc.pilot_ks, fc.pilot_curve, strict=True)
                  if k & (k - 1) == 0 or k == fc.n_min],  # 1, 2, 4, …, n
        "forecast": {"method": fc.chosen, "reason": fc.reason, "interval": 1 - fc.alpha,
                     "truth": "realised coverage of these problems at k (pilot samples included)",
                     "models": models, "coverage": rows},
        "target": {"coverage": plan.target, "reason": plan.need_reason, **({"need": need} if need else {})},
        "searched_up_to_k": int(fc.grid[-1]),
    }


def pct(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return f"{100 * x:.1f}%"


def _k(x: float | None) -> str:
    return "unbounded" if x is None else f"{x:,.0f}"


def _sci(x: float | None) -> str:
    return "unbounded" if x is None else f"{x:.3g}"


def _usd(x: float | None) -> str:
    return "unbounded" if x is None else f"${x:,.2f}"


def render(plan: Plan, console: Any) -> None:
    """The terminal view: what the pilot is, the forecast at each k, the k and cost for the target."""
    from rich.table import Table

    fc, run = plan.fc, plan.run
    n_text = f"{fc.n_min:,}" if fc.n_min == fc.n_max else f"{fc.n_min:,}–{fc.n_max:,}"
    console.print(printable(f"plan from {run.run_dir}: {run.model} · {fc.n_problems} problems × {n_text} samples"
                            f" · verifier {run.verifier} · solved in the pilot: {fc.solved}/{fc.n_problems}"),
                  markup=False)  # names from the store: shown, never obeyed by the terminal
    if fc.unsampled:
        console.print(f"{fc.unsampled} more problems of the run have no verified sample yet: left out of the plan")
    if fc.chosen is None:
        console.print(f"[bold]no forecast[/bold]: {fc.reason}.")
        console.print("Sample more problems or more samples per problem, then run `monkeys plan` again.")
        if plan.need is not None:
            console.print(f"The pilot's own curve reaches {plan.target:.0%}; what that takes:")
            _render_need(plan, console)
        return
    if fc.chosen == "observed":
        console.print(f"{fc.reason}; nothing left to forecast.")
    else:
        kept = ", ".join(m.name for m in fc.plausible)
        rejected = [m.name for m in fc.models.values() if not m.kept and m.name != BRACKET and m.heldout is not None]
        primary, top = fc.models.get(PRIMARY), fc.models.get(TOP)
        if primary is not None and primary.weight == 1.0:
            how = f"point: {PRIMARY} (the paper's law; the pilot's later samples do not reject it)"
        elif top is not None and top.weight == 1.0:
            how = (f"point: {TOP} (the paper's law on the top of the curve; the pilot's later samples favour it"
                   f" over {PRIMARY}, which lags a steepening curve)")
        else:
            weights = [m for m in fc.models.values() if m.weight > 0]
            how = "point: " + ", ".join(f"{m.name} {m.weight:.2f}" for m in weights) + \
                " (weights from the likelihood of the pilot's later samples)"
        console.print(f"forecast: {fc.chosen}; {how}; interval over: {kept}"
                      + (f"; rejected by the later samples: {', '.join(rejected)}" if rejected else ""))
        if fc.models.get(BRACKET) is not None and fc.models[BRACKET].share is not None:
            console.print(f"upper ends allow for the {BRACKET} bracket: as many problems per decade of difficulty"
                          " below the pilot's reach as at its edge")
    table = Table(title=None)
    table.add_column("k", justify="right")
    table.add_column("coverage", justify="right")
    table.add_column(f"{1 - fc.alpha:.0%} interval", justify="right")
    table.add_column("", justify="left")
    point, lo, hi = plan.coverage
    for i, k in enumerate(plan.ks):
        if k <= fc.n_min:
            note, interval = "pilot (observed)", ""
        elif fc.chosen == "observed":  # solved problems stay solved: the interval is the point
            note, interval = "certain: all solved", f"{pct(lo[i])} – {pct(hi[i])}"
        else:
            note = "wide: the pilot barely constrains this" if hi[i] - lo[i] > WIDE else "forecast"
            interval = f"{pct(lo[i])} – {pct(hi[i])}"
        table.add_row(f"{k:,}", pct(point[i]), interval, note)
    console.print(table)
    _render_need(plan, console)
    if fc.chosen == COMBINED:
        console.print("  the interval spans every model the pilot's later samples cannot reject")


def _render_need(plan: Plan, console: Any) -> None:
    """The k a target coverage needs and what it costs, each with its interval."""
    need = plan.need
    if need is None:
        return
    console.print(f"for {plan.target:.0%} coverage: k = {_k(need.k.point)} samples per problem "
                  f"[{_k(need.k.lo)}, {_k(need.k.hi)}]")
    samples = f"  samples {_k(need.samples.point)} [{_k(need.samples.lo)}, {_k(need.samples.hi)}]"
    if "tokens" in need.unknown:
        console.print(f"{samples}; tokens, FLOPs, dollars: unknown: {need.unknown['tokens']}")
    else:
        console.print(f"{samples} · tokens {_sci(need.tokens.point)} [{_sci(need.tokens.lo)}, {_sci(need.tokens.hi)}]")
        if "flops" in need.unknown:
            console.print(f"  FLOPs: {need.unknown['flops']}")
        else:
            console.print(f"  FLOPs {_sci(need.flops.point)} [{_sci(need.flops.lo)}, {_sci(need.flops.hi)}]")
        if "usd" in need.unknown:
            console.print(f"  dollars: {need.unknown['usd']}")
        else:
            console.print(f"  dollars {_usd(need.usd.point)} [{_usd(need.usd.lo)}, {_usd(need.usd.hi)}]")
    if plan.need_reason:
        console.print(f"  note: {plan.need_reason}")
