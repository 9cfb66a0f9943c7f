"""swe-tests throughput: patches verified per minute on the local backend, naive vs reused.

The instance is the test fixture (toolz with pytoolz/toolz#387 planted back; `tests/swe/swe_fixture.py`):
FAIL_TO_PASS 1 test, PASS_TO_PASS 49, the test file's 50 tests run per patch in the command sandbox.

- naive: every patch gets a fresh cache folder, so a fresh virtual environment (with pip, as any real
  recipe needs it; then a .pth to this venv's pytest, nothing downloaded) and a fresh worktree
  (a checkout at base_commit);
- reused: one verifier for the whole run: the environment is built once before timing (it is amortised
  over every patch of the instance), the worktree is reset between patches.

Each repetition verifies the same N distinct patches (gold, wrong, a PASS_TO_PASS break, ... with a
distinct comment each, so the patch cache never answers) with both, interleaved; the verdicts must agree.
A real repository's environment also downloads and installs its dependencies, so the naive cost here
is a lower bound. Run: .venv/bin/python benchmarks/swe_verify.py [--reps 3] [--patches 4]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "swe"))

from swe_fixture import BUGGY, FIXED, SOURCE_FILE, build_instance, make_patch, offline_install  # noqa: E402

from monkeys.core import Problem, Prompt, Sample  # noqa: E402
from monkeys.verifiers.swe_tests import SweTests  # noqa: E402

RECIPE = ["python -m pip --version", *offline_install()]  # venv with pip, then pytest through a .pth


def patches(repo: Path, base: str, n: int) -> list[str]:
    source = (repo / SOURCE_FILE).read_text()
    kinds = [[(BUGGY, FIXED)], [("invalid length", "wrong length")],
             [(BUGGY, FIXED), ("        d[item] += 1\n", "        d[item] += 2\n")]]
    out = []
    for i in range(n):
        text = source
        for old, new in kinds[i % len(kinds)]:
            text = text.replace(old, new, 1)
        text = text.replace('"""\n', f'"""\n# variant {i}\n', 1)  # a distinct patch every time
        out.append(make_patch(repo, base, {SOURCE_FILE: text}))
    return out


def run(verifier_for: object, problem: Problem, diffs: list[str]) -> tuple[float, list[str]]:
    start = time.perf_counter()
    outcomes = []
    for i, diff in enumerate(diffs):
        verifier = verifier_for() if callable(verifier_for) else verifier_for
        assert isinstance(verifier, SweTests)
        outcomes.append(str(verifier.verify(problem, Sample(problem.problem_id, i, 0, diff)).reason))
    return time.perf_counter() - start, outcomes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--patches", type=int, default=4)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="swe-bench-"))
    try:
        instance, repo = build_instance(root)
        problem = Problem(instance["instance_id"], Prompt(""), {"kind": "swe-bench", "instance": instance,
                                                                 "repo_dir": str(repo)})
        diffs = patches(repo, instance["base_commit"], args.patches)
        reused = SweTests(cache_dir=str(root / "reused"), install=RECIPE, cache=False)
        t0 = time.perf_counter()
        reused.verify(problem, Sample(problem.problem_id, -1, 0, instance["patch"]))  # builds the environment
        build_s = time.perf_counter() - t0
        fresh = iter(range(10**6))

        def naive() -> SweTests:
            return SweTests(cache_dir=str(root / f"naive-{next(fresh)}"), install=RECIPE, cache=False)

        rates: dict[str, list[float]] = {"naive (fresh env + worktree)": [], "reused env + worktree": []}
        for rep in range(args.reps):
            t_naive, o_naive = run(naive, problem, diffs)
            t_reused, o_reused = run(reused, problem, diffs)
            if o_naive != o_reused:
                raise SystemExit(f"verdicts differ: {o_naive} vs {o_reused}")
            rates["naive (fresh env + worktree)"].append(60 * len(diffs) / t_naive)
            rates["reused env + worktree"].append(60 * len(diffs) / t_reused)
            print(f"rep {rep + 1}: naive {t_naive:.1f} s, reused {t_reused:.1f} s for {len(diffs)} patches",
                  flush=True)
        print(f"\nfirst build of the reused environment + first patch: {build_s:.1f} s; verdicts: {o_reused}\n")
        print("| approach | best patches/min | median patches/min |\n| --- | ---: | ---: |")
        for name, values in rates.items():
            print(f"| {name} | {max(values):.1f} | {statistics.median(values):.1f} |")
        naive_v, reused_v = rates.values()
        print(f"| ratio reused / naive | {max(reused_v) / max(naive_v):.1f}x | "
              f"{statistics.median(reused_v) / statistics.median(naive_v):.1f}x |")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
