"""The `logprob` scorer before (the prompt run again for every sample) vs after (the prompt's KV cache
reused across a problem's samples), on the same GSM8K samples, side by side.

The samples are drawn once with the embedded model (`monkeys run --task gsm8k`, 8-shot prompts of ~1,000
tokens) into a run directory under the temp directory that later runs reuse (or pass `--run DIR`). Each
repetition scores every problem's samples with both scorers, in alternating order, each built afresh (no
prompt cache carried over), and checks that the scores agree within 1e-4.

What bounds the ratio: after, a problem costs one prefill of its prompt plus its samples' own tokens (each
also attending to the whole prompt); before, every sample costs the prompt again. With n samples of c
tokens after a prompt of P tokens the ratio tends to n(P + c) / (P + n·c·k), k ~ 1.4 the extra cost of a
continuation token (the output layer and attention over the prompt): ~6.5x for n = 10 (P ~ 1,600,
c ~ 90), ~10x only from about 40 samples per problem. Usage:
  python benchmarks/scoring.py [--problems 5] [--n 10] [--reps 3] [--run DIR] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from monkeys.core import Problem, Sample
from monkeys.registry import create
from monkeys.store import connect, iter_samples, read_problems

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k" / "test.jsonl"


def draw(out: Path, problems: int, n: int) -> None:
    """Draw the samples with the real CLI (resumable: an existing complete run draws nothing)."""
    monkeys = Path(sys.executable).parent / "monkeys"
    subprocess.run([str(monkeys), "run", "--task", "gsm8k", "--data", str(DATA), "--task-option", "shots=8",
                    "--problems", str(problems), "-n", str(n), "--max-tokens", "128", "--out", str(out),
                    "--no-report"], check=True)


def load(run: Path) -> list[tuple[Problem, list[Sample]]]:
    db = connect(run)
    try:
        problems = read_problems(db)
        samples = list(iter_samples(db))
    finally:
        db.close()
    return [(p, [s for s in samples if s.problem_id == p.problem_id]) for p in problems]


def score_all(reuse: bool, threads: int, work: list[tuple[Problem, list[Sample]]]) -> tuple[float, list[float]]:
    """Seconds to score every sample, and the scores. The old way is today's pipeline: `score` per sample."""
    scorer = create("scorer", "logprob", threads=threads, reuse_prompt=reuse)
    t0 = time.perf_counter()
    scores: list[float] = []
    for problem, samples in work:
        scores += scorer.score_many(problem, samples) if reuse else [scorer.score(problem, s) for s in samples]
    elapsed = time.perf_counter() - t0
    scorer.close()
    return elapsed, scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=5)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--run", type=Path, default=None, help="an existing run to score (default: draw one)")
    args = ap.parse_args()
    run = args.run
    if run is None:
        run = Path(tempfile.gettempdir()) / "monkeys-bench-scoring" / f"gsm8k-{args.problems}x{args.n}"
        draw(run, args.problems, args.n)
    work = load(run)
    total = sum(len(s) for _, s in work)
    prompt_tokens = statistics.mean(s.prompt_tokens for _, ss in work for s in ss)
    completion_tokens = statistics.mean(s.completion_tokens for _, ss in work for s in ss)
    print(f"{total} samples of {len(work)} GSM8K problems from {run}; mean prompt {prompt_tokens:.0f} tokens, "
          f"mean completion {completion_tokens:.0f} tokens; threads={args.threads}")
    names = {False: "before: prompt per sample", True: "after: prompt KV cache reused"}
    times: dict[bool, list[float]] = {False: [], True: []}
    worst = 0.0
    for rep in range(args.reps):
        got: dict[bool, list[float]] = {}
        for reuse in ((False, True) if rep % 2 == 0 else (True, False)):
            elapsed, got[reuse] = score_all(reuse, args.threads, work)
            times[reuse].append(elapsed)
        diff = max(abs(a - b) for a, b in zip(got[False], got[True], strict=True))
        worst = max(worst, diff)
        print(f"rep {rep + 1}: before {times[False][-1]:.1f} s, after {times[True][-1]:.1f} s, "
              f"max |score difference| {diff:.2e}", flush=True)
    print()
    print(f"{'method':<32} {'best s':>8} {'median s':>9} {'samples/s':>10}")
    for reuse in (False, True):
        best, median = min(times[reuse]), statistics.median(times[reuse])
        print(f"{names[reuse]:<32} {best:>8.2f} {median:>9.2f} {total / median:>10.2f}")
    ratio_best = min(times[False]) / min(times[True])
    ratio_median = statistics.median(times[False]) / statistics.median(times[True])
    print(f"ratio (before / after): best {ratio_best:.1f}x, median {ratio_median:.1f}x; "
          f"max |score difference| {worst:.2e}")
    if worst > 1e-4:
        raise SystemExit(f"the scores disagree by {worst:.2e} > 1e-4")


if __name__ == "__main__":
    main()
