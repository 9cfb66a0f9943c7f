"""A whole run as data: `RunConfig`, filled from CLI flags and/or a YAML/TOML/JSON file.

The resolved config is stored in the run; a resumed run must agree with it on every field that changes
what a sample is (`IDENTITY_FIELDS`); `n` may grow (draw more samples), speed knobs may change freely.
Secrets are never stored: `stored_config` redacts them by one rule (`is_secret_name`, `find_secrets`).
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monkeys.errors import ConfigError

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
    base_url: str | None = Field(None, description="server URL for HTTP samplers")
    sampler_options: dict[str, Any] = Field(default_factory=dict, description="extra sampler options")
    verifier: str | None = Field(None, description="registered verifier; default: the task's own")
    verifier_options: dict[str, Any] = Field(default_factory=dict)
    scorers: list[str] = Field(default_factory=list, description="per-sample scorers to run (selection)")
    n: int = Field(16, ge=1, le=1_000_000, description="samples per problem")
    temperature: float = Field(0.6, ge=0.0, le=5.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(128, ge=1, le=1_000_000, description="max new tokens per sample")
    seed: int = Field(0, description="run seed; sample seeds derive from (seed, problem, index)")
    batch_size: int = Field(16, ge=1, le=4096, description="samples drawn per sampler call")
    concurrency: int | None = Field(
        None, ge=1, le=1024, description="sampler calls in flight at once; default: the sampler's own")
    verify_workers: int = Field(2, ge=1, le=256, description="threads verifying samples")
    out: Path = Field(DEFAULT_OUT, description="run directory (holds monkeys.db, plots)")

    @field_validator("problems")
    @classmethod
    def _check_problems(cls, value: str | None) -> str | None:
        if value is not None:
            parse_problem_selection(value)
        return value


# Fields whose change would make stored samples mean something else.
IDENTITY_FIELDS = ("task", "data", "problems", "task_options", "sampler", "model", "base_url",
                   "verifier", "verifier_options", "temperature", "top_p", "max_tokens", "seed",
                   "batch_size")


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
    return ids


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a YAML/TOML/JSON config file into a dict. Raises ConfigError naming the file."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            data = yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}".splitlines()[0]) \
            from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config fields at the top level")
    return data


def build_config(values: dict[str, Any], source: str = "config") -> RunConfig:
    """Validate `values` into a RunConfig; the first error becomes one line naming the field."""
    try:
        return RunConfig.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        given = redact(err.get("input"))
        hidden = isinstance(given, dict) or any(is_secret_name(str(p)) for p in err["loc"]) \
            or str(err["loc"][0]).endswith("_options")
        shown = "" if hidden else f" (got {given!r})"
        raise ConfigError(f"{source}: field '{field}': {err['msg']}{shown}") from None


def check_resume(stored: dict[str, Any], new: RunConfig, run_dir: Path) -> None:
    """Refuse to resume `run_dir` with a config that changes what stored samples mean.

    Both sides are compared redacted, so a secret (stored redacted, given in clear) is no conflict, a
    changed key is not one either, and the message never shows a secret.
    """
    stored, current = redact(stored), stored_config(new)
    for name in IDENTITY_FIELDS:
        if stored.get(name) != current.get(name):
            raise ConfigError(
                f"{run_dir}: this run was made with {name}={stored.get(name)!r}, not {current.get(name)!r};"
                f" use another --out directory, or the same {name} to resume")
