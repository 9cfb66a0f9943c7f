"""Run a task: problems -> sampler -> verifier -> store, streaming and resumable.

Everything that can be checked is checked before the run directory is touched (config, plug-in names,
data files, the server), so a failed start leaves an existing store unchanged. Then sampling and
verification run concurrently: a bounded number of sampler calls in flight, verifications queued behind
a semaphore so a slow verifier holds back sampling instead of piling samples up in memory. Every record
goes through the single store writer. Resume is per sample: the indices already stored are skipped, the
seed of each index is derived, and stored samples without a verdict are verified first.

One writer per run directory: the run holds the directory's `RunLock` (an OS lock, gone with the process
even after `kill -9`) from before it reads a stored config to after its last commit; a second writer is
refused with a line naming the holder. Which problem gets the next sampler call is the run's `Schedule`'s
choice (`monkeys.schedule`: fixed n, until solved, adaptive rounds, under a budget); it is told every sample
and verdict, and the stops it decides (problem, samples drawn, why) go to the store. Requests are generated
as they are sent, so memory does not grow with `n`. With `--ray`, `monkeys.distributed.attach` may put
actor-backed stand-ins in place of the sampler and verifier; the driver stays the only store writer.
A failure of the store writer or of a sampler call ends the run at once with one `MonkeysError`
(plus the resume hint); worker threads are daemons, so a call stuck in a sampler never keeps the process
alive after the run has ended.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import platform
import queue
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from monkeys import __version__
from monkeys.config import RunConfig, check_plugins, check_resume, parse_problem_selection, redact, stored_config
from monkeys.core import Completion, Problem, Sample, Sampler, SampleRequest, Verdict, Verifier
from monkeys.errors import ConfigError, InputWarning, MonkeysError, StoreError
from monkeys.registry import create, get_plugin, verifier_revision
from monkeys.schedule import ADAPTIVE_ROUND, WAIT, Job, Meter, Schedule
from monkeys.store import (
    StoreWriter,
    blank_store,
    connect,
    read_config,
    read_meta,
    read_problems,
    revisions,
    sample_indices,
    solved_problems,
    store_path,
    unscored_samples,
    unverified_samples,
)
from monkeys.store.lock import RunLock
from monkeys.store.read import problem_stops, sample_tokens
from monkeys.store.writer import write_header


@dataclass(frozen=True)
class LiveStats:
    """What a display shows besides the counts, sent about twice a second (`ProgressSink.status`)."""

    planned: int  # samples the run will have when it ends, as known now (an early stop lowers it)
    backlog: int  # samples drawn and waiting for their verdict
    spend: str  # spend so far, against the budget when there is one
    retries: int | None = None  # sampler requests re-sent after a failure (a sampler that counts them)
    endpoints: tuple[int, int] | None = None  # (up, all) of a sampler with several endpoints
    rounds: int = 0  # adaptive allocation: rounds begun
    stopped: str | None = None  # why the run stops early (a budget), once it does


class ProgressSink(Protocol):
    """What the pipeline tells a display. All methods are called from the pipeline's main thread; `status`
    is optional (asked for with getattr), so a sink written before it keeps working."""

    def start(self, total_samples: int, already: int, problems: int, solved: int) -> None: ...
    def sampled(self, completions: list[Completion]) -> None: ...
    def verified(self, problem_id: str, verdict: Verdict, newly_solved: bool) -> None: ...


class _NoProgress:
    def start(self, total_samples: int, already: int, problems: int, solved: int) -> None: ...
    def sampled(self, completions: list[Completion]) -> None: ...
    def verified(self, problem_id: str, verdict: Verdict, newly_solved: bool) -> None: ...
    def status(self, stats: LiveStats) -> None: ...


@dataclass
class RunSummary:
    run_dir: Path
    problems: int
    samples_drawn: int = 0
    samples_verified: int = 0
    resumed: bool = False
    solved: set[str] = field(default_factory=set)
    verifier: str | None = None  # the key its verdicts are stored under
    stopped: str | None = None  # why the run ended before every problem reached its cap (a budget)
    stops: dict[str, int] = field(default_factory=dict)  # stop reason -> problems (cap, solved, budget)
    schedule: str = ""  # the schedule in words ("until solved, at most 32 per problem")
    spend: str = ""  # what the run's samples cost, all of them (stored before too)


def select_problems(problems: list[Problem], spec: str | None, task: str) -> list[Problem]:
    """Apply the `problems` selection; unknown ids or an empty slice are a ConfigError."""
    if spec is None:
        return problems
    sel = parse_problem_selection(spec)
    if isinstance(sel, slice):
        chosen = problems[sel]
    else:
        by_id = {p.problem_id: p for p in problems}
        missing = [pid for pid in sel if pid not in by_id]
        if missing:
            raise ConfigError(f"problems: {missing[0]!r} is not a problem id of task {task!r}")
        chosen = [by_id[pid] for pid in sel]
    if not chosen:
        raise ConfigError(f"problems: {spec!r} selects no problem of task {task!r} ({len(problems)} in all)")
    return chosen


def build_sampler(config: RunConfig) -> Sampler:
    options = dict(config.sampler_options)
    if config.model is not None:
        options["model"] = config.model
    if config.base_url is not None:
        options["base_url"] = config.base_url
    sampler = create("sampler", config.sampler, **options)
    check = getattr(sampler, "check_reachable", None)
    if callable(check):
        check()
    return sampler


def verifier_name(config: RunConfig) -> str:
    factory: Any = get_plugin("task", config.task).factory
    return config.verifier or factory.default_verifier


SAMPLER_LOGPROB = "sampler-logprob"  # the score a sampler's own log-probabilities are stored under
_RESUME_HINT = "stored samples are kept; run the same command again to resume"


class _Jobs:
    """A plain iterator of sampler calls in the shape of a `Schedule` (what `monkeys verify` hands `_stream`:
    nothing to draw). It stops nothing and knows no budget."""

    strategy = "fixed"
    exhausted: str | None = None
    rounds = 0

    def __init__(self, jobs: Iterator[tuple[Problem, list[SampleRequest], set[int]]]) -> None:
        self.jobs = jobs

    def next(self) -> Job | None:
        job = next(self.jobs, None)
        return None if job is None else Job(*job)

    def sampled(self, job: Job, kept: list[Completion]) -> None: ...
    def verified(self, problem_id: str, passed: bool) -> None: ...

    def take_stops(self) -> list[tuple[str, int, str]]:
        return []

    def finish(self) -> list[tuple[str, int, str]]:
        return []

    def planned(self) -> int:
        return 0

    def spend_text(self) -> str:
        return ""


def check_data_hidden(data: str | None, verifier: str) -> None:
    """Refuse a task data file that the programs `verifier` runs could read (`ConfigError`): under /usr,
    /etc, /lib, /bin, which the sandbox grants, its tests and reference solutions would be theirs to read.
    Verifiers that run no programs (they declare no `protections`) may take data from anywhere."""
    if not data or not os.path.exists(data):  # a dataset name on the hub, or a file the task reports missing
        return
    if not callable(getattr(get_plugin("verifier", verifier).factory, "protections", None)):
        return
    from monkeys.sandbox import _readable

    if _readable.readable_by_programs(data):
        raise ConfigError(f"--data {data}: programs in the sandbox can read the system directories"
                          f" ({', '.join(d for d in _readable.SYSTEM_DIRS if os.path.exists(d))}), so samples"
                          f" checked by {verifier} could read this file's tests and reference solutions; keep the"
                          " task's data elsewhere (your home or project directory, the Hugging Face cache)")


def _protections(verifier: Verifier) -> dict[str, str]:
    """A verifier that runs programs says what its sandbox enforces; others enforce nothing to record."""
    own = getattr(verifier, "protections", None)
    return dict(own()) if callable(own) else {}


class _Workers:
    """A fixed set of daemon threads running submitted calls, each with a `Future`.

    Not a `ThreadPoolExecutor`: its threads are joined when the interpreter exits, so one sampler call stuck
    on a dead server (or a verification stuck in a sandbox) would keep the process alive after the run has
    already failed and printed its error.
    """

    def __init__(self, size: int, name: str) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]
                                       | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
                         for i in range(max(1, size))]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        self._queue.put((fut, fn, args, kwargs))
        return fut

    def shutdown(self, *, wait: bool = True, cancel: bool = False) -> None:
        if cancel:
            with contextlib.suppress(queue.Empty):
                while True:
                    item = self._queue.get_nowait()
                    if item is not None:
                        item[0].cancel()
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for thread in self._threads:
                thread.join()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fut, fn, args, kwargs = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                fut.set_exception(exc)
            else:
                fut.set_result(result)
            del fut, fn, args, kwargs, item


@dataclass
class _Stored:
    """What a resumed run takes from its store."""

    problems: list[Problem] | None = None
    configured: bool = False  # the store holds the run's config (else it was killed while being made)
    history: list[dict[str, Any]] | None = None  # the config history to store, when this resume adds to it
    redacted: dict[str, Any] | None = None  # the stored config without the secret an old monkeys kept in it
    complete_model: str | None = None  # every problem has its n samples: the stored model name (no sampler)


class _StoredSamples:
    """Stands in for the sampler when a resumed run has every sample it asks for (adding a scorer, or
    verifying again): nothing is drawn, so the model server need not be up, nor the local model loaded."""

    redraw_whole_batch = False
    concurrency = 1

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    def sample(self, *args: Any, **kwargs: Any) -> list:
        raise MonkeysError("internal: a complete run asked for a sample")

    def close(self) -> None:
        pass


def _read_stored(run_dir: Path, config: RunConfig) -> _Stored:
    """On resume: check `config` against the stored one; the stored problems and the new config history."""
    db = connect(run_dir)
    try:
        stored = read_config(db)  # a config that is not an object, or an edited field, is one line
        if not stored:  # made but killed before its header was written: nothing to agree with
            problems, samples = db.execute("SELECT (SELECT count(*) FROM problems), (SELECT count(*) FROM samples)"
                                           ).fetchone()
            if problems or samples:  # the header (config and problems) is written in one transaction
                raise StoreError(f"{store_path(run_dir)}: holds {problems:,} problems and {samples:,} samples but no"
                                 " run config (meta 'config' is missing: the store was edited or damaged), so this"
                                 " run cannot be checked against the one that drew them; choose another --out"
                                 f" (`monkeys report {run_dir}` and `monkeys export` still read it)")
            return _Stored()
        if isinstance(stored, dict) and (stored.get("made_by") == "monkeys verify" or stored.get("task") == "imported"):
            made = "monkeys verify" if stored.get("made_by") else "monkeys import"
            raise ConfigError(f"{run_dir}: holds samples made elsewhere and stored by `{made}`"
                              f" ({stored.get('source') or 'a file'}); `monkeys run` draws nothing into it: choose"
                              f" another --out, or add a verifier's verdicts with `monkeys verify {run_dir}"
                              " --verifier NAME`")
        old = read_meta(db, "config_history") or []
        if not isinstance(old, list):
            raise StoreError(f"{store_path(run_dir)}: meta 'config_history' is not a JSON list (the store was"
                             " edited or damaged)")
        history = check_resume(stored, config, run_dir, old)
        vname = verifier_name(config)
        revisions.check(db, run_dir, vname, verifier_revision(vname), reverify=f"monkeys verify {run_dir} --reverify")
        clean = redact(stored)
        problems = read_problems(db) or None
        have = sample_indices(db)
        stops = problem_stops(db) if config.until_solved or config.allocate == "adaptive" else {}
        complete = problems is not None and all(  # a problem stopped at its first pass needs no more either
            len(have.get(p.problem_id, ())) >= config.n or getattr(stops.get(p.problem_id), "reason", "") == "solved"
            for p in problems)
        model = read_meta(db, "model") if complete else None
        return _Stored(problems, True, history if history != old else None, clean if clean != stored else None,
                       str(model) if model else None)
    except sqlite3.Error as exc:
        raise StoreError(f"{store_path(run_dir)}: cannot read the run store: {exc}") from exc
    finally:
        db.close()


def run(config: RunConfig, progress: ProgressSink | None = None) -> RunSummary:
    """Run or resume `config` into `config.out`. Raises MonkeysError subclasses for the user's mistakes.

    Holds the run directory's lock for the whole run: a run directory another writer holds is refused
    (`StoreError`) before anything is read or written. Everything that can be checked is checked before a
    missing run directory is created.
    """
    progress = progress or _NoProgress()
    run_dir = Path(config.out)
    for kind, name in (("task", config.task), ("sampler", config.sampler), ("verifier", verifier_name(config)),
                       *(("scorer", s) for s in config.scorers)):
        get_plugin(kind, name)  # unknown names fail before anything else
    check_plugins(config)  # every plug-in option, as the CLI checks it: Python callers get the same one line
    check_data_hidden(config.data, verifier_name(config))
    lock = RunLock(run_dir, choose="another --out")
    if run_dir.is_dir():
        lock.acquire()  # before reading the stored config: nobody changes it under us
    try:
        return _locked_run(config, run_dir, lock, progress)
    finally:
        lock.release()


def _locked_run(config: RunConfig, run_dir: Path, lock: RunLock, progress: ProgressSink) -> RunSummary:
    resumed = store_path(run_dir).exists()
    if resumed and blank_store(run_dir):  # killed between creating the file and its schema: nothing to keep
        warnings.warn(InputWarning(f"{store_path(run_dir)}: an empty run store (a run stopped while making it);"
                                   " made afresh"), stacklevel=1)
        resumed = False
    stored = _read_stored(run_dir, config) if resumed else _Stored()
    problems = stored.problems
    if problems is None:
        task = create("task", config.task, **({"data": config.data} if config.data else {}),
                      **config.task_options)
        spec = config.problems or getattr(task, "default_problems", None)
        problems = select_problems(task.load_problems(), spec, config.task)
    vname = verifier_name(config)
    verifier: Verifier = create("verifier", vname, **config.verifier_options)
    scorers: dict[str, Any] = {}
    try:
        for name in config.scorers:
            scorers[name] = create("scorer", name, **config.scorer_options.get(name, {}))
        sampler = (_StoredSamples(stored.complete_model) if stored.complete_model is not None
                   else build_sampler(config))
    except BaseException:
        verifier.close()
        for scorer in scorers.values():
            scorer.close()
        raise
    built = (sampler, verifier)  # closed below, besides what `attach` puts in their place
    try:
        meter = Meter.for_run(config, sampler.model_name)  # a budget it cannot price fails before the run dir
        if config.ray:
            sampler, verifier = _attach_ray(config, vname, sampler, verifier)
    except BaseException:
        sampler.close()
        verifier.close()
        for scorer in scorers.values():
            scorer.close()
        raise
    try:
        if not lock.held:  # a fresh run directory: made now that every check has passed
            lock.acquire(create_dir=True)
            if not resumed and store_path(run_dir).exists():  # another run made a store here meanwhile
                resumed = True
                stored = _read_stored(run_dir, config)
                problems = stored.problems or problems
        return _run(config, run_dir, problems, sampler, verifier, vname, scorers, progress, resumed, stored, meter)
    finally:
        sampler.close()
        verifier.close()
        for own in built:
            if own is not sampler and own is not verifier:
                own.close()
        for scorer in scorers.values():
            scorer.close()


def _attach_ray(config: RunConfig, vname: str, sampler: Sampler, verifier: Verifier) -> tuple[Sampler, Verifier]:
    """`--ray`: `monkeys.distributed.attach` may put actor-backed stand-ins (same protocols, plus `close()`)
    in place of the in-process sampler and verifier. The pipeline closes what `attach` returns and, besides,
    what it built itself; the driver stays the only store writer either way."""
    from monkeys.extras import require

    require("ray", "ray", what="--ray")
    try:
        distributed = importlib.import_module("monkeys.distributed")
    except ImportError as exc:
        raise ConfigError(f"--ray {config.ray}: this monkeys has no Ray support ({exc})") from None
    attach = getattr(distributed, "attach", None)
    if not callable(attach):
        raise ConfigError(f"--ray {config.ray}: this monkeys has no Ray support (monkeys.distributed.attach)")
    new_sampler, new_verifier = attach(config, vname, sampler, verifier)
    return new_sampler, new_verifier


def _prepare_store(config: RunConfig, run_dir: Path, problems: list[Problem], sampler: Sampler,
                   verifier: Verifier, vname: str, scorers: dict[str, Any], stored: _Stored
                   ) -> tuple[dict[str, set[int]], dict[tuple[str, int], tuple[Sample, bool, list[str]]], set[str],
                              tuple[Any, Any, Any], Any]:
    """Record the run's metadata and problems; return stored indices, pending work, solved problems, what the
    stored samples cost and the adaptive round in progress (meta "adaptive_round", see `Schedule.take_round`).

    The config is stored once, when the run is made, and never rewritten: a resume that changes what may
    change (a larger `n`, ...) appends to meta "config_history" (see `config.check_resume`)."""
    header: dict[str, Any] = {}
    if not stored.configured:
        header["created_at"] = datetime.now(UTC).isoformat()
        header["config"] = stored_config(config)  # secrets redacted
    elif stored.redacted is not None:  # the same config, less a key stored in clear before issue 10
        header["config"] = stored.redacted
    if stored.history is not None:
        header["config_history"] = stored.history
    header.update(monkeys_version=__version__, python=platform.python_version(), model=sampler.model_name,
                  verifier=vname, protections=_protections(verifier))
    db = connect(run_dir, create=True)
    try:
        write_header(db, header, problems)
        revisions.record(db, run_dir, vname, verifier_revision(vname))
        have = sample_indices(db)
        # Resume: stored samples lacking a verdict or a score (a crash between the stages) come first.
        pending: dict[tuple[str, int], tuple[Sample, bool, list[str]]] = {}
        for sample in unverified_samples(db, vname):
            pending[(sample.problem_id, sample.index)] = (sample, True, list(scorers))
        for name in scorers:
            for sample in unscored_samples(db, name):
                key = (sample.problem_id, sample.index)
                if key not in pending:
                    pending[key] = (sample, False, [])
                if name not in pending[key][2]:
                    pending[key][2].append(name)
        solved = solved_problems(db, vname)
        tokens = sample_tokens(db)  # what the stored samples cost: a budget counts them
        round_state = read_meta(db, ADAPTIVE_ROUND) if config.allocate == "adaptive" else None
    except sqlite3.Error as exc:  # a full disk, "database is locked" after the busy timeout, an I/O error
        raise StoreError(f"{store_path(run_dir)}: writing the run store failed: {exc}") from exc
    finally:
        db.close()
    return have, pending, solved, tokens, round_state


def _with_resume_hint(exc: MonkeysError) -> MonkeysError:
    """The same error, its message ending with how to resume (a run that stopped midway keeps its samples)."""
    text = str(exc)
    if "resume" in text:
        return exc
    try:
        return type(exc)(f"{text}; {_RESUME_HINT}")
    except Exception:
        return MonkeysError(f"{text}; {_RESUME_HINT}")


def _run(config: RunConfig, run_dir: Path, problems: list[Problem], sampler: Sampler, verifier: Verifier,
         vname: str, scorers: dict[str, Any], progress: ProgressSink, resumed: bool, stored: _Stored,
         meter: Meter) -> RunSummary:
    have, pending, solved, tokens, round_state = _prepare_store(config, run_dir, problems, sampler, verifier,
                                                                vname, scorers, stored)
    by_id = {p.problem_id: p for p in problems}
    summary = RunSummary(run_dir, len(problems), resumed=resumed, solved=solved)
    awaiting: dict[str, int] = {}
    for (pid, _), (_, need_verdict, _) in pending.items():
        if need_verdict and pid in by_id:
            awaiting[pid] = awaiting.get(pid, 0) + 1
    jobs = Schedule(config, problems, have=have, solved=solved, awaiting=awaiting,
                    redraw_whole_batch=sampler.redraw_whole_batch, meter=meter, spent=meter.cost(*tokens),
                    round_state=round_state)
    summary.schedule = jobs.describe()
    already = sum(min(len(have.get(p.problem_id, ())), config.n) for p in problems)
    progress.start(max(jobs.planned(), already), already, len(problems), len(solved))

    writer = StoreWriter(run_dir)
    try:
        done = _stream(config, by_id, pending.values(), jobs, sampler, verifier, vname, scorers, progress,
                       summary, writer)
    except MonkeysError as exc:
        raise _with_resume_hint(exc) from exc
    _finish_reverify(run_dir, vname)
    return done


def _finish_reverify(run_dir: Path, vname: str) -> None:
    """A `monkeys verify RUN --reverify` that was stopped and that this run finished (it verified the samples
    left without a verdict) is no longer pending: a later `--reverify` re-checks every sample afresh."""
    db = connect(run_dir)
    try:
        if revisions.reverify_pending(db, vname, verifier_revision(vname)) and not unverified_samples(db, vname):
            revisions.finish_reverify(db, vname)
    except sqlite3.Error as exc:
        raise StoreError(f"{store_path(run_dir)}: writing the run store failed: {exc}") from exc
    finally:
        db.close()


def _stream(config: RunConfig, by_id: dict[str, Problem], pending: Iterable[tuple[Sample, bool, list[str]]],
            jobs: Schedule | _Jobs | Iterator[tuple[Problem, list[SampleRequest], set[int]]], sampler: Sampler,
            verifier: Verifier, vname: str, scorers: dict[str, Any], progress: ProgressSink, summary: RunSummary,
            writer: StoreWriter) -> RunSummary:
    """Sample what `jobs` (the run's `Schedule`, or a plain iterator of calls) hands out, verify and score
    every sample and `pending` stored one, store all of it; tell the schedule what comes back."""
    schedule: Schedule | _Jobs = jobs if isinstance(jobs, Schedule | _Jobs) else _Jobs(jobs)
    # A verifier that fans out (actors on a Ray cluster) says how many calls it wants in flight.
    verify_workers = max(config.verify_workers, int(getattr(verifier, "workers", None) or 0))
    verify_slots = threading.BoundedSemaphore(verify_workers * 4)
    lock = threading.Lock()
    done_verdicts: list[tuple[str, Verdict]] = []

    def verify(problem: Problem, sample: Sample, need_verdict: bool, scorer_names: list[str]) -> None:
        try:
            if need_verdict:
                verdict = verifier.verify(problem, sample)
                writer.put_verdict(problem.problem_id, sample.index, vname, verdict)
            for name in scorer_names:
                writer.put_score(problem.problem_id, sample.index, name, scorers[name].score(problem, sample))
            if need_verdict:
                with lock:
                    done_verdicts.append((problem.problem_id, verdict))
        finally:
            verify_slots.release()

    def score_group(problem: Problem, samples: list[Sample], name: str) -> None:
        """A scorer with `score_many` scores several samples of one problem at once (one prompt, a batch)."""
        try:
            for sample, value in zip(samples, scorers[name].score_many(problem, samples), strict=True):
                writer.put_score(problem.problem_id, sample.index, name, value)
        finally:
            verify_slots.release()

    def drain_verdicts() -> None:
        with lock:
            batch = done_verdicts[:]
            done_verdicts.clear()
        for pid, verdict in batch:
            newly = verdict.passed and pid not in summary.solved
            if verdict.passed:
                summary.solved.add(pid)
            summary.samples_verified += 1
            schedule.verified(pid, verdict.passed)
            progress.verified(pid, verdict, newly)

    # A sampler says how many calls it takes at once (an HTTP client: many; a local model: one).
    concurrency = config.concurrency or int(getattr(sampler, "concurrency", 1))
    sample_pool = _Workers(concurrency, "monkeys-sample")
    verify_pool = _Workers(verify_workers, "monkeys-verify")
    verify_futures: set[Future[None]] = set()
    grouped = {name for name, s in scorers.items() if callable(getattr(s, "score_many", None))}

    def submit_verify(problem: Problem, sample: Sample, need_verdict: bool = True,
                      scorer_names: list[str] | None = None) -> None:
        names = [n for n in (list(scorers) if scorer_names is None else scorer_names) if n not in grouped]
        if not need_verdict and not names:
            return
        while not verify_slots.acquire(timeout=0.1):  # back-pressure: wait for a verifier slot
            writer.check()
            drain_verdicts()
            _reap(verify_futures)
        verify_futures.add(verify_pool.submit(verify, problem, sample, need_verdict, names))

    def submit_scores(problem: Problem, samples: list[Sample], name: str) -> None:
        for start in range(0, len(samples), 64):  # bounded jobs: back-pressure still works for a large n
            while not verify_slots.acquire(timeout=0.1):
                writer.check()
                drain_verdicts()
                _reap(verify_futures)
            verify_futures.add(verify_pool.submit(score_group, problem, samples[start:start + 64], name))

    try:
        waiting: dict[tuple[str, str], list[Sample]] = {}  # (problem, grouped scorer) -> samples to score
        for sample, need_verdict, names in pending:
            if sample.problem_id in by_id:
                submit_verify(by_id[sample.problem_id], sample, need_verdict, names)
                for name in grouped.intersection(names):
                    waiting.setdefault((sample.problem_id, name), []).append(sample)
        for (pid, name), samples in waiting.items():
            submit_scores(by_id[pid], samples, name)
        del pending, waiting
        in_flight: dict[Future[list[Completion]], Job] = {}
        status = getattr(progress, "status", None)
        last_status = 0.0
        endpoints_up = getattr(sampler, "endpoints_up", None)

        take_round = getattr(schedule, "take_round", None)

        def fill() -> Job | str | None:
            """Start sampler calls while there is room; what the schedule said last (None: it has no more)."""
            while len(in_flight) < concurrency:
                job = schedule.next()
                dealt = take_round() if take_round is not None else None
                if dealt is not None:  # queued before any sample of the round: a resume finishes it as dealt
                    writer.put_meta(ADAPTIVE_ROUND, dealt)
                if job is None or job == WAIT:
                    return job
                assert isinstance(job, Job)
                fut = sample_pool.submit(sampler.sample, job.problem.prompt, job.requests,
                                         temperature=config.temperature, top_p=config.top_p,
                                         max_tokens=config.max_tokens)
                in_flight[fut] = job
            return WAIT

        def put_stop(pid: str, drawn: int, reason: str) -> None:
            writer.put_stop(pid, drawn, reason)
            summary.stops[reason] = summary.stops.get(reason, 0) + 1

        def tell(force: bool = False) -> None:
            """Stops to the store; live numbers to the display (twice a second)."""
            nonlocal last_status
            for stop in schedule.take_stops():
                put_stop(*stop)
            now = time.monotonic()
            if callable(status) and (force or now - last_status >= 0.5):
                last_status = now
                up = endpoints_up() if callable(endpoints_up) else None
                status(LiveStats(schedule.planned(), len(verify_futures), schedule.spend_text(),
                                 getattr(sampler, "retries", None), tuple(up) if up is not None else None,
                                 schedule.rounds, schedule.exhausted))

        said = fill()
        while in_flight or said == WAIT:
            if in_flight:
                finished, _ = wait(list(in_flight), timeout=0.2, return_when=FIRST_COMPLETED)
            else:  # the schedule waits for verdicts (until solved: a problem's next batch waits for its last)
                finished = set()
                if not verify_futures:
                    with lock:
                        idle = not done_verdicts
                    if idle:
                        raise MonkeysError("internal: the schedule waits for verdicts, but none is pending")
                wait(list(verify_futures), timeout=0.2, return_when=FIRST_COMPLETED)
            writer.check()  # a store that cannot be written ends the run now, not at the end
            drain_verdicts()
            _reap(verify_futures)
            for fut in finished:
                job = in_flight.pop(fut)
                problem, keep = job.problem, job.keep
                kept = [c for c in fut.result() if c.index in keep]
                for c in kept:
                    writer.put_sample(problem.problem_id, c, sampler.model_name)
                    if c.logprobs:  # the sampling model's own mean token log-probability, when it gave them
                        writer.put_score(problem.problem_id, c.index, SAMPLER_LOGPROB,
                                         sum(lp for _, lp in c.logprobs) / len(c.logprobs))
                summary.samples_drawn += len(kept)
                progress.sampled(kept)
                new = [Sample(problem.problem_id, c.index, c.seed, c.text, c.prompt_tokens, c.completion_tokens,
                              c.finish_reason, c.latency_s) for c in kept]
                schedule.sampled(job, kept)
                for sample in new:
                    submit_verify(problem, sample)
                for name in grouped:
                    submit_scores(problem, new, name)
            tell()
            said = fill()
        while verify_futures:
            wait(list(verify_futures), timeout=0.2)
            writer.check()
            drain_verdicts()
            _reap(verify_futures)
            tell()
        drain_verdicts()
        for stop in schedule.finish():
            put_stop(*stop)
        summary.stopped = schedule.exhausted
        summary.spend = schedule.spend_text()
        tell(force=True)
        writer.flush()
    except BaseException:
        # Ctrl-C or a failure: keep what is already queued, do not wait for a long sampler call (the
        # workers are daemon threads: one stuck in a call does not keep the process alive).
        sample_pool.shutdown(wait=False, cancel=True)
        verify_pool.shutdown(wait=False, cancel=True)
        with contextlib.suppress(StoreError):  # the error in flight says more (it may be this one)
            writer.close()
        raise
    sample_pool.shutdown()
    verify_pool.shutdown()
    writer.close()
    return summary


def _reap(futures: set[Future[Any]]) -> None:
    """Drop finished verification futures, re-raising a verifier crash (a bug or SandboxError)."""
    for fut in [f for f in futures if f.done()]:
        futures.discard(fut)
        fut.result()
