"""A deterministic sampler for tests and demos: answers come from a script, picked by the sample seed.

It needs no model, so the whole pipeline (store, resume, verifiers, report) can be exercised quickly.
Text depends only on (seed, responses), like a real seeded sampler, so resume reproduces runs exactly.
With `pick="index"` it depends on (sample index, responses) instead: a run with `-n len(responses)` over
one problem draws every scripted response exactly once, in order (used to feed a fixed set of programs,
e.g. the forgery suite, through `monkeys run`).
Token counts are words; one `sample()` call stands for one batched request, like the local sampler's, so
its completions share the prompt (`prompt_shared` = the number of requests in the call).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated, Literal

from annotated_types import Ge

from monkeys.core import Completion, Prompt, SampleRequest
from monkeys.errors import ConfigError
from monkeys.registry import SPEED_ONLY, register_sampler


@register_sampler("scripted")
class ScriptedSampler:
    """Replies with `responses[seed % len(responses)]`; optional per-call delay; no model needed.

    `pick` chooses the response: "seed" (default) `responses[seed % len(responses)]`; "index"
    `responses[index % len(responses)]`, where index is the sample's index within its problem, so
    `-n len(responses)` samples each response once, in order.
    """

    redraw_whole_batch = False

    def __init__(self, responses: Sequence[str] = ("42",), delay_s: Annotated[float, Ge(0), SPEED_ONLY] = 0.0,
                 model: str | None = None, pick: Literal["seed", "index"] = "seed") -> None:
        if pick not in ("seed", "index"):
            raise ConfigError(f"sampler_options.pick: {pick!r}; expected 'seed' or 'index'")
        self.responses = list(responses) or [""]
        self.pick = pick
        self.delay_s = delay_s
        self.model_name = model or "scripted"

    def sample(self, prompt: Prompt, requests: Sequence[SampleRequest], *, temperature: float, top_p: float,
               max_tokens: int) -> list[Completion]:
        start = time.perf_counter()
        if self.delay_s:
            time.sleep(self.delay_s)
        prompt_tokens = len((prompt.text or "".join(m["content"] for m in prompt.messages)).split())
        out = []
        for r in requests:
            choice = r.index if self.pick == "index" else r.seed
            words = self.responses[choice % len(self.responses)].split(" ")
            text = " ".join(words[:max_tokens])
            out.append(Completion(r.index, r.seed, text, prompt_tokens, len(words[:max_tokens]),
                                  "length" if len(words) > max_tokens else "stop",
                                  time.perf_counter() - start, prompt_shared=len(requests)))
        return out

    def close(self) -> None:
        pass
