"""Several OpenAI-compatible servers behind one sampler: where the next request goes, and which are up.

Routing is least-outstanding-requests: a request goes to the healthy endpoint with the fewest requests in
flight (ties go round the list), so a slow or busy replica gets less and a fast one more, without knowing
their capacities. An endpoint that fails (refused or reset connection, 5xx, a silent server) is taken out
at once and probed back in by a background task (GET {url}/models, with exponential backoff); it is
trusted fully again only after a request succeeds on it (until then, each new take-out doubles its probe
delay, so a server that answers the probe but fails requests is not hammered).

A pool of one endpoint never takes it out: the request's own retries (backoff, Retry-After) are the
whole story there, exactly as with a single --base-url. Everything here runs on the sampler's one event
loop thread; `up()` is read from other threads (a progress display), which only needs plain ints.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field

MIN_PROBE_S = 0.05  # even with backoff_s = 0 a down endpoint is not probed in a busy loop


@dataclass(eq=False)
class Endpoint:
    """One server: its base URL (…/v1) and what routing and the error messages need to know of it."""

    url: str
    outstanding: int = 0  # requests in flight to it now
    healthy: bool = True
    strikes: int = 0  # take-outs since its last successful request: sets the probe delay
    last_failure: str = ""
    down_since: float = 0.0  # monotonic time it was last taken out
    last_progress: float = 0.0  # monotonic time any connection to it last received a byte
    probe: asyncio.Task[None] | None = field(default=None, repr=False)


class EndpointPool:
    """Endpoints, routing and health. `probe(endpoint)` answers whether a down endpoint is back."""

    def __init__(self, urls: list[str], probe: Callable[[Endpoint], Awaitable[bool]], *, backoff_s: float,
                 max_probe_s: float) -> None:
        self.endpoints = [Endpoint(url) for url in urls]
        self._probe = probe
        self._backoff_s = backoff_s
        self._max_probe_s = max(MIN_PROBE_S, max_probe_s)
        self._turn = 0  # where the next tie-break starts: equal loads go round the list
        self._some_up = asyncio.Event()  # set while an endpoint is healthy (binds to the loop on first wait)
        self._some_up.set()

    @property
    def single(self) -> bool:
        return len(self.endpoints) == 1

    def up(self) -> tuple[int, int]:
        """(healthy endpoints, all endpoints)."""
        return sum(e.healthy for e in self.endpoints), len(self.endpoints)

    def pick(self, avoid: Collection[Endpoint] = ()) -> Endpoint | None:
        """The healthy endpoint with the fewest requests in flight, preferring those not in `avoid` (the
        ones this request already failed on); None when every endpoint is down."""
        n = len(self.endpoints)
        best: Endpoint | None = None
        best_key: tuple[bool, int] | None = None
        start = self._turn % n
        for k in range(n):
            e = self.endpoints[(start + k) % n]
            if not e.healthy:
                continue
            key = (e in avoid, e.outstanding)
            if best_key is None or key < best_key:
                best, best_key = e, key
        if best is not None:
            self._turn = self.endpoints.index(best) + 1
        return best

    def has_fresh(self, avoid: Collection[Endpoint]) -> bool:
        """Whether a healthy endpoint outside `avoid` exists (a failed request can go there at once)."""
        return any(e.healthy and e not in avoid for e in self.endpoints)

    def succeeded(self, endpoint: Endpoint) -> None:
        endpoint.strikes = 0

    def failed(self, endpoint: Endpoint, problem: str, *, probe: bool = True) -> None:
        """Record `problem`; with several endpoints, take this one out and (on the event loop; else see
        `start_probes`) start probing it."""
        endpoint.last_failure = problem
        if self.single or not endpoint.healthy:
            return
        endpoint.healthy = False
        endpoint.down_since = time.monotonic()
        endpoint.strikes += 1
        if not any(e.healthy for e in self.endpoints):
            self._some_up.clear()
        if probe:
            endpoint.probe = asyncio.ensure_future(self._probe_back(endpoint))

    def start_probes(self) -> None:
        """On the event loop: probe every endpoint taken out before it ran (by the check before a run)."""
        for e in self.endpoints:
            if not e.healthy and (e.probe is None or e.probe.done()):
                e.probe = asyncio.ensure_future(self._probe_back(e))

    def all_down_since(self) -> float | None:
        """Monotonic time the last healthy endpoint was taken out; None while one is healthy."""
        if any(e.healthy for e in self.endpoints):
            return None
        return max(e.down_since for e in self.endpoints)

    async def wait_up(self, timeout_s: float) -> bool:
        """Wait at most `timeout_s` for some endpoint to be healthy; whether one is."""
        if any(e.healthy for e in self.endpoints):
            return True
        try:
            await asyncio.wait_for(self._some_up.wait(), max(0.0, timeout_s))
        except TimeoutError:
            pass
        return any(e.healthy for e in self.endpoints)

    def failures(self) -> str:
        """Each endpoint and its last failure, for the error that ends a run."""
        return "; ".join(f"{e.url}: {e.last_failure or 'no failure recorded'}" for e in self.endpoints)

    def close(self) -> None:
        for e in self.endpoints:
            if e.probe is not None and not e.probe.done():
                e.probe.cancel()

    async def _probe_back(self, endpoint: Endpoint) -> None:
        delay = self._backoff_s * 2 ** (endpoint.strikes - 1)
        while True:
            await asyncio.sleep(max(MIN_PROBE_S, min(self._max_probe_s, delay) * random.uniform(0.5, 1.0)))
            if await self._probe(endpoint):
                endpoint.healthy = True
                self._some_up.set()
                return
            delay *= 2
