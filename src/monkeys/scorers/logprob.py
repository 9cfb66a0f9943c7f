"""Mean token log-probability of a sample under the embedded model: a cheap signal for weighted selection.

Scores with the same cached engine as the `local` sampler (one model load per process); it imports the
private engine module, not the sampler plug-in.
"""

from __future__ import annotations

from typing import Annotated, Literal

from annotated_types import Ge

from monkeys.core import Problem, Sample
from monkeys.engines.gguf_torch import load_engine, resolve_model
from monkeys.registry import SPEED_ONLY, register_scorer


@register_scorer("logprob")
class LogprobScorer:
    """Mean log-probability (temperature 1) of a sample's text given its problem's prompt; higher is likelier."""

    def __init__(self, model: str | None = None, threads: Annotated[int, Ge(1), SPEED_ONLY] | None = 1,
                 dtype: Literal["float32", "bfloat16"] = "float32") -> None:
        self._engine = load_engine(resolve_model(model), dtype=dtype, threads=threads)

    def score(self, problem: Problem, sample: Sample) -> float:
        """The text's tokens are scored after the prompt as the sampler renders it. An empty text scores
        the end-of-turn token instead (how likely the model was to say nothing), so it is never undefined."""
        engine = self._engine
        prompt_ids = engine.render(problem.prompt.messages, problem.prompt.text)
        cont = engine.tokenizer.encode(sample.text, add_special_tokens=False) if sample.text else []
        if not cont:
            cont = [engine.eos_id]
        lps = engine.logprobs(prompt_ids, cont)
        return sum(lps) / len(lps)

    def close(self) -> None:
        """The engine stays cached for the process; nothing to free here."""
