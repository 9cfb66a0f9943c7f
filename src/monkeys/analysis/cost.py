"""Inference cost of a run: FLOPs from the model's shape and stored token counts, dollars from a pricing file.

FLOPs per token follow the paper (after Kaplan et al. 2020): 2·(parameters + 2·layers·hidden·context), with
context the tokens before it, so one sequence of p prompt and c completion tokens costs
2·N·(p+c) + 2·layers·hidden·(p+c)(p+c-1).

The prompt is counted once per request: a sampler records the full prompt length p on every sample and
`prompt_shared` = s, the number of samples of one request (a batch of the local engine, a server call
with `n`) that the prompt was processed once for. Each sample then carries p/s of the prompt, and the
attention over the prompt, p(p-1), is paid once per request, so per sample

    FLOPs = 2·N·(p/s + c) + 2·L·h·[(p+c)(p+c-1) − p(p-1)·(1 − 1/s)]

(s = 1: the plain per-sequence formula). Summed over the s samples of a request this is exactly one
prefill plus s decodes. Dollars bill p/s prompt tokens per sample too (APIs bill a prompt once per
request). No discount for prefix caches across requests. Mixture-of-experts models count active
parameters. Pricing files are JSON, YAML or TOML.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from monkeys._userfiles import UserFile, did_you_mean, read_document, type_name
from monkeys.errors import DataError


@dataclass(frozen=True)
class ModelSpec:
    """What FLOPs need: (active) parameters, transformer layers, hidden size."""

    parameters: float
    layers: int
    hidden: int


# Parameters, layers and hidden size from each model's published config.json.
MODELS: dict[str, ModelSpec] = {
    "smollm2-135m": ModelSpec(134.5e6, 30, 576),
    "smollm2-360m": ModelSpec(361.8e6, 32, 960),
    "smollm2-1.7b": ModelSpec(1.71e9, 24, 2048),
    "qwen2.5-0.5b": ModelSpec(494e6, 24, 896),
    "qwen2.5-1.5b": ModelSpec(1.54e9, 28, 1536),
    "qwen2.5-7b": ModelSpec(7.62e9, 28, 3584),
    "gemma-2b": ModelSpec(2.51e9, 18, 2048),
    "gemma-7b": ModelSpec(8.54e9, 28, 3072),
    "llama-3-8b": ModelSpec(8.03e9, 32, 4096),
    "llama-3-70b": ModelSpec(70.6e9, 80, 8192),
    "llama-3.1-8b": ModelSpec(8.03e9, 32, 4096),
    "llama-3.1-70b": ModelSpec(70.6e9, 80, 8192),
    "llama-3.1-405b": ModelSpec(405.9e9, 126, 16384),
    "pythia-70m": ModelSpec(70.4e6, 6, 512),
    "pythia-1.4b": ModelSpec(1.41e9, 24, 2048),
    "pythia-12b": ModelSpec(11.8e9, 36, 5120),
    "deepseek-coder-v2-lite": ModelSpec(2.4e9, 27, 2048),  # MoE: 2.4B of 15.7B parameters active
    "deepseek-coder-v2": ModelSpec(21e9, 60, 5120),  # MoE: 21B of 236B active
}


def _key(name: str) -> str:
    """'HuggingFaceTB/SmolLM2-135M-Instruct-GGUF' -> 'smollm2-135m-instruct-gguf' for prefix matching."""
    return name.rsplit("/", 1)[-1].lower().replace("_", "-").replace("meta-", "")


def find_model(name: str, overrides: Mapping[str, ModelSpec] | None = None) -> ModelSpec | None:
    """Spec of `name`: an override first, then the longest table entry the name starts with, else None."""
    for table in (overrides or {}, MODELS):
        keyed = {_key(k): v for k, v in table.items()}
        hits = [k for k in keyed if _key(name).startswith(k)]
        if hits:
            return keyed[max(hits, key=len)]
    return None


def spec_from_hf_config(path: Path) -> ModelSpec:
    """Estimate a spec from a Hugging Face config.json (dense decoder; parameters from the layer shapes)."""
    path = Path(path)
    cfg = read_document(path, HF_CONFIG, default="JSON")[0]
    try:
        d, layers, vocab = int(cfg["hidden_size"]), int(cfg["num_hidden_layers"]), int(cfg["vocab_size"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: expected a Hugging Face config.json with hidden_size, num_hidden_layers,"
                        f" vocab_size ({exc})") from exc
    ff = int(cfg.get("intermediate_size", 4 * d))
    heads = int(cfg.get("num_attention_heads", 1))
    kv = int(cfg.get("num_key_value_heads", heads))
    attn = d * d * 2 + 2 * d * (d // heads) * kv  # q, o + k, v (grouped-query)
    mlp = 3 * d * ff if "gate" in json.dumps(cfg).lower() or cfg.get("hidden_act") == "silu" else 2 * d * ff
    embed = vocab * d * (1 if cfg.get("tie_word_embeddings", False) else 2)
    return ModelSpec(float(layers * (attn + mlp) + embed), layers, d)


def _per_sample(prompt_tokens: np.ndarray, completion_tokens: np.ndarray,
                shared: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(prompt tokens charged, completion tokens, attention term) of each sample; see the module docstring."""
    p = np.asarray(prompt_tokens, dtype=float)
    c = np.asarray(completion_tokens, dtype=float)
    s = np.ones_like(p) if shared is None else np.maximum(np.asarray(shared, dtype=float), 1.0)
    t = p + c
    quad = t * np.maximum(t - 1, 0) - p * np.maximum(p - 1, 0) * (1 - 1 / s)
    return p / s, c, quad


def sample_flops(spec: ModelSpec, prompt_tokens: np.ndarray, completion_tokens: np.ndarray,
                 shared: np.ndarray | None = None) -> np.ndarray:
    """FLOPs of each sample (arrays of token counts; `shared`: each sample's `prompt_shared`, default 1)."""
    prompt, completion, quad = _per_sample(prompt_tokens, completion_tokens, shared)
    return 2 * spec.parameters * (prompt + completion) + 2 * spec.layers * spec.hidden * quad


@dataclass(frozen=True)
class Price:
    """US dollars per million prompt and completion tokens."""

    prompt_usd_per_mtok: float
    completion_usd_per_mtok: float


def load_pricing(path: Path) -> dict[str, Price]:
    """Prices from a pricing file (see `load_cost_file`)."""
    return load_cost_file(path)[0]


_PRICE_FIELDS = ("prompt_usd_per_mtok", "completion_usd_per_mtok")
_SHAPE_FIELDS = ("parameters", "layers", "hidden")


PRICING_FILE = UserFile("pricing file", "a pricing file (JSON, YAML or TOML)", DataError)
HF_CONFIG = UserFile("Hugging Face config", "a Hugging Face config.json", DataError)


def _number(path: Path, model: str, field: str, value: Any, *, integer: bool, positive: bool) -> float:
    """A finite, non-negative (with `positive`: > 0) number; with `integer` a whole int. YAML 1.1 reads
    `8e9` as text, so a decimal number in a string is read for a non-integer field. Raises `DataError`."""
    import math

    kind = "a positive integer" if integer else ("a positive number" if positive else "a number >= 0")
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    bad = DataError(f"{path}: model {model!r}: field {field!r}: expected {kind}, got {shown}")
    if isinstance(value, bool):
        raise bad
    if integer:
        if not isinstance(value, int) or value <= 0:
            raise bad
        return value
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise bad from None
    if not isinstance(value, int | float) or not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise bad
    return float(value)


def load_cost_file(path: Path) -> tuple[dict[str, Price], dict[str, ModelSpec]]:
    """Read `{model: {...}}` from JSON, YAML (.yaml/.yml) or TOML (.toml): `prompt_usd_per_mtok` +
    `completion_usd_per_mtok` give a price (finite numbers >= 0); `parameters` (> 0) + `layers` + `hidden`
    (positive integers) give (or override) the model's shape for FLOPs.

    Raises `DataError` naming the file, model and field on an entry with neither, a missing half of a pair,
    an unknown field, or a value that is not such a number (a boolean, NaN, infinity, a negative price).
    """
    path = Path(path)
    data, kind = read_document(path, PRICING_FILE, default="JSON")
    if data is None:
        raise DataError(f"{path}: empty; expected a {kind} mapping of model name to prices")
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a mapping of model name to prices, got {type_name(data)}")
    prices, specs = {}, {}
    known = (*_PRICE_FIELDS, *_SHAPE_FIELDS)
    for model, entry in data.items():
        unknown = [str(k) for k in entry if k not in known] if isinstance(entry, dict) else []
        if unknown:  # before "no field at all": an entry of typos names the first one
            close = did_you_mean(unknown[0], known)
            hint = f"did you mean '{close}'? " if close else ""
            raise DataError(f"{path}: model {model!r}: unknown field {unknown[0]!r}; {hint}expected "
                            + ", ".join(known))
        if not isinstance(entry, dict) or not entry:
            raise DataError(f"{path}: model {model!r}: expected a mapping with prompt_usd_per_mtok and"
                            " completion_usd_per_mtok, and/or parameters, layers, hidden")
        for group in (_PRICE_FIELDS, _SHAPE_FIELDS):
            if set(group) & set(entry):
                missing = [f for f in group if f not in entry]
                if missing:
                    raise DataError(f"{path}: model {model!r}: missing field {missing[0]!r} (a"
                                    f" {'price' if group is _PRICE_FIELDS else 'shape'} needs {', '.join(group)})")
        if "prompt_usd_per_mtok" in entry:
            prices[str(model)] = Price(*(_number(path, str(model), f, entry[f], integer=False, positive=False)
                                         for f in _PRICE_FIELDS))
        if "parameters" in entry:
            specs[str(model)] = ModelSpec(
                _number(path, str(model), "parameters", entry["parameters"], integer=False, positive=True),
                int(_number(path, str(model), "layers", entry["layers"], integer=True, positive=True)),
                int(_number(path, str(model), "hidden", entry["hidden"], integer=True, positive=True)))
    return prices, specs


def find_price(name: str, prices: Mapping[str, Price]) -> Price | None:
    """The price of model `name`: its exact name, else the one key that names the same model up to case,
    `_`/`-` and an `org/` path (`_key`). Never a prefix: `gpt-4o`'s price is not `gpt-4o-mini`'s."""
    if name in prices:
        return prices[name]
    hits = [k for k in prices if _key(k) == _key(name)]
    return prices[hits[0]] if len(hits) == 1 else None


@dataclass(frozen=True)
class RunCost:
    """Cost of one sample per problem, summed over problems: k samples each cost k times this."""

    flops_per_round: float | None  # None when the model's shape is unknown
    usd_per_round: float | None  # None without a price for the model
    n_rounds: float  # mean samples per problem actually drawn

    @property
    def total_flops(self) -> float | None:
        return None if self.flops_per_round is None else self.flops_per_round * self.n_rounds

    @property
    def total_usd(self) -> float | None:
        return None if self.usd_per_round is None else self.usd_per_round * self.n_rounds


@dataclass(frozen=True)
class TokenStats:
    """Per-sample means a run's cost needs, with p, c, s a sample's prompt, completion, prompt_shared.

    The store's report computes the same means in SQL (`report.data`): keep the two in step.
    """

    samples: int
    prompt: float  # mean of p/s: the prompt tokens each sample is charged
    completion: float  # mean of c
    t_quadratic: float  # mean of (p+c)(p+c-1) − p(p-1)(1 − 1/s), the attention term

    @classmethod
    def from_arrays(cls, prompt_tokens: np.ndarray, completion_tokens: np.ndarray,
                    shared: np.ndarray | None = None) -> TokenStats:
        if len(np.asarray(prompt_tokens)) == 0:
            return cls(0, 0.0, 0.0, 0.0)
        prompt, completion, quad = _per_sample(prompt_tokens, completion_tokens, shared)
        return cls(len(prompt), float(prompt.mean()), float(completion.mean()), float(quad.mean()))


def run_cost(model: str, tokens: TokenStats, n_problems: int, *, spec: ModelSpec | None = None,
             price: Price | None = None) -> RunCost:
    """Mean cost per sample (same formula as `sample_flops`: `tokens.prompt` is already p/s, so a prompt is
    counted and billed once per request), scaled to one sample for each problem."""
    if tokens.samples == 0 or n_problems == 0:
        return RunCost(None, None, 0.0)
    spec = spec or find_model(model)
    t = tokens.prompt + tokens.completion
    flops = None
    if spec is not None and t > 0:
        flops = (2 * spec.parameters * t + 2 * spec.layers * spec.hidden * tokens.t_quadratic) * n_problems
    usd = None
    if price is not None:
        usd = (tokens.prompt * price.prompt_usd_per_mtok
               + tokens.completion * price.completion_usd_per_mtok) / 1e6 * n_problems
    return RunCost(flops, usd, tokens.samples / n_problems)


def cheapest(options: list[tuple[str, np.ndarray, np.ndarray, float]], target: float) -> tuple[str, int, float] | None:
    """Cost-optimal (run, k) reaching coverage `target`: options are (name, ks, coverage, cost per round)."""
    best: tuple[str, int, float] | None = None
    for name, ks, cov, per_round in options:
        reach = np.flatnonzero(np.asarray(cov) >= target)
        if len(reach):
            k = int(np.asarray(ks)[reach[0]])
            if best is None or k * per_round < best[2]:
                best = (name, k, k * per_round)
    return best
