"""`monkeys serve` (a real process on 127.0.0.1) against what a web page in the user's browser can send it:
a cross-origin POST needs no preflight when its body is `text/plain`, so the server itself must refuse it;
and against request bodies it should not wait for or hold in memory."""

from __future__ import annotations

import socket

import httpx
from conftest import scripted_server

BODY = b'{"prompt": "What is 1 + 1?", "max_tokens": 4, "n": 2}'


def _raw(port: int, request: bytes) -> bytes:
    """Send `request` on a new connection; what the server answers within 10 s, until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            pass
    return out


def test_a_web_page_of_another_origin_cannot_make_the_server_sample() -> None:
    with scripted_server() as url:
        for origin in ("http://evil.example", "null", "http://127.0.0.1:1"):
            r = httpx.post(f"{url}/completions", content=BODY, timeout=30,
                           headers={"Content-Type": "text/plain", "Origin": origin})
            assert r.status_code == 403 and "other origins" in r.json()["error"]["message"], (origin, r.text)
        assert httpx.post(f"{url}/completions", content=BODY, timeout=30).status_code == 200  # a client: no Origin
        same = url.removesuffix("/v1")
        r = httpx.post(f"{url}/chat/completions", timeout=30, headers={"Origin": same},
                       json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
        assert r.status_code == 200 and r.headers["x-content-type-options"] == "nosniff"


def test_bodies_too_large_or_of_no_length_are_refused_without_being_read() -> None:
    with scripted_server() as url:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        head = b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        answer = _raw(port, head + b"Content-Length: 99999999999\r\n\r\n{}")  # 100 GB announced, 2 bytes sent
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
        for length in (b"-1", b"12x", b"\x1b[2J"):
            answer = _raw(port, head + b"Content-Length: " + length + b"\r\n\r\n{}")
            assert answer.startswith(b"HTTP/1.1 400 ") and b"\x1b" not in answer, answer[:200]
        assert httpx.post(f"{url}/completions", content=BODY, timeout=30).status_code == 200  # still serving
