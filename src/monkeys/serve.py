"""Put any `Sampler` behind an OpenAI-compatible endpoint: /v1/chat/completions, /v1/completions, /v1/models.

For tests and `monkeys serve`, so the embedded model can stand in for vLLM or a hosted API. Stdlib
`ThreadingHTTPServer`: no streaming, no auth, no tokenizer (token counts come from the sampler). It binds
to 127.0.0.1 unless told otherwise; there is no access control, but it keeps web pages out: bound to loopback
it answers only requests naming a loopback host (DNS rebinding), and it refuses a POST a browser sent from
a page of another origin (any page may send one, as `text/plain`, without asking first). A body over
`MAX_BODY` bytes is refused before it is read.

Log-probabilities: asked for as OpenAI does (chat `logprobs: true`, completions `logprobs: N`), each choice
carries its sampled tokens' log-probabilities in that endpoint's format, when the sampler gives them (the
embedded model does: under the model at temperature 1, whatever the sampling temperature; like vLLM's raw
log-probabilities). Alternatives (`top_logprobs`) are not computed: only the sampled token is listed. A
sampler without log-probabilities answers `"logprobs": null`.
"""

from __future__ import annotations

import inspect
import json
import random
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from monkeys._hosts import host_allowed, loopback_hosts
from monkeys.core import Prompt, Sampler, SampleRequest, derive_seed

MAX_N = 1024  # one request may not ask for more samples than this
MAX_BODY = 32 * 2**20  # bytes of one request body (a long chat is well under 1 MB)


class _BadRequest(Exception):
    """The client sent something we cannot serve; answered 400 with the message."""


class OpenAIServer:
    """Serve `sampler` on host:port (port 0 picks a free one); `base_url` is what a client needs.

    `n` samples of one request go to the sampler in one `sample()` call (so it can batch them). Choice
    i is drawn with seed `seed` for i = 0 and `derive_seed(seed, "serve", i)` after, so n=1 with seed s
    reproduces the first choice of any n with seed s; without `seed` the seed is random. Calls are
    serialised unless `concurrent=True`, because a sampler need not be thread-safe.
    """

    def __init__(self, sampler: Sampler, host: str = "127.0.0.1", port: int = 8000, *,
                 concurrent: bool = False, default_max_tokens: int = 256) -> None:
        self.sampler = sampler
        self.default_max_tokens = default_max_tokens
        self._sample_lock = threading.Lock() if not concurrent else None
        self.allowed_hosts = loopback_hosts(host)  # DNS rebinding: a loopback server answers loopback names only
        self._httpd = _Server((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.app = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else host
        return f"http://{name}:{port}/v1"

    def start(self) -> Self:
        """Serve on a background thread (tests); `serve_forever` blocks instead (CLI)."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="monkeys-serve",
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def close(self) -> None:
        """Stop accepting requests and release the port (the sampler is the caller's to close)."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def complete(self, body: dict[str, Any], chat: bool) -> dict[str, Any]:
        """Answer one (chat) completion request body as the OpenAI API would."""
        if chat:
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages:
                raise _BadRequest("'messages' must be a non-empty list")
            prompt = Prompt(messages=tuple(_message(m) for m in messages))
        else:
            text = body.get("prompt")
            if isinstance(text, list) and len(text) == 1:
                text = text[0]
            if not isinstance(text, str):
                raise _BadRequest("'prompt' must be a string (batches of prompts are not supported)")
            prompt = Prompt(text=text)
        stop = body.get("stop") or ()
        prompt = Prompt(prompt.text, prompt.messages, (stop,) if isinstance(stop, str) else tuple(stop))
        n = _number(body, "n", int, 1)
        if not 1 <= n <= MAX_N:
            raise _BadRequest(f"'n' must be between 1 and {MAX_N}, got {n}")
        seed = _number(body, "seed", int, None)
        seed = random.randrange(2**31) if seed is None else seed
        requests = [SampleRequest(i, seed if i == 0 else derive_seed(seed, "serve", i)) for i in range(n)]
        max_tokens = _number(body, "max_tokens", int, None) or _number(
            body, "max_completion_tokens", int, self.default_max_tokens)
        params: dict[str, Any] = {"temperature": _number(body, "temperature", float, 1.0),
                                  "top_p": _number(body, "top_p", float, 1.0), "max_tokens": max_tokens}
        asked = body.get("logprobs")  # chat: true/false; completions: how many alternatives (0 = none)
        if asked is not None and (not isinstance(asked, int) or (chat and not isinstance(asked, bool))
                                  or (not chat and not isinstance(asked, bool) and asked < 0)):
            raise _BadRequest(f"'logprobs' must be {'true or false' if chat else 'an integer >= 0'}, got {asked!r}")
        want = asked is not None and asked is not False
        if want and "logprobs" in inspect.signature(self.sampler.sample).parameters:
            params["logprobs"] = True
        if self._sample_lock is None:
            completions = self.sampler.sample(prompt, requests, **params)
        else:
            with self._sample_lock:
                completions = self.sampler.sample(prompt, requests, **params)
        completions = sorted(completions, key=lambda c: c.index)
        choices = [{"index": c.index, "finish_reason": c.finish_reason,
                    **({"message": {"role": "assistant", "content": c.text}} if chat else {"text": c.text}),
                    **({"logprobs": _logprobs(c.logprobs, chat)} if want else {})}
                   for c in completions]
        prompt_tokens = completions[0].prompt_tokens if completions else 0  # the prompt is read once
        completion_tokens = sum(c.completion_tokens for c in completions)
        return {"id": f"cmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion" if chat else "text_completion",
                "created": int(time.time()), "model": self.sampler.model_name, "choices": choices,
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}}


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the listen backlog (stdlib default 5): many clients connect at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A request that failed outside the handler's own answers: the traceback, with whatever the client
        sent in it shown as escapes (it is printed on the user's terminal)."""
        import sys
        import traceback

        from monkeys._terminal import printable

        print(printable(f"monkeys serve: a request from {client_address[0]} failed:\n{traceback.format_exc()}"),
              file=sys.stderr)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections
    disable_nagle_algorithm = True  # headers and body go out in two writes; without this, +40 ms each
    server_version = "monkeys"

    def _other_host(self) -> bool:
        """Answers 421 (and True) when the request names a host this server does not answer (`_hosts`)."""
        allowed = self.server.app.allowed_hosts  # type: ignore[attr-defined]
        if host_allowed(self.headers.get("Host"), allowed):
            return False
        self.close_connection = True
        self._error(421, f"this server answers only for {', '.join(sorted(allowed))} (the request named another"
                         " host)", "invalid_request_error")
        return True

    def do_GET(self) -> None:
        app: OpenAIServer = self.server.app  # type: ignore[attr-defined]
        if self._other_host():
            return
        path = self.path.split("?")[0].rstrip("/")
        if path in ("/v1/models", "/models"):
            self._reply(200, {"object": "list", "data": [
                {"id": app.sampler.model_name, "object": "model", "created": 0, "owned_by": "monkeys"}]})
        elif path in ("", "/v1", "/health"):
            self._reply(200, {"status": "ok"})
        else:
            self._error(404, f"no route GET {path}", "not_found_error")

    def _other_origin(self) -> bool:
        """Answers 403 (and True) for a request a browser sent from a page of another origin: browsers name
        the page's origin on every POST (`null` for a file or a sandboxed frame); other clients send none."""
        origin = self.headers.get("Origin")
        if origin is None or origin.lower() == f"http://{self.headers.get('Host', '')}".lower():
            return False
        self.close_connection = True
        self._error(403, f"this server does not answer web pages of other origins (the request came from"
                         f" {origin!r})", "invalid_request_error")
        return True

    def _body(self) -> bytes | None:
        """The request body, or None after answering 400 / 413 for a length that is not a number of bytes
        up to MAX_BODY (nothing is read then: the connection is closed)."""
        given = (self.headers.get("Content-Length") or "0").strip()
        if not given.isdigit() or int(given) > MAX_BODY:
            self.close_connection = True
            too_big = given.isdigit()
            self._error(413 if too_big else 400, f"the request body is {given} bytes; at most {MAX_BODY} are read"
                        if too_big else f"Content-Length must be a number of bytes, got {given[:40]!r}",
                        "invalid_request_error")
            return None
        return self.rfile.read(int(given))

    def do_POST(self) -> None:
        app: OpenAIServer = self.server.app  # type: ignore[attr-defined]
        path = self.path.split("?")[0].rstrip("/").removeprefix("/v1")
        if self._other_host() or self._other_origin():  # before reading the body: the connection is closed
            return
        body_bytes = self._body()
        if body_bytes is None:
            return
        if path not in ("/chat/completions", "/completions"):
            return self._error(404, f"no route POST {self.path}", "not_found_error")
        try:
            try:
                body = json.loads(body_bytes or b"null")
            except ValueError as exc:
                raise _BadRequest(f"the request body is not JSON: {exc}") from None
            if not isinstance(body, dict):
                raise _BadRequest("the request body must be a JSON object")
            if body.get("stream"):
                raise _BadRequest("'stream' is not supported")
            self._reply(200, app.complete(body, chat=path == "/chat/completions"))
        except _BadRequest as exc:
            self._error(400, str(exc), "invalid_request_error")
        except Exception as exc:  # noqa: BLE001 - the sampler failed: tell the client, keep serving
            self._error(500, f"{type(exc).__name__}: {exc}", "server_error")

    def _error(self, status: int, message: str, kind: str) -> None:
        self._reply(status, {"error": {"message": message, "type": kind, "code": status}})

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Content-Type-Options", "nosniff")  # an error quotes the request: never read as HTML
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: a sampling run makes thousands of requests


def _logprobs(tokens: tuple[tuple[str, float], ...] | None, chat: bool) -> dict[str, Any] | None:
    """A choice's `logprobs` in the OpenAI format of its endpoint (None when the sampler gave none)."""
    if tokens is None:
        return None
    if chat:
        return {"content": [{"token": t, "logprob": lp, "bytes": list(t.encode()), "top_logprobs": []}
                            for t, lp in tokens]}
    offsets, at = [], 0
    for t, _ in tokens:
        offsets.append(at)
        at += len(t)
    return {"tokens": [t for t, _ in tokens], "token_logprobs": [lp for _, lp in tokens],
            "top_logprobs": [{t: lp} for t, lp in tokens], "text_offset": offsets}


def _message(m: Any) -> dict[str, str]:
    if not isinstance(m, dict) or not isinstance(m.get("role"), str):
        raise _BadRequest("each message must be an object with 'role' and 'content'")
    content = m.get("content") or ""
    if isinstance(content, list):  # content parts: keep the text ones
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return {"role": m["role"], "content": str(content)}


def _number(body: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise _BadRequest(f"'{key}' must be a {kind.__name__}, got {value!r}")
    return kind(value)
