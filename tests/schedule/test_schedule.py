"""The schedule on its own: which batches each strategy hands out, when it stops a problem and why, budgets.

A small driver plays the pipeline: up to `concurrency` calls in flight, answered oldest first, each sample
verified one step later (so the schedule really has to wait for verdicts).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from monkeys.config import build_config
from monkeys.core import Completion, Problem, Prompt
from monkeys.errors import ConfigError
from monkeys.schedule import WAIT, Job, Meter, Schedule


def _problems(count: int) -> list[Problem]:
    return [Problem(f"p{i}", Prompt(text="q")) for i in range(count)]


def _schedule(problems: list[Problem], *, have: dict[str, set[int]] | None = None, solved: set[str] | None = None,
              spent: dict[str, float] | None = None, meter: Meter | None = None, redraw: bool = False,
              **config: object) -> Schedule:
    cfg = build_config({"n": 8, "batch_size": 4, **config})
    return Schedule(cfg, problems, have=have or {}, solved=solved or set(), awaiting={}, redraw_whole_batch=redraw,
                    meter=meter or Meter(), spent=spent or {})


def _drive(schedule: Schedule, passes: Callable[[str, int], bool], *, concurrency: int = 2,
           tokens: int = 10) -> list[Job]:
    """Run `schedule` to its end; every sample costs `tokens` completion tokens. Returns the jobs issued."""
    issued: list[Job] = []
    flying: list[Job] = []
    unverified: list[tuple[str, int]] = []
    for _ in range(10_000):
        said = None
        while len(flying) < concurrency:
            said = schedule.next()
            if not isinstance(said, Job):
                break
            issued.append(said)
            flying.append(said)
        for pid, index in unverified:  # last step's samples get their verdicts now
            schedule.verified(pid, passes(pid, index))
        unverified = []
        if flying:
            job = flying.pop(0)
            kept = [Completion(i, 0, "x", 0, tokens, "stop", 0.0) for i in sorted(job.keep)]
            schedule.sampled(job, kept)
            unverified = [(job.problem.problem_id, c.index) for c in kept]
        elif said is None and not unverified:
            return issued
    raise AssertionError("the schedule never ended")


def _stops(schedule: Schedule) -> dict[str, tuple[int, str]]:
    return {pid: (drawn, reason) for pid, drawn, reason in schedule.finish()}


def test_fixed_draws_every_missing_index_problem_after_problem():
    problems = _problems(2)
    schedule = _schedule(problems, have={"p0": {0, 1, 5}}, n=10, batch_size=4)
    jobs = _drive(schedule, lambda pid, i: i == 0, concurrency=3)
    got = [(j.problem.problem_id, sorted(j.keep)) for j in jobs]
    assert got == [("p0", [2, 3]), ("p0", [4, 6, 7]), ("p0", [8, 9]),
                   ("p1", [0, 1, 2, 3]), ("p1", [4, 5, 6, 7]), ("p1", [8, 9])]
    assert all(len(j.requests) == len(j.keep) for j in jobs)  # a sampler that does not redraw: only the missing
    assert _stops(schedule) == {"p0": (10, "cap"), "p1": (10, "cap")}  # solved, yet drawn to the cap


def test_fixed_redraws_whole_batches_for_a_sampler_that_needs_them():
    schedule = _schedule(_problems(1), have={"p0": {1, 2}}, redraw=True)
    first = schedule.next()
    assert isinstance(first, Job) and first.keep == {0, 3} and [r.index for r in first.requests] == [0, 1, 2, 3]


def test_until_solved_stops_each_problem_at_its_first_pass_one_batch_at_a_time():
    first_pass = {"p0": 0, "p1": 5, "p2": None, "p3": 7}
    schedule = _schedule(_problems(4), until_solved=True, n=8, batch_size=2)
    seen: dict[str, int] = {}

    def passes(pid: str, index: int) -> bool:
        seen[pid] = seen.get(pid, 0) + 1
        return first_pass[pid] is not None and index >= first_pass[pid]

    jobs = _drive(schedule, passes, concurrency=3)
    by_problem: dict[str, list[int]] = {}
    for job in jobs:
        by_problem.setdefault(job.problem.problem_id, []).extend(sorted(job.keep))
    # each problem drew its batches in index order, through the batch that holds its first pass, no further
    assert by_problem == {"p0": [0, 1], "p1": [0, 1, 2, 3, 4, 5], "p2": list(range(8)), "p3": list(range(8))}
    assert schedule.stopped == {"p0": "solved", "p1": "solved", "p2": "cap", "p3": "solved"}
    assert len(jobs) == 1 + 3 + 4 + 4


def test_until_solved_waits_for_verdicts_instead_of_drawing_ahead():
    schedule = _schedule(_problems(1), until_solved=True, n=8, batch_size=2)
    job = schedule.next()
    assert isinstance(job, Job)
    assert schedule.next() == WAIT  # in flight: the next batch waits
    schedule.sampled(job, [Completion(i, 0, "x", 0, 1, "stop", 0.0) for i in sorted(job.keep)])
    assert schedule.next() == WAIT  # stored, not yet verified
    schedule.verified("p0", False)
    assert schedule.next() == WAIT
    schedule.verified("p0", True)
    assert schedule.next() is None and schedule.take_stops() == [("p0", 2, "solved")]


def test_a_sample_budget_stops_exactly_at_it_and_says_why():
    schedule = _schedule(_problems(3), budget="samples=10", n=8, batch_size=4)
    jobs = _drive(schedule, lambda pid, i: False, concurrency=2)
    assert sum(len(j.keep) for j in jobs) == 10
    assert schedule.exhausted == "budget spent: 10 samples of 10 samples"
    assert _stops(schedule) == {"p0": (8, "cap"), "p1": (2, "budget"), "p2": (0, "budget")}


def test_a_token_budget_stops_within_one_batch_of_it():
    schedule = _schedule(_problems(4), budget="tokens=500", n=32, batch_size=4)
    _drive(schedule, lambda pid, i: False, concurrency=3, tokens=7)
    spent = schedule.spent["tokens"]
    assert abs(spent - 500) <= 4 * 7, spent  # within one batch (4 samples of 7 tokens)
    assert schedule.exhausted and "tokens" in schedule.exhausted


def test_resume_counts_what_the_store_already_spent():
    schedule = _schedule(_problems(2), have={"p0": set(range(8))}, budget="samples=8", spent={"samples": 8})
    assert schedule.next() is None and schedule.exhausted
    assert _stops(schedule) == {"p0": (8, "cap"), "p1": (0, "budget")}


def test_adaptive_spreads_what_remains_over_the_unsolved_in_rounds():
    schedule = _schedule(_problems(4), allocate="adaptive", budget="samples=40", n=100, batch_size=2)
    easy = {"p0", "p1"}
    jobs = _drive(schedule, lambda pid, i: pid in easy, concurrency=2)
    drawn = {pid: sum(len(j.keep) for j in jobs if j.problem.problem_id == pid) for pid in ("p0", "p1", "p2", "p3")}
    assert drawn["p0"] == drawn["p1"] == 2  # solved by their first batch: nothing more
    assert drawn["p2"] == drawn["p3"] == 18  # the rest of the budget went to the two still unsolved
    assert sum(drawn.values()) == 40 and schedule.rounds >= 2
    assert _stops(schedule) == {"p0": (2, "solved"), "p1": (2, "solved"), "p2": (18, "budget"),
                                "p3": (18, "budget")}


def test_adaptive_without_a_budget_stops_at_first_pass_or_the_cap():
    schedule = _schedule(_problems(2), allocate="adaptive", n=6, batch_size=2)
    _drive(schedule, lambda pid, i: pid == "p0" and i == 3)
    assert schedule.stopped == {"p0": "solved", "p1": "cap"}
    assert len(schedule.state["p0"].have) == 4 and len(schedule.state["p1"].have) == 6


def test_a_budget_the_meter_cannot_price_is_refused_before_the_run(tmp_path: Path):
    with pytest.raises(ConfigError, match="--budget usd: no price for model 'mystery'"):
        Meter.for_run(build_config({"budget": "usd=1"}), "mystery")
    with pytest.raises(ConfigError, match="--budget flops: the shape of model 'mystery' is unknown"):
        Meter.for_run(build_config({"budget": "flops=1e15"}), "mystery")
    pricing = tmp_path / "prices.yaml"
    pricing.write_text("mystery: {prompt_usd_per_mtok: 1.0, completion_usd_per_mtok: 2.0}\n")
    meter = Meter.for_run(build_config({"budget": "usd=1", "pricing": str(pricing)}), "mystery")
    cost = meter.cost_of([Completion(0, 0, "x", 1000, 500, "stop", 0.0, prompt_shared=2)])
    assert cost["usd"] == pytest.approx((500 * 1.0 + 500 * 2.0) / 1e6) and cost["tokens"] == 1000
