"""Aggregate tokens/s of the embedded model when drawing n samples of one prompt, per engine and mode.

Methods are interleaved within each repetition so machine noise hits all alike. Usage:
  python benchmarks/embedded_sampler.py [--n 16] [--max-tokens 128] [--reps 3] [--threads N]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from collections.abc import Callable

from monkeys.core import Prompt, SampleRequest, derive_seed
from monkeys.registry import create

PROMPT = Prompt(messages=({"role": "user", "content": "Write a Python function that checks whether a number "
                           "is prime, then explain it step by step in detail."},))


def method(engine: str, batch_size: int, threads: int | None, dtype: str = "float32") -> Callable[..., float]:
    """A callable drawing n samples and returning aggregate completion tokens per second."""
    opts = {"engine": engine, "batch_size": batch_size, "threads": threads}
    if engine == "torch":
        opts["dtype"] = dtype
    sampler = create("sampler", "local", **opts)

    def run(n: int, max_tokens: int) -> float:
        reqs = [SampleRequest(i, derive_seed(0, "bench", i)) for i in range(n)]
        t0 = time.perf_counter()
        done = sampler.sample(PROMPT, reqs, temperature=0.6, top_p=0.95, max_tokens=max_tokens)
        return sum(c.completion_tokens for c in done) / (time.perf_counter() - t0)

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="0 = torch default (all cores)")
    args = ap.parse_args()
    n = args.n
    args.threads = args.threads or None
    candidates: dict[str, Callable[[], Callable[..., float]]] = {
        "torch fp32, one at a time": lambda: method("torch", 1, args.threads),
        f"torch fp32, batched n={n}": lambda: method("torch", n, args.threads),
        "torch bf16, one at a time": lambda: method("torch", 1, args.threads, "bfloat16"),
        f"torch bf16, batched n={n}": lambda: method("torch", n, args.threads, "bfloat16"),
        "llama-cpp-python, one at a time": lambda: method("llamacpp", 1, args.threads),
    }
    runs: dict[str, Callable[..., float]] = {}
    skipped: list[str] = []
    for name, build in candidates.items():
        if name.startswith("llama") and importlib.util.find_spec("llama_cpp") is None:
            skipped.append(name)
            continue
        runs[name] = build()
        runs[name](2, 4)  # warm-up
    results: dict[str, list[float]] = {name: [] for name in runs}
    for rep in range(args.reps):
        for name, run in runs.items():
            results[name].append(run(n, args.max_tokens))
            print(f"  rep {rep + 1}/{args.reps} {name}: {results[name][-1]:.1f} tok/s", flush=True)
    base = {"fp32": statistics.median(results["torch fp32, one at a time"]),
            "bf16": statistics.median(results["torch bf16, one at a time"])}
    print(f"\nn={n} samples of one prompt, {args.max_tokens} new tokens max, {args.reps} reps, "
          f"threads={args.threads or 'torch default'}; ratio = median / same engine's one-at-a-time median")
    print(f"{'method':<34} {'best tok/s':>10} {'median tok/s':>12} {'ratio':>6}")
    for name, vals in results.items():
        key = "bf16" if "bf16" in name else "fp32"
        ratio = f"{statistics.median(vals) / base[key]:.2f}" if name.startswith("torch") else "-"
        print(f"{name:<34} {max(vals):>10.1f} {statistics.median(vals):>12.1f} {ratio:>6}")
    for name in skipped:
        print(f"{name:<34} {'not installed (pip install monkeys[llamacpp])':>30}")


if __name__ == "__main__":
    main()
