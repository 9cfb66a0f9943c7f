"""Verification on every node of a Ray cluster: actors with their own sandbox pools, fed in batches.

The driver's pipeline calls `RayVerifier.verify(problem, sample)` from many threads, each call blocking
like any verifier. A dispatcher thread gathers the queued calls into batches (greedily: an actor with room
gets whatever is queued, up to its batch size, so a light load is not held back waiting for a full batch;
the size follows the actor's own timing of the samples it ran, see `BATCH_S`) and sends each to the actor
with the least work per core. Each actor builds the verifier itself from
(name, options), so it runs programs in a sandbox pool on its own node, and runs a batch on as many threads
as it has cores. A problem crosses to the cluster once (`ray.put`); batches carry samples and references.

Faults: an actor, worker or node that is lost takes nothing with it, nor does an actor whose sandbox stops
starting programs (as one being killed may: its SandboxError is no verdict). Its in-flight batches go back to
the front of the queue for another live actor (a sample is given up, as an error, after `MAX_TRIES` losses:
it is what kills actors). The dispatcher then starts a replacement wherever a live node has fewer actors than
its share (on the node that lost one only after `REPLACE_AFTER_S`), and stops placing actors on a node
where `MAX_NODE_FAILURES` failed to start. Verdicts come back
to the driver, whose pipeline is still the only store writer: nothing is stored twice.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import math
import threading
import time
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from monkeys.core import Problem, Sample, Verdict
from monkeys.distributed._cluster import Node, acquire, alive_nodes, is_lost, on_node, ray_module, release
from monkeys.errors import ConfigError, MonkeysError, SandboxError

MAX_TRIES = 3  # losses of one sample's batch before it is given up as an error
# Batch size: about BATCH_S of work per actor thread (from the actor's own timing of the samples it ran),
# at least one sample per thread, at most MAX_PER_THREAD. Small batches of slow samples keep actors even
# at the end of a run (no actor sits on a queue while another is idle); large batches of fast samples
# (an answer check takes ~1 ms) keep Ray's per-call cost (~1 ms) small beside the work.
BATCH_S = 0.25
MAX_PER_THREAD = 16
MAX_NODE_FAILURES = 3  # failed actor starts after which a node gets no more actors
STARVED_S = 120.0  # queued work and no live actor for this long: the run ends (resumable)
RECONCILE_S = 2.0  # how often the dispatcher compares actors with live nodes
# A node that just lost an actor gets its replacement only after this long: a node that went down is still
# listed alive until the cluster's health checks notice (~15-30 s), and an actor placed there meanwhile
# would take batches and hang with them. A node still alive by then had only its actor die.
REPLACE_AFTER_S = 30.0


def _settle(future: Future[Verdict], result: Verdict | BaseException) -> None:
    """Give a waiting `verify` call its verdict or exception (once: `close` may have failed it already)."""
    with contextlib.suppress(InvalidStateError):
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)


def _status(value: str) -> str:
    """"active" of "active (uid 123, ...)": whether a protection holds, without per-pool detail."""
    return value.split(" ", 1)[0].rstrip(":,")


class _VerifyActor:
    """Runs inside the cluster: one verifier (and so one sandbox pool) per actor, batches on `threads`."""

    def __init__(self, name: str, options: dict[str, Any], threads: int, revision: int | None = None) -> None:
        """`revision`: the driver's revision of the verifier (what its store records); a node whose installed
        monkeys has another would judge the same samples by other rules, so it refuses to start."""
        import socket

        from monkeys.registry import create, verifier_revision

        self._error: BaseException | None = None
        self._problems: dict[str, Problem] = {}
        self._pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="monkeys-verify")
        try:
            self._verifier: Any = create("verifier", name, **options)
            own = verifier_revision(name)
            have = own.number if own else None
            if revision is not None and have != revision:
                raise ConfigError(
                    f"--ray: node {socket.gethostname()} has revision {have or 'none'} of verifier"
                    f" {name!r}; the driver has revision {revision}, and one run's verdicts must follow one"
                    " set of rules: install the same monkeys version on every node")
        except Exception as exc:  # reported by ready(): the driver raises it as the user would see it locally
            self._error = exc

    def ready(self) -> BaseException | None:
        return self._error

    def protections(self) -> dict[str, str]:
        own = getattr(self._verifier, "protections", None)
        return dict(own()) if callable(own) else {}

    def verify_batch(self, problems: dict[str, Any], samples: list[Sample]
                     ) -> tuple[list[Verdict | BaseException], float]:
        """Verdicts in the order of `samples` (a verifier's exception in its sample's place), and the
        seconds the samples took, one after another: what the driver sizes the next batches by."""
        ray = ray_module()
        missing = [pid for pid in problems if pid not in self._problems]
        if missing:
            for pid, problem in zip(missing, ray.get([problems[pid] for pid in missing]), strict=True):
                self._problems[pid] = problem
        futures = [self._pool.submit(self._timed, self._problems[s.problem_id], s) for s in samples]
        out: list[Verdict | BaseException] = []
        busy = 0.0
        for fut in futures:
            result, seconds = fut.result()
            out.append(result)
            busy += seconds
        return out, busy

    def _timed(self, problem: Problem, sample: Sample) -> tuple[Verdict | BaseException, float]:
        start = time.perf_counter()
        try:
            result: Verdict | BaseException = self._verifier.verify(problem, sample)
        except Exception as exc:
            result = exc
        return result, time.perf_counter() - start


@dataclass(eq=False)
class _Item:
    problem: Problem
    sample: Sample
    future: Future[Verdict] = field(default_factory=Future)
    tries: int = 0


@dataclass(eq=False)
class _Actor:
    handle: Any
    node: Node
    threads: int
    per_sample_s: float | None = None  # running mean of one sample's verification, from the actor's timing
    usable: bool = False  # its verifier is built (ready() came back clean)
    alive: bool = True
    in_flight: int = 0

    def batch(self) -> int:
        """Samples in its next batch: about `BATCH_S` of work per thread, one per thread to start with."""
        if not self.per_sample_s:
            return self.threads
        per_thread = min(MAX_PER_THREAD, max(1, int(BATCH_S / self.per_sample_s)))
        return per_thread * self.threads

    def timed(self, per_sample_s: float) -> None:
        self.per_sample_s = per_sample_s if self.per_sample_s is None else (
            0.7 * self.per_sample_s + 0.3 * per_sample_s)


class RayVerifier:
    """A verifier whose `verify` runs on the actors of a Ray cluster (see the module docstring).

    Actors: one per live node, or with `cores_per_actor` one per that many of a node's cores; each runs
    batches of about `BATCH_S` of work per core (sized from its own timings), `depth` batches at once.
    `workers` is how many calls the pipeline should keep in flight to keep every actor's queue full.
    """

    def __init__(self, name: str, options: dict[str, Any], address: str, *, cores_per_actor: int | None = None,
                 depth: int = 2, startup_timeout_s: float = 300.0, replace_after_s: float = REPLACE_AFTER_S,
                 revision: int | None = None) -> None:
        """`revision`: of the verifier every actor must have (default: this installation's, which the run's
        store records); an actor with another refuses to start, at start-up the run's error, later its node's."""
        from monkeys.registry import verifier_revision

        own = verifier_revision(name)
        self._revision = revision if revision is not None else own.number if own else None
        acquire(address)
        self._ray = ray_module()
        self._name, self._options, self._address = name, dict(options), address
        self._cores_per_actor, self._depth = cores_per_actor, depth
        self._cond = threading.Condition()
        self._queue: collections.deque[_Item] = collections.deque()
        self._actors: list[_Actor] = []
        self._refs: dict[str, Any] = {}  # problem id -> its ObjectRef (put once)
        self._failures: collections.Counter[str] = collections.Counter()  # node id -> failed actor starts
        self._lost_at: dict[str, float] = {}  # node id -> when it last lost an actor
        self._replace_after_s = replace_after_s
        self._closed = False
        self._broken: BaseException | None = None  # the dispatcher died of this: every call raises it
        self._sent: dict[int, list[_Item]] = {}  # batches at actors, by id: failed, not left hanging, on close
        self._dirty = False  # an actor was lost: reconcile before the next batch
        self.replaced = 0  # replacement actors started (for tests and logs)
        self.requeued = 0  # samples whose batch was lost and sent again
        try:
            nodes = alive_nodes()
            if not nodes:
                raise MonkeysError(f"--ray {address}: the Ray cluster has no live node with CPUs")
            for node in nodes:
                self._start_on(node)
            self._await_ready(startup_timeout_s)
        except BaseException:
            self._kill_all()
            release()
            raise
        self.workers = sum(a.threads for a in self._actors) * MAX_PER_THREAD * depth + 1
        self._thread = threading.Thread(target=self._dispatch, name="monkeys-ray-verify", daemon=True)
        self._thread.start()

    # -- actors ------------------------------------------------------------------------------------------

    def _share(self, node: Node) -> tuple[int, int]:
        """(actors, threads each) that `node` gets."""
        count = max(1, node.cpus // self._cores_per_actor) if self._cores_per_actor else 1
        return count, max(1, node.cpus // count)

    def _start_on(self, node: Node, count: int | None = None) -> list[_Actor]:
        """Start `count` actors (default: the node's share) pinned to `node`."""
        share, threads = self._share(node)
        count = share if count is None else count
        remote = self._ray.remote(_VerifyActor)
        started = []
        for _ in range(count):
            handle = remote.options(num_cpus=0, max_concurrency=self._depth + 1, max_restarts=0,
                                    scheduling_strategy=on_node(node.node_id)).remote(
                self._name, self._options, threads, self._revision)
            actor = _Actor(handle, node, threads)
            self._actors.append(actor)
            started.append(actor)
        return started

    def _await_ready(self, timeout_s: float) -> None:
        """Start-up: an actor whose verifier cannot be built is the run's error (as it would be locally); one
        lost with its node (listed alive a moment ago) is dropped, left for `_reconcile` to replace."""
        refs = [a.handle.ready.remote() for a in self._actors]
        _, pending = self._ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
        if pending:
            raise MonkeysError(f"--ray {self._address}: verification actors did not start within {timeout_s:g} s"
                               " (is the cluster short of memory, or are its nodes missing monkeys?)")
        for actor, ref in zip(self._actors, refs, strict=True):
            try:
                error = self._ray.get(ref)
            except Exception as exc:
                if not is_lost(exc):
                    raise
                actor.alive = False
                self._lost_at[actor.node.node_id] = time.monotonic()
                continue
            if error is not None:
                raise error
            actor.usable = True
        if not any(a.usable for a in self._actors):
            raise MonkeysError(f"--ray {self._address}: no verification actor could start on the cluster")

    def _watch_start(self, actor: _Actor) -> None:
        """A replacement becomes usable once its verifier is built; one that cannot start counts against its node."""
        def done(fut: Future[Any]) -> None:
            try:
                error = fut.result()
            except Exception:
                error = True
            with self._cond:
                if error is None:
                    actor.usable = True
                else:
                    actor.alive = False
                    self._failures[actor.node.node_id] += 1
                    self._lost_at[actor.node.node_id] = time.monotonic()
                    self._dirty = True
                self._cond.notify_all()

        actor.handle.ready.remote().future().add_done_callback(done)

    def _reconcile(self) -> None:
        """Drop lost actors; start replacements where a live node has fewer than its share."""
        try:
            nodes = alive_nodes()
        except Exception:  # the GCS is briefly unreachable: try again on the next round
            return
        live_ids = {n.node_id for n in nodes}
        with self._cond:
            for actor in self._actors:
                if actor.alive and actor.node.node_id not in live_ids:
                    actor.alive = False
            dead = [a for a in self._actors if not a.alive]
            self._actors = [a for a in self._actors if a.alive]
            wanted = []
            now = time.monotonic()
            for node in nodes:
                if self._failures[node.node_id] >= MAX_NODE_FAILURES:
                    continue
                if now - self._lost_at.get(node.node_id, -math.inf) < self._replace_after_s:
                    continue
                have = sum(1 for a in self._actors if a.node.node_id == node.node_id)
                if have < self._share(node)[0]:
                    wanted.append(node)
        for actor in dead:
            with contextlib.suppress(Exception):
                self._ray.kill(actor.handle, no_restart=True)
        for node in wanted:
            with self._cond:
                if self._closed:
                    return
                have = sum(1 for a in self._actors if a.node.node_id == node.node_id)
                fresh = self._start_on(node, self._share(node)[0] - have)
            for actor in fresh:
                self.replaced += 1
                self._watch_start(actor)

    def _kill_all(self) -> None:
        for actor in self._actors:
            with contextlib.suppress(Exception):
                self._ray.kill(actor.handle, no_restart=True)
        self._actors = []

    # -- batches -----------------------------------------------------------------------------------------

    def verify(self, problem: Problem, sample: Sample) -> Verdict:
        """Blocks until an actor has checked the sample, like a local verifier; thread-safe."""
        item = _Item(problem, sample)
        with self._cond:
            if self._closed or self._broken is not None:
                raise self._broken or MonkeysError("the Ray verifier is closed")
            self._queue.append(item)
            self._cond.notify_all()
        return item.future.result()

    def _pick(self) -> _Actor | None:
        free = [a for a in self._actors if a.alive and a.usable and a.in_flight < self._depth]
        return min(free, key=lambda a: a.in_flight / a.threads) if free else None

    def _dispatch(self) -> None:
        try:
            self._dispatch_loop()
        except Exception as exc:  # a bug, or Ray gone under us: no call may wait for a dispatcher that is gone
            with self._cond:
                self._broken = MonkeysError(f"the Ray verifier stopped: {type(exc).__name__}: {exc}")
                self._fail_queued(self._broken)

    def _dispatch_loop(self) -> None:
        last = time.monotonic()
        starved_since: float | None = None
        while True:
            now = time.monotonic()
            if self._dirty or now - last >= RECONCILE_S:
                self._dirty = False
                last = now
                self._reconcile()
            with self._cond:
                if self._closed:
                    return
                actor = self._pick() if self._queue else None
                if actor is None:
                    if self._queue and not any(a.alive and a.usable for a in self._actors):
                        starved_since = starved_since or now
                        if now - starved_since > STARVED_S:
                            self._fail_queued(MonkeysError(
                                f"--ray {self._address}: no verification actor is alive on the cluster"
                                f" (none serving for {STARVED_S:g} s)"))
                    else:
                        starved_since = None
                    self._cond.wait(timeout=0.5)
                    continue
                starved_since = None
                items = [self._queue.popleft() for _ in range(min(actor.batch(), len(self._queue)))]
                actor.in_flight += 1
                self._sent[id(items)] = items
            self._send(actor, items)

    def _send(self, actor: _Actor, items: list[_Item]) -> None:
        try:
            refs = {}
            for item in items:
                pid = item.problem.problem_id
                if pid not in self._refs:
                    self._refs[pid] = self._ray.put(item.problem)
                refs[pid] = self._refs[pid]
            ref = actor.handle.verify_batch.remote(refs, [item.sample for item in items])
            ref.future().add_done_callback(lambda fut: self._done(actor, items, fut))
        except Exception as exc:  # the actor handle is already gone (or Ray is shutting down)
            self._lost(actor, items, exc)

    def _done(self, actor: _Actor, items: list[_Item], fut: Future[Any]) -> None:
        """Runs on a Ray thread: hand verdicts out, or put a lost batch back in the queue."""
        with self._cond:
            self._sent.pop(id(items), None)
        try:
            results, busy = fut.result()
        except Exception as exc:
            if is_lost(exc):
                self._lost(actor, items, exc)
            else:  # a bug in the actor itself: the run ends with it, as a local verifier crash would
                with self._cond:
                    actor.in_flight -= 1
                    self._cond.notify_all()
                for item in items:
                    _settle(item.future, exc)
            return
        broken = [item for item, result in zip(items, results, strict=True) if isinstance(result, SandboxError)]
        if broken:  # its sandbox cannot run programs any more (the actor is being killed, its node is in
            # trouble): no verdict for those samples; they go to another actor, and this one is dropped
            for item, result in zip(items, results, strict=True):
                if item not in broken:
                    _settle(item.future, result)
            self._lost(actor, broken, next(r for r in results if isinstance(r, SandboxError)))
            return
        with self._cond:
            actor.in_flight -= 1
            actor.timed(busy / len(items))
            self._cond.notify_all()
        for item, result in zip(items, results, strict=True):
            _settle(item.future, result)

    def _lost(self, actor: _Actor, items: list[_Item], exc: BaseException) -> None:
        given_up = []
        with self._cond:
            self._sent.pop(id(items), None)
            actor.in_flight -= 1
            actor.alive = False
            self._lost_at[actor.node.node_id] = time.monotonic()
            self._dirty = True
            for item in reversed(items):
                item.tries += 1
                if item.tries >= MAX_TRIES:
                    given_up.append(item)
                else:
                    self._queue.appendleft(item)
                    self.requeued += 1
            self._cond.notify_all()
        for item in given_up:
            _settle(item.future, MonkeysError(
                f"verification of {item.sample.problem_id} sample {item.sample.index} was lost with its Ray actor"
                f" {item.tries} times (last: {type(exc).__name__})"))

    def _fail_queued(self, exc: BaseException) -> None:
        """Under the lock: every queued call raises `exc`."""
        while self._queue:
            _settle(self._queue.popleft().future, exc)

    # -- the rest of the verifier protocol ---------------------------------------------------------------

    def protections(self) -> dict[str, str]:
        """What the actors' sandboxes enforce, as each reports it (asked remotely, on its own node).

        Values that differ only in per-pool detail (a worker's uid, the start-up calibration) give the first
        actor's; a protection that is active on one node and not on another lists each distinct value."""
        with self._cond:
            handles = [a.handle for a in self._actors if a.alive and a.usable]
        seen = self._ray.get([h.protections.remote() for h in handles])
        merged: dict[str, str] = {}
        for key in dict.fromkeys(itertools.chain.from_iterable(seen)):
            values = list(dict.fromkeys(p.get(key, "unavailable: not reported") for p in seen))
            same = len({_status(v) for v in values}) == 1
            merged[key] = values[0] if same else " | ".join(values)
        return merged

    @property
    def actors(self) -> list[tuple[str, int]]:
        """(node id, threads) of every actor serving now (started, verifier built, not lost)."""
        with self._cond:
            return [(a.node.node_id, a.threads) for a in self._actors if a.alive and a.usable]

    def close(self) -> None:
        """Stop the dispatcher, kill the actors, free the problems and drop this process's Ray connection."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._fail_queued(MonkeysError("the Ray verifier is closed"))
            self._cond.notify_all()
        self._thread.join(timeout=10)
        self._kill_all()
        with self._cond:
            hanging = [item for items in self._sent.values() for item in items]
            self._sent.clear()
        for item in hanging:
            _settle(item.future, MonkeysError("the Ray verifier is closed"))
        self._refs.clear()
        release()
