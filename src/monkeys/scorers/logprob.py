"""Mean token log-probability of a sample under the embedded model: a cheap signal for weighted selection.

Scores with the same cached engine as the `local` sampler (one model load per process); it imports the
private engine module, not the sampler plug-in. The samples of a problem share its prompt, so the prompt
is run once (`TorchEngine.prefill`) and each sample's tokens are scored from a copy of its KV cache,
several samples per forward pass (`score_many`, which the pipeline calls with a problem's samples); the
last few prompts' caches are kept, so `score` one sample at a time reuses them too. `reuse_prompt=False`
runs the prompt again for every sample (the old way, kept for `benchmarks/scoring.py`): the same scores
within float32 rounding (1e-4 asserted by the benchmark and tests), much slower.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from annotated_types import Ge

from monkeys.core import Problem, Sample
from monkeys.engines.gguf_torch import load_engine, resolve_model
from monkeys.registry import SPEED_ONLY, register_scorer

_KEEP_PROMPTS = 4  # prompt caches kept (~46 MB each for a 1,000-token prompt in float32)


@register_scorer("logprob")
class LogprobScorer:
    """Mean log-probability (temperature 1) of a sample's text given its problem's prompt; higher is likelier."""

    def __init__(self, model: str | None = None, threads: Annotated[int, Ge(1), SPEED_ONLY] | None = 1,
                 dtype: Literal["float32", "bfloat16"] = "float32",
                 reuse_prompt: Annotated[bool, SPEED_ONLY] = True,
                 batch_tokens: Annotated[int, Ge(1), SPEED_ONLY] = 512) -> None:
        self._engine = load_engine(resolve_model(model), dtype=dtype, threads=threads)
        self._reuse, self._batch_tokens = reuse_prompt, batch_tokens
        self._prompts: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def _cont(self, sample: Sample) -> list[int]:
        """The text's tokens; an empty text scores the end-of-turn token instead (how likely the model was
        to say nothing), so a score is never undefined."""
        engine = self._engine
        cont = engine.tokenizer.encode(sample.text, add_special_tokens=False) if sample.text else []
        return list(cont) or [engine.eos_id]

    def score(self, problem: Problem, sample: Sample) -> float:
        """The text's tokens are scored after the prompt as the sampler renders it."""
        return self.score_many(problem, [sample])[0]

    def score_many(self, problem: Problem, samples: Sequence[Sample]) -> list[float]:
        """`score` of each sample; the prompt is run once for all of them."""
        engine = self._engine
        prompt_ids = engine.render(problem.prompt.messages, problem.prompt.text)
        conts = [self._cont(s) for s in samples]
        if not self._reuse:
            lps = [engine.logprobs(prompt_ids, c) for c in conts]
        else:
            lps = engine.continuation_logprobs(self._prompt(prompt_ids), conts, batch_tokens=self._batch_tokens)
        return [sum(lp) / len(lp) for lp in lps]

    def _prompt(self, prompt_ids: list[int]) -> Any:
        """The prompt's cache, made once (under the lock: two threads scoring one problem share it)."""
        key = tuple(prompt_ids)
        with self._lock:
            cached = self._prompts.get(key)
            if cached is None:
                cached = self._prompts[key] = self._engine.prefill(prompt_ids)
                while len(self._prompts) > _KEEP_PROMPTS:
                    self._prompts.popitem(last=False)
            self._prompts.move_to_end(key)
            return cached

    def close(self) -> None:
        """Drop the prompt caches; the engine stays cached for the process."""
        self._prompts.clear()
