"""Score samples with a Hugging Face sequence-classification reward model, for best-of-N and weighted vote.

For users with weights on disk or hub access; transformers and torch are imported when the scorer is
built. It does not run here offline without a local model directory (a clear `PluginError` says so).
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from annotated_types import Ge

from monkeys.core import Problem, Sample
from monkeys.errors import PluginError
from monkeys.registry import SPEED_ONLY, register_scorer


@register_scorer("reward-model")
class RewardModel:
    """Reward-model logit of (prompt, sample) as a chat; higher is better. Thread-safe (one lock)."""

    def __init__(self, model: str = "Skywork/Skywork-Reward-Llama-3.1-8B-v0.2",
                 device: Annotated[str, SPEED_ONLY] = "cpu", max_tokens: Annotated[int, Ge(1)] = 4096,
                 dtype: str = "bfloat16") -> None:
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as exc:
            raise PluginError(f"scorer reward-model needs torch and transformers: {exc}") from exc
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(model)
            self._model = AutoModelForSequenceClassification.from_pretrained(
                model, torch_dtype=getattr(torch, dtype), num_labels=1).to(device).eval()
        except Exception as exc:  # offline, gated, not a reward model: the fix is the user's
            raise PluginError(f"scorer reward-model: cannot load {model!r} ({type(exc).__name__}: "
                              f"{str(exc)[:200]}); pass model=<local directory> with the weights") from exc
        self._torch: Any = torch
        self._device, self._max_tokens = device, max_tokens
        self._lock = threading.Lock()

    def _chat(self, problem: Problem, sample: Sample) -> list[dict[str, str]]:
        question = problem.prompt.messages[-1]["content"] if problem.prompt.messages else problem.prompt.text
        return [{"role": "user", "content": question}, {"role": "assistant", "content": sample.text}]

    def score(self, problem: Problem, sample: Sample) -> float:
        """The model's scalar output for the final question and this answer (few-shot examples dropped)."""
        chat = self._chat(problem, sample)
        if getattr(self._tokenizer, "chat_template", None):
            ids = self._tokenizer.apply_chat_template(chat, tokenize=True, return_tensors="pt")
        else:
            ids = self._tokenizer(chat[0]["content"] + "\n" + chat[1]["content"], return_tensors="pt").input_ids
        ids = ids[:, -self._max_tokens:].to(self._device)
        with self._lock, self._torch.no_grad():
            return float(self._model(ids).logits[0, 0].float())

    def close(self) -> None:
        """Drop the model so its memory can be freed."""
        self._model = None
