"""Which problem gets the next batch: the run's schedule, which the pipeline asks one sampler call at a time.

Three strategies, one class (`Schedule`), one rule for a budget:

- fixed (the default, and what `monkeys run` always did): problem after problem, each up to `n`, several
  batches of one problem in flight at once.
- until solved (`--until-solved`): a problem's next batch is drawn only once every sample of its last one is
  verified and none passed; its first pass stops it. Problems interleave (a queue of problems ready for
  another batch), so while one waits for its verdicts another is sampled.
- adaptive (`--allocate adaptive`): rounds; each round spreads what remains of the budget evenly over the
  problems not yet solved (up to the cap `n` each), and a problem stops at its first pass as above.

A budget (`--budget samples=|tokens=|flops=|usd=`) bounds any strategy: a batch is issued only while what is
spent plus what is in flight (at the mean cost of a sample so far) leaves room for it, and it is trimmed to
what fits, so the run ends within one batch of its budget (exactly at it for a sample budget). Batches are
aligned ranges of sample indices, drawn in index order per problem: a sampler that redraws whole batches
stays deterministic, and the report's early-stop estimator (`analysis.early_stop`) relies on the order.
The schedule is told what comes back (`sampled`, `verified`) and hands out the stops it decided (`take_stops`:
problem, samples drawn, reason "cap" | "solved" | "budget") for the store. It is used from one thread only.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from monkeys.analysis.cost import ModelSpec, Price, find_model, find_price, load_cost_file, sample_flops
from monkeys.config import BUDGET_KINDS, RunConfig
from monkeys.core import Completion, Problem, SampleRequest, derive_seed
from monkeys.errors import ConfigError

ADAPTIVE_ROUND = "adaptive_round"  # meta key: the adaptive round in progress (`Schedule.take_round`)
WAIT: Literal["wait"] = "wait"  # nothing to issue until work in flight (samples or verdicts) comes back
Strategy = Literal["fixed", "until-solved", "adaptive"]
_UNITS = {"samples": "samples", "tokens": "tokens", "flops": "FLOPs", "usd": "USD"}


@dataclass(frozen=True)
class Job:
    """One sampler call: the requests to send and the indices to keep (a redrawn batch sends more)."""

    problem: Problem
    requests: list[SampleRequest]
    keep: set[int]


class Meter:
    """What samples cost in each budget unit: samples and tokens always; FLOPs when the model's shape is known
    (the report's model table, or a pricing file's override); dollars with a price from a pricing file.

    Tokens are the prompt charged once per request (p / prompt_shared) plus the completion, as billed.
    """

    def __init__(self, spec: ModelSpec | None = None, price: Price | None = None) -> None:
        self.spec, self.price = spec, price

    @classmethod
    def for_run(cls, config: RunConfig, model: str) -> Meter:
        """The run's meter; a budget it cannot price is a `ConfigError` now, before anything is drawn."""
        prices, specs = load_cost_file(Path(config.pricing)) if config.pricing else ({}, {})
        meter = cls(find_model(model, specs), find_price(model, prices) if prices else None)
        budget = config.budget or {}
        if "flops" in budget and meter.spec is None:
            raise ConfigError(f"--budget flops: the shape of model {model!r} is unknown; give it in a --pricing file"
                              " (parameters, layers, hidden)")
        if "usd" in budget and meter.price is None:
            where = f"in {config.pricing}" if config.pricing else "without a --pricing file"
            raise ConfigError(f"--budget usd: no price for model {model!r} {where}; expected prompt_usd_per_mtok"
                              " and completion_usd_per_mtok for it in a --pricing file")
        return meter

    def kinds(self) -> list[str]:
        return [k for k in BUDGET_KINDS if (k != "flops" or self.spec) and (k != "usd" or self.price)]

    def cost(self, prompt_tokens: np.ndarray, completion_tokens: np.ndarray, shared: np.ndarray) -> dict[str, float]:
        """Summed cost of samples given as arrays of their token counts, in every unit this meter knows."""
        p = np.asarray(prompt_tokens, dtype=float)
        c = np.asarray(completion_tokens, dtype=float)
        s = np.maximum(np.asarray(shared, dtype=float), 1.0)
        out = {"samples": float(len(p)), "tokens": float((p / s + c).sum())}
        if self.spec is not None:
            out["flops"] = float(sample_flops(self.spec, p, c, s).sum())
        if self.price is not None:
            out["usd"] = float(((p / s) * self.price.prompt_usd_per_mtok
                                + c * self.price.completion_usd_per_mtok).sum() / 1e6)
        return out

    def cost_of(self, completions: Sequence[Completion]) -> dict[str, float]:
        return self.cost(np.array([c.prompt_tokens for c in completions]),
                         np.array([c.completion_tokens for c in completions]),
                         np.array([int(getattr(c, "prompt_shared", 1) or 1) for c in completions]))


def spend_text(spent: dict[str, float], budget: dict[str, float] | None = None) -> str:
    """'1,024 samples, 52.1k tokens, 3.2e+13 FLOPs, $0.0412 of $1.00' (each budget's limit after its unit)."""
    parts = []
    for kind in BUDGET_KINDS:
        if kind not in spent:
            continue
        value = spent[kind]
        text = _amount(kind, value)
        if budget and kind in budget:
            text += f" of {_amount(kind, budget[kind])}"
        parts.append(text)
    return ", ".join(parts)


def _amount(kind: str, value: float) -> str:
    if kind == "usd":
        return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"
    if kind == "samples":
        return f"{value:,.0f} samples"
    if kind == "tokens":
        return (f"{value / 1e6:,.1f}M" if value >= 1e6 else f"{value / 1e3:,.1f}k" if value >= 1e4
                else f"{value:,.0f}") + " tokens"
    return f"{value:.3g} FLOPs"


@dataclass
class _State:
    """One problem's place in the schedule."""

    order: int
    have: set[int]  # indices stored
    flying: set[int] = field(default_factory=set)  # indices in a sampler call now
    batches: int = 0  # sampler calls in flight
    awaiting: int = 0  # stored samples waiting for their verdict
    cursor: int = 0  # the first batch that may still have indices to draw
    quota: int = 0  # adaptive: samples this round may still draw
    below: int = 0  # indices stored below the cap


class Schedule:
    """The run's schedule over `problems` (see the module docstring). `have`: indices already stored per
    problem; `solved`: problems with a stored pass; `awaiting`: stored samples still to verify per problem;
    `spent`: what the stored samples cost (`Meter.cost` of them)."""

    def __init__(self, config: RunConfig, problems: Sequence[Problem], *, have: dict[str, set[int]],
                 solved: Iterable[str], awaiting: dict[str, int], redraw_whole_batch: bool, meter: Meter,
                 spent: dict[str, float], round_state: object = None) -> None:
        self.strategy: Strategy = ("adaptive" if config.allocate == "adaptive"
                                   else "until-solved" if config.until_solved else "fixed")
        self.stop_at_pass = self.strategy != "fixed"
        self.cap, self.batch, self.seed = config.n, config.batch_size, config.seed
        self.redraw = redraw_whole_batch
        self.budget = dict(config.budget or {})
        self.meter = meter
        self.spent = {k: float(spent.get(k, 0.0)) for k in meter.kinds()}
        self.problems = {p.problem_id: p for p in problems}
        self.state = {p.problem_id: _State(i, set(have.get(p.problem_id, ()))) for i, p in enumerate(problems)}
        self.solved = set(solved) & set(self.problems)
        self.stopped: dict[str, str] = {}
        self._stops: list[tuple[str, int, str]] = []
        self.in_flight = 0  # samples in sampler calls now
        self.exhausted: str | None = None  # why the budget ended the run ("usd $1.00 of $1.00 spent")
        self.rounds = 0
        self._round_news: dict[str, object] | None = None  # adaptive: the round begun, for the store
        self._fixed_next = 0  # fixed: the first problem that may still have batches to issue
        self._ready: deque[str] = deque()
        self._awaiting = 0  # stored samples waiting for a verdict, all problems
        for pid, st in self.state.items():
            st.awaiting = int(awaiting.get(pid, 0))
            st.below = sum(1 for i in st.have if i < self.cap)
            self._awaiting += st.awaiting
            self._settle(pid)
            if pid not in self.stopped and self.strategy == "until-solved" and st.awaiting == 0:
                self._ready.append(pid)
        if self.strategy == "adaptive":
            self._resume_round(round_state)

    # -- what the pipeline asks --------------------------------------------------------------------------
    def next(self) -> Job | Literal["wait"] | None:
        """The next sampler call; WAIT when one may come once work in flight returns; None when no more will."""
        if self.exhausted:
            return None
        room = self._room()
        if room <= 0:
            if self.in_flight or self._verifying():
                return WAIT
            self.exhausted = self._exhausted_text()
            return None
        if self.strategy == "fixed":
            return self._next_fixed(room)
        while True:
            while self._ready:
                pid = self._ready.popleft()
                st = self.state[pid]
                if pid in self.stopped or st.batches or st.awaiting:
                    continue
                limit = room if self.strategy == "until-solved" else min(room, st.quota)
                job = self._issue(pid, limit)
                if job is not None:
                    return job
            if self.in_flight or self._verifying():
                return WAIT
            if self.strategy != "adaptive" or not self._new_round():
                if self._room() <= 0 and self._unfinished():
                    self.exhausted = self._exhausted_text()
                return None

    def sampled(self, job: Job, kept: Sequence[Completion]) -> None:
        """A sampler call came back; `kept` are the completions stored (those of `job.keep`)."""
        pid = job.problem.problem_id
        st = self.state[pid]
        st.batches -= 1
        st.flying -= job.keep
        self.in_flight -= len(job.keep)
        new = {c.index for c in kept} - st.have
        st.have |= new
        st.below += sum(1 for i in new if i < self.cap)
        st.awaiting += len(kept)
        self._awaiting += len(kept)
        if kept:
            for kind, value in self.meter.cost_of(kept).items():
                if kind in self.spent:
                    self.spent[kind] += value
        self._settle(pid)
        self._maybe_ready(pid)

    def verified(self, problem_id: str, passed: bool) -> None:
        """A verdict of one of the run's samples (new, or stored unverified by an earlier run)."""
        st = self.state.get(problem_id)
        if st is None:
            return
        if st.awaiting:
            st.awaiting -= 1
            self._awaiting -= 1
        if passed:
            self.solved.add(problem_id)
        self._settle(problem_id)
        self._maybe_ready(problem_id)

    def _maybe_ready(self, pid: str) -> None:
        """Until solved, adaptive: a problem with nothing in flight and no verdict to wait for may go on."""
        st = self.state[pid]
        if (pid not in self.stopped and self.stop_at_pass and not st.batches and not st.awaiting
                and (self.strategy == "until-solved" or st.quota > 0)):
            self._ready.append(pid)

    def take_round(self) -> dict[str, object] | None:
        """Adaptive: the round begun since the last call, `{"round": R, "targets": {problem: samples below the
        cap it has once its share is drawn}}`, for the store (meta "adaptive_round") before any of its samples:
        a resume after a kill finishes that round as it was dealt (`round_state`) instead of dealing a new
        one from what the kill left, so it draws what an uninterrupted run draws."""
        out, self._round_news = self._round_news, None
        return out

    def _resume_round(self, state: object) -> None:
        """Adaptive, on resume: the stored round's shares that are not drawn yet (see `take_round`)."""
        if not isinstance(state, dict) or not isinstance(state.get("targets"), dict):
            return
        number = state.get("round")
        self.rounds = number if isinstance(number, int) and not isinstance(number, bool) else 0
        for pid, target in state["targets"].items():
            st = self.state.get(pid)
            if st is None or pid in self.stopped or not isinstance(target, int) or isinstance(target, bool):
                continue
            st.quota = max(0, min(target, self.cap) - st.below)
            self._maybe_ready(pid)

    def take_stops(self) -> list[tuple[str, int, str]]:
        """(problem, samples drawn, reason) decided since the last call, for the store."""
        out, self._stops = self._stops, []
        return out

    def finish(self) -> list[tuple[str, int, str]]:
        """At the end of a run that was not interrupted: every problem the budget left unfinished stops with
        reason "budget"; returns the stops not yet taken."""
        if self.exhausted is None and self.budget and self._unfinished() and self._room() <= 0:
            self.exhausted = self._exhausted_text()
        if self.exhausted:
            for pid in self.state:
                if pid not in self.stopped:
                    self._stop(pid, "budget")
        return self.take_stops()

    def planned(self) -> int:
        """Samples this run will have drawn when it ends, as known now: stopped problems at what they drew,
        the rest at the cap (a budget lowers it once it ends the run)."""
        planned = sum(len(st.have) if pid in self.stopped else max(self.cap, len(st.have))
                      for pid, st in self.state.items())
        if self.budget:  # no more than the budget lets the run draw, at the mean cost of a sample so far
            planned = min(planned, self.drawn() + self.in_flight + self._room())
        return planned

    def drawn(self) -> int:
        return sum(len(st.have) for st in self.state.values())

    def spend_text(self) -> str:
        return spend_text(self.spent, self.budget)

    def describe(self) -> str:
        """The schedule in a few words, for the run's first line."""
        what = {"fixed": f"n={self.cap}", "until-solved": f"until solved, at most {self.cap} per problem",
                "adaptive": f"adaptive rounds, at most {self.cap} per problem"}[self.strategy]
        if self.budget:
            what += f"; budget {', '.join(_amount(k, v) for k, v in self.budget.items())}"
        return what

    # -- inside --------------------------------------------------------------------------------------------
    def _next_fixed(self, room: int) -> Job | None | Literal["wait"]:
        pids = list(self.state)
        while self._fixed_next < len(pids):
            job = self._issue(pids[self._fixed_next], room)
            if job is not None:
                return job
            self._fixed_next += 1
        return None

    def _issue(self, pid: str, limit: int) -> Job | None:
        """The next batch of `pid` (at most `limit` new samples), marked in flight; None when it has none."""
        st = self.state[pid]
        if limit <= 0:
            return None
        b = st.cursor
        while b * self.batch < self.cap:
            batch = range(b * self.batch, min(self.cap, (b + 1) * self.batch))
            keep = [i for i in batch if i not in st.have and i not in st.flying][:limit]
            if keep:
                send = list(batch) if self.redraw else keep
                problem = self.problems[pid]
                reqs = [SampleRequest(i, derive_seed(self.seed, pid, i)) for i in send]
                st.flying.update(keep)
                st.batches += 1
                st.quota = max(0, st.quota - len(keep))
                self.in_flight += len(keep)
                return Job(problem, reqs, set(keep))
            if b == st.cursor and all(i in st.have for i in batch):  # drawn: never look at it again
                st.cursor += 1
            b += 1  # (a batch still in flight is passed over: the next one may be drawn meanwhile)
        return None

    def _complete(self, st: _State) -> bool:
        return st.below >= self.cap

    def _settle(self, pid: str) -> None:
        """Stop `pid` if its strategy says it is done: its first pass (until solved, adaptive), or its cap."""
        if pid in self.stopped:
            return
        st = self.state[pid]
        if self.stop_at_pass and pid in self.solved:
            self._stop(pid, "solved")
        elif self._complete(st) and not st.flying and (not self.stop_at_pass or not st.awaiting):
            self._stop(pid, "cap")

    def _stop(self, pid: str, reason: str) -> None:
        self.stopped[pid] = reason
        self._stops.append((pid, len(self.state[pid].have), reason))

    def _unfinished(self) -> list[str]:
        return [pid for pid in self.state if pid not in self.stopped]

    def _verifying(self) -> bool:
        return self.stop_at_pass and self._awaiting > 0

    def _per_sample(self, kind: str) -> float | None:
        """Mean cost of one sample in `kind` so far (None before the first one is stored)."""
        if kind == "samples":
            return 1.0
        n = self.spent.get("samples", 0.0)
        return self.spent[kind] / n if n else None

    def _room(self) -> int:
        """How many more samples the budget lets us issue now (a large number without a budget)."""
        room = 1 << 62
        for kind, limit in self.budget.items():
            per = self._per_sample(kind)
            if per is None:  # the cost of a sample is unknown: one call first, to learn it
                room = room if not self.in_flight else 0
                continue
            left = limit - self.spent[kind] - self.in_flight * per
            room = min(room, math.floor(left / per + 1e-9) if per > 0 else room)
        return max(0, room)

    def _exhausted_text(self) -> str:
        for kind, limit in self.budget.items():
            per = self._per_sample(kind) or 0.0
            if self.spent[kind] + per > limit + 1e-9 * max(1.0, limit):
                return f"budget spent: {_amount(kind, self.spent[kind])} of {_amount(kind, limit)}"
        return "budget spent: " + spend_text(self.spent, self.budget)

    def _new_round(self) -> bool:
        """Adaptive: spread what remains of the budget over the problems not yet solved; False when none is
        left to sample or nothing remains to spend."""
        open_ = [pid for pid in self.state if pid not in self.stopped]
        if not open_:
            return False
        left = {pid: self.cap - self.state[pid].below for pid in open_}
        room = self._room()
        known = all(self._per_sample(k) is not None for k in self.budget)
        if not known:  # a first round of one batch each tells what a sample costs
            shares = {pid: min(self.batch, left[pid]) for pid in open_}
        else:
            room = min(room, sum(left.values()))
            if room <= 0:
                return False
            each = room // len(open_)
            if each >= self.batch:
                each -= each % self.batch  # whole batches: a sampler that redraws batches wastes nothing
            if each >= 1:
                shares = {pid: min(each, left[pid]) for pid in open_}
            else:  # less than one sample each: one each for the problems that have the fewest so far
                fewest = sorted(open_, key=lambda p: (len(self.state[p].have), self.state[p].order))[:room]
                shares = {pid: 1 for pid in fewest}
        shares = {pid: q for pid, q in shares.items() if q > 0}
        if not shares:
            return False
        self.rounds += 1
        for pid, q in shares.items():
            self.state[pid].quota = q
            self._ready.append(pid)
        self._round_news = {"round": self.rounds,
                            "targets": {pid: self.state[pid].below + q for pid, q in shares.items()}}
        return True
