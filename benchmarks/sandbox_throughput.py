"""Sandbox throughput: the paper's reference method vs a plain subprocess vs the monkeys sandbox.

One run on the same machine, methods interleaved within each repetition. Workloads: CodeContests tests
(hand-written solutions from tests/cases, every test of their problems) and HumanEval canonical
solutions. Prints executions/s (best and median over repetitions) and the ratio to the reference;
then the verification cache on a repeated batch. Usage: python benchmarks/sandbox_throughput.py [reps]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from monkeys.core import Problem, Prompt, Sample
from monkeys.sandbox import Limits, detect_protections, get_sandbox
from monkeys.tasks.code_contests import CodeContests
from monkeys.verifiers.code_tests import CodeTests, build_assert_program

ROOT = Path(__file__).parents[1]
DATA = ROOT / "../shared/data"
PY = "/usr/bin/python3"
SOLVED = {"1342C": "CODEFORCES/1342_C. Yet Another Counting Problem", "1238B": "CODEFORCES/1238_B. Kill 'Em All",
          "1000A": "CODEFORCES/1000_A. Codehorses T-shirts", "12B": "CODEFORCES/12_B. Correct Solution?"}


def jobs() -> dict[str, list[tuple[str, bytes]]]:
    """(program, stdin) pairs per workload."""
    problems = {p.problem_id: p for p in CodeContests(data=str(DATA / "code_contests/code_contests_sample.jsonl"))
                .load_problems()}
    cc = [((ROOT / f"tests/cases/code_contests/{f}.py").read_text(), t["stdin"].encode())
          for f, pid in SOLVED.items() for t in problems[pid].reference["tests"]]
    rows = [json.loads(line) for line in (DATA / "humaneval/HumanEval.jsonl").read_text().splitlines()]
    he = [(build_assert_program(r["prompt"] + r["canonical_solution"], {
        "prompt_code": r["prompt"], "test_code": r["test"], "entry_point": r["entry_point"]}), b"") for r in rows]
    return {"codecontests tests": cc, "humaneval solutions": he}


def reference(work: list[tuple[str, bytes]], tmp: str) -> None:
    """The paper's harness: bash + ulimit + a new interpreter per test, serially."""
    for i, (src, stdin) in enumerate(work):
        path = os.path.join(tmp, f"p{i}.py")
        Path(path).write_text(src)
        subprocess.run(["bash", "-c", f"ulimit -v 1048576; {PY} {path}"], input=stdin, capture_output=True,
                       timeout=10)


def plain(work: list[tuple[str, bytes]], tmp: str) -> None:
    """One `python3 -I -S` per test, serially, no limits."""
    for i, (src, stdin) in enumerate(work):
        path = os.path.join(tmp, f"q{i}.py")
        Path(path).write_text(src)
        subprocess.run([PY, "-I", "-S", path], input=stdin, capture_output=True, timeout=10)


def monkeys(work: list[tuple[str, bytes]], tmp: str) -> None:
    """The monkeys pool, every protection on, as many threads as workers."""
    sandbox, limits = get_sandbox(), Limits(timeout_s=10)
    with ThreadPoolExecutor(os.cpu_count() or 1) as ex:
        results = list(ex.map(lambda job: sandbox.run(job[0], stdin=job[1], limits=limits), work))
    bad = [r for r in results if r.exit_code != 0]
    if bad:
        raise SystemExit(f"monkeys sandbox: {len(bad)} failed executions, e.g. {bad[0].stderr[-300:]!r}")


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print("protections:", ", ".join(k for k, v in detect_protections().items() if v.startswith("active")))
    print(f"machine: {os.cpu_count()} cores, {PY}\n")
    methods = {"reference (bash+ulimit+python)": reference, "plain subprocess": plain, "monkeys sandbox": monkeys}
    print(f"{'workload':22} {'method':32} {'n':>5} {'best/s':>9} {'median/s':>9} {'x ref':>7}")
    for workload, work in jobs().items():
        rates: dict[str, list[float]] = {m: [] for m in methods}
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(reps):
                for name, fn in methods.items():  # interleaved within each repetition
                    start = time.perf_counter()
                    fn(work, tmp)
                    rates[name].append(len(work) / (time.perf_counter() - start))
        ref = statistics.median(rates[next(iter(methods))])
        for name, r in rates.items():
            print(f"{workload:22} {name:32} {len(work):5d} {max(r):9.1f} {statistics.median(r):9.1f} "
                  f"{statistics.median(r) / ref:7.1f}")
    rows = [json.loads(line) for line in (DATA / "humaneval/HumanEval.jsonl").read_text().splitlines()]
    problems = [Problem(r["task_id"], Prompt(), {"kind": "asserts", "prompt_code": r["prompt"],
                "test_code": r["test"], "entry_point": r["entry_point"]}) for r in rows]
    verifier = CodeTests()
    for label in ("cache: first pass", "cache: repeated pass"):
        start = time.perf_counter()
        with ThreadPoolExecutor(4) as ex:
            verdicts = list(ex.map(lambda pr: verifier.verify(pr[0], Sample(pr[0].problem_id, 0, 0,
                                   pr[1]["prompt"] + "  # same program\n" + pr[1]["canonical_solution"])),
                                   zip(problems, rows, strict=True)))
        elapsed = time.perf_counter() - start
        executed = sum(not v.details["cached"] for v in verdicts)
        print(f"{'humaneval solutions':22} {label:32} {len(verdicts):5d} {len(verdicts) / elapsed:9.1f} "
              f"{'':>9} {'':>7}  executions: {executed}")


if __name__ == "__main__":
    main()
