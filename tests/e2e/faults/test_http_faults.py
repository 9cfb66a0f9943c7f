"""`monkeys run --sampler openai` end to end against a fault-injecting OpenAI server on 127.0.0.1.

The server is a stdlib `ThreadingHTTPServer` in this process; the run is the real CLI in a subprocess. The
server draws deterministic texts from the seed it is sent, so a run that met faults can be compared with
one that met none. Each fault either is ridden through (exit 0, the same samples as a clean run) or ends
the run with exit 2 and exactly one `error:` line, no traceback, and the run resumable. Subprocess
timeouts are hang guards only; nothing here asserts how long anything took.
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

# tests/e2e/conftest.py (the real CLI as a subprocess), by path: `from conftest import` would take whichever
# conftest module pytest loaded first (tests/report has one too)
_spec = importlib.util.spec_from_file_location("monkeys_e2e_conftest", Path(__file__).parents[1] / "conftest.py")
assert _spec is not None and _spec.loader is not None
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
monkeys = _e2e.monkeys

GUARD_S = 60  # hang guard per CLI run


@dataclass
class Fault:
    """What the server does with one generation request (None: answer it properly)."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    reset: bool = False  # close the connection without a word
    hang: bool = False  # read the request, never answer
    truncate: int | None = None  # promise the whole body, send this many bytes, close
    payload: Any = None  # answer this JSON instead of the proper reply
    raw: bytes | None = None  # answer these bytes instead


Plan = Callable[[int, dict[str, Any]], Fault | None]


class FaultServer:
    """OpenAI-compatible completions on 127.0.0.1 that fail on cue. `plan(i, body)` decides request i;
    `slots` requests are generated at once (others queue, as on vLLM/llama.cpp), each taking `gen_s`."""

    def __init__(self, plan: Plan | None = None, *, slots: int = 64, gen_s: float = 0.0, port: int = 0,
                 models: tuple[str, ...] = ("m",)) -> None:
        self.plan = plan or (lambda i, body: None)
        self.models = models
        self.gen_s = gen_s
        self.generation_requests: list[dict[str, Any]] = []  # every POST, in arrival order
        self.generated = 0  # choices actually produced
        self._slots = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        """Stop listening (clients get 'connection refused') and release hung handlers."""
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def reply(self, body: dict[str, Any]) -> dict[str, Any]:
        n, seed = int(body.get("n", 1)), int(body.get("seed", 0))
        key = "message" if "messages" in body else "text"
        choices = []
        for i in range(n):
            text = f"#### {(seed + i) % 7}"
            choices.append({"index": i, "finish_reason": "stop",
                            key: {"role": "assistant", "content": text} if key == "message" else text})
        with self._lock:
            self.generated += n
        return {"choices": choices, "usage": {"prompt_tokens": 5, "completion_tokens": 3 * n}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._send(200, json.dumps({"object": "list", "data": [{"id": m} for m in server.models]}).encode())

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    number = len(server.generation_requests)
                    server.generation_requests.append(body)
                fault = server.plan(number, body)
                try:
                    if fault is None:
                        with server._slots:
                            server._stop.wait(server.gen_s)
                            data = json.dumps(server.reply(body)).encode()
                        return self._send(200, data)
                    if fault.hang:
                        server._stop.wait(GUARD_S)
                        self.close_connection = True
                        return None
                    if fault.reset:
                        self.close_connection = True
                        return None
                    data = fault.raw if fault.raw is not None else json.dumps(
                        fault.payload if fault.payload is not None else server.reply(body)).encode()
                    self._send(fault.status, data, fault.headers, fault.truncate)
                except OSError:
                    pass  # the client gave up on this request
                return None

            def _send(self, status: int, data: bytes, headers: tuple[tuple[str, str], ...] = (),
                      truncate: int | None = None) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[:truncate])
                if truncate is not None:
                    self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def fault_server() -> Iterator[Callable[..., FaultServer]]:
    made: list[FaultServer] = []

    def start(plan: Plan | None = None, **kwargs: Any) -> FaultServer:
        made.append(FaultServer(plan, **kwargs))
        return made[-1]

    yield start
    for server in made:
        server.close()


def write_data(path: Path) -> Path:
    path.write_text("".join(json.dumps({"question": f"What is {i} + 1?", "answer": f"so #### {i + 1}"}) + "\n"
                            for i in range(3)))
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_data(tmp_path / "test.jsonl")


def run(server: FaultServer | str, data: Path, out: Path, *extra: str, n: int = 4,
        options: tuple[str, ...] = ()) -> Any:
    base_url = server if isinstance(server, str) else server.base_url
    given = dict(o.split("=", 1) for o in ("backoff_s=0.05", *options))  # later wins
    opts = [a for k, v in given.items() for a in ("--sampler-option", f"{k}={v}")]
    return monkeys("run", "--task", "gsm8k", "--data", str(data), "--task-option", "shots=0",
                   "--sampler", "openai", "--base-url", base_url, "--model", "m", "-n", str(n),
                   "--batch-size", "2", "--no-report", "--out", str(out), *opts, *extra, timeout=GUARD_S)


def samples(out: Path) -> list[tuple]:
    db = sqlite3.connect(out / "monkeys.db")
    try:
        return db.execute("SELECT problem_id, sample_index, seed, text FROM samples"
                          " ORDER BY problem_id, sample_index").fetchall()
    finally:
        db.close()


def one_error_line(proc: Any) -> str:
    """Exit 2, exactly one `error:` line and no traceback; returns the line."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-2000:]
    return errors[0]


def not_resent(server: FaultServer) -> bool:
    """Each batch (3 problems x 4 samples / 2 per call) was asked for at most once."""
    seeds = [body["seed"] for body in server.generation_requests]
    return 0 < len(seeds) <= 6 and len(set(seeds)) == len(seeds)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    """The samples of a run that met no fault (the same data file, sampler and seeds as every test)."""
    tmp = tmp_path_factory.mktemp("clean")
    server = FaultServer()
    try:
        proc = run(server, write_data(tmp / "test.jsonl"), tmp / "clean")
    finally:
        server.close()
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = samples(tmp / "clean")
    assert len(rows) == 12
    return rows


# -- faults that are ridden through ----------------------------------------------------------------------

@pytest.mark.parametrize("fault", [
    Fault(429, (("Retry-After", "1"),), payload={"error": {"message": "slow down"}}),
    Fault(500, payload={"error": {"message": "boom"}}),
    Fault(503, raw=b"<html>bad gateway</html>"),
    Fault(reset=True),
    Fault(truncate=30),
    Fault(raw=b'{"choices": [{"index": 0, "te'),  # a 200 whose body is cut short but framed
], ids=["429-retry-after", "500", "503-html", "reset", "truncated", "cut-json"])
def test_transient_faults_are_retried_and_change_nothing(fault_server, data, tmp_path, clean, fault) -> None:
    server = fault_server(lambda i, body: fault if i % 3 == 0 else None)  # every third request fails once
    proc = run(server, data, tmp_path / "run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert samples(tmp_path / "run") == clean


def test_a_server_that_dies_and_comes_back_is_resumed_to_the_same_samples(fault_server, data, tmp_path,
                                                                          clean) -> None:
    out = tmp_path / "run"
    server: FaultServer | None = None
    died = threading.Event()

    def die_after_two(i: int, body: dict[str, Any]) -> Fault | None:
        if i >= 2:
            if not died.is_set():
                died.set()
                threading.Thread(target=server.close, daemon=True).start()  # type: ignore[union-attr]
            return Fault(reset=True)
        return None

    server = fault_server(die_after_two)
    port = server.port
    proc = run(server, data, out, options=("max_retries=2",))
    assert "cannot reach" in one_error_line(proc) and "resume" in proc.stderr
    assert 0 < len(samples(out)) < 12
    again = fault_server(port=port)  # the same address, back up
    proc = run(again, data, out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert samples(out) == clean


def test_a_short_outage_is_ridden_through(fault_server, data, tmp_path, clean) -> None:
    """The server goes away after its second request and is back a moment later, on the same port: the
    backoff (0.25 s, 0.5 s, ... here) outlasts the outage and the run finishes as if nothing happened."""
    server: FaultServer | None = None
    died = threading.Event()

    def restart() -> None:
        assert server is not None
        server.close()
        fault_server(port=server.port)

    def blink(i: int, body: dict[str, Any]) -> Fault | None:
        if i == 2 and not died.is_set():
            died.set()
            threading.Thread(target=restart, daemon=True).start()
            return Fault(reset=True)
        return None

    server = fault_server(blink)
    proc = run(server, data, tmp_path / "run", options=("backoff_s=0.5",))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert died.is_set() and samples(tmp_path / "run") == clean


def test_a_slow_server_with_two_slots_gets_each_sample_asked_for_once(fault_server, data, tmp_path) -> None:
    """8 requests in flight, 2 generated at a time, 0.6 s each: a request waits up to 2.4 s in the server's
    queue, past timeout_s = 1.5 s; the server finishes one every ~0.3 s, so that is no timeout (the old
    client timed out and re-sent, and the server generated the same samples again)."""
    server = fault_server(slots=2, gen_s=0.6)
    proc = run(server, data, tmp_path / "run", "--concurrency", "8", n=6,
               options=("concurrency=8", "timeout_s=1.5", "use_n=false"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(samples(tmp_path / "run")) == 18
    assert len(server.generation_requests) == 18 and server.generated == 18


def test_unpaired_surrogates_are_stored_as_replacement_characters(fault_server, data, tmp_path) -> None:
    raw = b'{"choices": [{"index": 0, "finish_reason": "stop", "text": "#### 1 \\ud800"}], "usage": {}}'
    server = fault_server(lambda i, body: Fault(raw=raw) if i == 0 else None)
    proc = run(server, data, tmp_path / "run", options=("use_n=false",))
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = samples(tmp_path / "run")
    assert len(rows) == 12 and sum("\ufffd" in text for *_, text in rows) == 1
    again = run(server, data, tmp_path / "run", options=("use_n=false",))  # the resume opens it fine
    assert again.returncode == 0, again.stderr[-2000:]


# -- faults that end the run: exit 2, one line, the store resumable --------------------------------------

def test_a_server_that_never_answers_ends_the_run_within_the_timeout(fault_server, data, tmp_path) -> None:
    server = fault_server(lambda i, body: Fault(hang=True))
    proc = run(server, data, tmp_path / "run", options=("timeout_s=2",))
    line = one_error_line(proc)
    assert "sent nothing for timeout_s=2 s" in line and "not re-sent" in line
    assert not_resent(server)


def test_retry_after_beyond_the_cap_is_a_down_server(fault_server, data, tmp_path) -> None:
    server = fault_server(lambda i, body: Fault(429, (("Retry-After", "3600"),), payload={"error": "quota"}))
    proc = run(server, data, tmp_path / "run", options=("max_backoff_s=5",))
    assert "retry after 3600 s, more than max_backoff_s=5: the server is taken as down" in one_error_line(proc)
    assert not_resent(server)


def test_a_server_that_keeps_failing_ends_the_run(fault_server, data, tmp_path) -> None:
    server = fault_server(lambda i, body: Fault(500, payload={"error": {"message": "engine dead"}}))
    proc = run(server, data, tmp_path / "run", options=("max_retries=2",))
    assert "answered 500: engine dead (gave up after 3 attempts" in one_error_line(proc)


@pytest.mark.parametrize(("payload", "expected"), [
    ({"choices": "none"}, "the reply has no 'choices' list"),
    ({"choices": [{"index": 0, "text": 7}]}, "choices[0].text is not a string"),
])
def test_a_reply_of_the_wrong_shape_is_one_line(fault_server, data, tmp_path, payload, expected) -> None:
    server = fault_server(lambda i, body: Fault(payload=payload))
    proc = run(server, data, tmp_path / "run", options=("use_n=false",))
    assert f"answered 200 but {expected}" in one_error_line(proc)


def test_a_model_the_server_does_not_list_is_refused_before_anything_is_stored(fault_server, data,
                                                                               tmp_path) -> None:
    server = fault_server(models=("Qwen/Qwen2.5-Coder-1.5B-Instruct", "other"))
    proc = run(server, data, tmp_path / "run")
    assert one_error_line(proc) == ("error: --model 'm' is not served at " + server.base_url + "/models; the "
                                    "server offers 'Qwen/Qwen2.5-Coder-1.5B-Instruct', 'other'")
    assert not (tmp_path / "run" / "monkeys.db").exists() and server.generation_requests == []


# -- kill -9 soak against a faulty server ------------------------------------------------------------------

@pytest.mark.timeout(300)
def test_twenty_kill_9s_against_a_faulty_server_end_as_one_clean_run(fault_server, tmp_path) -> None:
    """20 SIGKILLs at random moments of `monkeys run --sampler openai` against a server that fails one
    request in four (500, 429 with Retry-After 0, resets, truncated bodies), each followed by a resume:
    the store ends with the same samples as a run against a server that never fails."""
    import os
    import random
    import signal
    import subprocess
    import time

    monkeys_cli = str(Path(sys.executable).parent / "monkeys")  # as tests/e2e/conftest.py finds it
    rng = random.Random(20261202)
    faults = [Fault(500, payload={"error": {"message": "boom"}}), Fault(reset=True), Fault(truncate=25),
              Fault(429, (("Retry-After", "0"),), payload={"error": {"message": "slow down"}})]
    faulty = fault_server(lambda i, body: rng.choice(faults) if rng.random() < 0.25 else None, gen_s=0.02)
    data = write_data(tmp_path / "test.jsonl")
    n, total = 80, 3 * 80  # long enough that 20 kills land before it completes

    def command(server: FaultServer, out: Path) -> list[str]:
        return [monkeys_cli, "run", "--task", "gsm8k", "--data", str(data), "--task-option", "shots=0",
                "--sampler", "openai", "--base-url", server.base_url, "--model", "m", "-n", str(n),
                "--batch-size", "2", "--concurrency", "2", "--no-report", "--out", str(out),
                "--sampler-option", "backoff_s=0.01", "--sampler-option", "max_retries=20"]

    soaked = tmp_path / "soaked"
    kills = 0
    while kills < 20:
        before = _e2e.stored_samples(soaked)
        assert before < total, f"the run completed after {kills} kills; make it longer"
        proc = subprocess.Popen(command(faulty, soaked), start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if rng.random() < 0.4:  # anywhere early in its life: imports, setup, the first requests
            time.sleep(rng.uniform(0.0, 0.8))
        else:
            deadline, target = time.monotonic() + GUARD_S, before + rng.randint(1, 4)
            while _e2e.stored_samples(soaked) < target and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
    final = subprocess.run(command(faulty, soaked), capture_output=True, text=True, timeout=GUARD_S * 2)
    assert final.returncode == 0, final.stderr[-2000:]
    steady = fault_server()
    whole = subprocess.run(command(steady, tmp_path / "whole"), capture_output=True, text=True, timeout=GUARD_S * 2)
    assert whole.returncode == 0, whole.stderr[-2000:]
    got, want = samples(soaked), samples(tmp_path / "whole")
    assert len(want) == total and got == want
