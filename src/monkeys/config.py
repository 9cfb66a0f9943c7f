"""A whole run as data: `RunConfig`, filled from CLI flags and/or a YAML/TOML/JSON file.

Everything is checked before a run creates anything: the fields (`build_config`), the plug-in names and
every plug-in option against what the plug-in declares (`check_plugins`), and the run directory
(`check_out`). Each mistake is one `ConfigError` naming the flag (`--verifier-option timeout_s`) or the
file and field (`run.yaml: verifier_options.timeout_s`) and what was expected.

The resolved config is stored in the run once, when it is created, and never rewritten. A resumed run must
agree with it on every setting that changes what a sample, verdict or score means (`IDENTITY_FIELDS`, and
within the option dicts every option a plug-in does not declare `SPEED_ONLY`; defaults filled in, secrets
left out); what may change (`n`, scorers, concurrency, verify workers, speed-only options) is appended to
a history (`check_resume` returns it, the store keeps it as meta "config_history").
Secrets are never stored: `stored_config` redacts them by one rule (`is_secret_name`, `find_secrets`).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monkeys._userfiles import UserFile, did_you_mean, read_document, type_name
from monkeys.errors import ConfigError, PluginError

if TYPE_CHECKING:
    from monkeys.registry import OptionError

DEFAULT_OUT = Path("runs/default")


class RunConfig(BaseModel):
    """Everything that defines a run. CLI flags map 1:1 onto these fields (`--max-tokens`)."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field("humaneval", description="registered task name (`monkeys tasks`)")
    data: str | None = Field(None, description="local JSONL/Parquet file of the task; default: bundled/hub")
    problems: str | None = Field(
        None, description="slice of the task's problems: 'START:STOP', a count 'N', or ids 'a,b';"
        " default: the task's `default_problems`, else all")
    task_options: dict[str, Any] = Field(default_factory=dict, description="extra task constructor options")
    sampler: str = Field("local", description="registered sampler name (`monkeys models`)")
    model: str | None = Field(None, description="model name/path for the sampler; default: sampler's own")
    base_url: str | list[str] | None = Field(
        None, description="server URL for HTTP samplers; several (a list, or --base-url repeated): requests"
        " are spread over them")
    sampler_options: dict[str, Any] = Field(default_factory=dict, description="extra sampler options")
    verifier: str | None = Field(None, description="registered verifier; default: the task's own")
    verifier_options: dict[str, Any] = Field(default_factory=dict)
    scorers: list[str] = Field(default_factory=list, description="per-sample scorers to run (selection)")
    scorer_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="options per scorer: {scorer name: {option: value}}")
    n: int = Field(16, ge=1, le=1_000_000, description="samples per problem (with --until-solved, --budget or"
                   " --allocate adaptive: the most a problem gets)")
    until_solved: bool = Field(False, description="stop sampling a problem at its first verified pass")
    budget: dict[str, float] | None = Field(
        None, description="the whole run's budget, KIND=AMOUNT with KIND samples, tokens, flops or usd; the run"
        " stops within one batch of it")
    allocate: Literal["fixed", "adaptive"] = Field(
        "fixed", description="fixed: problem after problem, n each; adaptive: in rounds, what remains of the"
        " budget spread over the problems not yet solved")
    pricing: str | None = Field(None, description="pricing/model-shape file (JSON or YAML) for usd and flops budgets")
    temperature: float = Field(0.6, ge=0.0, le=5.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(128, ge=1, le=1_000_000, description="max new tokens per sample")
    seed: int = Field(0, description="run seed; sample seeds derive from (seed, problem, index)")
    batch_size: int = Field(16, ge=1, le=4096, description="samples drawn per sampler call")
    concurrency: int | None = Field(
        None, ge=1, le=1024, description="sampler calls in flight at once; default: the sampler's own")
    verify_workers: int = Field(2, ge=1, le=256, description="threads verifying samples")
    out: Path = Field(DEFAULT_OUT, description="run directory (holds monkeys.db, plots)")
    ray: str | None = Field(
        None, description="run on Ray: 'local' starts an instance on this machine, an address joins a cluster")

    @field_validator("n", "max_tokens", "seed", "batch_size", "concurrency", "verify_workers", "temperature", "top_p",
                     mode="before")
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        """`temperature: true` or `seed: false` in a config file is a slip, not 1.0 or 0 (pydantic's lax mode
        would read a boolean as a number)."""
        if isinstance(value, bool):
            raise ValueError("a boolean is not a number")
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | list[str] | None) -> str | list[str] | None:
        """One URL stays a str (a stored config and resume identity read as before); several stay a list."""
        if isinstance(value, list):
            if not value:
                raise ValueError("expected one or more server URLs, got an empty list")
            if len(set(value)) != len(value):
                raise ValueError("the same server URL is listed twice")
            return value[0] if len(value) == 1 else value
        return value

    @field_validator("budget", mode="before")
    @classmethod
    def _check_budget(cls, value: Any) -> Any:
        """`{"usd": 5}`, or the CLI's text `usd=5,samples=1000`; each kind once, each amount > 0."""
        if isinstance(value, str | list):
            value = parse_budget([value] if isinstance(value, str) else [str(v) for v in value])
        if isinstance(value, dict):
            for kind, amount in value.items():
                if kind not in BUDGET_KINDS:
                    raise ValueError(f"{kind!r} is not a budget kind; expected one of: {', '.join(BUDGET_KINDS)}")
                if isinstance(amount, bool) or not isinstance(amount, int | float) or not 0 < amount < math.inf:
                    raise ValueError(f"{kind}={amount!r}; expected a finite number > 0")
                if kind == "samples" and float(amount) != int(amount):
                    raise ValueError(f"samples={amount!r}; expected a whole number of samples")
            if not value:
                return None
        return value

    @field_validator("scorers")
    @classmethod
    def _check_scorers(cls, value: list[str]) -> list[str]:
        twice = next((name for i, name in enumerate(value) if name in value[:i]), None)
        if twice is not None:
            raise ValueError(f"scorer {twice!r} is given twice; expected each scorer once")
        return value

    @field_validator("ray")
    @classmethod
    def _check_ray(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("expected 'local' or a Ray cluster address, got an empty string")
        return value

    @field_validator("problems")
    @classmethod
    def _check_problems(cls, value: str | None) -> str | None:
        if value is not None:
            parse_problem_selection(value)
        return value


BUDGET_KINDS = ("samples", "tokens", "flops", "usd")


def parse_budget(items: list[str]) -> dict[str, float]:
    """`["usd=5", "samples=1e4,tokens=2e6"]` -> {"usd": 5.0, ...}. Raises ValueError (the caller names the flag)."""
    out: dict[str, float] = {}
    for item in items:
        for part in (p.strip() for p in item.split(",")):
            if not part:
                continue
            kind, sep, amount = part.partition("=")
            kind = kind.strip().lower()
            if not sep:
                raise ValueError(f"{part!r}; expected KIND=AMOUNT with KIND one of: {', '.join(BUDGET_KINDS)}")
            if kind in out:
                raise ValueError(f"{kind} given twice")
            try:
                out[kind] = float(amount.strip().lstrip("$").replace("_", ""))
            except ValueError:
                raise ValueError(f"{kind}={amount.strip()!r}; expected a number") from None
    return out


# Fields whose change would make stored samples (or their verdicts) mean something else. In the option
# dicts, each option counts unless its plug-in declares it `SPEED_ONLY` (see `monkeys.registry`).
IDENTITY_FIELDS = ("task", "data", "problems", "task_options", "sampler", "model",
                   "sampler_options", "verifier", "verifier_options", "temperature", "top_p", "max_tokens",
                   "seed", "batch_size")
# Fields a resumed run may change; each change is appended to the run's config history.
# A scorer's options may change with the scorers, except the options (not `SPEED_ONLY`) of a scorer the
# stored run already has: its stored scores would then mean two things (`check_resume` refuses that).
# `ray` too: where the work runs never changes what a sample means.
# The schedule (`until_solved`, `budget`, `allocate`, `pricing`) too: it picks which samples are drawn, never
# what one means (a sample's seed derives from its index alone); the report reads the stops it made.
# `base_url` is where the model is served, not what it is (`model` is): a resume may add or drop servers.
RESUMABLE_CHANGES = ("n", "scorers", "scorer_options", "concurrency", "verify_workers", "base_url", "ray",
                     "until_solved", "budget", "allocate", "pricing")
_OPTION_KIND = {"task_options": "task", "sampler_options": "sampler", "verifier_options": "verifier"}
# Options passed to a plug-in from a top-level field (`--data`, `--model`, `--base-url`), not its dict.
_TOP_LEVEL_OPTIONS = {"task_options": ("data",), "sampler_options": ("model", "base_url"), "verifier_options": ()}


# -- secrets -------------------------------------------------------------------------------------------
# One rule for every option dict (task/sampler/verifier options, nested dicts such as `extra_headers`,
# lists), applied to keys at any depth. A key is split into lowercase words (`X-API-Key`, `apiKey` ->
# x, api, key). It names a secret when a word is one of _SECRET_WORDS, or its last word is one of
# _SECRET_LAST_WORDS, unless its last word is env/file/path: `api_key_env` names the variable that holds the
# key, which is what a run should store. Whatever the key, a string value that is an HTTP credential
# ("Bearer ...", "Basic ...") or a URL with a password (`http://user:pw@host`) is a secret too.
_SECRET_WORDS = frozenset({"password", "passwd", "passphrase", "secret", "authorization", "credential",
                           "credentials", "cookie", "apikey"})
_SECRET_LAST_WORDS = frozenset({"key", "token", "auth"})
_NOT_SECRET_LAST_WORDS = frozenset({"env", "file", "path"})
_CREDENTIAL_VALUE = re.compile(r"^\s*(bearer|basic)\s+\S", re.IGNORECASE)
REDACTED = "<redacted>"


def is_secret_name(name: str) -> bool:
    """Does an option named `name` hold a secret? (`api_key`, `hf_token`, `Authorization`: yes;
    `api_key_env`, `max_tokens`: no.) A false positive only hides a value; see the rule above."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    parts = [w for w in re.split(r"[^a-z0-9]+", words) if w]
    if not parts or parts[-1] in _NOT_SECRET_LAST_WORDS:
        return False
    return parts[-1] in _SECRET_LAST_WORDS or not _SECRET_WORDS.isdisjoint(parts)


def _secret_text(value: str) -> str | None:
    """`value` with its secret part replaced, or None when it holds none."""
    if _CREDENTIAL_VALUE.match(value):
        return REDACTED
    if "://" in value and "@" in value:
        try:
            url = urlsplit(value)
            password = url.password
        except ValueError:
            return None
        if password:
            host = url.netloc.rpartition("@")[2]
            return url._replace(netloc=f"{url.username or ''}:{REDACTED}@{host}").geturl()
    return None


def _redact(value: Any, path: str, found: list[str]) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if item is not None and item != "" and is_secret_name(str(key)):
                found.append(where)
                out[key] = REDACTED
            else:
                out[key] = _redact(item, where, found)
        return out
    if isinstance(value, list | tuple):
        return [_redact(item, f"{path}[{i}]", found) for i, item in enumerate(value)]
    if isinstance(value, str) and (hidden := _secret_text(value)) is not None:
        found.append(path)
        return hidden
    return value


def redact(value: Any) -> Any:
    """A copy of JSON-like `value` with every secret replaced by REDACTED (idempotent)."""
    return _redact(value, "", [])


def find_secrets(value: Any) -> list[str]:
    """Dotted paths of the secrets in `value` (`sampler_options.extra_headers.Authorization`), never values."""
    found: list[str] = []
    _redact(value, "", found)
    return found


def stored_config(config: RunConfig) -> dict[str, Any]:
    """The config as the run store keeps it: plain JSON with every secret redacted."""
    return redact(json.loads(config.model_dump_json()))  # type: ignore[no-any-return]


def parse_problem_selection(spec: str) -> slice | list[str]:
    """'10' -> first 10; '5:20' -> slice; 'HumanEval/0,HumanEval/3' -> ids. Raises ConfigError."""
    spec = spec.strip()
    try:
        if ":" in spec:
            start, _, stop = spec.partition(":")
            return slice(int(start) if start else None, int(stop) if stop else None)
        if spec.isdigit():
            return slice(0, int(spec))
    except ValueError:
        raise ConfigError(f"problems: {spec!r} is not a slice; expected 'START:STOP', 'N' or ids") from None
    ids = [s.strip() for s in spec.split(",") if s.strip()]
    if not ids:
        raise ConfigError("problems: empty selection; expected 'START:STOP', 'N' or comma-separated ids")
    seen: set[str] = set()
    for pid in ids:  # twice would count one problem as two (the summary said 0/2 solved of one problem)
        if pid in seen:
            raise ConfigError(f"problems: {pid!r} is listed twice; expected each problem id once")
        seen.add(pid)
    return ids


CONFIG_FILE = UserFile("config file", "a YAML, TOML or JSON config file", ConfigError)


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a YAML/TOML/JSON config file (YAML unless named .toml/.json) into a dict; a blank file is {}.
    Raises ConfigError naming the file (and line): see `monkeys._userfiles`."""
    path = Path(path)
    data, _ = read_document(path, CONFIG_FILE, default="YAML")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config fields at the top level, got "
                          f"{type_name(data)}")
    return data


_FLAGS = {"n": "-n", "scorers": "--scorer", "until_solved": "--until-solved"}


def label(field: str, key: str | None = None, *, cli: bool = True, source: str = "config") -> str:
    """How a message names a setting: the flag (`--verifier-option timeout_s`, `-n`) when it came from
    the command line, else the file and field (`run.yaml: field 'verifier_options.timeout_s'`)."""
    if cli:
        name = field.removesuffix("s") if field.endswith("_options") else field
        flag = _FLAGS.get(field, f"--{name.replace('_', '-')}")
        return f"{flag} {key}" if key else flag
    return f"{source}: field '{field}.{key}'" if key else f"{source}: field '{field}'"


def expected(field: str) -> str:
    """What a RunConfig field takes, in words (`an integer >= 1 and <= 1000000`)."""
    from monkeys.registry import describe

    info = RunConfig.model_fields[field]
    return describe(info.annotation, info.metadata)


# fields whose validators explain a refusal themselves
_OWN_MESSAGES = frozenset({"budget", "base_url", "ray", "scorers"})


def build_config(values: dict[str, Any], source: str = "config", cli: Collection[str] = ()) -> RunConfig:
    """Validate `values` into a RunConfig; the first error becomes one line naming the field: the flag for
    a field in `cli` (given on the command line), else `source` (the config file) and the field."""
    try:
        return RunConfig.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        top = loc[0] if loc else ""
        field = ".".join(loc) or "(top level)"
        where = label(top, cli=True) if top in cli and len(loc) == 1 else label(field, cli=False, source=source)
        if err["type"] == "extra_forbidden":
            close = did_you_mean(top, RunConfig.model_fields)
            hint = f"did you mean '{close}'? " if close else ""
            raise ConfigError(f"{where}: unknown field; {hint}expected one of: "
                              f"{', '.join(RunConfig.model_fields)}") from None
        given = redact(err.get("input"))
        hidden = isinstance(given, dict) or any(is_secret_name(p) for p in loc) or top.endswith("_options")
        shown = "" if hidden else f", got {given!r}"
        what = expected(top) if top in RunConfig.model_fields and len(loc) == 1 else err["msg"]
        if err["type"] == "value_error" and top in _OWN_MESSAGES:  # a validator's own words say more
            raise ConfigError(f"{where}: {err['msg'].removeprefix('Value error, ')}") from None
        if top in cli:  # a flag cannot be given "null": leave it out
            what = what.removesuffix(", or null")
        raise ConfigError(f"{where}: expected {what}{shown}" if what != err["msg"]
                          else f"{where}: {what}{shown}") from None


def _verifier_of(task: Any, verifier: Any) -> Any:
    """The verifier a run uses: its own, else its task's default (None when the task is unknown)."""
    if verifier:
        return verifier
    from monkeys.registry import get_plugin

    try:
        return getattr(get_plugin("task", str(task)).factory, "default_verifier", None)
    except PluginError:
        return None


def check_plugins(config: RunConfig, source: str = "options", cli: Collection[str] = ()) -> None:
    """Check every plug-in name and option of `config` against what the plug-ins declare, building nothing.

    `cli` names what came from the command line: fields (`model`) and options (`sampler_options.pick`);
    a message names those by their flag, the rest by `source` (the config file) and field. Raises
    `PluginError` for an unknown name, `ConfigError` for a bad option.
    """
    from monkeys.registry import OptionError, check_options, get_plugin

    verifier = _verifier_of(config.task, config.verifier)
    for kind, name in (("task", config.task), ("sampler", config.sampler), ("verifier", verifier),
                       *(("scorer", s) for s in config.scorers)):
        get_plugin(kind, str(name))

    def where(field: str, key: str | None = None) -> str:
        path = f"{field}.{key}" if key else field
        return label(field, key) if path in cli or source == "options" else label(field, key, cli=False,
                                                                                   source=source)

    for field, kind, name in (("task_options", "task", config.task), ("sampler_options", "sampler", config.sampler),
                              ("verifier_options", "verifier", verifier)):
        options = dict(getattr(config, field))
        for top in _TOP_LEVEL_OPTIONS[field]:
            value = getattr(config, top)
            if value is None:
                continue
            if top in options:
                raise ConfigError(f"{where(field, top)}: conflicts with {where(top)}; give the {top} once")
            options[top] = value
        try:
            check_options(kind, str(name), options)
        except OptionError as exc:
            is_top = exc.option in _TOP_LEVEL_OPTIONS[field] and exc.option not in getattr(config, field)
            raise option_error(exc, where(exc.option) if is_top else where(field, exc.option)) from None
    for name in config.scorer_options:
        if name not in config.scorers:
            close = did_you_mean(name, config.scorers)
            hint = f"did you mean '{close}'? " if close else ""
            raise ConfigError(f"{where('scorer_options', name)}: {name!r} is not a scorer of this run; {hint}"
                              f"expected one of: {', '.join(config.scorers) or 'none (add --scorer NAME)'}")
    for name in config.scorers:
        options = config.scorer_options.get(name, {})
        try:
            check_options("scorer", name, options)
        except OptionError as exc:
            raise option_error(exc, where("scorer_options", f"{name}.{exc.option}")) from None


def option_error(exc: OptionError, named: str) -> ConfigError:
    """The one line for a plug-in option `exc` refuses, the option named as the user gave it (`named`:
    `--verifier-option flagged`, `run.yaml: verifier_options.flagged`)."""
    plugin = f"{exc.kind} {exc.plugin!r}"
    if exc.reason == "unknown":
        close = did_you_mean(exc.option, exc.expected.split(", ")) if exc.expected != "none" else None
        hint = f"did you mean '{close}'? " if close else ""
        return ConfigError(f"{named}: not an option of {plugin}; {hint}expected one of: {exc.expected}")
    if exc.reason == "required":
        return ConfigError(f"{named}: required by {plugin}; expected {exc.expected}")
    return ConfigError(f"{named}: expected {exc.expected}, got {exc.shown}")


def check_out(out: Path, cli: bool = True, source: str = "config") -> None:
    """The run directory can be used: an existing directory we may write, or one we may create."""
    where = f"{label('out', cli=cli, source=source)} {out}"
    path = Path(out)
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"{where}: exists and is not a directory; expected a run directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigError(f"{where}: the run directory is not writable; expected a directory this user "
                              "can write (copy the run elsewhere to resume it)")
        return
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{where}: cannot create it: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{where}: cannot create it: {parent} is not writable")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _settings(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(identity, changeable) settings of a stored-form config, flattened (`sampler_options.pick`), with
    RunConfig's and the plug-ins' defaults filled in and secrets left out."""
    from monkeys.registry import get_plugin, plugin_options

    cfg = {name: info.get_default(call_default_factory=True) for name, info in RunConfig.model_fields.items()}
    cfg = _jsonable({**cfg, **redact(config)})
    cfg["verifier"] = _verifier_of(cfg.get("task"), cfg.get("verifier"))
    identity: dict[str, Any] = {}
    changeable: dict[str, Any] = {name: cfg.get(name) for name in RESUMABLE_CHANGES}
    for name in IDENTITY_FIELDS:
        if name not in _OPTION_KIND:
            identity[name] = cfg.get(name)
            continue
        options = cfg.get(name) if isinstance(cfg.get(name), dict) else {}
        speed_only: frozenset[str] = frozenset()
        kind, plugin = _OPTION_KIND[name], cfg.get(_OPTION_KIND[name])
        try:
            get_plugin(kind, str(plugin))
            declared = plugin_options(kind, str(plugin))
            defaults = {k: v for k, v in declared.defaults().items() if k not in _TOP_LEVEL_OPTIONS[name]}
            options, speed_only = {**_jsonable(defaults), **options}, declared.speed_only()
        except PluginError:  # a plug-in no longer installed: compare what was given
            pass
        for key, value in sorted(options.items()):
            if is_secret_name(str(key)):
                continue  # a key never changes what a sample means (and is never stored)
            (changeable if key in speed_only else identity)[f"{name}.{key}"] = value
    return identity, changeable


def _scorer_settings(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{scorer: {option: value}} of a stored-form config: defaults filled in, speed-only options and
    secrets left out (what a scorer's stored scores mean)."""
    from monkeys.registry import get_plugin, plugin_options

    scorers: list[Any] = config["scorers"] if isinstance(config.get("scorers"), list) else []
    given: dict[str, Any] = config["scorer_options"] if isinstance(config.get("scorer_options"), dict) else {}
    out: dict[str, dict[str, Any]] = {}
    for name in scorers:
        options = dict(given.get(name) or {})
        speed_only: frozenset[str] = frozenset()
        try:
            get_plugin("scorer", str(name))
            declared = plugin_options("scorer", str(name))
            options, speed_only = {**_jsonable(declared.defaults()), **options}, declared.speed_only()
        except PluginError:  # a scorer no longer installed: compare what was given
            pass
        out[str(name)] = {k: v for k, v in _jsonable(redact(options)).items()
                          if k not in speed_only and not is_secret_name(str(k))}
    return out


def check_resume(stored: dict[str, Any], new: RunConfig, run_dir: Path,
                 history: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Refuse to resume `run_dir` with a config that changes what stored samples mean; return its history.

    Compares every identity setting (`IDENTITY_FIELDS`; each option of the option dicts unless its
    plug-in declares it speed-only; defaults filled in, so spelling out a default is no change). Both
    sides are redacted and secrets are left out, so a rotated key is no conflict and the message never
    shows one. The stored config itself is never rewritten: the returned history is `history` (the
    store's meta "config_history") plus, when an allowed setting changed (`RESUMABLE_CHANGES`, speed-only
    options), one entry `{"at": ISO time, "changes": {name: {"from": old, "to": new}}}`; with no change
    it is `history` as it was.
    """
    old_identity, old_changeable = _settings(stored)
    new_identity, new_changeable = _settings(stored_config(new))
    for name in [*old_identity, *(k for k in new_identity if k not in old_identity)]:
        old, now = old_identity.get(name), new_identity.get(name)
        if old != now:
            raise ConfigError(f"{run_dir}: this run was made with {name}={old!r}, not {now!r};"
                              f" use another --out directory, or the same {name} to resume")
    old_scorers, new_scorers = _scorer_settings(stored), _scorer_settings(stored_config(new))
    for scorer in [s for s in old_scorers if s in new_scorers]:  # its stored scores must keep their meaning
        old_options, new_options = old_scorers[scorer], new_scorers[scorer]
        for key in [*old_options, *(k for k in new_options if k not in old_options)]:
            old, now = old_options.get(key), new_options.get(key)
            if old != now:
                name = f"scorer_options.{scorer}.{key}"
                raise ConfigError(f"{run_dir}: its {scorer} scores were made with {name}={old!r}, not {now!r};"
                                  f" use another --out directory, or the same {name} to resume")
    history = list(history or [])
    current = dict(old_changeable)
    for entry in history:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for name, change in (changes or {}).items():
            if isinstance(change, dict) and "to" in change:
                current[name] = change["to"]
    changes = {name: {"from": current.get(name), "to": value}
               for name, value in new_changeable.items() if current.get(name) != value}
    if changes:
        history.append({"at": datetime.now(UTC).isoformat(timespec="seconds"), "changes": changes})
    return history
