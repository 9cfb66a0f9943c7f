"""The tokenizer and chat template of a GGUF file, built with `tokenizers` and jinja2 (no transformers).

transformers cost ~8.5 s of start-up and a 150 MB dependency only to turn the GGUF's `tokenizer.ggml.*` fields
into a `tokenizers.Tokenizer`; this does the same conversion directly for byte-level BPE vocabularies
(`tokenizer.ggml.model == "gpt2"`: GPT-2, SmolLM, Llama 3, Qwen 2). The result is the same as
transformers' GGUF tokenizer: tests/engines/test_tokenizer.py compares ids, decoded text and rendered chat
templates on texts and conversations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from monkeys.errors import SamplerError

_CONTROL, _USER_DEFINED = 3, 4  # llama.cpp's token types

# Pre-tokenizer splits of the `tokenizer.ggml.pre` values whose merges were learned on another split than
# GPT-2's; transformers' GGUF loader uses these same expressions (a name not listed keeps GPT-2's).
_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_SPLITS = {name: _LLAMA3_SPLIT for name in ("llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe")}
_SPLITS |= {name: _QWEN2_SPLIT for name in ("qwen2", "deepseek-r1-qwen")}


@lru_cache(maxsize=1)
def _byte_alphabet() -> dict[int, str]:
    """GPT-2's printable spelling of each byte (the `bytes_to_unicode` table every byte-level BPE uses)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = iter(range(256, 512))
    return {b: chr(b if b in printable else next(extra)) for b in range(256)}


class GGUFTokenizer:
    """The subset of a Hugging Face tokenizer the engine and the logprob scorer use: `encode`, `decode`,
    `get_vocab`, `apply_chat_template`, and the special tokens by name."""

    def __init__(self, tokens: Sequence[str], token_types: Sequence[int], merges: Sequence[str], *,
                 pre: str | None = None, chat_template: str | None = None,
                 special_ids: Mapping[str, int | None] | None = None) -> None:
        from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

        spelled = set(_byte_alphabet().values())
        vocab: dict[str, int] = {}
        for i, tok in enumerate(tokens):
            # A token outside the byte alphabet is stored as raw text: spell its UTF-8 bytes (as transformers does).
            vocab[tok if set(tok) <= spelled else "".join(_byte_alphabet()[b] for b in tok.encode())] = i
        pairs: list[tuple[str, str]] = [(a, b) for a, _, b in (m.partition(" ") for m in merges)]
        tk = Tokenizer(models.BPE(vocab=vocab, merges=pairs, fuse_unk=False, byte_fallback=False))
        split = _SPLITS.get(pre or "")
        if split is None:
            tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        else:
            tk.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Split(Regex(split), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        tk.decoder = decoders.ByteLevel()
        # Control tokens (<|im_end|>, ...) stay whole in text and are special; user-defined ones stay whole too.
        # A control token outside the byte alphabet is a llama.cpp mislabel, skipped like transformers does.
        tk.add_special_tokens([AddedToken(t, normalized=False, special=True)
                               for t, ty in zip(tokens, token_types, strict=False)
                               if ty == _CONTROL and set(t) <= spelled])
        tk.add_tokens([AddedToken(t, normalized=False, special=False)
                       for t, ty in zip(tokens, token_types, strict=False) if ty == _USER_DEFINED and t in vocab])
        self.backend = tk
        self.chat_template = chat_template
        self.special_tokens: dict[str, str] = {
            name: tokens[i] for name, i in (special_ids or {}).items() if i is not None and 0 <= i < len(tokens)}

    @classmethod
    def from_gguf(cls, reader: Any, path: str = "") -> GGUFTokenizer:
        """Build from an open `gguf.GGUFReader`; a file without a byte-level BPE vocabulary is a `SamplerError`."""
        def field(name: str) -> Any:
            f = reader.fields.get(name)
            return None if f is None else f.contents()

        model = field("tokenizer.ggml.model")
        if model != "gpt2":
            raise SamplerError(f"{path}: tokenizer {model!r} is not supported; expected a byte-level BPE "
                               "vocabulary (tokenizer.ggml.model 'gpt2')")
        tokens, merges = field("tokenizer.ggml.tokens"), field("tokenizer.ggml.merges")
        if not tokens or merges is None:
            raise SamplerError(f"{path}: the GGUF has no tokenizer.ggml.tokens or tokenizer.ggml.merges")
        names = {"bos_token": "bos_token_id", "eos_token": "eos_token_id", "unk_token": "unknown_token_id",
                 "pad_token": "padding_token_id"}
        special = {name: field(f"tokenizer.ggml.{key}") for name, key in names.items()}
        return cls(tokens, field("tokenizer.ggml.token_type") or [], merges, pre=field("tokenizer.ggml.pre"),
                   chat_template=field("tokenizer.chat_template"),
                   special_ids={k: None if v is None else int(v) for k, v in special.items()})

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        """Token ids of `text`; special tokens written in it (`<|im_start|>`) are single ids. No BOS is added:
        the GGUF's files this engine reads say add_bos_token False, and the chat template writes its own."""
        return list(self.backend.encode(text, add_special_tokens=add_special_tokens).ids)

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        return str(self.backend.decode(list(ids), skip_special_tokens=skip_special_tokens))

    def get_vocab(self) -> dict[str, int]:
        return dict(self.backend.get_vocab(with_added_tokens=True))

    def token_id(self, token: str) -> int | None:
        return self.backend.token_to_id(token)

    def apply_chat_template(self, messages: Sequence[Mapping[str, Any]], *, tokenize: bool = False,
                            add_generation_prompt: bool = True) -> Any:
        """The GGUF's `tokenizer.chat_template` rendered as transformers renders it (sandboxed jinja2,
        trim_blocks, lstrip_blocks, `raise_exception`, the special tokens as variables); ids if `tokenize`."""
        if not self.chat_template:
            raise SamplerError("the model file has no chat template (tokenizer.chat_template); "
                               "give the prompt as text")
        text = _compiled(self.chat_template).render(messages=[dict(m) for m in messages], tools=None,
                                                    documents=None, add_generation_prompt=add_generation_prompt,
                                                    **self.special_tokens)
        return self.encode(text) if tokenize else text


class _TemplateError(SamplerError):
    """A chat template called `raise_exception` (e.g. roles that do not alternate)."""


def _raise_exception(message: str) -> None:
    raise _TemplateError(f"chat template: {message}")


@lru_cache(maxsize=8)
def _compiled(source: str) -> Any:
    """A template compiled once per process, in the sandbox HF uses: a template is code from the model file."""
    import json
    from datetime import datetime

    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = lambda x, indent=None, ensure_ascii=False, separators=None, sort_keys=False: (
        json.dumps(x, indent=indent, ensure_ascii=ensure_ascii, separators=separators, sort_keys=sort_keys))
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(source)
