"""Run a task: problems -> sampler -> verifier -> store, streaming and resumable.

Everything that can be checked is checked before the run directory is touched (config, plug-in names,
data files, the server), so a failed start leaves an existing store unchanged. Then sampling and
verification run concurrently: a bounded number of sampler calls in flight, verifications queued behind
a semaphore so a slow verifier holds back sampling instead of piling samples up in memory. Every record
goes through the single store writer. Resume is per sample: the indices already stored are skipped, the
seed of each index is derived, and stored samples without a verdict are verified first.
"""

from __future__ import annotations

import platform
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from monkeys import __version__
from monkeys.config import RunConfig, check_resume, parse_problem_selection, stored_config
from monkeys.core import Completion, Problem, Sample, Sampler, SampleRequest, Verdict, Verifier, derive_seed
from monkeys.errors import ConfigError
from monkeys.registry import create, get_plugin
from monkeys.store import (
    StoreWriter,
    connect,
    read_meta,
    read_problems,
    sample_indices,
    store_path,
    unscored_samples,
    unverified_samples,
    write_meta,
    write_problems,
)


class ProgressSink(Protocol):
    """What the pipeline tells a display. All methods are called from the pipeline's main thread."""

    def start(self, total_samples: int, already: int, problems: int, solved: int) -> None: ...
    def sampled(self, completions: list[Completion]) -> None: ...
    def verified(self, problem_id: str, verdict: Verdict, newly_solved: bool) -> None: ...


class _NoProgress:
    def start(self, total_samples: int, already: int, problems: int, solved: int) -> None: ...
    def sampled(self, completions: list[Completion]) -> None: ...
    def verified(self, problem_id: str, verdict: Verdict, newly_solved: bool) -> None: ...


@dataclass
class RunSummary:
    run_dir: Path
    problems: int
    samples_drawn: int = 0
    samples_verified: int = 0
    resumed: bool = False
    solved: set[str] = field(default_factory=set)


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
    return config.verifier or get_plugin("task", config.task).factory.default_verifier


def _batches(n: int, size: int) -> Iterator[range]:
    for start in range(0, n, size):
        yield range(start, min(n, start + size))


def _protections(verifier: Verifier) -> dict[str, str]:
    """A verifier that runs programs says what its sandbox enforces; others enforce nothing to record."""
    own = getattr(verifier, "protections", None)
    return dict(own()) if callable(own) else {}


def run(config: RunConfig, progress: ProgressSink | None = None) -> RunSummary:
    """Run or resume `config` into `config.out`. Raises MonkeysError subclasses for the user's mistakes."""
    progress = progress or _NoProgress()
    run_dir = Path(config.out)
    resumed = store_path(run_dir).exists()
    for kind, name in (("task", config.task), ("sampler", config.sampler), ("verifier", verifier_name(config)),
                       *(("scorer", s) for s in config.scorers)):
        get_plugin(kind, name)  # unknown names fail before anything else
    problems: list[Problem] | None = None
    if resumed:
        db = connect(run_dir)
        stored = read_meta(db, "config") or {}
        check_resume(stored, config, run_dir)
        problems = read_problems(db) or None
        db.close()
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
            scorers[name] = create("scorer", name)
        sampler = build_sampler(config)
    except BaseException:
        verifier.close()
        for scorer in scorers.values():
            scorer.close()
        raise
    try:
        return _run(config, run_dir, problems, sampler, verifier, vname, scorers, progress, resumed)
    finally:
        sampler.close()
        verifier.close()
        for scorer in scorers.values():
            scorer.close()


def _run(config: RunConfig, run_dir: Path, problems: list[Problem], sampler: Sampler, verifier: Verifier,
         vname: str, scorers: dict[str, Any], progress: ProgressSink, resumed: bool) -> RunSummary:
    db = connect(run_dir, create=True)
    try:
        if not resumed:
            write_meta(db, "created_at", datetime.now(UTC).isoformat())
        write_meta(db, "config", stored_config(config))  # secrets redacted
        write_meta(db, "monkeys_version", __version__)
        write_meta(db, "python", platform.python_version())
        write_meta(db, "model", sampler.model_name)
        write_meta(db, "verifier", vname)
        write_meta(db, "protections", _protections(verifier))
        write_problems(db, problems)
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
        solved = {r[0] for r in db.execute(
            "SELECT DISTINCT s.problem_id FROM verdicts v JOIN samples s USING (sample_id)"
            " WHERE v.verifier = ? AND v.outcome = 'pass'", (vname,))}
    finally:
        db.close()
    by_id = {p.problem_id: p for p in problems}
    summary = RunSummary(run_dir, len(problems), resumed=resumed, solved=solved)
    jobs = []  # (problem, requests to send, indices to keep)
    for p in problems:
        got = have.get(p.problem_id, set())
        for batch in _batches(config.n, config.batch_size):
            keep = [i for i in batch if i not in got]
            if keep:
                send = list(batch) if sampler.redraw_whole_batch else keep
                reqs = [SampleRequest(i, derive_seed(config.seed, p.problem_id, i)) for i in send]
                jobs.append((p, reqs, set(keep)))
    already = sum(min(len(have.get(p.problem_id, ())), config.n) for p in problems)
    progress.start(config.n * len(problems), already, len(problems), len(solved))

    writer = StoreWriter(run_dir)
    verify_slots = threading.BoundedSemaphore(config.verify_workers * 4)
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

    def drain_verdicts() -> None:
        with lock:
            batch = done_verdicts[:]
            done_verdicts.clear()
        for pid, verdict in batch:
            newly = verdict.passed and pid not in summary.solved
            if verdict.passed:
                summary.solved.add(pid)
            summary.samples_verified += 1
            progress.verified(pid, verdict, newly)

    # A sampler says how many calls it takes at once (an HTTP client: many; a local model: one).
    concurrency = config.concurrency or int(getattr(sampler, "concurrency", 1))
    sample_pool = ThreadPoolExecutor(concurrency, thread_name_prefix="monkeys-sample")
    verify_pool = ThreadPoolExecutor(config.verify_workers, thread_name_prefix="monkeys-verify")
    verify_futures: set[Future[None]] = set()

    def submit_verify(problem: Problem, sample: Sample, need_verdict: bool = True,
                      scorer_names: list[str] | None = None) -> None:
        while not verify_slots.acquire(timeout=0.1):  # back-pressure: wait for a verifier slot
            drain_verdicts()
            _reap(verify_futures)
        names = list(scorers) if scorer_names is None else scorer_names
        verify_futures.add(verify_pool.submit(verify, problem, sample, need_verdict, names))

    try:
        for sample, need_verdict, names in pending.values():
            if sample.problem_id in by_id:
                submit_verify(by_id[sample.problem_id], sample, need_verdict, names)
        job_iter = iter(jobs)
        in_flight: dict[Future[list[Completion]], tuple[Problem, set[int]]] = {}

        def fill() -> None:
            while len(in_flight) < concurrency:
                job = next(job_iter, None)
                if job is None:
                    return
                problem, reqs, keep = job
                fut = sample_pool.submit(sampler.sample, problem.prompt, reqs, temperature=config.temperature,
                                         top_p=config.top_p, max_tokens=config.max_tokens)
                in_flight[fut] = (problem, keep)

        fill()
        while in_flight:
            finished, _ = wait(list(in_flight), timeout=0.2, return_when=FIRST_COMPLETED)
            drain_verdicts()
            _reap(verify_futures)
            for fut in finished:
                problem, keep = in_flight.pop(fut)
                kept = [c for c in fut.result() if c.index in keep]
                for c in kept:
                    writer.put_sample(problem.problem_id, c, sampler.model_name)
                summary.samples_drawn += len(kept)
                progress.sampled(kept)
                for c in kept:
                    submit_verify(problem, Sample(problem.problem_id, c.index, c.seed, c.text, c.prompt_tokens,
                                                  c.completion_tokens, c.finish_reason, c.latency_s))
            fill()
        while verify_futures:
            wait(list(verify_futures), timeout=0.2)
            drain_verdicts()
            _reap(verify_futures)
        drain_verdicts()
        writer.flush()
    except BaseException:
        # Ctrl-C or a crash: keep what is already queued, do not wait for a long sampler call.
        sample_pool.shutdown(wait=False, cancel_futures=True)
        verify_pool.shutdown(wait=False, cancel_futures=True)
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

