"""Verification throughput with `--ray`: today's local pool vs a one-node and a two-node local Ray cluster.

One CPU-bound workload, CodeContests stdin/stdout tests: the hand-written solutions of four problems of the
shared sample file (tests/cases/code_contests; each passes after running every test, ~100 per problem) and
mutants of each (an operator or constant changed, a crash: most fail early), every sample its own text
(a comment line), the verdict cache off, so each sample runs. Same cores for every method (this machine's):

- local pool: the `code-tests` verifier in-process, called from `verify_workers` threads (the pipeline's
  default, 2) and, as a check on the local path itself, from 2 x cores threads;
- ray 1 node: `RayVerifier` on `ray.init(num_cpus=cores)`: one actor running cores samples at once;
- ray 2 nodes: `RayVerifier` on a `ray.cluster_utils.Cluster` of two nodes with cores / 2 CPUs each: two
  actors, each with its own sandbox pool. Each is called from `RayVerifier.workers` threads, as the pipeline
  calls it.

Each method lives in its own worker process (started by absolute path, sys.executable), set up and warmed
once (Ray start-up, actors, sandbox pools are not timed: a run pays them once); then the repetitions are
interleaved, method after method within each, so load from elsewhere hits them alike. Prints samples/s
(best, median), the ratio of medians to the local pool, and checks that every method gives the same
verdicts. The client side (samples/s the pipeline sustains against a server) is benchmarks/client_throughput.py.
Usage: python benchmarks/scale_out.py [--reps 5] [--copies 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
DATA = ROOT / "../shared/data/code_contests/code_contests_sample.jsonl"
SOLVED = {"1342C": "CODEFORCES/1342_C. Yet Another Counting Problem", "1238B": "CODEFORCES/1238_B. Kill 'Em All",
          "1000A": "CODEFORCES/1000_A. Codehorses T-shirts", "12B": "CODEFORCES/12_B. Correct Solution?"}
CORES = os.cpu_count() or 1
OPTIONS = {"cache": False}
METHODS = {
    "local pool (2 threads)": "local:2",
    f"local pool ({2 * CORES} threads)": f"local:{2 * CORES}",
    "ray 1 node": "ray1",
    "ray 2 nodes": "ray2",
}
MUTATIONS = (("+", "-"), ("<", "<="), ("1", "2"), ("max(", "min("), ("==", "!="))


def workload(copies: int) -> list[tuple[Any, str]]:
    """(problem, program) pairs: per problem, the solution and its mutants, `copies` times, each text unique."""
    from monkeys.tasks.code_contests import CodeContests

    problems = {p.problem_id: p for p in CodeContests(data=str(DATA)).load_problems()}
    out = []
    for name, pid in SOLVED.items():
        code = (ROOT / f"tests/cases/code_contests/{name}.py").read_text()
        variants = [code] + [code.replace(a, b, 1) for a, b in MUTATIONS if a in code] + ["print(1 // 0)\n"]
        for copy in range(copies):
            out += [(problems[pid], f"# copy {copy}\n{text}") for text in variants]
    return out


def _verifier(method: str) -> tuple[Any, int, Any]:
    """(verifier, calling threads, cleanup) for one method, started and ready."""
    if method.startswith("local:"):
        from monkeys.registry import create

        verifier = create("verifier", "code-tests", **OPTIONS)
        return verifier, int(method.split(":")[1]), verifier.close
    import ray

    from monkeys.distributed import RayVerifier

    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if method == "ray1":
        ray.init(address="local", num_cpus=CORES, include_dashboard=False, object_store_memory=200 * 2**20, **quiet)
        cluster = None
    else:
        from ray.cluster_utils import Cluster

        node = {"num_cpus": max(1, CORES // 2), "object_store_memory": 100 * 2**20}
        cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
        cluster.add_node(**node)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, **quiet)
    verifier = RayVerifier("code-tests", OPTIONS, "auto")

    def cleanup() -> None:
        verifier.close()
        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()

    return verifier, verifier.workers, cleanup


def worker(method: str, copies: int) -> None:
    """Serve repetitions on stdin ("run" -> one JSON line on stdout) until stdin closes."""
    from monkeys.core import Sample

    work = workload(copies)
    verifier, threads, cleanup = _verifier(method)
    pool = ThreadPoolExecutor(threads)

    def one(i: int) -> str:
        problem, text = work[i]
        verdict = verifier.verify(problem, Sample(problem.problem_id, i, 0, text))
        return f"{verdict.outcome.value}: {verdict.reason}"

    list(pool.map(one, range(len(work))))  # warm: sandbox pools started, time calibrated
    extra = {"actors": verifier.actors} if hasattr(verifier, "actors") else {}
    print(json.dumps({"ready": True, "threads": threads, **extra}), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            continue
        start = time.perf_counter()
        verdicts = list(pool.map(one, range(len(work))))
        elapsed = time.perf_counter() - start
        print(json.dumps({"seconds": elapsed, "verdicts": verdicts}), flush=True)
    pool.shutdown()
    cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--copies", type=int, default=3, help="copies of each program (samples per rep / 28)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.copies)
        return
    n = len(workload(args.copies))
    print(f"{n} samples per repetition (CodeContests, {len(SOLVED)} problems), {CORES} cores, "
          f"load average at start {os.getloadavg()[0]:.1f}")
    procs = {}
    for label, method in METHODS.items():  # one at a time: start-ups do not overlap
        proc = subprocess.Popen([sys.executable, __file__, "--worker", method, "--copies", str(args.copies)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdin is not None and proc.stdout is not None
        info = json.loads(proc.stdout.readline() or '{"ready": false}')
        if not info.get("ready"):
            raise SystemExit(f"{label}: the worker did not start")
        print(f"  {label}: {info['threads']} calling threads"
              + (f", actors (node, threads): {[(n[:8], t) for n, t in info['actors']]}" if "actors" in info else ""))
        procs[label] = proc
    rates: dict[str, list[float]] = {label: [] for label in METHODS}
    verdicts: dict[str, list[str]] = {}
    for rep in range(args.reps):
        order = list(METHODS) if rep % 2 == 0 else list(reversed(METHODS))  # no method always goes first
        for label in order:
            proc = procs[label]
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("run\n")
            proc.stdin.flush()
            result = json.loads(proc.stdout.readline())
            rates[label].append(n / result["seconds"])
            verdicts.setdefault(label, result["verdicts"])
            if result["verdicts"] != verdicts[label]:
                raise SystemExit(f"{label}: verdicts changed between repetitions")
    for proc in procs.values():
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=120)
    base = statistics.median(rates[next(iter(METHODS))])
    print(f"\n{'method':28} {'best/s':>8} {'median/s':>9} {'x local pool':>13}")
    for label, r in rates.items():
        print(f"{label:28} {max(r):8.2f} {statistics.median(r):9.2f} {statistics.median(r) / base:13.2f}")
    reference = verdicts[next(iter(METHODS))]
    differ = [label for label, v in verdicts.items() if v != reference]
    passed = sum(v.startswith("pass") for v in reference)
    same = f"DIFFER for {', '.join(differ)}" if differ else "identical across methods"
    print(f"\nverdicts: {passed} pass / {n}; {same}")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
