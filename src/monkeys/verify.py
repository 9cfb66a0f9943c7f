"""`monkeys verify`: verdicts for samples monkeys did not draw, and second verifiers on stored runs.

Two entry points, one verification loop (the pipeline's, so progress, the single store writer, resume and
back-pressure are exactly those of `monkeys run`):

- `verify_file(SAMPLES, task=..., out=RUN)`: samples made elsewhere (a vLLM batch job, another paper's
  released generations: JSONL/Parquet/CSV rows of `problem_id`, `sample_index`, `text`; the
  large_language_monkeys YAML layout; SWE-bench style predictions) are checked against the task's
  problems and stored in one transaction (`store.importer.import_samples`: any bad row is one
  `DataError` naming the file and row, and nothing is written), then verified with the task's verifier.
  The task's options say how a text is read (`prompt_style=completion`: a body appended to the prompt).
- `verify_run(RUN, verifier=X)`: verdicts of another verifier (or the same one, to finish an interrupted
  verification) for every stored sample that lacks one; verdicts are keyed by verifier, so a second one
  (`math-answer` with `mode=minerva` beside the default) is stored beside the first, never over it.

Resume: each verdict is committed as it is made; a rerun of the same command after a crash (kill -9
included) imports nothing again and verifies only the samples without a verdict of that verifier.
A verifier's options are part of what its verdicts mean: a rerun with other options is refused.
"""

from __future__ import annotations

import platform
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monkeys import __version__
from monkeys.config import RunConfig, check_out, check_resume, option_error, stored_config
from monkeys.core import Problem, Verifier
from monkeys.errors import ConfigError, DataError, MonkeysError, StoreError
from monkeys.pipeline import (
    ProgressSink,
    RunSummary,
    _NoProgress,
    _protections,
    _StoredSamples,
    _stream,
    _with_resume_hint,
    check_data_hidden,
)
from monkeys.registry import OptionError, check_options, create, get_plugin, verifier_revision
from monkeys.store import (
    StoreWriter,
    blank_store,
    connect,
    read_config,
    read_meta,
    read_problems,
    revisions,
    store_path,
)
from monkeys.store.importer import fingerprint
from monkeys.store.lock import RunLock
from monkeys.store.read import all_samples, solved_problems, unverified_samples
from monkeys.store.writer import write_meta

MADE_BY = "monkeys verify"  # config["made_by"] of a run whose samples came from a file
SAMPLER = "file"  # config["sampler"] of such a run: nothing was drawn
Progress = Callable[[int, int | None], None]  # (rows done, rows total or None)


def _task_verifier(task: str) -> str:
    return str(get_plugin("task", task).factory.default_verifier)  # type: ignore[attr-defined]


def _check_verifier_options(name: str, options: dict[str, Any]) -> None:
    """One `ConfigError` line for an unknown or bad verifier option, before anything is touched."""
    try:
        check_options("verifier", name, options)
    except OptionError as exc:
        raise option_error(exc, f"--verifier-option {exc.option}") from None


def _check_task_options(task: str, options: dict[str, Any]) -> None:
    try:
        check_options("task", task, options)
    except OptionError as exc:
        raise option_error(exc, "--data" if exc.option == "data" else f"--task-option {exc.option}") from None


def file_config(source: Path, *, task: str, out: Path, data: str | None = None,
                task_options: dict[str, Any] | None = None, verifier: str | None = None,
                verifier_options: dict[str, Any] | None = None, model: str | None = None,
                verify_workers: int = 2) -> RunConfig:
    """The run config `verify_file` stores: a run whose sampler is the file `source`."""
    return RunConfig(task=task, data=data, task_options=dict(task_options or {}), sampler=SAMPLER, model=model,
                     verifier=verifier, verifier_options=dict(verifier_options or {}),
                     verify_workers=verify_workers, out=out, n=1)


def import_file(source: Path, *, task: str, out: Path, data: str | None = None,
                task_options: dict[str, Any] | None = None, verifier: str | None = None,
                verifier_options: dict[str, Any] | None = None, model: str | None = None,
                verify_workers: int = 2, on_import: Progress | None = None) -> tuple[RunConfig, dict[str, Any]]:
    """The first half of `verify_file`: check every option and, unless `out` already holds them, check and
    store the samples of `source` (one transaction). Returns the run config and its stored form."""
    from monkeys.store.importer import import_samples

    source, out = Path(source), Path(out)
    get_plugin("task", task)
    vname = verifier or _task_verifier(task)
    get_plugin("verifier", vname)
    options = dict(task_options or {})
    _check_task_options(task, {**options, **({"data": data} if data else {})})
    _check_verifier_options(vname, dict(verifier_options or {}))
    check_data_hidden(data, vname)
    check_out(out)
    if not source.exists():
        raise DataError(f"{source}: no such file or directory")
    config = file_config(source, task=task, out=out, data=data, task_options=options, verifier=verifier,
                         verifier_options=verifier_options, model=model, verify_workers=verify_workers)
    stored = {**stored_config(config), "made_by": MADE_BY, "source": str(source.resolve())}
    if not _holds_samples(out):
        made = create("task", task, **({"data": data} if data else {}), **options)
        problems = made.load_problems()
        meta: dict[str, Any] = {"monkeys_version": __version__, "python": platform.python_version(),
                                "verifier": vname}
        if model:  # else the report names the models of the file's rows
            meta["model"] = model
        import_samples(source, out, problems, task=task, config=stored, meta=meta, model=model,
                       progress=on_import, aliases=short_ids(problems))
    return config, stored


def verify_file(source: Path, *, task: str, out: Path, data: str | None = None,
                task_options: dict[str, Any] | None = None, verifier: str | None = None,
                verifier_options: dict[str, Any] | None = None, model: str | None = None,
                verify_workers: int = 2, progress: ProgressSink | None = None,
                on_import: Progress | None = None) -> RunSummary:
    """Store the samples of `source` in a new run `out` as samples of `task`, then verify each.

    Rerunning it on the same `out` (after a crash, or to finish) verifies only what has no verdict yet;
    a different source, task, data or verifier setting for an existing `out` is refused. `on_import(done,
    total)` reports the import's progress. Raises `DataError` (bad input: file, row, field) before
    anything is written, `ConfigError`/`PluginError` for bad options, `StoreError` for the store.
    """
    config, stored = import_file(source, task=task, out=out, data=data, task_options=task_options,
                                 verifier=verifier, verifier_options=verifier_options, model=model,
                                 verify_workers=verify_workers, on_import=on_import)
    vname = verifier or _task_verifier(task)
    with RunLock(out, choose="another --out").acquire():
        db = connect(out)
        try:
            _check_same_file_run(db, Path(out), stored, config)
        finally:
            db.close()
        return _verify_locked(Path(out), vname, dict(verifier_options or {}), verify_workers, progress, main=True)


def short_ids(problems: list[Problem]) -> dict[str, str]:
    """Other names a samples file may use for the task's problems: the last part of an id with a `/`
    (large_language_monkeys names its files by the dataset row, `0.yaml` for gsm8k's `test/0`, and by the
    problem's name for CodeContests' `source/name`), where that part names one problem and is no id itself."""
    ids = {p.problem_id for p in problems}
    found: dict[str, list[str]] = {}
    for p in problems:
        if "/" in p.problem_id:
            found.setdefault(p.problem_id.rsplit("/", 1)[1], []).append(p.problem_id)
    return {short: full[0] for short, full in found.items() if len(full) == 1 and short and short not in ids}


def _holds_samples(run_dir: Path) -> bool:
    if not store_path(run_dir).exists() or blank_store(run_dir):  # blank: a kill while it was being made
        return False
    db = connect(run_dir)
    try:
        return db.execute("SELECT 1 FROM samples LIMIT 1").fetchone() is not None
    except sqlite3.Error as exc:
        raise StoreError(f"{store_path(run_dir)}: cannot read the run store: {exc}") from exc
    finally:
        db.close()


def _check_same_file_run(db: sqlite3.Connection, out: Path, stored: dict[str, Any], config: RunConfig) -> None:
    """A rerun of `verify_file` on an existing run must be the same samples, task and verifier."""
    old = read_config(db)
    if old.get("made_by") != MADE_BY:
        made = "import" if old.get("task") == "imported" else "run"
        raise ConfigError(f"{out}: holds a run made by `monkeys {made}`,"
                          " not `monkeys verify` of a samples file; choose another --out (to add a verifier's"
                          f" verdicts to this run: monkeys verify {out} --verifier NAME)")
    if old.get("source") != stored["source"]:
        raise ConfigError(f"{out}: holds the samples of {old.get('source')}, not {stored['source']};"
                          " choose another --out, or the same file to resume")
    check_resume(old, config, out)
    was = read_meta(db, "source_fingerprint")
    if isinstance(was, dict):  # a run imported before fingerprints were kept cannot be checked
        now = fingerprint(Path(stored["source"]))
        if now != was:
            what = (f"{was.get('size')} bytes then, {now['size']} now" if was.get("size") != now["size"]
                    else "same size, other contents")
            raise DataError(f"{stored['source']}: changed since it was imported into {out} ({what}); verify"
                            f" it into a new --out (to finish verifying the samples {out} holds: monkeys verify"
                            f" {out})")


def _meaning(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options of verifier `name` that change what a verdict means: defaults filled in, speed-only
    options (workers, cache sizes) left out."""
    from monkeys.registry import plugin_options

    declared = plugin_options("verifier", name)
    full = {**declared.defaults(), **options}
    return {k: v for k, v in sorted(full.items()) if k not in declared.speed_only()}


def verifier_label(name: str, options: dict[str, Any]) -> str:
    """The key verdicts of `name` with `options` are stored under beside the run's own: the name, with the
    options that differ from the verifier's defaults (`math-answer[mode=minerva]`)."""
    defaults, missing = _meaning(name, {}), object()
    changed = {k: v for k, v in _meaning(name, options).items() if defaults.get(k, missing) != v}
    return name + ("[" + ",".join(f"{k}={v}" for k, v in changed.items()) + "]" if changed else "")


def verify_run(run_dir: Path, *, verifier: str | None = None, verifier_options: dict[str, Any] | None = None,
               verify_workers: int = 2, progress: ProgressSink | None = None, reverify: bool = False
               ) -> RunSummary:
    """Verdicts of `verifier` (default: the run's own) for every sample of `run_dir` without one.

    The run's own verifier with its own options (or none given) finishes the run's verification. Any
    other verifier, or the same one with options that change what a verdict means, stores its verdicts
    under a key of its own (`verifier_label`: `math-answer[mode=minerva]`), recorded in meta "verifiers"
    with its options, so no verdict is ever replaced. `RunSummary` counts what this call verified.
    Verdicts that another revision of the verifier made are refused (`store.revisions`); `reverify`
    deletes the verdicts stored under the key first, so that this monkeys's verifier checks every sample.
    """
    run_dir = Path(run_dir)
    if not store_path(run_dir).exists():
        raise StoreError(f"{store_path(run_dir)}: no run store here; expected a run directory made by"
                         " `monkeys run`, `monkeys import` or `monkeys verify`")
    with RunLock(run_dir, choose="another run directory").acquire():
        db = connect(run_dir)
        try:
            config = read_config(db)
            main = str(read_meta(db, "verifier") or config.get("verifier") or "")
            if not main and config.get("task"):
                try:
                    main = _task_verifier(str(config["task"]))
                except Exception:  # noqa: BLE001 - a task no longer installed: name the verifier instead
                    main = ""
            name = verifier or main
            if name == "imported" and config.get("task") == "imported":
                raise ConfigError(f"{run_dir}: its verdicts were imported with its samples; name a verifier to"
                                  " verify the samples with (--verifier NAME, see `monkeys plugins`)")
            if not name:
                raise ConfigError(f"{run_dir}: the run names no verifier; give one with --verifier")
            get_plugin("verifier", name)
            options = dict(verifier_options or {})
            _check_verifier_options(name, options)
            main_options = dict(config.get("verifier_options") or {})
            if name == main and (verifier_options is None
                                 or _meaning(name, options) == _meaning(name, main_options)):
                key, options, is_main = main, main_options, True
            else:
                key, is_main = verifier_label(name, options), False
                if key == main:  # the run's own verifier ran with non-default options; these are the defaults
                    key = f"{name}[defaults]"
                _extra_verifiers(db, run_dir)  # checked now, written once the samples have been read
        except sqlite3.Error as exc:
            raise StoreError(f"{store_path(run_dir)}: cannot read the run store: {exc}") from exc
        finally:
            db.close()
        hint = f"monkeys verify {run_dir}" + ("" if is_main else f" --verifier {name}" + "".join(
            f" --verifier-option {k}={v}" for k, v in options.items())) + " --reverify"
        return _verify_locked(run_dir, name, options, verify_workers, progress, main=is_main, key=key,
                              reverify=reverify, hint=hint)


def _extra_verifiers(db: sqlite3.Connection, run_dir: Path) -> dict[str, Any]:
    """Meta "verifiers": {key: {"verifier", "options", "added_at", "protections"}}: what each extra verdict
    key means."""
    extra = read_meta(db, "verifiers") or {}
    if not isinstance(extra, dict):
        raise StoreError(f"{store_path(run_dir)}: meta 'verifiers' is not a JSON object (the store was edited)")
    return extra


def _verify_locked(run_dir: Path, vname: str, options: dict[str, Any], workers: int,
                   progress: ProgressSink | None, *, main: bool, key: str | None = None, reverify: bool = False,
                   hint: str | None = None) -> RunSummary:
    """Verify with verifier `vname` every sample of `run_dir` lacking a verdict under `key` (default: the
    verifier's name); the run's lock is held. `reverify`: delete the key's verdicts first; else verdicts of
    another revision of the verifier are refused (`hint`: the command that replaces them)."""
    key = key or vname
    progress = progress or _NoProgress()
    verifier: Verifier = create("verifier", vname, **options)
    try:
        db = connect(run_dir)
        try:
            # everything is read (and a damaged store refused) before anything is written
            revision = verifier_revision(vname)
            # a re-check that was stopped (Ctrl-C, kill -9) goes on where it was, as any resume does
            drop = reverify and not revisions.reverify_pending(db, key, revision)
            if not drop:
                revisions.check(db, run_dir, key, revision, reverify=hint or f"monkeys verify {run_dir} --reverify")
            problems: list[Problem] = read_problems(db)
            model = str(read_meta(db, "model") or "unknown")
            total = db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
            todo = all_samples(db) if drop else unverified_samples(db, key)
            solved = set() if drop else solved_problems(db, key)
            extra = {} if main else _extra_verifiers(db, run_dir)
            protections = _protections(verifier)
            if drop:
                revisions.drop_verdicts(db, run_dir, key, revision, main=main)
            else:
                revisions.record(db, run_dir, key, revision)
            if main:
                write_meta(db, "protections", protections)
            else:
                entry: dict[str, Any] = extra[key] if isinstance(extra.get(key), dict) else {
                    "verifier": vname, "options": options,
                    "added_at": datetime.now(UTC).isoformat(timespec="seconds")}
                write_meta(db, "verifiers", {**extra, key: {**entry, "protections": protections}})
        except sqlite3.Error as exc:
            raise StoreError(f"{store_path(run_dir)}: cannot read the run store: {exc}") from exc
        finally:
            db.close()
        by_id = {p.problem_id: p for p in problems}
        summary = RunSummary(run_dir, len(problems), resumed=len(todo) < total, solved=solved, verifier=key)
        progress.start(total, total - len(todo), len(problems), len(solved))
        config = RunConfig(task="imported", sampler=SAMPLER, verify_workers=workers, out=run_dir)
        writer = StoreWriter(run_dir)
        try:
            done = _stream(config, by_id, ((s, True, []) for s in todo), iter(()), _StoredSamples(model),
                           verifier, key, {}, progress, summary, writer)
        except MonkeysError as exc:
            raise _with_resume_hint(exc) from exc
        if todo:  # every sample now has a verdict under `key`: a re-check begun earlier is finished
            db = connect(run_dir)
            try:
                revisions.finish_reverify(db, key)
            except sqlite3.Error as exc:
                raise StoreError(f"{store_path(run_dir)}: writing the run store failed: {exc}") from exc
            finally:
                db.close()
        return done
    finally:
        verifier.close()
