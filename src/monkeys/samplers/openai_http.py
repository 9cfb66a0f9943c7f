"""OpenAI-compatible HTTP sampler: vLLM, SGLang, llama.cpp servers and hosted APIs behind one base URL
or several (replicas of one model; `_endpoints` routes between them and takes failing ones out).

`sample()` is synchronous and thread-safe; underneath, one event-loop thread owned by the sampler carries
every request with async httpx, so at most `concurrency` requests are in flight across all callers and
endpoints. It does not tokenize, template or price anything: token counts are what the server reports.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import difflib
import logging
import os
import random
import ssl
import threading
import time
from collections.abc import Coroutine, Sequence
from typing import Annotated, Any, Self, TypeVar
from urllib.parse import urlsplit

import httpx
from annotated_types import Ge, Gt

from monkeys.core import Completion, Prompt, SampleRequest
from monkeys.errors import ConfigError, SamplerError
from monkeys.registry import SPEED_ONLY, register_sampler
from monkeys.samplers._endpoints import Endpoint, EndpointPool
from monkeys.samplers._openai_reply import (
    Garbled,
    completions,
    describe,
    reply_json,
    retry_after,
    server_message,
)

T = TypeVar("T")
_RESUME = "samples stored so far are kept: run the same command again to resume"
PER_ENDPOINT = 16  # requests in flight per endpoint when `concurrency` is not given
_MAX_PROBE_S = 10.0  # a down endpoint (of several) is asked whether it is back at least this often
_log = logging.getLogger(__name__)


class _Silent(Exception):
    """The endpoint sent nothing on any connection for `timeout_s` while this request was in flight."""


class _Unreachable(SamplerError):
    """`check_reachable`: no HTTP answer, or a 5xx (as opposed to a refused key or an unknown model)."""


class _Refused(SamplerError):
    """A 4xx other than 429: retrying the same request cannot help."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@register_sampler("openai")
class OpenAISampler:
    """Any OpenAI-compatible server (vLLM, SGLang, llama.cpp, hosted APIs); uses `n`, retries, bounded.

    Options are plain data kept in the run config, so keep the key out of them: `api_key_env` names the
    environment variable to read (`api_key` exists for programmatic use and is never written anywhere).
    `chat=None` picks /chat/completions when the prompt has messages, else /completions. With `use_n`,
    a call for several samples is one request with `n` per `max_n` samples (chunks run concurrently, and
    each stays short enough to finish within `timeout_s`); a server that rejects `n` (400/422) or returns
    fewer choices is remembered and then asked one sample per request, each with its own seed.

    Recorded per completion, and what they mean when one request carried `n` > 1:
    - `seed`: the seed sent, i.e. the first request's seed for every choice of the batch.
    - `prompt_tokens`: the full usage.prompt_tokens on every choice, and `prompt_shared` = the number
      of choices of that request (the server reads the prompt once for all of them; cost analysis then
      counts it once per request). A server that ignores `n` gives `prompt_shared` = 1.
    - `completion_tokens`: servers report only the total, so choices that stopped on `length` get
      `max_tokens` and the rest of the total is split in proportion to text length (an estimate;
      exact with n = 1).
    - `latency_s`: wall time of the successful HTTP attempt (retries excluded; time queued on the
      server included, since the client cannot see it).
    - `logprobs` (with the option `logprobs`): the sampled tokens' log-probabilities as the server reports
      them (vLLM: under the model, before temperature; check your server), stored by a run as the mean,
      score "sampler-logprob"; a server that sends none stores no such score.
    - `text`: an unpaired surrogate in the reply (invalid Unicode that no UTF-8 store can hold) becomes
      U+FFFD.
    Retries: 429, 5xx, connection errors (refused, reset, a body cut short) and bodies that are not JSON,
    `max_retries` times, with exponential backoff (`backoff_s` · 2^attempt, capped at `max_backoff_s`,
    times a jitter in [0.5, 1]) or the server's Retry-After / retry-after-ms when it sends one. A server
    asking for longer than `max_backoff_s` is treated as down (one endpoint: `SamplerError` at once), so
    the total wait is at most `max_retries` · `max_backoff_s`.
    Several endpoints (`base_url` a list: replicas serving the same model): each request goes to the
    healthy endpoint with the fewest requests in flight; `concurrency` (default 16 per endpoint) bounds the
    requests in flight over all of them. One that fails (connection refused or reset, 5xx,
    a body that is not JSON, silence for `timeout_s`, a Retry-After past `max_backoff_s`) is taken out
    and probed back in (GET /models, backoff from `backoff_s` up to 10 s); the request that failed is
    re-sent at once to another healthy endpoint (a 429 too), still within its `max_retries`. While no
    endpoint is healthy, requests wait for one to come back; when that lasts longer than the retry
    budget (the sum of the `max_retries` backoff delays: 63 s by default), `sample()` raises one
    `SamplerError` naming each endpoint and its last failure. `endpoints_up()` and `retries` (requests
    re-sent so far) are there for a progress display. With one endpoint nothing is taken out: its
    failures are retried as described above.
    Timeout: `timeout_s` is how long a server may send nothing at all on any of this sampler's
    connections to it while a request is in flight. Time a request spends queued behind others on a busy
    server does not count as long as the server finishes someone's request (or, streaming, sends bytes)
    within `timeout_s`; so a server with fewer slots than `concurrency` is waited for, not flooded with
    re-sends. With one endpoint, a request that runs into the timeout is not re-sent (the server may
    still be working on it): the server is taken as hung and `sample()` raises `SamplerError`; with
    several, that endpoint is taken out and the request goes to another. Without streaming, one
    generation must therefore fit in `timeout_s`.
    """

    redraw_whole_batch = False

    def __init__(
        self, base_url: str | list[str], model: str, api_key: str | None = None,
        api_key_env: Annotated[str, SPEED_ONLY] = "OPENAI_API_KEY", chat: bool | None = None, use_n: bool = True,
        concurrency: Annotated[int | None, Ge(1), SPEED_ONLY] = None,
        max_retries: Annotated[int, Ge(0), SPEED_ONLY] = 6,
        timeout_s: Annotated[float, Gt(0), SPEED_ONLY] = 120.0, extra_body: dict[str, Any] | None = None,
        backoff_s: Annotated[float, Ge(0), SPEED_ONLY] = 1.0,
        max_backoff_s: Annotated[float, Ge(0), SPEED_ONLY] = 60.0, max_n: Annotated[int, Ge(1)] = 32,
        logprobs: bool = False,
    ) -> None:
        if (concurrency is not None and concurrency < 1) or max_n < 1:
            raise ConfigError(f"sampler openai: concurrency and max_n must be >= 1, got {concurrency}, {max_n}")
        if max_retries < 0 or timeout_s <= 0:
            raise ConfigError("sampler openai: max_retries must be >= 0 and timeout_s > 0")
        urls = [normalise_base_url(u) for u in ([base_url] if isinstance(base_url, str) else base_url)]
        if not urls:
            raise ConfigError("sampler openai: base_url: expected one or more server URLs, got none")
        if len(set(urls)) != len(urls):
            twice = next(u for u in urls if urls.count(u) > 1)
            raise ConfigError(f"sampler openai: base_url lists {twice} twice")
        self.base_urls = urls
        self.base_url = urls[0]  # the first endpoint (the only one, usually)
        self.model_name = model
        self.api_key_env = api_key_env
        self.chat = chat
        self.use_n = use_n
        self.max_n = max_n
        self.concurrency = concurrency or PER_ENDPOINT * len(urls)
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self.extra_body = dict(extra_body or {})
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.logprobs = logprobs
        key = api_key if api_key is not None else os.environ.get(api_key_env)
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._n_works = use_n  # turned off for good the first time the server does not honour `n`
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.AsyncClient | None = None  # probes (GET /models)
        # One connection per client, at most `concurrency` clients, each idle one kept under the endpoint
        # its connection goes to: httpx's pool scans all its connections (a syscall each) on every request,
        # which for 16 connections in one pool costs more CPU than the request itself.
        self._idle: dict[str, list[httpx.AsyncClient]] = {}
        # No read timeout of httpx's own: `_watched` times an endpoint's silence across its connections.
        # Connecting gets less than timeout_s, so a server that never accepts is retried (it has nothing).
        self._tls: ssl.SSLContext | None = None  # made with the event loop
        self._timeout = httpx.Timeout(connect=min(timeout_s / 2, 30.0), read=None, write=timeout_s, pool=None)
        self._clients: list[httpx.AsyncClient] = []
        self._semaphore: asyncio.Semaphore | None = None
        self._closed = False
        self._waiting: set[concurrent.futures.Future[list[Completion]]] = set()  # sample() calls in flight
        self._pool = EndpointPool(urls, self._probe, backoff_s=backoff_s,
                                  max_probe_s=min(max_backoff_s, _MAX_PROBE_S))
        self.retries = 0  # requests re-sent after a failure (on the same or another endpoint)

    def endpoints_up(self) -> tuple[int, int]:
        """(healthy endpoints, all endpoints), for a progress display."""
        return self._pool.up()

    # -- public -------------------------------------------------------------------------------------

    def sample(
        self, prompt: Prompt, requests: Sequence[SampleRequest], *, temperature: float, top_p: float,
        max_tokens: int,
    ) -> list[Completion]:
        """Draw one completion per request. Raises `SamplerError` when the server refuses or stays down."""
        if not requests:
            return []
        path, body = self._body(prompt, temperature, top_p, max_tokens)
        with self._lock:
            loop = self._ensure_loop()
            future = asyncio.run_coroutine_threadsafe(self._sample(path, body, list(requests), max_tokens), loop)
            self._waiting.add(future)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            if self._closed:  # close() woke us: the run is ending for another reason
                raise SamplerError("sampler openai was closed while a request was in flight") from None
            raise
        except BaseException:
            future.cancel()  # Ctrl-C in the caller: do not leave its requests running for nobody
            raise
        finally:
            with self._lock:
                self._waiting.discard(future)

    def check_reachable(self, timeout_s: float = 5.0) -> list[str]:
        """Fail fast before a run stores anything: raise `SamplerError` unless the server answers.

        Asks GET {base_url}/models and returns the model ids listed there ([] when the server has no such
        route: any HTTP answer proves it is up). A refused key (401/403) or a 5xx is an error too, and so is
        a model the list does not name (as itself or as `<prefix>/<model>`), so a typo never becomes the
        run's model identity. With several endpoints (asked at once) it passes while at least one answers:
        the others are named in a warning (logger `monkeys.samplers.openai_http`), start the run taken out,
        and are probed back in; a refused key or an unknown model on any endpoint is still an error.
        """
        if len(self.base_urls) == 1:
            return self._check_one(self.base_url, timeout_s)
        results: dict[str, list[str] | SamplerError] = {}
        with concurrent.futures.ThreadPoolExecutor(min(16, len(self.base_urls))) as pool:
            futures = {url: pool.submit(self._check_one, url, timeout_s) for url in self.base_urls}
            for url, future in futures.items():
                try:
                    results[url] = future.result()
                except SamplerError as exc:
                    results[url] = exc
        for outcome in results.values():
            if isinstance(outcome, SamplerError) and not isinstance(outcome, _Unreachable):
                raise outcome
        down = {url: str(o) for url, o in results.items() if isinstance(o, SamplerError)}
        if len(down) == len(self.base_urls):
            raise SamplerError(f"none of the {len(down)} endpoints is up: " + "; ".join(down.values()))
        if down:
            _log.warning("endpoints down: %d of %d (the run starts on the others and probes these back in): "
                         "%s", len(down), len(self.base_urls), "; ".join(down.values()))
        with self._lock:
            for endpoint in self._pool.endpoints:  # taken out now, probed once the event loop runs
                if endpoint.url in down:
                    self._pool.failed(endpoint, down[endpoint.url], probe=False)
            if self._loop is not None:  # it runs already
                self._loop.call_soon_threadsafe(self._pool.start_probes)
        return next(o for o in results.values() if not isinstance(o, SamplerError))

    def _check_one(self, base_url: str, timeout_s: float) -> list[str]:
        url = base_url + "/models"
        try:
            with httpx.Client(timeout=timeout_s, headers=self._headers) as client:
                resp = client.get(url)
                if resp.status_code in (404, 405):  # no model list here; is the base URL itself alive?
                    resp = client.get(base_url)
        except httpx.HTTPError as exc:
            raise _Unreachable(f"cannot reach {url}: {describe(exc)}") from None
        if resp.status_code >= 500:
            raise _Unreachable(f"{url} answered {resp.status_code}: {server_message(resp)}")
        if resp.status_code in (401, 403):
            raise self._refused(url, resp)
        try:
            data = resp.json().get("data", [])
            models = [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]
        except (ValueError, AttributeError, TypeError):
            return []
        name = self.model_name
        if models and not any(m == name or m.endswith("/" + name) for m in models):  # "models/x" lists x
            close = difflib.get_close_matches(name, models, n=3, cutoff=0.6)
            offers = "the server offers " + ", ".join(repr(m) for m in models[:10]) + (
                f" and {len(models) - 10} more" if len(models) > 10 else "")
            if close:
                offers = f"did you mean {' or '.join(repr(m) for m in close)}? {offers}"
            raise SamplerError(f"--model {name!r} is not served at {url}; {offers}")
        return models

    def close(self) -> None:
        """Stop: wake every `sample()` still waiting (it raises `SamplerError`), drop the connections and
        the event-loop thread. Never waits on the server (a few seconds at most); safe to call twice."""
        with self._lock:
            loop, thread, self._closed = self._loop, self._thread, True
            self._loop = self._thread = None
            waiting = list(self._waiting)
        for future in waiting:
            future.cancel()
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=5)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError, RuntimeError):
            pass  # the loop thread is a daemon: it cannot keep the process alive
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        if not thread.is_alive():
            loop.close()

    async def _shutdown(self) -> None:
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=2) if tasks else None
        clients = [*self._clients, *([self._client] if self._client is not None else [])]
        await asyncio.wait([asyncio.ensure_future(c.aclose()) for c in clients], timeout=2) if clients else None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests -----------------------------------------------------------------------------------

    def _body(self, prompt: Prompt, temperature: float, top_p: float, max_tokens: int) -> tuple[str, dict]:
        chat = bool(prompt.messages) if self.chat is None else self.chat
        body: dict[str, Any] = {"model": self.model_name, "temperature": temperature, "top_p": top_p,
                                "max_tokens": max_tokens}
        if chat:
            body["messages"] = list(prompt.messages) or [{"role": "user", "content": prompt.text}]
        elif prompt.text:
            body["prompt"] = prompt.text
        else:
            raise SamplerError("sampler openai: this prompt has only chat messages; /completions needs text "
                               "(set the sampler option chat=true)")
        if prompt.stop:
            body["stop"] = list(prompt.stop)
        if self.logprobs:  # chat: a flag; completions: how many alternatives (1: vLLM and llama.cpp need > 0)
            body["logprobs"] = True if chat else 1
        body.update(self.extra_body)
        return ("/chat/completions" if chat else "/completions"), body

    async def _sample(self, path: str, body: dict, requests: list[SampleRequest],
                      max_tokens: int) -> list[Completion]:
        chunks = [requests[i:i + self.max_n] for i in range(0, len(requests), self.max_n)]
        parts = await _all([self._chunk(path, body, chunk, max_tokens) for chunk in chunks])
        return [c for part in parts for c in part]

    async def _chunk(self, path: str, body: dict, requests: list[SampleRequest],
                     max_tokens: int) -> list[Completion]:
        """One request with `n` while the server honours it, then one request per sample."""
        done: list[Completion] = []
        if self._n_works and len(requests) > 1:
            batch = {**body, "n": len(requests), "seed": requests[0].seed}
            try:
                data, latency, url = await self._post(path, batch)
                done = self._completions(url, data, requests, requests[0].seed, latency, max_tokens)
            except _Refused as exc:
                if exc.status not in (400, 422):
                    raise
            if len(done) < len(requests):
                self._n_works = False  # rejected or ignored `n`: one sample per request from now on
        return done + await _all([self._one(path, body, r, max_tokens) for r in requests[len(done):]])

    async def _one(self, path: str, body: dict, request: SampleRequest, max_tokens: int) -> Completion:
        data, latency, url = await self._post(path, {**body, "n": 1, "seed": request.seed})
        got = self._completions(url, data, [request], request.seed, latency, max_tokens)
        if not got:
            raise SamplerError(f"{url} answered without any choices")
        return got[0]

    def _completions(self, url: str, data: Any, requests: list[SampleRequest], seed: int, latency: float,
                     max_tokens: int) -> list[Completion]:
        try:
            return completions(data, requests, seed, latency, max_tokens)
        except SamplerError as exc:  # a reply of the wrong shape: say which server sent it
            raise SamplerError(f"{url} answered 200 but {exc}") from None

    async def _post(self, path: str, body: dict) -> tuple[dict[str, Any], float, str]:
        """POST with retries, over the endpoints; returns (JSON reply, seconds, URL that answered).
        Raises `SamplerError` on refusal or give-up."""
        assert self._semaphore is not None
        attempts = self.max_retries + 1
        problem = ""
        failed_on: list[Endpoint] = []  # the endpoints this request failed on, newest last
        for attempt in range(attempts):
            wait_s: float | None = None
            async with self._semaphore:
                endpoint = await self._endpoint(failed_on)
                if attempt:
                    self.retries += 1
                url = endpoint.url + path
                endpoint.outstanding += 1
                start = time.perf_counter()
                try:
                    resp = await self._watched(endpoint, url, body)
                    if resp.status_code < 300:
                        data = reply_json(url, resp)
                        self._pool.succeeded(endpoint)
                        return data, time.perf_counter() - start, url
                except _Silent:
                    silent = (f"{url} sent nothing for timeout_s={self.timeout_s:g} s while a request was in "
                              "flight (the server hangs, or one generation takes longer: raise the sampler option "
                              "timeout_s)")
                    if self._pool.single:
                        raise SamplerError(f"{silent}; not re-sent, since the server may still be working on it; "
                                           f"{_RESUME}") from None
                    problem = silent  # taken out: the request goes to another endpoint
                except httpx.TransportError as exc:  # refused, reset, closed mid-reply, body cut short
                    problem = f"cannot reach {url}: {describe(exc)}"
                except Garbled as exc:
                    problem = str(exc)
                except httpx.DecodingError as exc:
                    problem = f"{url}: {describe(exc)}"
                else:
                    if resp.status_code != 429 and resp.status_code < 500:
                        raise self._refused(url, resp)
                    problem = f"{url} answered {resp.status_code}: {server_message(resp)}"
                    wait_s = retry_after(resp)
                    if wait_s is not None and wait_s > self.max_backoff_s:
                        problem = (f"{problem}; it asks to retry after {wait_s:g} s, more than "
                                   f"max_backoff_s={self.max_backoff_s:g}: the server is taken as down")
                        if self._pool.single:
                            raise SamplerError(f"{problem}; {_RESUME}")
                        wait_s = None
                    elif resp.status_code == 429:  # busy, not broken: this endpoint stays in
                        endpoint.last_failure = problem
                        problem = ""
                finally:
                    endpoint.outstanding -= 1
            failed_on.append(endpoint)
            if problem:
                self._pool.failed(endpoint, problem)
            else:
                problem = endpoint.last_failure
            if attempt + 1 < attempts and not self._pool.has_fresh(failed_on) and (
                    self._pool.single or self._pool.all_down_since() is None):
                await asyncio.sleep(self._delay(attempt, wait_s))
            # else another endpoint takes it at once, or (all down) `_endpoint` waits for a probe
        raise SamplerError(f"{problem} (gave up after {attempts} attempts; {_RESUME})")

    async def _endpoint(self, failed_on: list[Endpoint]) -> Endpoint:
        """Where the next attempt goes; while every endpoint is down, wait for one to be probed back in,
        for at most the retry budget (counted from when the last one went down)."""
        while True:
            endpoint = self._pool.pick(failed_on)
            if endpoint is not None:
                return endpoint
            since = self._pool.all_down_since()
            budget = self._retry_budget()
            if since is not None and time.monotonic() - since >= budget:
                raise SamplerError(
                    f"all {len(self.base_urls)} endpoints have been down for "
                    f"{time.monotonic() - since:.3g} s, longer than the retry budget of {budget:g} s (max_retries "
                    f"{self.max_retries}, backoff_s {self.backoff_s:g}, max_backoff_s {self.max_backoff_s:g}): "
                    f"{self._pool.failures()}; {_RESUME}")
            await self._pool.wait_up(budget - (time.monotonic() - since) if since is not None else 0.0)

    def _retry_budget(self) -> float:
        """How long one request's retries could wait in all (jitter aside): the sum of its backoff delays."""
        return sum(min(self.max_backoff_s, self.backoff_s * 2**a) for a in range(self.max_retries))

    async def _probe(self, endpoint: Endpoint) -> bool:
        """Whether a down endpoint is back: any HTTP answer under 500 to GET /models."""
        assert self._client is not None
        try:
            resp = await asyncio.wait_for(self._client.get(endpoint.url + "/models"), min(self.timeout_s, 5.0))
        except (httpx.HTTPError, TimeoutError):
            return False
        return resp.status_code < 500

    async def _watched(self, endpoint: Endpoint, url: str, body: dict) -> httpx.Response:
        """One POST, read to the end; `_Silent` when no connection to this endpoint received a byte for
        `timeout_s` since this request was sent (time queued behind other requests that progress is free)."""
        task = asyncio.ensure_future(self._send(endpoint, url, body))
        sent = time.monotonic()
        try:
            while True:
                remaining = max(sent, endpoint.last_progress) + self.timeout_s - time.monotonic()
                if remaining <= 0:
                    raise _Silent
                done, _ = await asyncio.wait({task}, timeout=remaining)
                if done:
                    return task.result()
        finally:
            if not task.done():
                task.cancel()  # closes the connection: servers that notice (vLLM, llama.cpp) stop the work

    async def _send(self, endpoint: Endpoint, url: str, body: dict) -> httpx.Response:
        client = self._take_client(endpoint.url)
        try:
            async with client.stream("POST", url, json=body) as resp:
                endpoint.last_progress = time.monotonic()
                raw = []
                async for chunk in resp.aiter_raw():
                    endpoint.last_progress = time.monotonic()
                    raw.append(chunk)
        finally:
            self._idle.setdefault(endpoint.url, []).append(client)
        # A complete response object, decoded (gzip etc.) as httpx would have.
        return httpx.Response(resp.status_code, headers=resp.headers, content=b"".join(raw), request=resp.request)

    def _take_client(self, url: str) -> httpx.AsyncClient:
        """An idle client, connected to `url` if one is; a new one while fewer than `concurrency` exist; else
        one connected elsewhere (it drops that connection). One more is made only when a cancelled request
        has not handed its client back yet."""
        if idle := self._idle.get(url):
            return idle.pop()
        elsewhere = max(self._idle.values(), key=len, default=None)
        if len(self._clients) >= self.concurrency and elsewhere:
            return elsewhere.pop()
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self._clients.append(httpx.AsyncClient(timeout=self._timeout, limits=limits, verify=self._tls or True,
                                               headers={"User-Agent": "monkeys", **self._headers}))
        return self._clients[-1]

    def _delay(self, attempt: int, wait_s: float | None) -> float:
        if wait_s is not None:
            return wait_s  # at most max_backoff_s: longer is taken as down before we get here
        return min(self.max_backoff_s, self.backoff_s * 2**attempt) * random.uniform(0.5, 1.0)

    def _refused(self, url: str, resp: httpx.Response) -> _Refused:
        hint = ""
        if resp.status_code in (401, 403):
            hint = f" (check the API key in ${self.api_key_env})" if self._headers else (
                f" (no API key sent: set ${self.api_key_env})")
        elif resp.status_code == 404:
            hint = f" (check --base-url, usually ending in /v1, and --model {self.model_name!r})"
        return _Refused(f"{url} refused the request ({resp.status_code}): {server_message(resp)}{hint}",
                        resp.status_code)

    # -- event loop ---------------------------------------------------------------------------------

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        """The event loop, started on first use. Call with `self._lock` held."""
        if self._closed:
            raise SamplerError("sampler openai is closed")
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="monkeys-openai", daemon=True)
            thread.start()
            asyncio.run_coroutine_threadsafe(self._open(), loop).result()
            self._loop, self._thread = loop, thread
        return self._loop

    async def _open(self) -> None:
        self._tls = httpx.create_ssl_context()  # one for all clients: loading the CA bundle costs ~50 ms each
        self._client = httpx.AsyncClient(timeout=self._timeout, verify=self._tls,
                                         headers={"User-Agent": "monkeys", **self._headers})
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self._pool.start_probes()  # for those check_reachable took out


async def _all(coroutines: list[Coroutine[Any, Any, T]]) -> list[T]:
    """`gather` that cancels the siblings when one fails, so a refused call stops spending requests."""
    if len(coroutines) == 1:  # the common case (one request per call): no task to make
        return [await coroutines[0]]
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        raise


def normalise_base_url(base_url: str) -> str:
    """`http://host:8000` → `http://host:8000/v1`; a URL with a path is kept, minus a trailing slash or an
    endpoint suffix pasted by mistake (`/chat/completions`, `/completions`)."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"sampler openai: base_url {base_url!r}: expected http(s)://host[:port][/v1]")
    url = base_url.strip().rstrip("/")
    for suffix in ("/chat/completions", "/completions"):
        url = url.removesuffix(suffix)
    return url if parts.path.strip("/") else url + "/v1"
