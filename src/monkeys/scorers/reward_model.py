"""Score samples with a Hugging Face sequence-classification reward model, for best-of-N and weighted vote.

For users with weights on disk or hub access (`--scorer reward-model --scorer-option model=DIR`);
transformers and torch are imported when the scorer is built, from the `monkeys[reward]` extra. Without a
local model directory offline, a clear `PluginError` says what to pass.

The chat is rendered to text by the tokenizer's template and then tokenized (`tokenize=False`): the text
API is the same in transformers 4 and 5, unlike `return_tensors="pt"`, which returns a tensor in 4 and a
`BatchEncoding` in 5. The samples of one problem are scored in batches of `batch_size`, right-padded with
the model's pad token (so positions are those of an unpadded sequence, and the model pools its last
non-pad token exactly as it does for one sequence); a model without a pad token scores one at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from annotated_types import Ge

from monkeys.core import Problem, Sample
from monkeys.errors import PluginError
from monkeys.registry import SPEED_ONLY, register_scorer

EXTRA = "monkeys[reward]"


@register_scorer("reward-model")
class RewardModel:
    """Reward-model logit of (prompt, sample) as a chat; higher is better. Thread-safe (one lock)."""

    def __init__(self, model: str = "Skywork/Skywork-Reward-Llama-3.1-8B-v0.2",
                 device: Annotated[str, SPEED_ONLY] = "cpu", max_tokens: Annotated[int, Ge(1)] = 4096,
                 dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16",
                 batch_size: Annotated[int, Ge(1), SPEED_ONLY] = 8) -> None:
        try:
            import torch
            import transformers
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as exc:
            raise PluginError(f"scorer reward-model needs transformers and torch ({exc.name} is missing): "
                              f"pip install '{EXTRA}'") from None
        # transformers 5 renamed `torch_dtype` to `dtype` (4.56+ take both; older ones only the first).
        major, minor = (int(p) if p.isdigit() else 0 for p in transformers.__version__.split(".")[:2])
        dtype_key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(model)
            self._model = AutoModelForSequenceClassification.from_pretrained(
                model, num_labels=1, **{dtype_key: getattr(torch, dtype)}).to(device).eval()
        except Exception as exc:  # offline, gated, not a reward model: the fix is the user's
            raise PluginError(f"scorer reward-model: cannot load {model!r} ({type(exc).__name__}: "
                              f"{str(exc)[:200]}); pass --scorer-option model=<local directory> with the "
                              "weights") from exc
        self._torch: Any = torch
        self._device, self._max_tokens, self._batch_size = device, max_tokens, batch_size
        pad = getattr(self._model.config, "pad_token_id", None)
        self._pad: int | None = int(pad) if isinstance(pad, int) else None
        self._lock = threading.Lock()

    def _chat(self, problem: Problem, sample: Sample) -> list[dict[str, str]]:
        question = problem.prompt.messages[-1]["content"] if problem.prompt.messages else problem.prompt.text
        return [{"role": "user", "content": question}, {"role": "assistant", "content": sample.text}]

    def _ids(self, problem: Problem, sample: Sample) -> list[int]:
        """Token ids of the final question and this answer (few-shot examples dropped), the last
        `max_tokens` of them."""
        chat = self._chat(problem, sample)
        if getattr(self._tokenizer, "chat_template", None):
            text = self._tokenizer.apply_chat_template(chat, tokenize=False)
            ids = self._tokenizer(text, add_special_tokens=False)["input_ids"]
        else:
            ids = self._tokenizer(chat[0]["content"] + "\n" + chat[1]["content"])["input_ids"]
        return list(ids)[-self._max_tokens:]

    def score(self, problem: Problem, sample: Sample) -> float:
        """The model's scalar output for the final question and this answer."""
        return self.score_many(problem, [sample])[0]

    def score_many(self, problem: Problem, samples: Sequence[Sample]) -> list[float]:
        """`score` of each sample, `batch_size` samples per forward pass (similar lengths together)."""
        torch = self._torch
        rows = [self._ids(problem, s) for s in samples]
        size = self._batch_size if self._pad is not None else 1
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        out = [0.0] * len(rows)
        for start in range(0, len(order), size):
            chunk = order[start:start + size]
            width = max(len(rows[i]) for i in chunk)
            ids = torch.tensor([rows[i] + [self._pad or 0] * (width - len(rows[i])) for i in chunk])
            mask = torch.tensor([[1] * len(rows[i]) + [0] * (width - len(rows[i])) for i in chunk])
            with self._lock, torch.no_grad():
                if self._model is None:
                    raise PluginError("scorer reward-model was closed")
                logits = self._model(input_ids=ids.to(self._device), attention_mask=mask.to(self._device)).logits
            for i, value in zip(chunk, logits[:, 0].float().tolist(), strict=True):
                out[i] = float(value)
        return out

    def close(self) -> None:
        """Drop the model so its memory can be freed."""
        self._model = None
