"""Forecasting coverage at 100× the pilot: each forecaster against simulated runs whose truth is known.

Each shape is a distribution of per-problem single-sample success rates p. One repetition draws ~130
problems' p, a pilot of n samples per problem (n = 50, 100, 200), and then the remaining samples up to
K = 100·n for every problem the pilot left unsolved, so the truth is the *realised* coverage at K of that
very problem set (what a real run would print), not the expected coverage of a fresh set. Every forecaster
sees only the pilot; the "oracle" row knows the true distribution of p and shows the error that the
realised coverage's own randomness leaves for anyone. A second truth, the expected coverage of that problem
set at K, Σ 1-(1-p_i)^K / N (what the set's p would give on average, without the luck of which unsolved
problems the extra samples happen to solve), is shown as "E|err|": the median absolute error against it
(a forecast cannot know that luck: this part of the error is the forecaster's own). Reported per shape ×
n × forecaster: the median absolute error of the point forecast at K (coverage points), the share of 95%
intervals that contain the realised truth, the median interval width, and how often the tool refused to
forecast ("cannot": those repetitions count as neither error nor coverage; they are listed).

    .venv/bin/python benchmarks/forecast.py [--reps 40] [--problems 130] [--seed 0] [--shapes a,b]
    .venv/bin/python benchmarks/forecast.py --real RUN_DIR [--real RUN_DIR ...] [--pilots 50,100]
    .venv/bin/python benchmarks/forecast.py --counts FILE [--pilots 100] [--reps 20]
    .venv/bin/python benchmarks/forecast.py --k-interval [--reps 100]

With --k-interval, small pilots (1-40 problems × 16-32 samples) whose own curve reaches 90% coverage: how
often plan's 95% interval for that k holds the problems' true k, beside resampling the problems alone.

With --real, each stored run is the truth instead: the first n samples of every problem are the pilot,
and the forecast of coverage at the run's full samples per problem is checked against what the run shows.

With --counts, the truth is a published run kept as per-problem pass counts (a CSV, JSONL or Parquet file
with one row per run × problem: `run`, `problem`, `samples`, `correct`; the column names of the per-problem
pass@k tables published with Schaeffer et al. 2025, `Model`, `Benchmark`, `Problem Idx`, `Num. Samples
Total`, `Num. Samples Correct`, are read too, one row per problem kept). Samples of a problem are
exchangeable, so a pilot of n is what a random n of its samples would have shown (hypergeometric), and the
forecast of coverage at the run's full samples is checked against the run's own coverage, over --reps
random pilots per run. Beside each run, two references: the largest error of an oracle that knows the
run's counts (`oracle_share`) and the run's twin gap (`twin_gap`), what no pilot of n can see.

Seeded; vectorised numpy/scipy; a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from monkeys.forecast.engine import COMBINED, MODELS, Pilot, forecast  # noqa: E402


def _mix(parts: list[tuple[float, Callable[[np.random.Generator, int], np.ndarray]]]) \
        -> Callable[[np.random.Generator, int], np.ndarray]:
    def draw(rng: np.random.Generator, size: int) -> np.ndarray:
        weights = np.array([w for w, _ in parts])
        which = rng.choice(len(parts), size=size, p=weights / weights.sum())
        out = np.zeros(size)
        for j, (_, sampler) in enumerate(parts):
            hit = which == j
            out[hit] = sampler(rng, int(hit.sum()))
        return out
    return draw


def _beta(a: float, b: float) -> Callable[[np.random.Generator, int], np.ndarray]:
    return lambda rng, size: rng.beta(a, b, size)


def _zero(rng: np.random.Generator, size: int) -> np.ndarray:
    return np.zeros(size)


def _log_uniform(lo: float, hi: float) -> Callable[[np.random.Generator, int], np.ndarray]:
    return lambda rng, size: 10 ** rng.uniform(lo, hi, size)


def _logit_normal(mu: float, sd: float) -> Callable[[np.random.Generator, int], np.ndarray]:
    return lambda rng, size: 1 / (1 + np.exp(-rng.normal(mu, sd, size)))


# name -> (what it stands for, sampler of p)
SHAPES: dict[str, tuple[str, Callable[[np.random.Generator, int], np.ndarray]]] = {
    "heavy-near-zero": ("Beta(0.1, 2): most p tiny but not zero; coverage keeps climbing",
                        _beta(0.1, 2.0)),
    "bimodal": ("1/2 Beta(0.3, 30) hard + 1/2 Beta(4, 1.5) easy", _mix([(0.5, _beta(0.3, 30)), (0.5, _beta(4, 1.5))])),
    "saturating": ("65% Beta(2, 3) + 35% never solvable: flat after k ~ 30",
                   _mix([(0.65, _beta(2, 3)), (0.35, _zero)])),
    "zeros+tail": ("40% never solvable + 60% Beta(0.3, 3)", _mix([(0.4, _zero), (0.6, _beta(0.3, 3))])),
    "mostly-unsolved": ("88% never solvable + 12% Beta(0.3, 20) (the code-contests-like case)",
                        _mix([(0.88, _zero), (0.12, _beta(0.3, 20))])),
    "logit-normal": ("logit p ~ N(-4, 2.5²)", _logit_normal(-4.0, 2.5)),
    "log-uniform": ("log10 p ~ U(-5, 0): equal mass per decade down to 1e-5", _log_uniform(-5, 0)),
}
PILOTS = (50, 100, 200)
FORECASTERS = (*MODELS, COMBINED)
ORACLE = "oracle (true dist.)"  # a reference, not a forecaster: knows the shape's true distribution of p


def one(shape: str, n: int, problems: int, rng: np.random.Generator) -> dict[str, tuple[float, float, float] | None]:
    """(point, lo, hi) at K = 100·n per forecaster (None: refused), plus the truths under 'truth'."""
    p = SHAPES[shape][1](rng, problems)
    k = 100 * n
    c = rng.binomial(n, p)
    pilot = Pilot.from_counts(np.full(problems, n), c, rng)
    unsolved = c == 0
    later = rng.random(problems) < -np.expm1((k - n) * np.log1p(-np.minimum(p, 1 - 1e-12)))
    realised = float(np.mean(~unsolved | later))
    expected = float(np.mean(-np.expm1(k * np.log1p(-np.minimum(p, 1 - 1e-12)))))
    out: dict[str, tuple[float, float, float] | None] = {"truth": (realised, expected, 0.0)}
    out[ORACLE] = _oracle(shape, n, k, problems, int((~unsolved).sum()), rng)
    fc = forecast(pilot, [k], seed=int(rng.integers(1 << 31)))
    for name in FORECASTERS:
        usable = fc.chosen is not None and (name == COMBINED or (
            name in fc.models and fc.models[name].share is not None))
        if not usable:
            out[name] = None
            continue
        point, lo, hi = fc.coverage([k], model=None if name == COMBINED else name)
        out[name] = (float(point[0]), float(lo[0]), float(hi[0]))
    return out


_PRIOR: dict[tuple[str, int, int], tuple[float, float]] = {}


def _oracle(shape: str, n: int, k: int, problems: int, solved: int, rng: np.random.Generator) -> tuple[float, float,
                                                                                                         float]:
    """The best forecast possible without estimating anything: P(solved by k | unsolved in n) under the true
    distribution of p (Monte Carlo), the interval from the binomial spread of the unsolved problems alone.
    Its error is the floor no forecaster can beat on this shape."""
    key = (shape, n, k)
    if key not in _PRIOR:
        p = np.minimum(SHAPES[shape][1](np.random.default_rng(99), 400_000), 1 - 1e-12)
        stay = np.exp(n * np.log1p(-p))
        _PRIOR[key] = (float((stay * -np.expm1((k - n) * np.log1p(-p))).sum() / stay.sum()), 0.0)
    q = _PRIOR[key][0]
    unsolved = problems - solved
    draws = rng.binomial(unsolved, q, 2000)
    lo, hi = np.quantile(draws, [0.025, 0.975])
    return (solved + unsolved * q) / problems, (solved + lo) / problems, (solved + hi) / problems


TWIN_PILOT_GAP = 0.25  # expected extra problems a twin's pilot solves, over the whole problem set


def twin(shape: str, n: int, problems: int) -> tuple[float, float, float]:
    """The shape's pilot-indistinguishable twin at pilot size n: the same distribution of p with every p below
    t/n set to 0 (never solvable), t the largest (on a grid) for which the two pilots differ by at most
    `TWIN_PILOT_GAP` solved problems in expectation over the whole set. Each problem's pilot counts differ
    between the two only by that move (total variation ≤ Σ of those chances), so with probability ≥ 1 −
    TWIN_PILOT_GAP the two pilots can be drawn identical, and any forecaster then says the same for both;
    yet their expected coverage at K = 100·n differs by `gap`, so on one of the two its error is about gap/2
    or more. Returns (t, expected extra pilot-solved problems, gap in points) from 400,000 draws of p."""
    p = np.minimum(SHAPES[shape][1](np.random.default_rng(99), 400_000), 1 - 1e-12)
    k = 100 * n
    best = (0.0, 0.0, 0.0)
    for t in np.geomspace(1e-3, 1.0, 40):
        low = p < t / n
        pilot = problems * float(np.mean(np.where(low, -np.expm1(n * np.log1p(-p)), 0.0)))
        if pilot <= TWIN_PILOT_GAP:
            best = (float(t), pilot, 100 * float(np.mean(np.where(low, -np.expm1(k * np.log1p(-p)), 0.0))))
    return best


def twin_errors(shape: str, n: int, problems: int, reps: int, seed: int) -> tuple[float, float, float]:
    """The combined forecaster on coupled pilots of the shape and of its twin (the same random numbers draw
    both, so most pilots are identical): (share of identical pilots, median |err| on the shape, on its twin),
    each against its own realised coverage at 100·n."""
    t, _, _ = twin(shape, n, problems)
    rng = np.random.default_rng([seed, 1, n])
    k, same, errs = 100 * n, 0, ([], [])  # type: ignore[var-annotated]
    for _ in range(reps):
        p = np.minimum(SHAPES[shape][1](rng, problems), 1 - 1e-12)
        u, later = rng.random((problems, n)), rng.random(problems)
        cached: dict[bytes, float] = {}
        for side, q in enumerate((p, np.where(p < t / n, 0.0, p))):
            c = (u < q[:, None]).sum(axis=1)
            truth = float(np.mean((c > 0) | (later < -np.expm1((k - n) * np.log1p(-q)))))
            key = c.tobytes()
            if key not in cached:
                fc = forecast(Pilot.from_counts(np.full(problems, n), c, np.random.default_rng(0)), [k], seed=0)
                cached[key] = float(fc.coverage([k])[0][0]) if fc.chosen is not None else float("nan")
            errs[side].append(abs(cached[key] - truth) * 100)
        same += len(cached) == 1
    def median(x: list[float]) -> float:
        return float(np.median([e for e in x if np.isfinite(e)])) if np.isfinite(x).any() else float("nan")

    return same / reps, median(errs[0]), median(errs[1])


def twins(shapes: list[str], pilots: list[int], problems: int, reps: int = 0, seed: int = 0) -> None:
    """What no forecaster can know from a pilot (see `twin`), per shape and n; with `reps`, the combined
    forecaster on coupled pilots of each shape and its twin at n = 100."""
    print("\nwhat a pilot cannot tell: each shape's twin (every p < t/n set to 0, never solvable) has a pilot that"
          f" solves at most {TWIN_PILOT_GAP} more problems of {problems} in expectation (indistinguishable), yet a"
          " different coverage at 100·n; any one forecast misses one of the two by about half the gap")
    print(f"{'shape':<16} {'n':>4} {'t':>6} {'pilot Δ':>8} {'gap at K':>9} {'floor':>6}")
    for shape in shapes:
        for n in pilots:
            t, pilot, gap = twin(shape, n, problems)
            print(f"{shape:<16} {n:>4} {t:>6.3f} {pilot:>8.2f} {gap:>8.1f}p {gap / 2:>5.1f}p")
    if not reps:
        return
    print(f"\ncombined forecaster on coupled pilots (n = 100, {reps} repetitions): identical pilots, median |err| on"
          " the shape and on its twin")
    for shape in shapes:
        same, own, other = twin_errors(shape, 100, problems, reps, seed)
        told = "no forecast (refused)" if np.isnan(own) else f"|err| shape {own:5.1f}  twin {other:5.1f}"
        print(f"{shape:<16} identical {100 * same:>4.0f}%  {told}")


K_CASES = (  # (problems, samples per problem, rates' distribution, its name) for --k-interval
    (1, 16, _beta(2.0, 5.0), "Beta(2, 5)"), (1, 32, _beta(1.0, 3.0), "Beta(1, 3)"),
    (3, 16, _beta(2.0, 5.0), "Beta(2, 5)"), (10, 16, _beta(2.0, 4.0), "Beta(2, 4)"),
    (10, 16, lambda rng, size: rng.uniform(0.03, 0.3, size), "U(0.03, 0.3)"),
    (10, 16, lambda rng, size: rng.uniform(0.1, 0.6, size), "U(0.1, 0.6)"),
    (40, 32, _beta(1.0, 2.0), "Beta(1, 2)"),
)


def _first_k(curves: np.ndarray, ks: np.ndarray, target: float) -> np.ndarray:
    hit = curves >= target
    return np.where(hit.any(axis=1), ks[np.argmax(hit, axis=1)], np.inf)


def _true_k(p: np.ndarray, target: float, top: int = 100_000) -> float:
    """The first k at which these problems' expected coverage, the mean of 1 - (1 - p)^k, reaches `target`."""
    ks = np.arange(1, top + 1)
    return float(_first_k((1 - (1 - p[:, None]) ** ks).mean(axis=0)[None, :], ks, target)[0])


def _k_cell(held: list[bool], widths: list[tuple[float, float]]) -> str:
    if not held:
        return f"{'–':>22}"
    lo, hi = np.median([w[0] for w in widths]), np.median([w[1] for w in widths])
    return f"{100 * np.mean(held):>5.0f}%  [{lo:>4.0f}, {hi:>5.0f}]".rjust(22)


def k_interval(reps: int, seed: int, target: float = 0.9) -> None:
    """The k for `target` coverage inside the pilot: how often its 95% interval holds these problems' true k
    (`_true_k`), for `plan`'s interval (problems resampled, each one's rate drawn from its posterior) beside
    resampling the problems alone (plan's interval before), on the same pilots and the same resamples."""
    from monkeys.analysis.passk import pass_at_ks

    print(f"k for {target:.0%} coverage inside the pilot: share of 95% intervals holding the true k, {reps} pilots"
          " per row (those whose own curve reaches the target)")
    header = (f"{'problems':>8} {'n':>4} {'rates':<13} {'pilots':>6} | {'posterior (plan)':>22}"
              f" | {'problems resampled':>22}")
    print(header)
    print("-" * len(header))
    for case, (problems, n, draw, label) in enumerate(K_CASES):
        rng = np.random.default_rng([seed, case])
        held: dict[str, list[bool]] = {"posterior": [], "resampled": []}
        widths: dict[str, list[tuple[float, float]]] = {"posterior": [], "resampled": []}
        for rep in range(reps):
            p = draw(rng, problems)
            c = rng.binomial(n, p)
            fc = forecast(Pilot.from_counts(np.full(problems, n), c, rng), n_boot=200, seed=rep)
            if fc.chosen is None or not (fc.pilot_curve >= target).any() or fc.picks is None:
                continue
            truth = _true_k(p, target)
            _, lo, hi = fc.k_needed(target)
            per = pass_at_ks(np.full(problems, n), c, fc.pilot_ks)
            first = _first_k(per[fc.picks].mean(axis=1), fc.pilot_ks, target)
            old = (float(np.quantile(first, 0.025, method="lower")), float(np.quantile(first, 0.975, method="higher")))
            for name, (a, b) in (("posterior", (lo, hi)), ("resampled", old)):
                held[name].append(bool(a <= truth <= b))
                widths[name].append((a, b))
        print(f"{problems:>8} {n:>4} {label:<13} {len(held['posterior']):>6} |"
              f" {_k_cell(held['posterior'], widths['posterior'])} | {_k_cell(held['resampled'], widths['resampled'])}")
    print("(in brackets: the median interval)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--problems", type=int, default=130)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--pilots", default=None, help="pilot sizes n (default 50,100,200; with --counts 100)")
    ap.add_argument("--real", action="append", default=[], help="a stored run to check against (repeatable)")
    ap.add_argument("--counts", type=Path, help="published per-problem pass counts to check against")
    ap.add_argument("--at", type=int, help="with --counts: the K to forecast (default: each run's fewest samples)")
    ap.add_argument("--k-interval", action="store_true", help="check plan's k interval inside small pilots")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if args.k_interval:
        k_interval(args.reps, args.seed)
        return
    if args.counts:
        published(args.counts, [int(x) for x in (args.pilots or "100").split(",")], args.reps, args.seed, args.at)
        return
    if args.real:
        real([Path(r) for r in args.real], [int(x) for x in (args.pilots or "50,100").split(",")])
        return
    shapes = args.shapes.split(",")
    pilots = [int(x) for x in (args.pilots or ",".join(map(str, PILOTS))).split(",")]
    start = time.perf_counter()
    print(f"truth: realised coverage at K = 100·n of the simulated problem set (E|err|: against its expected"
          f" coverage Σ 1-(1-p_i)^K / N); {args.problems} problems,"
          f" {args.reps} repetitions per cell, seed {args.seed}")
    for shape in shapes:
        print(f"  {shape}: {SHAPES[shape][0]}")
    header = (f"{'shape':<16} {'n':>4} {'K':>6} {'truth':>6} {'forecaster':<19} {'med|err|':>8} {'p90|err|':>8}"
              f" {'in 95%':>7} {'width':>6} {'cannot':>6} {'E|err|':>7}")
    print(header)
    print("-" * len(header))
    worst: dict[str, tuple[float, float]] = {}
    refusals: dict[str, int] = {}
    for shape in shapes:
        for n in pilots:
            rng = np.random.default_rng([args.seed, shapes.index(shape), n])
            results = [one(shape, n, args.problems, rng) for _ in range(args.reps)]
            truths = np.array([r["truth"][0] for r in results if r["truth"] is not None])
            for name in (*FORECASTERS, ORACLE):
                got = [(r[name], r["truth"]) for r in results]
                ok = [(f, t) for f, t in got if f is not None and t is not None]
                refused = len(got) - len(ok)
                if name == COMBINED:
                    refusals[shape] = refusals.get(shape, 0) + refused
                if not ok:
                    print(f"{shape:<16} {n:>4} {100 * n:>6} {100 * truths.mean():>5.1f}% {name:<19}"
                          f" {'–':>8} {'–':>8} {'–':>7} {'–':>6} {refused:>6}")
                    continue
                err = np.array([abs(f[0] - t[0]) for f, t in ok]) * 100
                inside = np.mean([f[1] - 1e-9 <= t[0] <= f[2] + 1e-9 for f, t in ok])
                err_e = np.median([abs(f[0] - t[1]) for f, t in ok]) * 100  # against the expected coverage
                width = np.median([f[2] - f[1] for f, _ in ok]) * 100
                print(f"{shape:<16} {n:>4} {100 * n:>6} {100 * truths.mean():>5.1f}% {name:<19}"
                      f" {np.median(err):>8.2f} {np.quantile(err, 0.9):>8.2f} {100 * inside:>6.0f}% {width:>6.1f}"
                      f" {refused:>6} {err_e:>7.2f}")
                if name == COMBINED:
                    med, cov = worst.get(shape, (0.0, 1.0))
                    worst[shape] = (max(med, float(np.median(err))), min(cov, float(inside)))
        print()
    print("combined forecaster, worst over pilots: shape: max median |err| (points), min share of intervals"
          " containing the truth")
    for shape in shapes:
        told = f"; no forecast for {refusals[shape]} of {args.reps * len(pilots)} pilots" if refusals.get(shape) else ""
        if shape not in worst:
            print(f"  {shape:<16}     –     –   no forecast: the tool refused every pilot (it says why)")
            continue
        med, cov = worst[shape]
        goal = "meets" if med <= 2 and cov >= 0.9 else "MISSES"
        print(f"  {shape:<16} {med:5.2f}  {100 * cov:4.0f}%   {goal} the goal (≤ 2 points, ≥ 90%){told}")
    twins(shapes, pilots, args.problems, min(args.reps, 20), args.seed)
    print(f"elapsed {time.perf_counter() - start:.0f} s")


def real(runs: list[Path], pilots: list[int]) -> None:
    """Forecast each run's coverage at its full n from its first `pilot` samples per problem."""
    from monkeys.forecast.plan import read_pilot

    print(f"{'run':<28} {'pilot':>5} {'k':>6} {'solved':>7} {'truth':>7} {'forecast':>9} {'95% interval':>17}  note")
    for run_dir in runs:
        _, full = read_pilot(run_dir, None)
        keep = [i for i, x in enumerate(full.correct) if len(x)]
        full = Pilot([full.problem_ids[i] for i in keep], [full.correct[i] for i in keep])
        k = int(full.n.min()) if len(full.n) else 0
        truth = float(np.mean([x[:k].any() for x in full.correct])) if k else float("nan")
        for n in pilots:
            if not len(full.n) or n >= k:
                print(f"{run_dir.name:<28} {n:>5} {k:>6}  (the run has only {k} samples per problem)")
                continue
            pilot = Pilot(full.problem_ids, [x[:n] for x in full.correct])
            fc = forecast(pilot, [k])
            solved = f"{fc.solved}/{fc.n_problems}"
            if fc.chosen is None:
                print(f"{run_dir.name:<28} {n:>5} {k:>6} {solved:>7} {100 * truth:>6.1f}% {'–':>9} {'–':>17}"
                      f"  no forecast: {fc.reason}")
                continue
            point, lo, hi = fc.coverage([k])
            inside = "holds" if lo[0] - 1e-9 <= truth <= hi[0] + 1e-9 else "MISSES"
            print(f"{run_dir.name:<28} {n:>5} {k:>6} {solved:>7} {100 * truth:>6.1f}% {100 * point[0]:>8.1f}%"
                  f" {100 * lo[0]:>7.1f}–{100 * hi[0]:.1f}%  {inside}; |err| {100 * abs(point[0] - truth):.1f}"
                  f" points ({fc.chosen})")


_ALIASES = {"run": ("run", "Model", "Benchmark"), "problem": ("problem", "problem_id", "Problem Idx"),
            "samples": ("samples", "Num. Samples Total", "Num. Samples"),
            "correct": ("correct", "Num. Samples Correct")}


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def read_counts(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """run -> (samples, correct) per problem, from a per-problem pass-count table (see the module docstring)."""
    import pyarrow as pa
    import pyarrow.csv
    import pyarrow.json
    import pyarrow.parquet

    suffix = "".join(path.suffixes[-2:]).lower()
    try:
        if suffix.endswith(".parquet"):
            table = pa.parquet.read_table(path)
        elif ".jsonl" in suffix or ".json" in suffix:
            table = pa.json.read_json(path)
        else:
            table = pa.csv.read_csv(path)
    except (OSError, pa.ArrowException) as exc:
        _fail(f"{path}: cannot be read as a table: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    names = set(table.column_names)
    cols: dict[str, list[str]] = {}
    for field, options in _ALIASES.items():
        cols[field] = [c for c in options if c in names]
        if not cols[field]:
            _fail(f"{path}: no column for {field!r} (expected one of {', '.join(options)})")
    if "run" in names:  # our own column names the run by itself; the published tables by model and benchmark
        cols["run"] = ["run"]
    rows = table.select(sorted({c for v in cols.values() for c in v})).to_pylist()
    runs: dict[str, dict[str, tuple[int, int]]] = {}
    for i, row in enumerate(rows):
        run = " / ".join(str(row[c]) for c in cols["run"])
        try:
            total, correct = int(row[cols["samples"][0]]), int(row[cols["correct"][0]])
        except (TypeError, ValueError):
            _fail(f"{path}: row {i + 1}: samples and correct must be whole numbers")
        if not 0 <= correct <= total:
            _fail(f"{path}: row {i + 1}: correct {correct} is not within 0..samples {total}")
        runs.setdefault(run, {})[str(row[cols["problem"][0]])] = (total, correct)
    return {run: (np.array([t for t, _ in v.values()]), np.array([c for _, c in v.values()]))
            for run, v in sorted(runs.items())}


def _zero_chance(total: np.ndarray, correct: np.ndarray, m: int) -> np.ndarray:
    """Per problem, the chance that m of its samples drawn without replacement hold no pass."""
    from scipy import special

    def log_choose(a: np.ndarray, b: int) -> np.ndarray:
        return special.gammaln(a + 1) - special.gammaln(b + 1) - special.gammaln(a - b + 1)

    with np.errstate(all="ignore"):
        return np.where(total - correct >= m, np.exp(log_choose(total - correct, m) - log_choose(total, m)), 0.0)


def oracle_share(total: np.ndarray, correct: np.ndarray, n: int, k: int) -> float:
    """P(solved by k | no pass in the first n) for a problem drawn from the run, knowing every problem's counts
    but not which unsolved problem is which: the best a forecaster can say of the pilot's unsolved problems,
    which all look alike to it (a pilot of verdicts tells them apart by nothing)."""
    stay_n, stay_k = _zero_chance(total, correct, n), _zero_chance(total, correct, k)
    return float((stay_n - stay_k).sum() / stay_n.sum()) if stay_n.sum() > 0 else 0.0


def twin_gap(total: np.ndarray, correct: np.ndarray, n: int, k: int) -> float:
    """A published run's twin (as `twin` for a shape): its problems solved at most j times in all their samples
    made never-solvable, j the largest for which the twin's pilot of n solves at most `TWIN_PILOT_GAP` fewer
    problems in expectation; returns the coverage at k they account for (points)."""
    solved_n = 1 - _zero_chance(total, correct, n)
    solved_k = 1 - _zero_chance(total, correct, k)
    gap = 0.0
    for j in np.unique(correct[correct > 0]):
        low = (correct > 0) & (correct <= j)
        if solved_n[low].sum() > TWIN_PILOT_GAP:
            break
        gap = 100 * float(solved_k[low].sum()) / len(correct)
    return gap


def oracle_misses(total: np.ndarray, correct: np.ndarray, n: int, k: int, rng: np.random.Generator,
                  draws: int = 2000, points: float = 3.0) -> float:
    """The share of random pilots of n on which even the oracle (`oracle_share`) misses the run's realised
    coverage at k by more than `points`: a check that every forecast lands within that many points cannot be
    met with certainty by any forecaster that sees only the pilot."""
    share = oracle_share(total, correct, n, k)
    c = rng.hypergeometric(correct, total - correct, n, size=(draws, len(total)))
    rest = rng.hypergeometric(correct - c, total - n - (correct - c), k - n)
    unsolved = (c == 0).sum(axis=1)
    point = (len(total) - unsolved + unsolved * share) / len(total)
    return float(np.mean(np.abs(point - (c + rest > 0).mean(axis=1)) > points / 100))


def published(path: Path, pilots: list[int], reps: int, seed: int, at: int | None = None) -> None:
    """Forecast each published run's coverage at K (`at`, else the fewest samples any of its problems has)
    from random pilots of n samples each. The truth is realised per pilot: the pilot is a random n of each
    problem's samples and the next K - n are a random draw from the rest (hypergeometric both), so problems
    with more samples than K count as a run of K would have shown them."""
    runs = read_counts(path)
    print(f"truth: each run's coverage at K, realised from its own samples; {reps} random pilots per run and n")
    header = (f"{'run':<26} {'n':>4} {'K':>6} {'truth':>6} {'pilot':>6} {'median':>7} {'med|err|':>8} {'max|err|':>8}"
              f" {'in 95%':>7} {'width':>6} {'cannot':>6} | {'oracle max':>10} {'oracle >3':>9} {'twin gap':>8}")
    print(header)
    print("-" * len(header))
    start = time.perf_counter()
    for run, (total, correct) in runs.items():
        k = int(total.min()) if at is None else at
        for n in pilots:
            if n >= k or k > total.min():
                print(f"{run[:26]:<26} {n:>4} {k:>6}  (the run has {int(total.min())} samples per problem or fewer)")
                continue
            rng = np.random.default_rng([seed, n])
            errs, inside, widths, pilot_cov, truths, refused, oracle = [], [], [], [], [], 0, []
            share = oracle_share(total, correct, n, k)
            gap = twin_gap(total, correct, n, k)
            for _ in range(reps):
                c = rng.hypergeometric(correct, total - correct, n)
                rest = rng.hypergeometric(correct - c, total - n - (correct - c), k - n)
                truth = float(np.mean(c + rest > 0))
                truths.append(truth)
                unsolved = int(np.sum(c == 0))
                oracle.append((len(c) - unsolved + unsolved * share) / len(c) - truth)
                fc = forecast(Pilot.from_counts(np.full(len(c), n), c, rng), [k], seed=int(rng.integers(1 << 31)))
                pilot_cov.append(float(np.mean(c > 0)))
                if fc.chosen is None:
                    refused += 1
                    continue
                point, lo, hi = fc.coverage([k])
                errs.append(point[0] - truth)
                inside.append(lo[0] - 1e-9 <= truth <= hi[0] + 1e-9)
                widths.append(hi[0] - lo[0])
            truth = float(np.mean(truths))
            misses = oracle_misses(total, correct, n, k, np.random.default_rng([seed, n, 3]))
            references = f" | {100 * np.abs(oracle).max():>10.2f} {100 * misses:>8.1f}% {gap:>7.1f}p"
            if not errs:
                print(f"{run[:26]:<26} {n:>4} {k:>6} {100 * truth:>5.1f}% {100 * np.mean(pilot_cov):>5.1f}%"
                      f" {'–':>7} {'–':>8} {'–':>8} {'–':>7} {'–':>6} {refused:>6}{references}")
                continue
            e = 100 * np.array(errs)
            print(f"{run[:26]:<26} {n:>4} {k:>6} {100 * truth:>5.1f}% {100 * np.mean(pilot_cov):>5.1f}%"
                  f" {np.median(e):>+7.1f} {np.median(np.abs(e)):>8.2f} {np.abs(e).max():>8.2f}"
                  f" {100 * np.mean(inside):>6.0f}% {100 * np.median(widths):>6.1f} {refused:>6}{references}")
    print("oracle max: the largest |err| over the same pilots of a forecaster that knows the run's own counts (not"
          " which problem has which), the floor left by which problems a pilot happens to solve; oracle >3: the"
          " share of 2,000 random pilots on which that oracle misses by more than 3 points; twin gap: the"
          " run's coverage at K that comes from problems so rarely solved that removing them all changes the"
          f" pilot by at most {TWIN_PILOT_GAP} solved problems in expectation: no pilot can tell whether they exist,"
          " so a forecast within half of it on the run is one that assumes they do (see `twin`)")
    print(f"elapsed {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
