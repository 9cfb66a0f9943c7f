"""Sampling on a Ray cluster for in-process engines: one actor per model replica, each loading the model.

Only samplers that run the model inside the process (the embedded `local` model; a vLLM engine where there
is a GPU) are fanned out: a server backend is already shared over HTTP, so its requests stay in the driver.
A sampler call goes to the replica with the fewest calls in flight and blocks until it answers. Seeds are
derived per sample and a replica draws a request list exactly as the driver would (same batches), so a call
that is lost with its replica is simply sent again to another: the same samples come back.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from monkeys.core import Completion, Prompt, SampleRequest
from monkeys.distributed._cluster import acquire, alive_nodes, is_lost, ray_module, release
from monkeys.errors import MonkeysError

MAX_TRIES = 4  # a call lost with this many replicas in a row ends the run (resumable)
STARVED_S = 120.0  # no live replica for this long: the call fails


class _SampleActor:
    """Runs inside the cluster: builds the sampler (loads the model) once, then answers calls."""

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        from monkeys.registry import create

        self._error: BaseException | None = None
        try:
            self._sampler: Any = create("sampler", name, **options)
        except Exception as exc:  # reported by ready()
            self._error = exc

    def ready(self) -> BaseException | None:
        return self._error

    def sample(self, prompt: Prompt, requests: list[SampleRequest], temperature: float, top_p: float,
               max_tokens: int) -> list[Completion]:
        return list(self._sampler.sample(prompt, requests, temperature=temperature, top_p=top_p,
                                         max_tokens=max_tokens))


@dataclass(eq=False)
class _Replica:
    handle: Any
    usable: bool = False
    alive: bool = True
    in_flight: int = 0


class RaySampler:
    """A sampler whose calls run on model replicas (actors) spread over the cluster's nodes.

    `replicas` defaults to one per live node; each asks Ray for `cpus_per_replica` CPUs. A lost replica is
    replaced when the cluster has a free CPU for it. `concurrency` (the pipeline's calls in flight) is the
    number of replicas.
    """

    def __init__(self, name: str, options: dict[str, Any], address: str, *, model_name: str,
                 redraw_whole_batch: bool, replicas: int | None = None, cpus_per_replica: float = 1.0,
                 startup_timeout_s: float = 600.0) -> None:
        acquire(address)
        self._ray = ray_module()
        self._name, self._options, self._address = name, dict(options), address
        self._cpus = cpus_per_replica
        self.model_name = model_name
        self.redraw_whole_batch = redraw_whole_batch
        self._cond = threading.Condition()
        self._replicas: list[_Replica] = []
        self._closed = False
        self.replaced = 0  # replicas started in place of lost ones
        self.retried = 0  # calls lost with their replica and sent again
        try:
            self._target = replicas or max(1, len(alive_nodes()))
            for _ in range(self._target):
                self._start()
            self._await_ready(startup_timeout_s)
        except BaseException:
            self._kill_all()
            release()
            raise
        self.concurrency = self._target

    def _start(self) -> _Replica:
        remote = self._ray.remote(_SampleActor)
        handle = remote.options(num_cpus=self._cpus, max_restarts=0, scheduling_strategy="SPREAD").remote(
            self._name, self._options)
        replica = _Replica(handle)
        self._replicas.append(replica)
        return replica

    def _await_ready(self, timeout_s: float) -> None:
        """A replica whose sampler cannot be built is the run's error; one lost with its node is dropped."""
        refs = [r.handle.ready.remote() for r in self._replicas]
        _, pending = self._ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
        if pending:
            raise MonkeysError(f"--ray {self._address}: {self._target} model replicas ({self._cpus:g} CPU each) did"
                               f" not start within {timeout_s:g} s: does the cluster have the CPUs and memory?")
        for replica, ref in zip(self._replicas, refs, strict=True):
            try:
                error = self._ray.get(ref)
            except Exception as exc:
                if not is_lost(exc):
                    raise
                replica.alive = False
                continue
            if error is not None:
                raise error
            replica.usable = True
        if not any(r.usable for r in self._replicas):
            raise MonkeysError(f"--ray {self._address}: no model replica could start on the cluster")

    def _replace(self) -> None:
        """Start a replica for each lost one, when the cluster has a free CPU share for it right now."""
        with self._cond:
            self._replicas = [r for r in self._replicas if r.alive]
            missing = self._target - len(self._replicas)
        for _ in range(missing):
            try:
                free = float(self._ray.available_resources().get("CPU", 0.0))
            except Exception:
                return
            if free < self._cpus:
                return
            with self._cond:
                if self._closed:
                    return
                replica = self._start()
                self.replaced += 1

            def done(fut: Future[Any], replica: _Replica = replica) -> None:
                try:
                    error = fut.result()
                except Exception:
                    error = True
                with self._cond:
                    replica.usable = error is None
                    replica.alive = error is None
                    self._cond.notify_all()

            replica.handle.ready.remote().future().add_done_callback(done)

    def _pick(self) -> _Replica:
        deadline = time.monotonic() + STARVED_S
        with self._cond:
            while True:
                if self._closed:
                    raise MonkeysError("the Ray sampler is closed")
                live = [r for r in self._replicas if r.alive and r.usable]
                if live:
                    replica = min(live, key=lambda r: r.in_flight)
                    replica.in_flight += 1
                    return replica
                if time.monotonic() > deadline:
                    raise MonkeysError(f"--ray {self._address}: no model replica is alive on the cluster"
                                       f" (none for {STARVED_S:g} s)")
                self._cond.wait(timeout=1.0)

    def sample(self, prompt: Prompt, requests: Sequence[SampleRequest], *, temperature: float, top_p: float,
               max_tokens: int) -> list[Completion]:
        """The replica's completions; a call lost with its replica is sent again to another one."""
        last: BaseException | None = None
        for _ in range(MAX_TRIES):
            replica = self._pick()
            try:
                return list(self._ray.get(replica.handle.sample.remote(
                    prompt, list(requests), temperature, top_p, max_tokens)))
            except Exception as exc:
                if not is_lost(exc):
                    cause = getattr(exc, "cause", None)
                    raise cause if isinstance(cause, MonkeysError) else exc from None
                last = exc
                with self._cond:
                    replica.alive = False
                    self.retried += 1
                with contextlib.suppress(Exception):
                    self._ray.kill(replica.handle, no_restart=True)
                self._replace()
            finally:
                with self._cond:
                    replica.in_flight -= 1
                    self._cond.notify_all()
        raise MonkeysError(f"a sampler call was lost with {MAX_TRIES} model replicas in a row (last:"
                           f" {type(last).__name__})")

    def _kill_all(self) -> None:
        for replica in self._replicas:
            with contextlib.suppress(Exception):
                self._ray.kill(replica.handle, no_restart=True)
        self._replicas = []

    def close(self) -> None:
        """Kill the replicas and drop this process's Ray connection."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self._kill_all()
        release()
