"""Reading OpenAI-shaped replies: choices to `Completion`s, per-choice token counts, the server's error
message and how long it asks us to wait. Pure functions over JSON and `httpx.Response`; no I/O."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx

from monkeys.core import Completion, SampleRequest
from monkeys.errors import SamplerError


def completions(data: dict[str, Any], requests: list[SampleRequest], seed: int, latency: float,
                 max_tokens: int) -> list[Completion]:
    """Pair the reply's choices (by their `index`) with `requests`; extra choices are dropped."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list):
        raise SamplerError(f"server reply has no 'choices' list: {str(data)[:200]}")
    choices = sorted(choices, key=lambda c: c.get("index", 0))[: len(requests)]
    texts = [_choice_text(c) for c in choices]
    finish = [str(c.get("finish_reason") or "unknown") for c in choices]
    usage = data.get("usage") or {}
    prompt_parts = _split(int(usage.get("prompt_tokens") or 0), [1.0] * len(choices))
    completion_parts = _split_completion(int(usage.get("completion_tokens") or 0), texts, finish, max_tokens)
    return [Completion(index=r.index, seed=seed, text=t, prompt_tokens=p, completion_tokens=c,
                       finish_reason=f, latency_s=latency)
            for r, t, f, p, c in zip(requests, texts, finish, prompt_parts, completion_parts)]


def _choice_text(choice: dict[str, Any]) -> str:
    message = choice.get("message")
    if isinstance(message, dict):
        return str(message.get("content") or "")
    return str(choice.get("text") or "")


def _split_completion(total: int, texts: list[str], finish: list[str], max_tokens: int) -> list[int]:
    """Per-choice completion tokens from the reported total: `length` stops used exactly max_tokens."""
    capped = [f == "length" for f in finish]
    if len(texts) <= 1 or sum(capped) * max_tokens > total:
        return _split(total, [len(t) + 1.0 for t in texts])
    rest = iter(_split(total - sum(capped) * max_tokens, [len(t) + 1.0 for t, c in zip(texts, capped) if not c]))
    return [max_tokens if c else next(rest) for c in capped]


def _split(total: int, weights: list[float]) -> list[int]:
    """Largest-remainder split of `total` in proportion to `weights`: integer parts that sum to `total`."""
    if not weights:
        return []
    scale = total / sum(weights)
    raw = [w * scale for w in weights]
    parts = [int(x) for x in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: parts[i] - raw[i])
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


def reply_json(url: str, resp: httpx.Response) -> dict[str, Any]:
    try:
        return resp.json()
    except ValueError:
        raise SamplerError(f"{url} answered {resp.status_code} with a body that is not JSON: "
                           f"{one_line(resp.text)[:200]}") from None


def server_message(resp: httpx.Response) -> str:
    """The server's own words: OpenAI's {"error": {"message"}}, FastAPI's {"detail"}, or the raw body."""
    try:
        data = resp.json()
    except ValueError:
        return one_line(resp.text)[:300] or resp.reason_phrase
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return one_line(str(error["message"]))[:300]
        for key in ("error", "message", "detail"):
            if data.get(key):
                return one_line(str(data[key]))[:300]
    return one_line(str(data))[:300]


def retry_after(resp: httpx.Response) -> float | None:
    """Seconds the server asked us to wait: retry-after-ms (OpenAI), Retry-After seconds or HTTP date."""
    try:
        if "retry-after-ms" in resp.headers:
            return max(0.0, float(resp.headers["retry-after-ms"]) / 1000)
        value = resp.headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (ValueError, TypeError, OverflowError):
        return None


def describe(exc: BaseException) -> str:
    return one_line(str(exc)) or type(exc).__name__


def one_line(text: str) -> str:
    return " ".join(text.split())
