"""`monkeys run`: flags (or --config FILE) -> RunConfig -> pipeline, with a live progress display."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from monkeys.config import build_config, check_out, check_plugins, find_secrets, load_config_file
from monkeys.core import Completion, Verdict
from monkeys.errors import ConfigError


class RichProgress:
    """Samples drawn, tokens/s, samples verified and problems solved, on one live display."""

    def __init__(self, console: Console, *, sampling: bool = True) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description:<9}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=console, transient=False)
        self.console = console
        self.tokens = 0
        self.already = 0
        self.t0 = self.last_line = time.perf_counter()
        self.sampling = sampling  # False: samples come from a file (`monkeys verify`), no "sampled" bar
        self.counts = {"sampled": 0, "verified": 0, "solved": 0}
        self.totals = {"sampled": 0, "verified": 0, "solved": 0}

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

    def sampled(self, completions: list[Completion]) -> None:
        self.tokens += sum(c.completion_tokens for c in completions)
        rate = self.tokens / max(time.perf_counter() - self.t0, 1e-9)
        self.progress.update(self.sample_task, advance=len(completions), info=f"{rate:,.0f} tok/s")
        self.counts["sampled"] += len(completions)
        self._log_line(rate)

    def verified(self, problem_id: str, verdict: Verdict, newly_solved: bool) -> None:
        self.counts["verified"] += 1
        if self.sampling:
            self.progress.update(self.verify_task, advance=1)
        else:
            done = self.counts["verified"] - self.already
            rate = done / max(time.perf_counter() - self.t0, 1e-9)
            self.progress.update(self.verify_task, advance=1, info=f"{rate:,.0f} samples/s")
        if newly_solved:
            self.progress.update(self.solved_task, advance=1)
            self.counts["solved"] += 1
        if not self.sampling:
            self._log_line(rate, "samples/s")

    def _log_line(self, rate: float, unit: str = "tok/s") -> None:
        """Without a terminal (CI, a log file) the live bars never redraw: print a line every 15 s."""
        now = time.perf_counter()
        if self.console.is_terminal or now - self.last_line < 15:
            return
        self.last_line = now
        parts = [f"{k} {self.counts[k]}/{self.totals[k]}" for k in self.counts]
        self.console.print(f"{', '.join(parts)}, {rate:,.0f} {unit}, {now - self.t0:,.0f} s")

    def stop(self) -> None:
        self.progress.stop()


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def parse_options(pairs: list[str], field: str) -> dict[str, Any]:
    """KEY=VALUE pairs; VALUE is read as a YAML scalar/list (10 -> int, true -> bool, [a, b] -> list;
    1e-3 -> float too, which YAML 1.1 reads as a string)."""
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
        n: Annotated[int | None, typer.Option("-n", "--n", help="Samples per problem. [default: 16]")] = None,
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
        from monkeys.pipeline import run as run_pipeline

        values: dict[str, Any] = load_config_file(config) if config else {}
        urls: str | list[str] | None = base_url[0] if base_url and len(base_url) == 1 else base_url or None
        flags = dict(task=task, data=data, problems=problems, sampler=sampler, model=model, base_url=urls,
                     verifier=verifier, scorers=scorer, n=n, temperature=temperature, top_p=top_p,
                     max_tokens=max_tokens, seed=seed, batch_size=batch_size, concurrency=concurrency,
                     verify_workers=verify_workers, out=out, ray=ray)
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
        console.print(f"[bold]monkeys run[/] task={cfg.task} sampler={cfg.sampler} n={cfg.n} -> {cfg.out}")
        try:
            summary = run_pipeline(cfg, progress=display)
        finally:
            display.stop()
        console.print(f"drew {summary.samples_drawn} samples, verified {summary.samples_verified}"
                      f"{' (resumed)' if summary.resumed else ''}; "
                      f"{len(summary.solved)}/{summary.problems} problems solved")
        if report:
            from monkeys.report import report_runs

            report_runs([cfg.out], console=Console())
