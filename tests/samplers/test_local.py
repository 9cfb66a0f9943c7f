"""The embedded sampler with the real SmolLM2-135M model (small enough to run in tests)."""

from __future__ import annotations

import sys

import pytest

from monkeys.core import Completion, Prompt, SampleRequest, derive_seed
from monkeys.errors import PluginError
from monkeys.registry import create

CHAT = Prompt(messages=({"role": "user", "content": "Write a Python function that reverses a string."},))
PARAMS = {"temperature": 0.6, "top_p": 0.95, "max_tokens": 24}


def requests(indices: range | list[int]) -> list[SampleRequest]:
    return [SampleRequest(i, derive_seed(0, "p", i)) for i in indices]


@pytest.fixture(scope="module")
def sampler():
    s = create("sampler", "local", batch_size=8)
    yield s
    s.close()


@pytest.fixture(scope="module")
def batch8(sampler) -> list[Completion]:
    return sampler.sample(CHAT, requests(range(8)), **PARAMS)


def test_counts_and_length_finish(sampler, batch8: list[Completion]) -> None:
    prompt_tokens = len(sampler._engine.render(CHAT.messages, ""))
    assert sorted(c.index for c in batch8) == list(range(8))
    for c in batch8:
        assert c.seed == derive_seed(0, "p", c.index)
        assert c.prompt_tokens == prompt_tokens > 20  # the chat template's system turn is included
        assert c.prompt_shared == 8  # prefilled once for the batch
        assert 1 <= c.completion_tokens <= PARAMS["max_tokens"]
        assert c.finish_reason in ("stop", "length") and c.latency_s > 0
        if c.finish_reason == "length":
            assert c.completion_tokens == PARAMS["max_tokens"]
    assert any(c.finish_reason == "length" for c in batch8)


def test_same_batch_twice_is_identical(sampler, batch8: list[Completion]) -> None:
    """What resume relies on: the pipeline redraws whole batches, and a batch is deterministic."""
    again = sampler.sample(CHAT, list(reversed(requests(range(8)))), **PARAMS)
    assert [c.text for c in sorted(again, key=lambda c: c.index)] == [c.text for c in batch8]
    assert len({c.text for c in batch8}) > 1  # different seeds, different samples


def test_batch_composition_does_not_change_texts(sampler, batch8: list[Completion]) -> None:
    """Sample 3 drawn alone equals sample 3 drawn in a batch of 8 (float32 engine on this CPU: a row's
    arithmetic does not depend on the other rows). The pipeline does not rely on it (redraw_whole_batch)."""
    alone = sampler.sample(CHAT, requests([3]), **PARAMS)[0]
    assert alone.text == batch8[3].text
    assert alone.completion_tokens == batch8[3].completion_tokens
    assert alone.prompt_shared == 1


def test_end_of_turn_finishes_with_stop_and_is_not_in_text(sampler) -> None:
    prompt = Prompt(messages=({"role": "user", "content": "What is the capital of France?"},))
    (c,) = sampler.sample(prompt, requests([0]), temperature=0.0, top_p=1.0, max_tokens=32)
    assert c.finish_reason == "stop" and c.completion_tokens < 32
    assert "Paris" in c.text and "<|im_end|>" not in c.text


def test_stop_sequence_ends_early_and_is_stripped(sampler) -> None:
    prompt = Prompt(text="1, 2, 3, 4, 5,", stop=(" 8",))
    (c,) = sampler.sample(prompt, requests([0]), temperature=0.0, top_p=1.0, max_tokens=20)
    assert c.text == " 6, 7,"
    assert c.finish_reason == "stop" and c.completion_tokens < 20


def test_second_create_reuses_the_loaded_model(sampler) -> None:
    assert create("sampler", "local")._engine is sampler._engine


def test_bad_options_are_one_line_errors(monkeypatch) -> None:
    with pytest.raises(PluginError, match="engine 'nosuch'"):
        create("sampler", "local", engine="nosuch")
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # as if not installed
    with pytest.raises(PluginError, match=r"^sampler 'local' engine 'llamacpp' needs llama-cpp-python: "
                       r"pip install 'monkeys\[llamacpp\]'$"):
        create("sampler", "local", engine="llamacpp")
