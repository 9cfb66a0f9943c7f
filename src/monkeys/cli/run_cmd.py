"""`monkeys run`: flags (or --config FILE) -> RunConfig -> pipeline, with a live progress display."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from monkeys._userfiles import not_unicode, unicode_flaw
from monkeys.core import Completion, Verdict
from monkeys.errors import ConfigError

if TYPE_CHECKING:
    from monkeys.pipeline import LiveStats


class RichProgress:
    """Samples drawn, verified and problems solved on live bars, with the live throughput beside them:
    samples/s and tokens/s, the verification backlog, retries and endpoints up (a sampler that counts them),
    spend so far against the budget. Without a terminal (CI, a log file) the bars never redraw, so the same
    numbers go out as one plain line every 15 s."""

    def __init__(self, console: Console, *, sampling: bool = True) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.table import Column

        self.progress = Progress(  # the live numbers may be long: they give way (…), never the bars
            TextColumn("[bold]{task.description:<9}", table_column=Column(no_wrap=True, min_width=9)),
            BarColumn(bar_width=24, table_column=Column(min_width=12)), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}", table_column=Column(no_wrap=True, overflow="ellipsis",
                                                                  max_width=max(12, console.width - 64))),
            TimeElapsedColumn(), console=console, transient=False)
        self.console = console
        self.tokens = 0
        self.already = 0
        self.t0 = self.last_line = time.perf_counter()
        self.sampling = sampling  # False: samples come from a file (`monkeys verify`), no "sampled" bar
        self.counts = {"sampled": 0, "verified": 0, "solved": 0}
        self.totals = {"sampled": 0, "verified": 0, "solved": 0}
        self.stats: LiveStats | None = None

    def start(self, total_samples: int, already: int, problems: int, solved: int) -> None:
        self.progress.start()
        if self.sampling:
            self.sample_task = self.progress.add_task("sampled", total=total_samples, completed=already, info="")
        self.verify_task = self.progress.add_task("verified", total=total_samples, completed=already, info="")
        self.solved_task = self.progress.add_task("solved", total=problems, completed=solved, info="")
        self.counts = {"sampled": already, "verified": already, "solved": solved}
        self.already = already
        self.t0 = time.perf_counter()
        self.totals = {"sampled": total_samples, "verified": total_samples, "solved": problems}
        if not self.sampling:
            del self.counts["sampled"], self.totals["sampled"]

    def _rates(self) -> tuple[float, float]:
        """(samples/s, tokens/s) drawn by this process since it started."""
        elapsed = max(time.perf_counter() - self.t0, 1e-9)
        return (self.counts.get("sampled", 0) - self.already) / elapsed, self.tokens / elapsed

    def sampled(self, completions: list[Completion]) -> None:
        self.tokens += sum(c.completion_tokens for c in completions)
        self.counts["sampled"] += len(completions)
        samples, tokens = self._rates()
        self.progress.update(self.sample_task, advance=len(completions),
                             info=f"{samples:,.1f} samples/s, {tokens:,.0f} tok/s")
        self._log_line()

    def verified(self, problem_id: str, verdict: Verdict, newly_solved: bool) -> None:
        self.counts["verified"] += 1
        if self.sampling:
            self.progress.update(self.verify_task, advance=1, info=self._verify_info())
        else:
            done = self.counts["verified"] - self.already
            rate = done / max(time.perf_counter() - self.t0, 1e-9)
            self.progress.update(self.verify_task, advance=1, info=f"{rate:,.0f} samples/s")
        if newly_solved:
            self.progress.update(self.solved_task, advance=1)
            self.counts["solved"] += 1
        self._log_line()

    def status(self, stats: LiveStats) -> None:
        """The pipeline's live numbers: a schedule that stops problems early shrinks the planned total."""
        self.stats = stats
        if self.sampling and stats.planned:
            total = max(stats.planned, self.counts["sampled"])
            self.totals["sampled"] = self.totals["verified"] = total
            self.progress.update(self.sample_task, total=total)
            self.progress.update(self.verify_task, total=total, info=self._verify_info())
        self.progress.update(self.solved_task, info=self._extra())
        self._log_line()

    def _verify_info(self) -> str:
        return f"backlog {self.stats.backlog:,}" if self.stats is not None and self.stats.backlog else ""

    def _extra(self) -> str:
        """Retries, endpoints up, spend: what the pipeline's last `status` said, in a few words."""
        st = self.stats
        if st is None:
            return ""
        parts = []
        if st.endpoints is not None:
            parts.append(f"endpoints {st.endpoints[0]}/{st.endpoints[1]} up")
        if st.retries:
            parts.append(f"{st.retries:,} retries")
        if st.rounds:
            parts.append(f"round {st.rounds}")
        if st.spend:
            parts.append(f"spent {st.spend}")
        if st.stopped:
            parts.append(f"stopping: {st.stopped}")
        return "; ".join(parts)

    def _log_line(self) -> None:
        """Without a terminal (CI, a log file) the live bars never redraw: print a line every 15 s."""
        now = time.perf_counter()
        if self.console.is_terminal or now - self.last_line < 15:
            return
        self.last_line = now
        parts = [f"{k} {self.counts[k]}/{self.totals[k]}" for k in self.counts]
        if self.sampling:
            samples, tokens = self._rates()
            parts.append(f"{samples:,.1f} samples/s, {tokens:,.0f} tok/s")
        else:
            rate = (self.counts["verified"] - self.already) / max(now - self.t0, 1e-9)
            parts.append(f"{rate:,.0f} samples/s")
        if self.stats is not None:
            parts.append(f"backlog {self.stats.backlog:,}")
            if extra := self._extra():
                parts.append(extra)
        self.console.print(f"{', '.join(parts)}, {now - self.t0:,.0f} s", highlight=False)

    def stop(self) -> None:
        self.progress.stop()


_STOP_WORDS = {"cap": "at the cap", "solved": "at their first pass", "budget": "by the budget"}
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def parse_options(pairs: list[str], field: str) -> dict[str, Any]:
    """KEY=VALUE pairs; VALUE is read as a YAML scalar/list (10 -> int, true -> bool, [a, b] -> list;
    1e-3 -> float too, which YAML 1.1 reads as a string)."""
    import yaml  # ~25 ms: imported by the commands that take options, not by every `monkeys` start

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--{field.removesuffix('s').replace('_', '-')} {pair!r}: expected KEY=VALUE")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            value = float(value)
        flaw = unicode_flaw(value)
        if flaw:  # a YAML escape such as "\ud800": it could be neither stored nor sent
            at = flaw[0] if flaw[0].startswith("[") or not flaw[0] else f".{flaw[0]}"
            raise ConfigError(f"--{field.removesuffix('s').replace('_', '-')} {key.strip()}{at}:"
                              f" {not_unicode(flaw[1])}")
        out[key.strip()] = value
    return out


def scorer_options(pairs: list[str], scorers: list[str]) -> dict[str, dict[str, Any]]:
    """`--scorer-option` pairs as {scorer: {option: value}}: `NAME.KEY=VALUE` names the scorer; a bare
    `KEY=VALUE` belongs to the run's only scorer (with several scorers, or none, it is an error)."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in parse_options(pairs, "scorer_options").items():
        name, dot, option = key.partition(".")
        if not dot:
            if len(scorers) != 1:
                which = f"the run has {len(scorers)} scorers ({', '.join(scorers)})" if scorers else \
                    "the run has no scorer (add --scorer NAME)"
                raise ConfigError(f"--scorer-option {key}: {which}; expected NAME.{key}=VALUE naming one")
            name, option = scorers[0], key
        if not name or not option:
            raise ConfigError(f"--scorer-option {key!r}: expected KEY=VALUE or NAME.KEY=VALUE")
        out.setdefault(name, {})[option] = value
    return out


def refuse_secrets(given: dict[str, Any]) -> None:
    """Raise `ConfigError` if a value given on the command line is a secret (`config.find_secrets`).

    Any process on the host can read a command line (/proc/PID/cmdline, `ps`), so keys belong in the
    environment; the message names the option, never the value.
    """
    from monkeys.config import find_secrets

    found = find_secrets(given)
    if found:
        field, _, key = found[0].partition(".")
        name = field.removesuffix("s") if field.endswith("_options") else field
        flag = f"--{name.replace('_', '-')}" + (f" {key}" if key else "")
        raise ConfigError(
            f"{flag}: a secret on the command line is readable by every process on this host"
            " (/proc/PID/cmdline); put it in an environment variable and pass its name instead"
            " (--sampler-option api_key_env=VAR), or use a --config file only you can read")


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        task: Annotated[str | None, typer.Option(help="Task name (see `monkeys tasks`). [default: humaneval]")] = None,
        data: Annotated[str | None, typer.Option(help="Local JSONL/Parquet file of the task.")] = None,
        problems: Annotated[str | None, typer.Option(
            help="Problems: 'START:STOP', a count 'N', or comma-separated ids. "
                 "[default: the task's own, else all]")] = None,
        sampler: Annotated[str | None, typer.Option(help="Sampler (see `monkeys models`). [default: local]")] = None,
        model: Annotated[str | None, typer.Option(help="Model name or path for the sampler.")] = None,
        base_url: Annotated[list[str] | None, typer.Option(
            help="Server URL for the openai sampler; repeat it to spread requests over several servers.")] = None,
        verifier: Annotated[str | None, typer.Option(help="Verifier; default: the task's own.")] = None,
        scorer: Annotated[list[str] | None, typer.Option(help="Per-sample scorer to run (repeatable).")] = None,
        scorer_option: Annotated[list[str] | None, typer.Option(
            help="Scorer option KEY=VALUE (repeatable), e.g. model=DIR; with several scorers "
                 "NAME.KEY=VALUE, e.g. reward-model.model=DIR.")] = None,
        n: Annotated[int | None, typer.Option(
            "-n", "--n", help="Samples per problem; with --until-solved, --budget or --allocate adaptive the most"
                              " a problem gets. [default: 16]")] = None,
        max_samples: Annotated[int | None, typer.Option(
            help="Another name for -n, the per-problem cap (reads better with --until-solved).")] = None,
        until_solved: Annotated[bool | None, typer.Option(
            "--until-solved", help="Stop sampling a problem at its first verified pass.")] = None,
        budget: Annotated[list[str] | None, typer.Option(
            help="Budget of the whole run, KIND=AMOUNT (repeatable): samples=, tokens=, flops= or usd= (FLOPs"
                 " and dollars from the model table and --pricing); the run stops within one batch of it.")] = None,
        allocate: Annotated[str | None, typer.Option(
            help="fixed: problem after problem, n each; adaptive: rounds that spread what remains of the budget"
                 " over the problems not yet solved. [default: fixed]")] = None,
        pricing: Annotated[str | None, typer.Option(
            help="Pricing file (JSON/YAML, as `monkeys report --pricing`) for usd and flops budgets.")] = None,
        temperature: Annotated[float | None, typer.Option(help="[default: 0.6]")] = None,
        top_p: Annotated[float | None, typer.Option(help="[default: 0.95]")] = None,
        max_tokens: Annotated[int | None, typer.Option(help="Max new tokens per sample. [default: 128]")] = None,
        seed: Annotated[int | None, typer.Option(help="Run seed. [default: 0]")] = None,
        batch_size: Annotated[int | None, typer.Option(help="Samples per sampler call. [default: 16]")] = None,
        concurrency: Annotated[int | None, typer.Option(
            help="Sampler calls in flight. [default: the sampler's own]")] = None,
        verify_workers: Annotated[int | None, typer.Option(help="Verifier threads. [default: 2]")] = None,
        out: Annotated[Path | None, typer.Option(help="Run directory. [default: runs/default]")] = None,
        task_option: Annotated[list[str] | None, typer.Option(help="Task option KEY=VALUE (repeatable).")] = None,
        sampler_option: Annotated[list[str] | None, typer.Option(
            help="Sampler option KEY=VALUE (repeatable).")] = None,
        verifier_option: Annotated[list[str] | None, typer.Option(
            help="Verifier option KEY=VALUE (repeatable), e.g. timeout_s=10.")] = None,
        ray: Annotated[str | None, typer.Option(
            help="Run on Ray: 'local' starts one on this machine, an ADDRESS joins a cluster (extra monkeys[ray]).")
                       ] = None,
        config: Annotated[Path | None, typer.Option(help="YAML/TOML/JSON file of run settings; flags win.")] = None,
        report: Annotated[bool, typer.Option(help="Print the coverage report at the end.")] = True,
    ) -> None:
        """Sample n completions per problem, verify each, store everything, report coverage vs k.

        Running it again on the same --out resumes: only missing samples are drawn.
        """
        from monkeys.config import build_config, check_out, check_plugins, load_config_file
        from monkeys.pipeline import run as run_pipeline

        if max_samples is not None:
            if n is not None and n != max_samples:
                raise ConfigError(f"--max-samples {max_samples}: conflicts with -n {n}; give the cap once")
            n = max_samples
        values: dict[str, Any] = load_config_file(config) if config else {}
        urls: str | list[str] | None = base_url[0] if base_url and len(base_url) == 1 else base_url or None
        flags = dict(task=task, data=data, problems=problems, sampler=sampler, model=model, base_url=urls,
                     verifier=verifier, scorers=scorer, n=n, temperature=temperature, top_p=top_p,
                     max_tokens=max_tokens, seed=seed, batch_size=batch_size, concurrency=concurrency,
                     verify_workers=verify_workers, out=out, ray=ray, until_solved=until_solved,
                     budget=budget, allocate=allocate, pricing=pricing)
        given: dict[str, Any] = {k: v for k, v in flags.items() if v is not None}
        for field, pairs in (("task_options", task_option), ("sampler_options", sampler_option),
                             ("verifier_options", verifier_option)):
            if pairs:
                given[field] = parse_options(pairs, field)
        if scorer_option:
            scorers = scorer if scorer is not None else values.get("scorers")
            given["scorer_options"] = scorer_options(scorer_option, scorers if isinstance(scorers, list) else [])
        refuse_secrets(given)
        cli = set(given)  # what the command line gave: messages name it by its flag
        for field, options in given.items():
            if field == "scorer_options":  # one level deeper: {scorer: {option: value}}
                cli |= {f"{field}.{name}.{key}" for name, opts in options.items() for key in opts}
                cli |= {f"{field}.{name}" for name in options}
                merged = dict(values[field]) if isinstance(values.get(field), dict) else {}
                for name, opts in options.items():
                    own = merged.get(name)
                    merged[name] = {**own, **opts} if isinstance(own, dict) else opts
                values[field] = merged
            elif field.endswith("_options"):
                cli |= {f"{field}.{key}" for key in options}
                base = values.get(field)
                values[field] = {**base, **options} if isinstance(base, dict) else base or options
            else:
                values[field] = options
        source = str(config) if config else "options"
        cfg = build_config(values, source=source, cli=cli)
        check_plugins(cfg, source=source, cli=cli)  # every plug-in option, before anything is created
        check_out(cfg.out, cli="out" in cli or not config, source=source)
        console = Console(stderr=True)
        display = RichProgress(console)
        schedule = f"n={cfg.n}"
        if cfg.until_solved or cfg.allocate == "adaptive":
            schedule = f"{'adaptive' if cfg.allocate == 'adaptive' else 'until solved'}, at most {cfg.n} per problem"
        if cfg.budget:
            schedule += ", budget " + ",".join(f"{k}={v:g}" for k, v in cfg.budget.items())
        console.print("[bold]monkeys run[/] "
                      + escape(f"task={cfg.task} sampler={cfg.sampler} {schedule} -> {cfg.out}"))
        try:
            summary = run_pipeline(cfg, progress=display)
        finally:
            display.stop()
        console.print(f"drew {summary.samples_drawn} samples, verified {summary.samples_verified}"
                      f"{' (resumed)' if summary.resumed else ''}; "
                      f"{len(summary.solved)}/{summary.problems} problems solved", highlight=False)
        if summary.stops and set(summary.stops) != {"cap"}:
            console.print("problems stopped: " + ", ".join(f"{v} {_STOP_WORDS.get(k, k)}"
                                                          for k, v in sorted(summary.stops.items())), highlight=False)
        if summary.stopped:
            console.print(f"stopped early: {summary.stopped}", highlight=False)
        if summary.spend:
            console.print(f"spent (whole run): {summary.spend}", highlight=False)
        if report:
            from monkeys.report import report_runs

            report_runs([cfg.out], console=Console())
