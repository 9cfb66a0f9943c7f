"""The SWE-bench part of a report: what a run of task `swe-bench` (or verifier `swe-tests`) adds.

- resolved rate vs attempts: coverage vs k under the SWE-bench name (an instance is resolved at k attempts
  when one of k attempts passes its tests), with the expected number of instances resolved and the cost
  per resolved instance at each k (tokens always; dollars with `--pricing`, FLOPs for a known model);
- attempts per instance: attempts verified, how many resolved it, the first one that did, the commonest
  failure;
- verdict reasons: verdicts grouped by outcome and reason (the verifier's `details["category"]` when it
  gives one, else its reason up to the first ':' with numbers blanked), with how many instances each hit;
- flaky tests per instance (the verifier's `details["flaky"]`: failed, then passed on a re-run).

`load` reads the verdicts once from the store (both layouts) when `report.data` loads the run; the rest
computes from that and the run's analysis.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from monkeys.store.migrations import is_compact
from monkeys.store.read import checker_id

if TYPE_CHECKING:
    from rich.console import Console

    from monkeys.report.analyze import RunAnalysis

TASK = "swe-bench"
VERIFIER = "swe-tests"
MAX_INSTANCE_ROWS = 25  # instances listed in the terminal; JSON and CSV list them all
MAX_REASON_ROWS = 15
_OUTCOMES = {0: "fail", 1: "pass", 2: "timeout", 3: "error"}
_NUMBER = re.compile(r"\d+")


@dataclass
class InstanceStats:
    """One instance: attempts verified, attempts that resolved it, the first that did (1-based), failures."""

    instance_id: str
    attempts: int = 0
    resolved: int = 0
    first_resolved: int | None = None
    failures: Counter[str] = field(default_factory=Counter)
    flaky: set[str] = field(default_factory=set)  # tests that failed, then passed on the verifier's re-run

    @property
    def commonest_failure(self) -> str:
        return self.failures.most_common(1)[0][0] if self.failures else ""


@dataclass
class ReasonStats:
    outcome: str
    reason: str
    attempts: int = 0
    instances: set[str] = field(default_factory=set)
    example: str = ""


@dataclass
class SweData:
    """The verdicts of a SWE-bench run, per instance and per reason."""

    instances: list[InstanceStats]
    reasons: list[ReasonStats]


def is_swe_run(config: dict[str, Any], verifier: str | None) -> bool:
    return config.get("task") == TASK or (verifier or "").split("[")[0] == VERIFIER


def category(outcome: str, reason: str, details: dict[str, Any]) -> str:
    """The row of the reasons table a verdict counts in."""
    given = details.get("category")
    if isinstance(given, str) and given:
        return given
    head = reason.split(":", 1)[0].strip() or ("resolved" if outcome == "pass" else outcome)
    head = _NUMBER.sub("N", head)
    return head if len(head) <= 70 else head[:67] + "..."


def load(db: sqlite3.Connection, config: dict[str, Any], verifier: str | None) -> SweData | None:
    """Per-instance and per-reason verdict counts of `verifier`, or None when the run is not SWE-bench."""
    if not is_swe_run(config, verifier):
        return None
    ids = [r[0] for r in db.execute("SELECT problem_id FROM problems ORDER BY position")]
    stats = {pid: InstanceStats(pid) for pid in ids}
    reasons: dict[tuple[str, str], ReasonStats] = {}
    if is_compact(db):
        rows = db.execute(
            "SELECT p.problem_id, (v.key >> 8) & 4294967295, v.outcome, r.text, v.details FROM verdict_rows v"
            " JOIN strings r ON r.id = v.reason JOIN problems p ON p.position = v.key >> 40"
            " WHERE (v.key & 255) = ? ORDER BY v.key", (checker_id(db, "verifier", verifier),))
    else:
        rows = db.execute(
            "SELECT s.problem_id, s.sample_index, v.outcome, v.reason, v.details FROM verdicts v"
            " JOIN samples s ON s.sample_id = v.sample_id WHERE v.verifier = ?"
            " ORDER BY s.problem_id, s.sample_index", (verifier,))
    for pid, index, outcome, reason, details in rows:
        outcome = _OUTCOMES.get(outcome, str(outcome)) if isinstance(outcome, int) else str(outcome)
        try:
            extra = json.loads(details) if details else {}
        except ValueError:
            extra = {}
        extra = extra if isinstance(extra, dict) else {}
        s = stats.setdefault(pid, InstanceStats(pid))
        s.attempts += 1
        name = category(outcome, reason or "", extra)
        if outcome == "pass":
            s.resolved += 1
            if s.first_resolved is None or index + 1 < s.first_resolved:
                s.first_resolved = int(index) + 1
        else:
            s.failures[name] += 1
        flaky = extra.get("flaky")
        if isinstance(flaky, list):
            s.flaky.update(str(t) for t in flaky)
        row = reasons.setdefault((outcome, name), ReasonStats(outcome, name, example=reason or ""))
        row.attempts += 1
        row.instances.add(pid)
    order = {"pass": 0, "fail": 1, "timeout": 2, "error": 3}
    ranked = sorted(reasons.values(), key=lambda r: (order.get(r.outcome, 4), -r.attempts, r.reason))
    return SweData(list(stats.values()), ranked)


# -- what the report shows ------------------------------------------------------------------------------


def resolved_rows(a: RunAnalysis) -> list[dict[str, Any]]:
    """Per k shown: resolved rate (= coverage), instances resolved (expected), and cost per resolved
    instance (k attempts for every instance, over the instances resolved)."""
    run = a.run
    n = len(run.problem_ids)
    tokens_per_attempt = run.tokens.prompt + run.tokens.completion
    out = []
    for i, k in enumerate(a.ks):
        rate = float(a.coverage[i])
        resolved = rate * n
        row: dict[str, Any] = {"k": k, "resolved_rate": rate, "instances_resolved": resolved,
                               "tokens_per_resolved": None, "usd_per_resolved": None, "flops_per_resolved": None}
        if resolved > 0:
            if tokens_per_attempt > 0:
                row["tokens_per_resolved"] = k * n * tokens_per_attempt / resolved
            if a.cost is not None and a.cost.usd_per_round:
                row["usd_per_resolved"] = k * a.cost.usd_per_round / resolved
            if a.cost is not None and a.cost.flops_per_round:
                row["flops_per_resolved"] = k * a.cost.flops_per_round / resolved
        out.append(row)
    return out


def totals(a: RunAnalysis) -> dict[str, Any]:
    """The whole run: instances resolved by any attempt, attempts made, cost per resolved instance."""
    data: SweData = a.run.swe
    resolved = sum(1 for s in data.instances if s.resolved)
    attempts = sum(s.attempts for s in data.instances)
    tokens = a.run.tokens.samples * (a.run.tokens.prompt + a.run.tokens.completion)
    usd = a.cost.total_usd if a.cost is not None else None
    return {"instances": len(data.instances), "resolved": resolved, "attempts": attempts,
            "tokens": tokens, "tokens_per_resolved": tokens / resolved if resolved and tokens else None,
            "usd": usd, "usd_per_resolved": usd / resolved if resolved and usd else None}


def document(a: RunAnalysis) -> dict[str, Any] | None:
    """The SWE-bench section as plain JSON values (None for another task)."""
    data: SweData | None = a.run.swe
    if data is None:
        return None
    return {
        "resolved_rate_vs_attempts": resolved_rows(a),
        "totals": totals(a),
        "instances": [{"instance_id": s.instance_id, "attempts": s.attempts, "resolved": s.resolved,
                       "first_resolved": s.first_resolved, "failures": dict(s.failures.most_common()),
                       "flaky_tests": sorted(s.flaky)}
                      for s in data.instances],
        "reasons": [{"outcome": r.outcome, "reason": r.reason, "attempts": r.attempts,
                     "instances": len(r.instances), "example": r.example} for r in data.reasons],
    }


def tables(name: str, doc: dict[str, Any] | None) -> dict[str, list[list[Any]]]:
    """CSV rows of the section (run name first), keyed by table: swe_resolved, swe_instances, swe_reasons."""
    if doc is None:
        return {"swe_resolved": [], "swe_instances": [], "swe_reasons": []}
    return {
        "swe_resolved": [[name, r["k"], r["resolved_rate"], r["instances_resolved"], r["tokens_per_resolved"],
                          r["usd_per_resolved"], r["flops_per_resolved"]] for r in doc["resolved_rate_vs_attempts"]],
        "swe_instances": [[name, s["instance_id"], s["attempts"], s["resolved"], s["first_resolved"],
                           next(iter(s["failures"]), ""), " ".join(s["flaky_tests"])] for s in doc["instances"]],
        "swe_reasons": [[name, r["outcome"], r["reason"], r["attempts"], r["instances"], r["example"]]
                        for r in doc["reasons"]],
    }


COLUMNS = {
    "swe_resolved": ["run", "attempts_k", "resolved_rate", "instances_resolved", "tokens_per_resolved",
                     "usd_per_resolved", "flops_per_resolved"],
    "swe_instances": ["run", "instance_id", "attempts", "resolved_attempts", "first_resolved_attempt",
                      "commonest_failure", "flaky_tests"],
    "swe_reasons": ["run", "outcome", "reason", "attempts", "instances", "example"],
}


def _num(x: float | None, fmt: str) -> str:
    return "-" if x is None or not np.isfinite(x) else format(x, fmt)


def print_swe(a: RunAnalysis, console: Console) -> None:
    """The three SWE-bench tables under a run's coverage table (nothing for another task)."""
    from rich.table import Table

    from monkeys._terminal import cell
    from monkeys.report.analyze import pct

    data: SweData | None = a.run.swe
    if data is None:
        return
    t = totals(a)
    cost = f"; {_num(t['tokens_per_resolved'], ',.0f')} tokens per resolved instance" if t["resolved"] else ""
    usd = f" (${t['usd_per_resolved']:,.4f})" if t["usd_per_resolved"] else ""
    console.print(f"SWE-bench: {t['resolved']} of {t['instances']} instances resolved by some attempt, "
                  f"{t['attempts']:,} attempts verified{cost}{usd}", highlight=False)
    errors = [r for r in data.reasons if r.outcome == "error"]
    if errors:
        hit = len(set().union(*(r.instances for r in errors)))
        console.print(f"  {sum(r.attempts for r in errors):,} attempts on {hit} instances could not be judged"
                      " (environment, sandbox or git errors, not the samples' fault); they count as unresolved",
                      highlight=False)
    if a.ks:
        console.print("resolved rate vs attempts (= coverage vs k)", highlight=False)
        table = Table()
        for col in ("attempts k", "resolved rate", "instances resolved", "tokens / resolved", "$ / resolved",
                    "FLOPs / resolved"):
            table.add_column(col, justify="right")
        for r in resolved_rows(a):
            table.add_row(str(r["k"]), pct(r["resolved_rate"]), f"{r['instances_resolved']:.2f}",
                          _num(r["tokens_per_resolved"], ",.0f"),
                          "-" if r["usd_per_resolved"] is None else f"${r['usd_per_resolved']:,.4f}",
                          _num(r["flops_per_resolved"], ".3g"))
        console.print(table)
    console.print("attempts per instance", highlight=False)
    table = Table()
    for col, just in (("instance", "left"), ("attempts", "right"), ("resolved", "right"),
                      ("first resolving attempt", "right"), ("commonest failure", "left")):
        table.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
    for s in data.instances[:MAX_INSTANCE_ROWS]:
        table.add_row(cell(s.instance_id), str(s.attempts), str(s.resolved),  # ids and reasons: store text
                      "-" if s.first_resolved is None else str(s.first_resolved), cell(s.commonest_failure))
    console.print(table)
    if len(data.instances) > MAX_INSTANCE_ROWS:
        console.print(f"  … {len(data.instances) - MAX_INSTANCE_ROWS} more instances (--format json or csv lists"
                      " them all)", highlight=False)
    flaky = [s for s in data.instances if s.flaky]
    if flaky:
        console.print(cell("  flaky tests (failed, then passed when run again; not counted against a patch): "
                           + "; ".join(f"{s.instance_id}: {', '.join(sorted(s.flaky)[:3])}"
                                       + (f" and {len(s.flaky) - 3} more" if len(s.flaky) > 3 else "")
                                       for s in flaky[:5])
                           + (" …" if len(flaky) > 5 else "")), highlight=False)
    console.print("verdict reasons", highlight=False)
    table = Table()
    for col, just in (("outcome", "left"), ("reason", "left"), ("attempts", "right"), ("instances", "right"),
                      ("example", "left")):
        table.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
    for why in data.reasons[:MAX_REASON_ROWS]:
        example = why.example if len(why.example) <= 80 else why.example[:77] + "..."
        table.add_row(cell(why.outcome), cell(why.reason), f"{why.attempts:,}", f"{len(why.instances):,}",
                      cell(example))
    console.print(table)
    if len(data.reasons) > MAX_REASON_ROWS:
        console.print(f"  … {len(data.reasons) - MAX_REASON_ROWS} more reasons (--format json or csv lists them"
                      " all)", highlight=False)


def html(a: RunAnalysis) -> str:
    """The same three tables as HTML ('' for another task)."""
    from html import escape

    from monkeys.report.analyze import pct

    doc = document(a)
    if doc is None:
        return ""

    def table(head: list[str], rows: list[list[str]]) -> str:
        return ("<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"
                + "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
                + "</table>")

    t = doc["totals"]
    parts = [f"<h3>SWE-bench: {t['resolved']} of {t['instances']} instances resolved, {t['attempts']:,} attempts"
             "</h3>", "<p class=note>resolved rate vs attempts (= coverage vs k)</p>",
             table(["attempts k", "resolved rate", "instances resolved", "tokens / resolved", "$ / resolved"],
                   [[str(r["k"]), pct(r["resolved_rate"]), f"{r['instances_resolved']:.2f}",
                     _num(r["tokens_per_resolved"], ",.0f"),
                     "-" if r["usd_per_resolved"] is None else f"${r['usd_per_resolved']:,.4f}"]
                    for r in doc["resolved_rate_vs_attempts"]]),
             "<p class=note>attempts per instance</p>",
             table(["instance", "attempts", "resolved", "first resolving attempt", "commonest failure"],
                   [[s["instance_id"], str(s["attempts"]), str(s["resolved"]),
                     "-" if s["first_resolved"] is None else str(s["first_resolved"]), next(iter(s["failures"]), "")]
                    for s in doc["instances"]]),
             "<p class=note>verdict reasons</p>",
             table(["outcome", "reason", "attempts", "instances", "example"],
                   [[r["outcome"], r["reason"], f"{r['attempts']:,}", str(r["instances"]), r["example"]]
                    for r in doc["reasons"]])]
    return "\n".join(parts)
