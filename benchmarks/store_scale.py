"""Paper-scale store: 1.4 M outcome rows (140 problems x 10,000 samples, no text), old schema vs compact.

Side by side in one run, interleaved per repetition (old, new, old, new, ...), each through the real CLI in
a fresh process (`sys.executable -c "from monkeys.cli import main; main()"`, PYTHONPATH pointing at the
version's `src`):

- import: `monkeys import results.parquet RUN` (wall time of the whole command, interpreter start included);
- bytes per outcome row: the store file after a WAL checkpoint, divided by the rows;
- report: `monkeys report RUN` (the default: tables printed and figures drawn and saved);
- 10-run comparison: `monkeys report RUN1 ... RUN10` (ten copies of the imported store, so each run is the
  same size; a report does the same work whatever the pass rates are).

The old layout is monkeys at commit 8e028a6 (before the compact schema), checked out with
`git worktree add --detach /tmp/monkeys-old 8e028a6` (made here when missing, removed at the end when this
script made it). The new version's report is also timed by stage (load, analyse, print, figures, save) to
show what dominates. Usage: `.venv/bin/python benchmarks/store_scale.py [--reps 3] [--keep DIR]`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
OLD_COMMIT = "8e028a6"
PROBLEMS, SAMPLES = 140, 10_000
GOALS = {"import (s)": 3.0, "bytes per outcome row": 40.0, "report (s)": 2.0, "10-run comparison (s)": 15.0}
_CLI = "import sys; from monkeys.cli import main; sys.argv[0] = 'monkeys'; sys.exit(main())"
_STAGES = ("import json, sys, time; from pathlib import Path; from rich.console import Console;"
           " from monkeys.report import report_runs; t = {}; s = time.perf_counter();"
           " report_runs([Path(a) for a in sys.argv[1:]], console=Console(file=open('/dev/null', 'w')),"
           " timings=t); t['total'] = time.perf_counter() - s; print(json.dumps(t))")


def make_table(path: Path, seed: int = 0) -> int:
    """Outcomes with a realistic spread: a fifth of the problems never solved, the rest Beta(0.3, 3) pass
    rates (most hard, a few easy), as in the paper's code and math runs."""
    rng = np.random.default_rng(seed)
    rates = np.where(rng.random(PROBLEMS) < 0.2, 0.0, rng.beta(0.3, 3.0, PROBLEMS))
    correct = rng.random((PROBLEMS, SAMPLES)) < rates[:, None]
    table = pa.table({"problem_id": np.repeat([f"problem/{i:03d}" for i in range(PROBLEMS)], SAMPLES),
                      "sample_index": np.tile(np.arange(SAMPLES), PROBLEMS), "correct": correct.ravel()})
    pq.write_table(table, path)
    return table.num_rows


def old_tree(where: Path) -> tuple[Path, bool]:
    """The old version's source tree (a detached worktree at OLD_COMMIT); whether this call made it."""
    if (where / "src" / "monkeys").is_dir():
        return where / "src", False
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), OLD_COMMIT], check=True,
                   capture_output=True)
    return where / "src", True


CPU: dict[str, dict[str, list[float]]] = {}  # metric -> version -> CPU seconds of the command


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def monkeys(src: Path, *args: str, metric: str = "", version: str = "") -> float:
    """Wall seconds of one CLI command; its CPU seconds (user + system) go to `CPU` (on a shared machine
    the wall clock waits for other processes, the CPU time does not)."""
    env = dict(os.environ, PYTHONPATH=str(src), MPLBACKEND="Agg")
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _CLI, *args], env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"monkeys {' '.join(args)} failed ({src}):\n{proc.stderr[-3000:]}")
    if metric:
        CPU.setdefault(metric, {}).setdefault(version, []).append(_children_cpu() - cpu)
    return took


def store_bytes(run: Path) -> int:
    db = sqlite3.connect(run / "monkeys.db")
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return sum(p.stat().st_size for p in run.glob("monkeys.db*"))


def stages(src: Path, runs: list[Path]) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(src), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-c", _STAGES, *map(str, runs)], env=env, capture_output=True,
                          text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each timing (interleaved)")
    parser.add_argument("--compare-reps", type=int, default=2, help="repetitions of the 10-run comparison")
    parser.add_argument("--old", type=Path, default=Path("/tmp/monkeys-old"), help="worktree of the old version")
    parser.add_argument("--keep", type=Path, help="work here and keep the stores (default: a temporary dir)")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="store-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    old_src, made = old_tree(args.old)
    versions = {"old": old_src, "new": ROOT / "src"}
    try:
        src_table = work / "results.parquet"
        rows = make_table(src_table)
        print(f"{rows:,} outcome rows ({PROBLEMS} problems x {SAMPLES:,} samples, no text): {src_table}")
        times: dict[str, dict[str, list[float]]] = {m: {v: [] for v in versions} for m in GOALS if m.endswith("(s)")}
        size: dict[str, float] = {}
        for rep in range(args.reps):
            for name, src in versions.items():
                run = work / f"{name}-{rep}"
                shutil.rmtree(run, ignore_errors=True)
                times["import (s)"][name].append(monkeys(src, "import", str(src_table), str(run), metric="import (s)",
                                                          version=name))
                size[name] = store_bytes(run) / rows
                times["report (s)"][name].append(monkeys(src, "report", str(run), metric="report (s)", version=name))
                print(f"  rep {rep + 1} {name}: import {times['import (s)'][name][-1]:.2f} s, report"
                      f" {times['report (s)'][name][-1]:.2f} s, {size[name]:.1f} bytes/row", flush=True)
        copies: dict[str, list[Path]] = {}
        for name in versions:
            copies[name] = []
            for i in range(10):
                run = work / f"{name}-cmp" / f"run{i:02d}"
                shutil.rmtree(run, ignore_errors=True)
                run.mkdir(parents=True)
                shutil.copyfile(work / f"{name}-0" / "monkeys.db", run / "monkeys.db")
                copies[name].append(run)
        for rep in range(args.compare_reps):
            for name, src in versions.items():
                took = monkeys(src, "report", *map(str, copies[name]), metric="10-run comparison (s)", version=name)
                times["10-run comparison (s)"][name].append(took)
                print(f"  comparison rep {rep + 1} {name}: {took:.2f} s", flush=True)

        print()
        print(f"{'metric':<24} | {'old best / median':>18} | {'new best / median':>18} | {'ratio':>6} | goal")
        print("-" * 84)
        for metric, goal in GOALS.items():
            if metric in times:
                old, new = times[metric]["old"], times[metric]["new"]
                cells = [f"{min(x):7.2f} / {statistics.median(x):7.2f}" for x in (old, new)]
                ratio = min(old) / min(new)
                ok = "met" if min(new) <= goal else "NOT met"
                print(f"{metric:<24} | {cells[0]:>18} | {cells[1]:>18} | {ratio:5.1f}x | <= {goal:g} ({ok})")
            else:
                ok = "met" if size["new"] <= goal else "NOT met"
                print(f"{metric:<24} | {size['old']:>18.1f} | {size['new']:>18.1f} | "
                      f"{size['old'] / size['new']:5.1f}x | <= {goal:g} ({ok})")
        print()
        print("CPU seconds (user + system) of the same commands, best / median (what the wall clock is on an idle"
              " machine, I/O waits apart):")
        for metric, by_version in CPU.items():
            cells = [f"{name} {min(x):.2f} / {statistics.median(x):.2f}" for name, x in by_version.items()]
            print(f"  {metric:<24} " + " | ".join(cells))
        print(f"  machine load while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print()
        for label, runs in (("report, 1 run", [work / "new-0"]), ("report, 10 runs", copies["new"])):
            split = stages(versions["new"], runs)
            print(f"new {label}, in-process stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in split.items()))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
        if made:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(args.old)],
                           capture_output=True)


if __name__ == "__main__":
    main()
