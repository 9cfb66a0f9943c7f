"""Client-side throughput: samples/s that monkeys sustains against an OpenAI-compatible server that answers
at once, against a bare httpx loop as the ceiling (issue 14: goal >= 1,000 samples/s for the pipeline).

The server runs in its own process (so it does not share the client's GIL): by default a minimal asyncio
HTTP/1.1 server in this file (`--server fast`) whose replies are prebuilt per `n`, fast enough that the
client is what is measured; `--server serve` uses `monkeys serve --sampler scripted` (stdlib threaded
server: it is then often the bottleneck). `--endpoints K` starts K servers and spreads over them.

Methods, each sampling the same number of samples with `n` = --batch per request, interleaved within each
repetition so load from elsewhere hits them alike:
- `httpx loop, one client`: --concurrency asyncio workers POSTing /v1/completions with one shared
  httpx.AsyncClient and parsing the JSON; nothing else;
- `httpx loop, per worker`: the same with one client (of one connection) per worker: httpx's pool scans
  every connection it holds on each request, so this is the faster of the two, the ceiling;
- `sampler`: the `openai` sampler alone, `sample()` called from --concurrency threads as the pipeline does
  (requests built, replies turned into Completions);
- `pipeline, no-op verifier`: `monkeys.pipeline.run` end to end into a fresh run directory (store, resume
  bookkeeping, verification threads) with a verifier that does nothing: what the pipeline itself costs;
- `pipeline, math-answer`: the same with GSM8K's real verifier (final number compared in-process, cached).
The pipeline rows include the run's fixed start (config checks, reachability check, store creation, the
verifier's start), amortised over --samples.

Prints samples/s best and median over repetitions, the ratio of medians to the faster httpx loop, and
CPU ms per sample of the client process (all its threads): the number that load from elsewhere
distorts least (a client process with a core to itself draws about 1000 / that many samples/s).
Usage: python benchmarks/client_throughput.py [--samples 8000] [--batch 16] [--concurrency 16] [--reps 3]
       [--server fast|serve] [--endpoints 1] [--profile pipeline|sampler]
`measure()` is importable (benchmarks/scale_out.py prints these rows beside its own).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import httpx


class Timing(NamedTuple):
    """One method's repetition: samples drawn, wall seconds, CPU seconds of this process (all threads)."""

    samples: int
    wall_s: float
    cpu_s: float

    @property
    def rate(self) -> float:
        return self.samples / self.wall_s

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_s / self.samples


PROMPT_TEXT = "Question: What is 40 + 2?\nAnswer:"
ANSWER = "40 + 2 = 42. The answer is 42."


# -- the instant server -------------------------------------------------------------------------------

def _reply(n: int) -> bytes:
    """A whole HTTP response with `n` choices (seed-independent text: the client cannot tell)."""
    body = json.dumps({"id": "cmpl-bench", "object": "text_completion", "created": 0, "model": "bench",
                       "choices": [{"index": i, "text": ANSWER, "finish_reason": "stop"} for i in range(n)],
                       "usage": {"prompt_tokens": 12, "completion_tokens": 11 * n,
                                 "total_tokens": 12 + 11 * n}}).encode()
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body)


_MODELS = json.dumps({"object": "list", "data": [{"id": "bench", "object": "model"}]}).encode()


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    replies: dict[int, bytes] = {}
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            if head.startswith(b"GET"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(_MODELS)).encode() + b"\r\n\r\n" + _MODELS)
            else:
                n = int(json.loads(body).get("n", 1))
                if n not in replies:
                    replies[n] = _reply(n)
                writer.write(replies[n])
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def serve_fast(port: int) -> None:
    """Serve until killed: /v1/models and any POST, answered at once with n choices."""
    async def main() -> None:
        server = await asyncio.start_server(_handle, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_servers(kind: str, count: int) -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    """`count` servers of `kind`, each its own process; returns them and their /v1 URLs once they answer."""
    procs, urls = [], []
    for _ in range(count):
        port = _free_port()
        if kind == "fast":
            cmd = [sys.executable, __file__, "--_serve", str(port)]
        else:
            cmd = [str(Path(sys.executable).parent / "monkeys"), "serve", "--sampler", "scripted", "--port", str(port)]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        urls.append(f"http://127.0.0.1:{port}/v1")
    for url, proc in zip(urls, procs, strict=True):
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/models", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the {kind} server at {url} did not start") from None
                time.sleep(0.05)
    return procs, urls


# -- the methods ----------------------------------------------------------------------------------------

def bare_httpx(urls: list[str], samples: int, batch: int, concurrency: int, model: str,
               per_worker: bool = False) -> Timing:
    """`concurrency` asyncio workers POSTing (round-robin URLs) and parsing the JSON: with one shared
    httpx.AsyncClient, or (`per_worker`) one client of one connection per worker, which spares httpx's
    pool its scan of every connection on each request."""
    requests = samples // batch

    async def main() -> Timing:
        tls = httpx.create_ssl_context()
        if per_worker:
            one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
            clients = [httpx.AsyncClient(limits=one, timeout=60, verify=tls) for _ in range(concurrency)]
        else:
            limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
            clients = [httpx.AsyncClient(limits=limits, timeout=60, verify=tls)] * concurrency
        left = iter(range(requests))
        got = 0

        async def worker(client: httpx.AsyncClient) -> None:
            nonlocal got
            for i in left:
                body = {"model": model, "prompt": PROMPT_TEXT, "temperature": 0.6, "top_p": 0.95,
                        "max_tokens": 64, "n": batch, "seed": i}
                resp = await client.post(urls[i % len(urls)] + "/completions", json=body)
                got += len(resp.json()["choices"])

        try:
            start, cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*(worker(c) for c in clients))
            timing = Timing(got, time.perf_counter() - start, time.process_time() - cpu)
        finally:
            for client in set(clients):
                await client.aclose()
        assert got == requests * batch, got
        return timing

    return asyncio.run(main())


def sampler_alone(urls: list[str], samples: int, batch: int, concurrency: int, model: str) -> Timing:
    """samples/s of the openai sampler, `sample()` called from `concurrency` threads (as the pipeline does)."""
    from monkeys.core import Prompt, SampleRequest
    from monkeys.registry import create

    sampler = create("sampler", "openai", base_url=urls if len(urls) > 1 else urls[0], model=model,
                     concurrency=concurrency)
    prompt = Prompt(text=PROMPT_TEXT)
    calls = samples // batch
    try:
        sampler.sample(prompt, [SampleRequest(0, 0)], temperature=0.6, top_p=0.95, max_tokens=64)  # connect

        def call(i: int) -> int:
            reqs = [SampleRequest(j, i * batch + j) for j in range(batch)]
            return len(sampler.sample(prompt, reqs, temperature=0.6, top_p=0.95, max_tokens=64))

        start, cpu = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(concurrency) as pool:
            got = sum(pool.map(call, range(calls)))
        timing = Timing(got, time.perf_counter() - start, time.process_time() - cpu)
    finally:
        sampler.close()
    assert got == calls * batch, got
    return timing


def _register_noop() -> str:
    from monkeys.core import Outcome, Problem, Sample, Verdict
    from monkeys.registry import get_plugin, register_verifier

    try:
        get_plugin("verifier", "bench-noop")
    except Exception:  # noqa: BLE001 - not registered yet
        @register_verifier("bench-noop")
        class NoOp:
            """Passes everything at no cost: the pipeline's own overhead is what is left."""

            def verify(self, problem: Problem, sample: Sample) -> Verdict:
                return Verdict(Outcome.PASS, "no-op")

            def close(self) -> None:
                pass

    return "bench-noop"


def pipeline(urls: list[str], samples: int, batch: int, concurrency: int, model: str, verifier: str | None,
             work: Path) -> Timing:
    """samples/s of `monkeys.pipeline.run` end to end (GSM8K-shaped problems) into a fresh run directory."""
    from monkeys.config import RunConfig
    from monkeys.pipeline import run

    problems = 20
    n = samples // problems
    data = work / "gsm8k.jsonl"
    if not data.exists():
        data.write_text("".join(json.dumps({"question": f"What is {40 - k} + {2 + k}?",
                                            "answer": f"{40 - k} + {2 + k} = 42\n#### 42"}) + "\n"
                                for k in range(problems)))
    out = Path(tempfile.mkdtemp(dir=work, prefix="run-"))
    config = RunConfig(task="gsm8k", data=str(data), task_options={"shots": 0}, sampler="openai", model=model,
                       base_url=urls if len(urls) > 1 else urls[0], n=n, batch_size=batch, concurrency=concurrency,
                       verifier=verifier, max_tokens=64, out=out)
    start, cpu = time.perf_counter(), time.process_time()
    summary = run(config)
    timing = Timing(summary.samples_drawn, time.perf_counter() - start, time.process_time() - cpu)
    assert summary.samples_drawn == problems * n and summary.samples_verified == problems * n, summary
    return timing


def measure(samples: int = 8000, batch: int = 16, concurrency: int = 16, reps: int = 3, server: str = "fast",
            endpoints: int = 1, log: Callable[[str], None] = print) -> list[tuple[str, list[Timing]]]:
    """(method, one `Timing` per repetition) for every method, interleaved per repetition."""
    procs, urls = start_servers(server, endpoints)
    model = "bench" if server == "fast" else "scripted"
    noop = _register_noop()
    try:
        with tempfile.TemporaryDirectory(prefix="monkeys-client-bench-") as tmp:
            work = Path(tmp)
            methods: list[tuple[str, Callable[[], Timing]]] = [
                ("httpx loop, one client", lambda: bare_httpx(urls, samples, batch, concurrency, model)),
                ("httpx loop, per worker", lambda: bare_httpx(urls, samples, batch, concurrency, model, True)),
                ("openai sampler alone", lambda: sampler_alone(urls, samples, batch, concurrency, model)),
                ("pipeline, no-op verifier", lambda: pipeline(urls, samples, batch, concurrency, model, noop, work)),
                ("pipeline, math-answer", lambda: pipeline(urls, samples, batch, concurrency, model, None, work)),
            ]
            results: dict[str, list[Timing]] = {name: [] for name, _ in methods}
            for rep in range(reps):
                for name, fn in methods:
                    t = fn()
                    results[name].append(t)
                    log(f"  rep {rep + 1}/{reps} {name:<26} {t.rate:9,.0f} samples/s {t.cpu_ms:7.3f} CPU ms/sample")
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    return list(results.items())


def table(rows: list[tuple[str, list[Timing]]]) -> str:
    """samples/s best, median and ratio of medians to the ceiling (the faster httpx loop); client CPU ms
    per sample (median)."""
    ceiling = max(statistics.median(t.rate for t in timings) for name, timings in rows if "httpx" in name)
    lines = [f"{'method':<26} {'best':>9} {'median':>9} {'ratio':>6} {'CPU ms/sample':>14}",
             f"{'':<26} {'samples/s':>9} {'samples/s':>9}"]
    for name, timings in rows:
        med = statistics.median(t.rate for t in timings)
        cpu = statistics.median(t.cpu_ms for t in timings)
        lines.append(f"{name:<26} {max(t.rate for t in timings):9,.0f} {med:9,.0f} {med / ceiling:6.2f} {cpu:14.3f}")
    return "\n".join(lines)


def _profile(what: str, samples: int, batch: int, concurrency: int, server: str) -> None:
    """cProfile of one method, every thread (the sampler's event loop and the pipeline's workers)."""
    import cProfile
    import pstats

    procs, urls = start_servers(server, 1)
    model = "bench" if server == "fast" else "scripted"
    noop = _register_noop()
    profiles: list[tuple[str, cProfile.Profile]] = []

    def profiled_thread_start(self: threading.Thread, _orig: Any = threading.Thread.run) -> None:
        prof = cProfile.Profile()
        profiles.append((self.name, prof))
        prof.enable()
        try:
            _orig(self)
        finally:
            prof.disable()

    threading.Thread.run = profiled_thread_start  # type: ignore[method-assign]
    main = cProfile.Profile()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            main.enable()
            if what == "pipeline":
                rate = pipeline(urls, samples, batch, concurrency, model, noop, Path(tmp)).rate
            else:
                rate = sampler_alone(urls, samples, batch, concurrency, model).rate
            main.disable()
    finally:
        for proc in procs:
            proc.kill()
    print(f"{what}: {rate:,.0f} samples/s under the profiler; per thread kind, by own time (waits left out):")
    groups: dict[str, list[cProfile.Profile]] = {"main": [main]}
    for name, prof in profiles:
        groups.setdefault(name.rstrip("0123456789").rstrip("-_"), []).append(prof)
    for name, profs in groups.items():
        stats = pstats.Stats(profs[0])
        for prof in profs[1:]:
            stats.add(prof)
        for key in [k for k in stats.stats if k[2] in ("<method 'acquire' of '_thread.lock' objects>",
                                                       "<method 'get' of '_queue.SimpleQueue' objects>")]:
            del stats.stats[key]  # type: ignore[attr-defined]
        print(f"== thread {name} ({len(profs)})")
        stats.sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=8000)
    parser.add_argument("--batch", type=int, default=16, help="samples per request (n) and per sampler call")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--server", choices=("fast", "serve"), default="fast")
    parser.add_argument("--endpoints", type=int, default=1)
    parser.add_argument("--profile", choices=("pipeline", "sampler"))
    parser.add_argument("--_serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._serve:
        return serve_fast(args._serve)
    if args.profile:
        return _profile(args.profile, args.samples, args.batch, args.concurrency, args.server)
    print(f"{args.samples} samples, n={args.batch} per request, concurrency {args.concurrency}, "
          f"{args.endpoints} {args.server} server(s), {args.reps} repetitions")
    rows = measure(args.samples, args.batch, args.concurrency, args.reps, args.server, args.endpoints)
    print(table(rows))


if __name__ == "__main__":
    main()
