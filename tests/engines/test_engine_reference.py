"""The hand-written Llama forward pass (engines/gguf_torch.py) against a reference implementation:
transformers' own Llama model loaded from the same GGUF (`from_pretrained(..., gguf_file=...)`, a test-only
dependency). Both dequantize the same Q4_1 weights, so the logits must agree to float32 rounding.

Tolerance: at every position of every prompt, max |log_softmax(ours) - log_softmax(reference)| <= 1e-3
(float32), and the same argmax token. Measured on this CPU: 0.0 (bit-identical) on all four prompts.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from monkeys.engines.gguf_torch import TorchEngine, embedded_model_path, load_engine

pytestmark = pytest.mark.slow  # loading the reference model takes ~30-40 s here

TOLERANCE = 1e-3
PROMPTS: list[tuple[tuple[dict[str, str], ...], str]] = [
    (({"role": "user", "content": "What is 2+2?"},), ""),
    ((), "def fibonacci(n):\n    "),
    ((), "The capital of France is"),
    (({"role": "system", "content": "Answer in French."},
      {"role": "user", "content": "Écris un poème sur la mer 🌊, avec   des espaces."}), ""),
]


@pytest.fixture(scope="module")
def engine() -> TorchEngine:
    return load_engine(embedded_model_path())


@pytest.fixture(scope="module")
def reference() -> Any:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")  # transformers' GGUF loader needs it
    path = embedded_model_path()
    model = transformers.AutoModelForCausalLM.from_pretrained(
        os.path.dirname(path), gguf_file=os.path.basename(path), dtype=torch.float32)
    return model.eval()


def _logprobs(engine: TorchEngine, reference: Any, ids: list[int]) -> tuple[Any, Any]:
    import torch

    with torch.inference_mode():
        ours = engine.forward(torch.tensor([ids]), engine.new_cache(1, len(ids)), 0, last_only=False)[0]
        ref = reference(torch.tensor([ids])).logits[0].float()
    return torch.log_softmax(ours, dim=-1), torch.log_softmax(ref, dim=-1)


@pytest.mark.parametrize("prompt", PROMPTS, ids=["chat", "code", "text", "unicode-chat"])
def test_logits_match_transformers(engine: TorchEngine, reference: Any,
                                   prompt: tuple[tuple[dict[str, str], ...], str]) -> None:
    ids = engine.render(*prompt)
    assert len(ids) >= 5
    ours, ref = _logprobs(engine, reference, ids)
    assert ours.shape == ref.shape == (len(ids), 49152)
    diff = float((ours - ref).abs().max())
    assert diff <= TOLERANCE, f"max |log-softmax difference| {diff:.2e} > {TOLERANCE}"
    assert ours.argmax(dim=-1).tolist() == ref.argmax(dim=-1).tolist()


def test_the_comparison_catches_a_wrong_rope(engine: TorchEngine, reference: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: the same check fails for an engine with RoPE's base off by 10x (so it can fail)."""
    import torch

    half = torch.arange(0, engine.head_dim, 2, dtype=torch.float32) / engine.head_dim
    monkeypatch.setattr(engine, "_inv_freq", 1.0 / ((engine.rope_base / 10) ** half))
    ours, ref = _logprobs(engine, reference, engine.render(*PROMPTS[0]))
    assert float((ours - ref).abs().max()) > 100 * TOLERANCE


def test_a_cached_decode_step_matches_the_full_forward(engine: TorchEngine) -> None:
    """Generation runs one token at a time on the KV cache: its last logits equal a full forward's."""
    import torch

    ids = engine.render(*PROMPTS[2])
    with torch.inference_mode():
        full = engine.forward(torch.tensor([ids]), engine.new_cache(1, len(ids)), 0)
        cache = engine.new_cache(1, len(ids))
        engine.forward(torch.tensor([ids[:-1]]), cache, 0)
        step = engine.forward(torch.tensor([ids[-1:]]), cache, len(ids) - 1)
    diff = float((torch.log_softmax(full, -1) - torch.log_softmax(step, -1)).abs().max())
    assert diff <= TOLERANCE
