"""Reading OpenAI-shaped replies: choices to `Completion`s, per-choice token counts, the server's error
message and how long it asks us to wait. Pure functions over JSON and `httpx.Response`; no I/O."""

from __future__ import annotations

import email.utils
import math
import re
import time
from typing import Any

import httpx

from monkeys.core import Completion, SampleRequest
from monkeys.errors import SamplerError


class Garbled(Exception):
    """A 2xx reply whose body is not JSON (cut short, or not an API answer): worth one more try."""


def completions(data: Any, requests: list[SampleRequest], seed: int, latency: float,
                max_tokens: int) -> list[Completion]:
    """Pair the reply's choices (by their `index`) with `requests`; extra choices are dropped.

    Every choice records the full `usage.prompt_tokens` (OpenAI, vLLM and llama.cpp report the prompt once
    per request, whatever `n`) with `prompt_shared` = the number of choices kept, which the server
    prefilled that prompt once for. A reply of the wrong shape (`choices` not a list of objects, text
    that is not a string) is a `SamplerError` naming what was expected; a missing or garbled `usage`
    counts 0 tokens. Unpaired
    surrogates in the text (which a UTF-8 store cannot hold) become U+FFFD. A choice's `logprobs` (chat:
    `content[j].logprob`; completions: `token_logprobs[j]`) become `Completion.logprobs` when whole and
    finite; anything else there is ignored (the sample is kept without them)."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list):
        raise SamplerError(f"the reply has no 'choices' list: {one_line(str(data))[:200]}")
    for i, c in enumerate(choices):
        if not isinstance(c, dict):
            raise SamplerError(f"choices[{i}] is not an object: {one_line(str(c))[:200]}")
    order = [(c["index"] if _count(c.get("index")) is not None else i, i) for i, c in enumerate(choices)]
    choices = [choices[i] for _, i in sorted(order)][: len(requests)]
    texts = [_choice_text(c, i) for i, c in enumerate(choices)]
    finish = [clean_text(str(c.get("finish_reason") or "unknown")) for c in choices]
    usage = data.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    prompt = _count(usage.get("prompt_tokens")) or 0  # the prompt's length, read once for all the choices
    shared = max(1, min(len(choices), len(requests)))
    completion_parts = _split_completion(_count(usage.get("completion_tokens")) or 0, texts, finish, max_tokens)
    lps = [choice_logprobs(c) for c in choices]
    return [Completion(index=r.index, seed=seed, text=t, prompt_tokens=prompt, completion_tokens=c,
                       finish_reason=f, latency_s=latency, prompt_shared=shared, logprobs=lp)
            for r, t, f, c, lp in zip(requests, texts, finish, completion_parts, lps, strict=False)]


def choice_logprobs(choice: dict[str, Any]) -> tuple[tuple[str, float], ...] | None:
    """(token, log-probability) of each token of a choice, in the chat or the completions format; None
    when the choice has none or they are not whole (a missing or non-finite value)."""
    data = choice.get("logprobs")
    if not isinstance(data, dict):
        return None
    pairs: list[tuple[Any, Any]]
    if isinstance(data.get("content"), list):  # chat: [{"token", "logprob", ...}]
        pairs = [(e.get("token"), e.get("logprob")) if isinstance(e, dict) else (None, None)
                 for e in data["content"]]
    elif isinstance(data.get("token_logprobs"), list):  # completions: parallel lists
        given = data.get("tokens")
        tokens: list[Any] = given if isinstance(given, list) else []
        values = data["token_logprobs"]
        pairs = [(tokens[j] if j < len(tokens) else "", v) for j, v in enumerate(values)]
    else:
        return None
    out = []
    for token, value in pairs:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None
        out.append((clean_text(token) if isinstance(token, str) else "", float(value)))
    return tuple(out)


def _count(value: Any) -> int | None:
    """A token count or index as servers send it (an int, or a float with no fraction); else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and (not value.is_integer() or not 0 <= value < 2**53):
        return None
    return int(value) if 0 <= value < 2**63 else None


def _choice_text(choice: dict[str, Any], i: int) -> str:
    message = choice.get("message")
    text = message.get("content") if isinstance(message, dict) else choice.get("text")
    if text is None:
        return ""
    if isinstance(text, list) and isinstance(message, dict):  # content parts: keep the text ones
        text = "".join(p["text"] for p in text if isinstance(p, dict) and isinstance(p.get("text"), str))
    if not isinstance(text, str):
        field = "message.content" if isinstance(message, dict) else "text"
        raise SamplerError(f"choices[{i}].{field} is not a string: {one_line(repr(text))[:200]}")
    return clean_text(text)


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Text a UTF-8 store can hold: unpaired surrogates (JSON allows "\\ud800") become U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def _split_completion(total: int, texts: list[str], finish: list[str], max_tokens: int) -> list[int]:
    """Per-choice completion tokens from the reported total: `length` stops used exactly max_tokens."""
    capped = [f == "length" for f in finish]
    if len(texts) <= 1 or sum(capped) * max_tokens > total:
        return _split(total, [len(t) + 1.0 for t in texts])
    free = [len(t) + 1.0 for t, c in zip(texts, capped, strict=True) if not c]
    rest = iter(_split(total - sum(capped) * max_tokens, free))
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


def reply_json(url: str, resp: httpx.Response) -> Any:
    """The JSON body of a 2xx reply; `Garbled` when it does not parse (a truncated body, an HTML page)."""
    try:
        return resp.json()
    except (ValueError, UnicodeDecodeError):
        raise Garbled(f"{url} answered {resp.status_code} with a body that is not JSON: "
                      f"{one_line(resp.text)[:200]!r}") from None


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
