"""Run every program of the forgery suite (tests/cases/forgeries) through the real `code-tests` verifier and
print one row per class of attack: how many programs, how many got `pass` (must be 0), and the reasons.

Channel, memory and cache forgeries run right after the correct program they prey on, on a one-worker
pool (the same worker, as an attacker would want), with the in-process guard off: the operating-system
layer alone must close them. Exit and tamper forgeries run three times: with the defaults ("pass"), with
top-level code kept ("strip off": the harness's report, not the stripping, must stop the exit tricks), and
with the guard off ("guard off"). Controls are correct programs that must pass.
Usage: python scripts/forgery_table.py
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "tests/cases/forgeries"))

from forgeries import ASSERT_PROBLEMS, CONTROLS, FORGERIES, STDIO_PROBLEMS  # noqa: E402

from monkeys import sandbox as sandbox_mod  # noqa: E402
from monkeys.core import Outcome, Problem, Prompt, Sample  # noqa: E402
from monkeys.sandbox import ForkServerPool  # noqa: E402
from monkeys.tasks.humaneval import HumanEval  # noqa: E402
from monkeys.verifiers import code_tests as code_tests_mod  # noqa: E402
from monkeys.verifiers.code_tests import CodeTests  # noqa: E402

HUMANEVAL = ROOT / "../shared/data/humaneval/HumanEval.jsonl"


def main() -> None:
    problems = {p.problem_id: p for p in HumanEval(data=str(HUMANEVAL)).load_problems()
                if p.problem_id in ASSERT_PROBLEMS}
    problems.update({k: Problem(k, Prompt(), ref) for k, ref in STDIO_PROBLEMS.items()})
    pool = ForkServerPool(size=1)
    sandbox_mod._sandbox = pool  # every verifier below runs on this one worker
    code_tests_mod.get_sandbox = lambda: pool  # type: ignore[assignment]
    guarded = CodeTests(timeout_s=3.0, memory_mb=512, cache=False, retry_timeouts=False)
    bare = CodeTests(timeout_s=3.0, memory_mb=512, cache=False, retry_timeouts=False, guard=False)
    unstripped = CodeTests(timeout_s=3.0, memory_mb=512, cache=False, retry_timeouts=False, strip_top_level=False)
    cached = CodeTests(timeout_s=3.0, memory_mb=512, cache=True, retry_timeouts=False)
    rows: dict[str, dict] = collections.defaultdict(lambda: {"n": 0, "pass": 0, "pass_bare": 0, "pass_kept": 0,
                                                             "reasons": collections.Counter()})
    for i, f in enumerate(FORGERIES.values()):
        problem = problems[f.problem]
        row = rows[f.attack]
        row["n"] += 1
        if f.attack in ("channel", "memory", "cache"):
            verifier = cached if f.attack == "cache" else bare
            first = verifier.verify(problem, Sample(problem.problem_id, 2 * i, 0, f.first or ""))
            assert first.passed, (f.name, first)
            verdict = verifier.verify(problem, Sample(problem.problem_id, 2 * i + 1, 0, f.text))
            row["pass_bare"] += verdict.outcome is Outcome.PASS
        else:
            verdict = guarded.verify(problem, Sample(problem.problem_id, i, 0, f.text))
            bare_verdict = bare.verify(problem, Sample(problem.problem_id, i, 0, f.text))
            row["pass_bare"] += bare_verdict.outcome is Outcome.PASS
            kept = unstripped.verify(problem, Sample(problem.problem_id, i, 0, f.text))
            row["pass_kept"] += kept.outcome is Outcome.PASS
        row["pass"] += verdict.outcome is Outcome.PASS
        row["reasons"][verdict.reason.split(":")[0].split(" (")[0].split(" on test")[0]] += 1
    controls = [guarded.verify(problems[c.problem], Sample(c.problem, 0, 0, c.text)) for c in CONTROLS.values()]
    print(f"{'class':12} {'programs':>8} {'pass':>5} {'strip off':>9} {'guard off':>9}  verdict reasons (defaults)")
    for attack, row in rows.items():
        reasons = ", ".join(f"{r} ({n})" for r, n in row["reasons"].most_common(4))
        kept = row["pass_kept"] if attack in ("exit", "tamper") else "-"
        print(f"{attack:12} {row['n']:8d} {row['pass']:5d} {kept:>9} {row['pass_bare']:9d}  {reasons}")
    total = sum(r["n"] for r in rows.values())
    print(f"{'all':12} {total:8d} {sum(r['pass'] for r in rows.values()):5d} "
          f"{sum(r['pass_kept'] for r in rows.values()):9d} {sum(r['pass_bare'] for r in rows.values()):9d}")
    print(f"{'controls':12} {len(controls):8d} {sum(v.passed for v in controls):5d}  (correct programs: all must pass)")
    pool.close()


if __name__ == "__main__":
    main()
