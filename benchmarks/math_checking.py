"""Answers checked per second and agreement with labels: monkeys' math-answer vs lm-eval-style `is_equiv`
vs math-verify called naively, on the same labelled samples, methods interleaved within each repetition.

Workloads (each method gets the same samples, in the same order):
- labelled: the 5,276 labelled GSM8K example solutions, plus MATH-500 reference solutions checked against
  their own answer (label: equal) and against the next problem's differing answer (label: not equal).
  This is the headline row: nearly every MATH check is a distinct (gold, answer) pair, so caching helps little.
- repeated: what a real run looks like, many samples per problem: each MATH-500 problem x 16 samples, each
  the reference solution ending in one of a few distinct answers (the gold, the solution's own box, two
  neighbours' answers). Shown as its own row so the cache's effect is visible, not mixed into the headline.
monkeys gets a fresh verifier per workload and repetition (cold caches); its worker processes are started
before the clock starts, as in a run, and the start-up time is printed separately.
Usage: python benchmarks/math_checking.py [--reps 3] [--workers 2] [--repeat-problems 500]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from monkeys.core import Problem, Prompt, Sample
from monkeys.verifiers._answer_extract import gsm8k_answer, last_boxed, math_answer
from monkeys.verifiers._math_normalize import check_minerva, light_normalize
from monkeys.verifiers.math_answer import MathAnswer

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
Item = tuple[str, str, str, bool]  # task, gold, completion, label
MODELS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


def gsm8k_items() -> list[Item]:
    items: list[Item] = []
    for line in (DATA / "gsm8k" / "example_model_solutions.jsonl").read_text().splitlines():
        r = json.loads(line)
        gold = gsm8k_answer(r["ground_truth"]) or ""
        for m in MODELS:
            items.append(("gsm8k", gold, r[m]["solution"], r[m]["is_correct"]))
    return items


def _math500() -> list[dict]:
    return [json.loads(line) for line in (DATA / "math" / "math500.jsonl").read_text().splitlines()]


def math_items() -> list[Item]:
    items: list[Item] = []
    recs = _math500()
    for i, r in enumerate(recs):
        items.append(("math", r["answer"], r["solution"], True))
        other = recs[(i + 1) % len(recs)]["answer"]
        if light_normalize(other) != light_normalize(r["answer"]):
            items.append(("math", other, r["solution"], False))
    return items


def repeated_items(n_problems: int, per_problem: int = 16, seed: int = 0) -> list[Item]:
    """Each problem's samples: its reference solution with the last box holding one of 4 answers."""
    recs = _math500()[:n_problems]
    rng = random.Random(seed)
    items: list[Item] = []
    for i, r in enumerate(recs):
        gold, solution = r["answer"], r["solution"]
        own = last_boxed(solution) or gold
        head, _, _ = solution.rpartition("\\boxed{" + own + "}")
        head = head if head else solution + " So "
        choices = [gold, own, recs[(i + 1) % len(recs)]["answer"], recs[(i + 3) % len(recs)]["answer"]]
        for answer in rng.choices(choices, weights=[0.4, 0.25, 0.2, 0.15], k=per_problem):
            label = answer == own or light_normalize(answer) == light_normalize(gold)
            items.append(("math", gold, head + "\\boxed{" + answer + "}$.", label))
    return items


def run_monkeys(items: list[Item], workers: int) -> tuple[list[bool], float]:
    verifier = MathAnswer(workers=workers)
    verifier.start()  # a run starts its checking processes once; their start-up is not a check's cost
    start = time.perf_counter()
    with ThreadPoolExecutor(2 * workers) as pool:
        out = list(pool.map(lambda it: verifier.verify(Problem("p", Prompt(), {"answer": it[1], "task": it[0]}),
                                                       Sample("p", 0, 0, it[2])).passed, items))
    elapsed = time.perf_counter() - start
    verifier.close()
    return out, elapsed


_LAST_NUMBER = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")


def run_lm_eval(items: list[Item]) -> tuple[list[bool], float]:
    """lm-eval: gsm8k flexible-extract (last number, string match); MATH minerva `is_equiv`, sequential."""
    start = time.perf_counter()
    out = []
    for task, gold, text, _ in items:
        if task == "gsm8k":
            found = _LAST_NUMBER.findall(text)
            pred = "".join(found[-1]) if found else ""
            out.append(pred.replace(",", "").replace("$", "").rstrip(".") == gold)
        else:
            answer = math_answer(text)
            out.append(answer is not None and check_minerva(gold, answer))
    return out, time.perf_counter() - start


def run_math_verify(items: list[Item]) -> tuple[list[bool], float]:
    """math-verify as its README shows it: parse both, verify; nothing cached, one thread."""
    from math_verify import parse, verify
    start = time.perf_counter()
    out = []
    for task, gold, text, _ in items:
        target = gold if task == "gsm8k" else "$" + gold + "$"
        out.append(bool(verify(parse(target), parse(text))))
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat-problems", type=int, default=500, help="MATH-500 problems x 16 samples")
    args = parser.parse_args()
    workloads = {"GSM8K": gsm8k_items(), "MATH-500": math_items(),
                 "repeated": repeated_items(args.repeat_problems)}
    runners: dict[str, Callable[[list[Item]], tuple[list[bool], float]]] = {
        "monkeys math-answer": lambda xs: run_monkeys(xs, args.workers),
        "lm-eval is_equiv": run_lm_eval, "math-verify naive": run_math_verify}
    names = list(runners)
    times = {(w, n): [] for w in workloads for n in names}  # type: dict[tuple[str, str], list[float]]
    agree: dict[tuple[str, str], int] = {}
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    probe = MathAnswer(workers=args.workers)
    probe.start()
    startup = time.perf_counter() - t0
    probe.close()
    for rep in range(args.reps):
        for w, items in workloads.items():
            for name in names[rep % len(names):] + names[: rep % len(names)]:  # rotate the order each rep
                got, elapsed = runners[name](items)
                times[(w, name)].append(elapsed)
                agree[(w, name)] = sum(g == it[3] for g, it in zip(got, items, strict=True))
    load_after = os.getloadavg()

    def row(label: str, name: str, parts: list[str]) -> str:
        n = sum(len(workloads[w]) for w in parts)
        per_rep = [sum(times[(w, name)][r] for w in parts) for r in range(args.reps)]
        base = min(sum(times[(w, "math-verify naive")][r] for w in parts) for r in range(args.reps))
        ok = sum(agree[(w, name)] for w in parts)
        return (f"| {label} | {name} | {n:,} | {n / min(per_rep):,.0f} | {n / statistics.median(per_rep):,.0f} | "
                f"{base / min(per_rep):.1f}x | {ok / n:.2%} |")

    print(f"{os.cpu_count()} CPUs; load average {' '.join(f'{x:.2f}' for x in load_before)} before, "
          f"{' '.join(f'{x:.2f}' for x in load_after)} after; {args.reps} interleaved reps, "
          f"{args.workers} monkeys workers (start-up {startup:.1f} s, not counted)")
    print("| workload | checker | samples | best checks/s | median checks/s | vs naive math-verify (best) "
          "| agreement |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for label, parts in (("labelled (GSM8K + MATH-500)", ["GSM8K", "MATH-500"]), ("  GSM8K part", ["GSM8K"]),
                         ("  MATH-500 part", ["MATH-500"]),
                         (f"repeated ({args.repeat_problems} MATH-500 x 16)", ["repeated"])):
        for name in names:
            print(row(label, name, parts))


if __name__ == "__main__":
    main()
