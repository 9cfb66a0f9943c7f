"""Sandbox throughput: the paper's reference method vs a plain subprocess vs the monkeys sandbox.

One run on the same machine, methods interleaved within each repetition (so load from elsewhere hits
them alike). Workloads: CodeContests tests (hand-written solutions from tests/cases, every test of
their problems) and HumanEval canonical solutions. Prints executions/s (best and median over
repetitions) and the median ratio to the reference; then the verification cache on a repeated batch.

Every method starts the same interpreter binary (`PYTHON`, the one the sandbox workers run) by its
absolute path. The reference and the plain subprocess are serial, as the paper's harness is; the
monkeys sandbox is shown with 1 worker (serial, per-core speed) and with one worker per core fed from
as many threads, which is how the verifier runs. For CodeContests it uses `run_many` (one program over
its tests on one worker, stopping at the first wrong answer), as the verifier does; outputs are checked.
The last monkeys row runs without the in-process integrity guard (audit hook), to show its cost.
Usage: python benchmarks/sandbox_throughput.py [reps]
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from monkeys.core import Problem, Prompt, Sample
from monkeys.sandbox import ForkServerPool, Limits
from monkeys.sandbox._simple import PYTHON
from monkeys.tasks.code_contests import CodeContests
from monkeys.verifiers._compare import outputs_match
from monkeys.verifiers.code_tests import CodeTests, build_assert_program

ROOT = Path(__file__).parents[1]
DATA = ROOT / "../shared/data"
SOLVED = {"1342C": "CODEFORCES/1342_C. Yet Another Counting Problem", "1238B": "CODEFORCES/1238_B. Kill 'Em All",
          "1000A": "CODEFORCES/1000_A. Codehorses T-shirts", "12B": "CODEFORCES/12_B. Correct Solution?"}
CORES = os.cpu_count() or 1
# program, stdins, expected stdouts, tests (function asserts: run after the program, must complete)
Job = tuple[str, list[bytes], list[str], str | None]


def jobs() -> dict[str, list[Job]]:
    problems = {p.problem_id: p for p in CodeContests(data=str(DATA / "code_contests/code_contests_sample.jsonl"))
                .load_problems()}
    cc = [((ROOT / f"tests/cases/code_contests/{f}.py").read_text(),
           [t["stdin"].encode() for t in problems[pid].reference["tests"]],
           [t["stdout"] for t in problems[pid].reference["tests"]], None) for f, pid in SOLVED.items()]
    rows = [json.loads(line) for line in (DATA / "humaneval/HumanEval.jsonl").read_text().splitlines()]
    he: list[Job] = []
    for r in rows:
        program, tests, _ = build_assert_program(r["prompt"] + r["canonical_solution"], {
            "prompt_code": r["prompt"], "test_code": r["test"], "entry_point": r["entry_point"]})
        he.append((program, [b""], [""], tests))
    return {"codecontests tests": cc, "humaneval solutions": he}


def _files(work: list[Job], tmp: str) -> list[str]:
    paths = []
    for i, (src, _, _, tests) in enumerate(work):  # the baselines run program and tests as one file
        paths.append(os.path.join(tmp, f"p{i}.py"))
        Path(paths[-1]).write_text(src + ("\n\n" + tests if tests else ""))
    return paths


def reference(work: list[Job], tmp: str) -> None:
    """The paper's harness: bash + ulimit + a new interpreter per test, serially."""
    for path, (_, stdins, _, _) in zip(_files(work, tmp), work, strict=True):
        for stdin in stdins:
            subprocess.run(["/bin/bash", "-c", f"ulimit -v 1048576; {PYTHON} {path}"], input=stdin,
                           capture_output=True, timeout=10)


def plain(work: list[Job], tmp: str) -> None:
    """One interpreter per test, serially, no limits."""
    for path, (_, stdins, _, _) in zip(_files(work, tmp), work, strict=True):
        for stdin in stdins:
            subprocess.run([PYTHON, path], input=stdin, capture_output=True, timeout=10)


def sandboxed(pool: ForkServerPool, threads: int, guard: bool = True):
    def method(work: list[Job], tmp: str) -> None:
        limits = Limits(timeout_s=10)

        def one(job: Job) -> list[str]:
            src, stdins, wants, tests = job
            bad: list[str] = []
            if tests is not None:  # a pass is the harness's report that the tests completed
                r = pool.run(src, tests=tests, limits=limits, guard=guard)
                return [] if r.completed else [f"{r.ending} {r.detail} {r.stderr[-200:]!r}"]

            def stop(i: int, r) -> bool:
                if not r.ok or (wants[i] and not outputs_match(r.stdout, wants[i])):
                    bad.append(f"test {i}: exit {r.exit_code} {r.stderr[-200:]!r}")
                return bool(bad)

            pool.run_many(src, stdins, limits=limits, stop=stop, guard=guard)
            return bad

        with ThreadPoolExecutor(threads) as ex:
            bad = [b for bads in ex.map(one, work) for b in bads]
        if bad:
            raise SystemExit(f"monkeys sandbox: {len(bad)} failed executions, e.g. {bad[0]}")
    return method


def cpu_now(pools: list[ForkServerPool]) -> float:
    """CPU seconds so far: this process, its reaped children (bash, python) and the pools' workers."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime + sum(p.cpu_seconds() for p in pools)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    serial, pool = ForkServerPool(size=1), ForkServerPool(size=CORES)
    prot = pool.protections()
    print("active:", ", ".join(k for k, v in prot.items() if v.startswith("active")))
    print("unavailable:", ", ".join(f"{k} ({v})" for k, v in prot.items() if v.startswith("unavailable")) or "none")
    print("time limits:", prot["time_limits"])
    print(f"machine: {CORES} cores, {PYTHON}; load average at start {load()}\n")
    methods = {"reference (bash+ulimit+python)": reference, "plain subprocess": plain,
               "monkeys, 1 worker (serial)": sandboxed(serial, 1),
               f"monkeys, {CORES} workers/threads": sandboxed(pool, CORES),
               "  same, without the guard": sandboxed(pool, CORES, guard=False)}
    all_jobs = jobs()
    for method in list(methods.values())[2:]:  # start every worker before timing
        method(all_jobs["humaneval solutions"][:8], "")
    print(f"{'workload':20} {'method':32} {'execs':>5} {'best/s':>8} {'median/s':>8} {'x ref':>6} "
          f"{'CPU ms/exec':>11} {'x ref':>6}")
    for workload, work in all_jobs.items():
        n = sum(len(stdins) for _, stdins, _, _ in work)
        rates: dict[str, list[float]] = {m: [] for m in methods}
        cpu: dict[str, list[float]] = {m: [] for m in methods}
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(reps):
                for name, fn in methods.items():  # interleaved within each repetition
                    cpu0, start = cpu_now([serial, pool]), time.perf_counter()
                    fn(work, tmp)
                    rates[name].append(n / (time.perf_counter() - start))
                    cpu[name].append((cpu_now([serial, pool]) - cpu0) / n * 1e3)
        ref, ref_cpu = statistics.median(rates[next(iter(methods))]), statistics.median(cpu[next(iter(methods))])
        for name, r in rates.items():
            c = statistics.median(cpu[name])
            print(f"{workload:20} {name:32} {n:5d} {max(r):8.1f} {statistics.median(r):8.1f} "
                  f"{statistics.median(r) / ref:6.1f} {c:11.2f} {ref_cpu / c:6.1f}")
    serial.close()
    pool.close()
    rows = [json.loads(line) for line in (DATA / "humaneval/HumanEval.jsonl").read_text().splitlines()]
    problems = [Problem(r["task_id"], Prompt(), {"kind": "asserts", "prompt_code": r["prompt"],
                "test_code": r["test"], "entry_point": r["entry_point"]}) for r in rows]
    verifier = CodeTests()
    for label in ("cache: first pass", "cache: repeated pass"):
        start = time.perf_counter()
        with ThreadPoolExecutor(CORES) as ex:
            verdicts = list(ex.map(lambda pr: verifier.verify(pr[0], Sample(pr[0].problem_id, 0, 0,
                                   pr[1]["prompt"] + "  # same program\n" + pr[1]["canonical_solution"])),
                                   zip(problems, rows, strict=True)))
        elapsed = time.perf_counter() - start
        executed = sum(not v.details["cached"] for v in verdicts)
        print(f"{'humaneval solutions':20} {label:32} {len(verdicts):5d} {len(verdicts) / elapsed:8.1f} "
              f"{'':>8} {'':>6}  executions: {executed}")
    print(f"\nload average at end {load()}. The reference and plain subprocess are serial by definition "
          "(the paper's harness); 'x ref' compares medians. CPU ms/exec counts every process involved (this one, "
          "bash/python children, the workers and their programs): it does not depend on the load, and on "
          f"{CORES} idle cores the workers' throughput ratio approaches {CORES} x its CPU ratio.")


if __name__ == "__main__":
    main()
