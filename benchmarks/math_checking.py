"""Answers checked per second and agreement with labels: monkeys' math-answer vs lm-eval-style `is_equiv`
vs math-verify called naively, on the same labelled samples, interleaved repetitions.

Samples: the 5,276 labelled GSM8K example solutions, plus MATH-500 reference solutions checked against
their own answer (label: equal) and against the next problem's differing answer (label: not equal).
Usage: python benchmarks/math_checking.py [--reps 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
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


def load_items() -> list[Item]:
    items: list[Item] = []
    for line in (DATA / "gsm8k" / "example_model_solutions.jsonl").read_text().splitlines():
        r = json.loads(line)
        gold = gsm8k_answer(r["ground_truth"]) or ""
        for m in ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification"):
            items.append(("gsm8k", gold, r[m]["solution"], r[m]["is_correct"]))
    recs = [json.loads(line) for line in (DATA / "math" / "math500.jsonl").read_text().splitlines()]
    for i, r in enumerate(recs):
        items.append(("math", r["answer"], r["solution"], True))
        other = recs[(i + 1) % len(recs)]["answer"]
        if light_normalize(other) != light_normalize(r["answer"]):
            items.append(("math", other, r["solution"], False))
    return items


def run_monkeys(items: list[Item], workers: int) -> list[bool]:
    verifier = MathAnswer(workers=workers)
    verifier.verify(Problem("w", Prompt(), {"answer": "1"}), Sample("w", 0, 0, "\\boxed{0.5}"))  # start workers
    start = time.perf_counter()
    with ThreadPoolExecutor(2 * workers) as pool:
        out = list(pool.map(lambda it: verifier.verify(Problem("p", Prompt(), {"answer": it[1], "task": it[0]}),
                                                       Sample("p", 0, 0, it[2])).passed, items))
    run_monkeys.elapsed = time.perf_counter() - start  # type: ignore[attr-defined]
    verifier.close()
    return out


_LAST_NUMBER = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")


def run_lm_eval(items: list[Item]) -> list[bool]:
    """lm-eval: gsm8k flexible-extract (last number, string match); MATH minerva `is_equiv`, sequential."""
    out = []
    for task, gold, text, _ in items:
        if task == "gsm8k":
            found = _LAST_NUMBER.findall(text)
            pred = "".join(found[-1]) if found else ""
            out.append(pred.replace(",", "").replace("$", "").rstrip(".") == gold)
        else:
            answer = math_answer(text)
            out.append(answer is not None and check_minerva(gold, answer))
    return out


def run_math_verify(items: list[Item]) -> list[bool]:
    """math-verify as its README shows it: parse both, verify; nothing cached, one thread."""
    from math_verify import parse, verify
    out = []
    for task, gold, text, _ in items:
        target = gold if task == "gsm8k" else "$" + gold + "$"
        out.append(bool(verify(parse(target), parse(text))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    items = load_items()
    labels = [it[3] for it in items]
    runners: dict[str, Callable[[list[Item]], list[bool]]] = {
        "monkeys math-answer": lambda xs: run_monkeys(xs, args.workers),
        "lm-eval is_equiv": run_lm_eval, "math-verify naive": run_math_verify}
    times: dict[str, list[float]] = {name: [] for name in runners}
    agree: dict[str, float] = {}
    names = list(runners)
    for rep in range(args.reps):
        for name in names[rep % len(names):] + names[: rep % len(names)]:  # rotate the order each rep
            start = time.perf_counter()
            got = runners[name](items)
            elapsed = getattr(run_monkeys, "elapsed", None) if name.startswith("monkeys") else None
            times[name].append(elapsed if elapsed is not None else time.perf_counter() - start)
            agree[name] = sum(g == y for g, y in zip(got, labels)) / len(items)
    base = min(times["math-verify naive"])
    print(f"{len(items)} labelled samples ({sum(it[0] == 'gsm8k' for it in items)} GSM8K, "
          f"{sum(it[0] == 'math' for it in items)} MATH-500), {args.reps} interleaved reps")
    print(f"| checker | best checks/s | median checks/s | vs naive math-verify | agreement |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in names:
        best, med = min(times[name]), statistics.median(times[name])
        print(f"| {name} | {len(items) / best:,.0f} | {len(items) / med:,.0f} | {base / best:.1f}x | "
              f"{agree[name]:.2%} |")


if __name__ == "__main__":
    main()
