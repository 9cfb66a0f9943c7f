"""The `openai` sampler over several endpoints: real HTTP servers on 127.0.0.1 that fail on command (500,
dropped connections, a hang, a closed port), so routing, take-out, probing back in and the all-down error
are exercised through real sockets."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from monkeys.core import Prompt, SampleRequest
from monkeys.errors import ConfigError, SamplerError
from monkeys.registry import create
from monkeys.samplers.openai_http import OpenAISampler

PARAMS = {"temperature": 0.6, "top_p": 0.95, "max_tokens": 16}
PROMPT = Prompt(text="2+2?")


class Replica:
    """A real OpenAI-style server whose behaviour is set by `mode`: "ok", "500", "drop" (close without
    answering), "hang" (answer nothing until released) or "closed" (port shut: connections refused). It
    counts the POSTs it took (in "ok" mode) and the most it held at once; `held` keeps requests waiting while set."""

    def __init__(self, port: int = 0) -> None:
        self.mode = "ok"
        self.posts = 0
        self.in_flight = self.max_in_flight = 0
        self.hold = threading.Event()  # set: "ok" replies wait for `release`
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._port = port
        self.open()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    def open(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if outer.mode == "ok":
                    self._send(200, {"object": "list", "data": [{"id": "m"}]})
                else:
                    self._misbehave()

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if outer.mode != "ok":
                    return self._misbehave()
                with outer._lock:
                    outer.posts += 1  # counted before answering: the client may see the reply first
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                try:
                    if outer.hold.is_set():
                        outer.release.wait(30)
                    choices = [{"index": i, "text": f"s{body['seed']}-{i}", "finish_reason": "stop"}
                               for i in range(body.get("n", 1))]
                    self._send(200, {"choices": choices, "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
                finally:
                    with outer._lock:
                        outer.in_flight -= 1

            def _misbehave(self) -> None:
                if outer.mode == "500":
                    self._send(500, {"error": {"message": "engine crashed"}})
                elif outer.mode == "hang":
                    outer.release.wait(30)
                    self.close_connection = True
                else:  # "drop"
                    self.close_connection = True

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up on us

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._httpd.daemon_threads = True
        self._port = self._httpd.server_address[1]
        self.mode = "ok"
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        """Shut the port: new connections are refused."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        self.mode = "closed"


@pytest.fixture
def replicas() -> Iterator[Callable[[int], list[Replica]]]:
    made: list[Replica] = []

    def start(count: int) -> list[Replica]:
        made.extend(Replica() for _ in range(count))
        return made[-count:]

    yield start
    for r in made:
        r.release.set()
        r.close()


@pytest.fixture
def sampler_for() -> Iterator[Callable[..., OpenAISampler]]:
    made: list[OpenAISampler] = []

    def build(urls: list[str], **options: Any) -> OpenAISampler:
        options = {"backoff_s": 0.01, "use_n": False, **options}
        made.append(create("sampler", "openai", base_url=urls, model="m", **options))
        return made[-1]

    yield build
    for sampler in made:
        sampler.close()


def requests_for(count: int, first_seed: int = 0) -> list[SampleRequest]:
    return [SampleRequest(i, first_seed + i) for i in range(count)]


def wait_until(check: Callable[[], bool], what: str, limit_s: float = 20) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def test_requests_go_to_the_endpoint_with_fewest_outstanding(replicas, sampler_for) -> None:
    """A holds every request it gets; B answers at once. With 4 slots, least-outstanding routing gives A
    at most 2 of 20 requests (it only gets one while it has no more in flight than B), B the rest; a
    load-blind split would fill all 4 slots with A's held requests and never finish."""
    a, b = replicas(2)
    a.hold.set()
    sampler = sampler_for([a.url, b.url], concurrency=4)
    watcher = threading.Thread(target=lambda: (wait_until(lambda: b.posts >= 18, "B to serve 18", 15),
                                               a.release.set()), daemon=True)
    watcher.start()
    try:
        got = sampler.sample(PROMPT, requests_for(20), **PARAMS)
    finally:
        a.release.set()
    assert [c.text for c in got] == [f"s{i}-0" for i in range(20)]
    assert a.posts <= 2 and a.posts + b.posts == 20 and a.max_in_flight <= 2
    assert sampler.endpoints_up() == (2, 2) and sampler.retries == 0


@pytest.mark.parametrize("mode", ["500", "drop", "hang", "closed"])
def test_a_failing_endpoint_is_taken_out_and_probed_back_in(replicas, sampler_for, mode) -> None:
    a, b = replicas(2)
    sampler = sampler_for([a.url, b.url], timeout_s=1.0)
    if mode == "closed":
        a.close()
    else:
        a.mode = mode
    got = sampler.sample(PROMPT, requests_for(1), **PARAMS)  # first pick: A, which fails; B answers
    assert got[0].text == "s0-0" and b.posts == 1 and a.posts == 0
    assert sampler.endpoints_up() == (1, 2) and sampler.retries == 1
    sampler.sample(PROMPT, requests_for(4, 10), **PARAMS)  # A stays out while it keeps failing its probes
    assert b.posts == 5 and a.posts == 0 and sampler.endpoints_up() == (1, 2)
    a.release.set()
    if mode == "closed":
        a.open()  # the same port, back up
    a.mode = "ok"
    wait_until(lambda: sampler.endpoints_up() == (2, 2), "A to be probed back in")
    sampler.sample(PROMPT, requests_for(6, 20), **PARAMS)
    assert a.posts >= 1 and a.posts + b.posts == 11 and sampler.retries == 1


def test_while_all_endpoints_are_down_requests_wait_for_one_to_come_back(replicas, sampler_for) -> None:
    a, b = replicas(2)
    a.mode = b.mode = "500"
    sampler = sampler_for([a.url, b.url], backoff_s=0.2)  # a retry budget of 12.6 s

    def revive_a() -> None:
        wait_until(lambda: sampler.endpoints_up() == (0, 2), "both endpoints to be taken out")
        a.mode = "ok"

    threading.Thread(target=revive_a, daemon=True).start()
    got = sampler.sample(PROMPT, requests_for(1), **PARAMS)
    assert got[0].text == "s0-0" and a.posts == 1 and sampler.retries == 2 and sampler.endpoints_up() == (1, 2)


def test_all_endpoints_down_past_the_retry_budget_is_one_error_naming_each(replicas, sampler_for) -> None:
    a, b = replicas(2)
    a.mode = "500"
    b.close()
    sampler = sampler_for([a.url, b.url], max_retries=3)  # budget 0.01 + 0.02 + 0.04 s
    with pytest.raises(SamplerError) as info:
        sampler.sample(PROMPT, requests_for(3), **PARAMS)
    message = str(info.value)
    assert message.startswith("all 2 endpoints have been down for ")
    assert "longer than the retry budget of 0.07 s (max_retries 3, backoff_s 0.01, max_backoff_s 60)" in message
    assert f"{a.url}: {a.url}/completions answered 500: engine crashed" in message
    assert f"{b.url}: cannot reach {b.url}/completions: " in message
    assert message.endswith("run the same command again to resume") and "\n" not in message
    assert sampler.endpoints_up() == (0, 2)


def test_check_reachable_passes_while_one_endpoint_answers(replicas, sampler_for, caplog) -> None:
    a, b, c = replicas(3)
    b.close()
    c.mode = "500"
    sampler = sampler_for([a.url, b.url, c.url])
    with caplog.at_level(logging.WARNING, logger="monkeys.samplers.openai_http"):
        assert sampler.check_reachable(timeout_s=2) == ["m"]
    assert sampler.endpoints_up() == (1, 3)
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert warning.startswith("endpoints down: 2 of 3 (") and b.url in warning and c.url in warning
    assert a.url not in warning.replace(b.url, "").replace(c.url, "")
    sampler.sample(PROMPT, requests_for(3), **PARAMS)  # they start taken out: nothing is sent to them
    assert a.posts == 3 and sampler.retries == 0 and sampler.endpoints_up() == (1, 3)
    c.mode = "ok"
    wait_until(lambda: sampler.endpoints_up() == (2, 3), "C to be probed back in")
    c.mode = "500"

    a.close()
    with pytest.raises(SamplerError, match=r"^none of the 3 endpoints is up: cannot reach .*; cannot reach .*; "
                                           r".*answered 500"):
        sampler_for([a.url, b.url, c.url]).check_reachable(timeout_s=2)
    a.open()
    with pytest.raises(SamplerError, match=r"^--model 'other' is not served at "):
        create("sampler", "openai", base_url=[a.url, b.url], model="other").check_reachable(timeout_s=2)


def test_endpoint_lists_are_checked() -> None:
    with pytest.raises(ConfigError, match="lists http://h:1/v1 twice"):
        create("sampler", "openai", base_url=["http://h:1", "http://h:1/v1/"], model="m")
    with pytest.raises(ConfigError, match="expected one or more server URLs"):
        create("sampler", "openai", base_url=[], model="m")
    sampler = create("sampler", "openai", base_url=["http://h:1", "http://g:2/v1"], model="m")
    assert sampler.base_urls == ["http://h:1/v1", "http://g:2/v1"] and sampler.endpoints_up() == (2, 2)
    assert sampler.concurrency == 32  # 16 per endpoint unless given
