"""The embedded model's tokenizer, built from the GGUF with `tokenizers` + jinja2, equals transformers' GGUF
tokenizer (the one the engine used before; transformers is a test-only dependency): same ids, same decoded
text, same rendered chat template, on texts chosen for the tokenizer's edge cases."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from typing import Any

import pytest

from monkeys.engines._tokenizer import GGUFTokenizer
from monkeys.engines.gguf_torch import embedded_model_path
from monkeys.errors import SamplerError

TEXTS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "",
    " ",
    "a",
    "   leading and trailing spaces   ",
    "tabs\tand\t\ttabs, runs of     spaces, and\n\n\nnewlines\r\nwith CRLF\r\n",
    "def add(a: int, b: int) -> int:\n    \"\"\"Add.\"\"\"\n    return a + b  # sum\n\n\nprint(add(1, 2))\n",
    "for (int i = 0; i < n; ++i) { x[i] <<= 2; }  // C\n",
    "12345 + 678 = 13023; 3.14159e-10, 1,000,000 and 0x1F",
    "I'm sure they'll say we'd've won; DON'T SHOUT, it's 'quoted'",
    "héllo wörld, naïve café, Straße, ñandú",
    "日本語のテキスト、中文文本，한국어 텍스트",
    "Ελληνικά и русский текст; العربية; עברית",
    "emoji 🙂🚀👩‍👩‍👧 and flags 🇫🇷 and ZWJ",
    "math: ∀x∈ℝ, x² ≥ 0 ⇒ √(x²) = |x|; \\boxed{\\frac{1}{2}}",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "text<|endoftext|>more text<|im_end|>",
    "<|im_start|><|im_start|>  <|im_end|>",
    "almost special: <|im_start and im_end|> <repo_name>x<filename>y",
    "\x00\x01 control \x7f and \u200b zero-width",
    "a" * 300 + " " + "ab" * 100,
    "\n" * 7 + " \n \n  \n",
]

CHATS: list[list[dict[str, str]]] = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hi."}],
    [{"role": "user", "content": "Write a Python function that reverses a string."},
     {"role": "assistant", "content": "def rev(s):\n    return s[::-1]"},
     {"role": "user", "content": "Now in C, with   spaces\tand\ttabs."}],
    [{"role": "user", "content": "Résous: 2x + 3 = 7 🙂 (日本語)"}],
    [{"role": "user", "content": ""}],
    [{"role": "user", "content": "{{ not a template }} {% raw %} <|im_end|>"}],
]


@pytest.fixture(scope="module")
def path() -> str:
    return embedded_model_path()


@pytest.fixture(scope="module")
def ours(path: str) -> GGUFTokenizer:
    from gguf import GGUFReader

    return GGUFTokenizer.from_gguf(GGUFReader(path), path)


@pytest.fixture(scope="module")
def reference(path: str) -> Any:
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path),
                                                      local_files_only=True)


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_ids_and_decode_equal_transformers(ours: GGUFTokenizer, reference: Any, text: str) -> None:
    ids = ours.encode(text, add_special_tokens=False)
    assert ids == reference.encode(text, add_special_tokens=False)
    assert ours.decode(ids) == reference.decode(ids, skip_special_tokens=False) == text  # round trip


def test_special_tokens_are_single_ids(ours: GGUFTokenizer) -> None:
    vocab = ours.get_vocab()
    assert ours.encode("<|im_start|>user<|im_end|>") == [vocab["<|im_start|>"], vocab["user"], vocab["<|im_end|>"]]
    assert ours.decode([vocab["<|im_end|>"]], skip_special_tokens=True) == ""


def test_decode_of_arbitrary_ids_equals_transformers(ours: GGUFTokenizer, reference: Any) -> None:
    """What the sampler decodes is any id sequence, including ones cutting a character's bytes apart."""
    rng = random.Random(0)
    n = len(ours.get_vocab())
    for _ in range(200):
        ids = [rng.randrange(n) for _ in range(rng.randrange(1, 12))]
        assert ours.decode(ids) == reference.decode(ids, skip_special_tokens=False), ids
    emoji = ours.encode("🚀")
    assert len(emoji) > 1  # a split character decodes the same way in both (replacement characters)
    assert ours.decode(emoji[:1]) == reference.decode(emoji[:1], skip_special_tokens=False)


def test_vocab_and_special_tokens_equal_transformers(ours: GGUFTokenizer, reference: Any) -> None:
    assert ours.get_vocab() == reference.get_vocab()
    for name in ("bos_token", "eos_token", "unk_token", "pad_token"):
        assert ours.special_tokens[name] == getattr(reference, name), name


@pytest.mark.parametrize("messages", CHATS, ids=range(len(CHATS)))
def test_chat_template_equals_transformers(ours: GGUFTokenizer, reference: Any,
                                           messages: list[dict[str, str]]) -> None:
    text = ours.apply_chat_template(messages, add_generation_prompt=True)
    assert text == reference.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n")
    assert ours.encode(text) == reference.encode(text, add_special_tokens=False)
    assert ours.apply_chat_template(messages, tokenize=True) == ours.encode(text)


def test_chat_template_is_sandboxed(ours: GGUFTokenizer) -> None:
    """The template is code from a model file: it cannot reach Python internals."""
    from jinja2.exceptions import SecurityError

    evil = GGUFTokenizer(["a"], [1], [], chat_template="{{ messages.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(SecurityError):
        evil.apply_chat_template([{"role": "user", "content": "x"}])
    strict = GGUFTokenizer(["a"], [1], [], chat_template="{{ raise_exception('roles must alternate') }}")
    with pytest.raises(SamplerError, match="chat template: roles must alternate"):
        strict.apply_chat_template([{"role": "user", "content": "x"}])


def test_a_non_bpe_vocabulary_is_a_one_line_error(tmp_path: Any) -> None:
    gguf = pytest.importorskip("gguf")
    path = str(tmp_path / "spm.gguf")
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_tokenizer_model("llama")
    writer.add_token_list(["<s>", "a"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(SamplerError, match=r"tokenizer 'llama' is not supported; expected a byte-level BPE"):
        GGUFTokenizer.from_gguf(gguf.GGUFReader(path), path)


def test_the_engine_builds_its_tokenizer_without_transformers(path: str) -> None:
    code = (
        "import sys\n"
        "from gguf import GGUFReader\n"
        "import monkeys.cli, monkeys.samplers.local\n"
        "from monkeys.engines.gguf_torch import _load_tokenizer\n"
        f"tok = _load_tokenizer(GGUFReader({path!r}), {path!r})\n"
        "assert tok.decode(tok.encode('hi there')) == 'hi there'\n"
        "print(sorted(m for m in ('transformers', 'torch') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
