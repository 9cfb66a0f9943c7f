"""FLOPs and dollars: the formula by hand, model lookup, config.json estimate, pricing-file errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from monkeys.analysis.cost import (
    ModelSpec,
    Price,
    TokenStats,
    cheapest,
    find_model,
    load_cost_file,
    load_pricing,
    run_cost,
    sample_flops,
    spec_from_hf_config,
)
from monkeys.errors import DataError


def test_flops_formula_by_hand() -> None:
    spec = ModelSpec(1e6, 2, 8)
    # 3 tokens: 2·N·3 + 2·layers·hidden·3·2
    assert sample_flops(spec, np.array([1]), np.array([2]))[0] == 2e6 * 3 + 2 * 2 * 8 * 6
    stats = TokenStats.from_arrays(np.array([1, 1]), np.array([2, 2]))
    cost = run_cost("x", stats, n_problems=5, spec=spec, price=Price(1.0, 2.0))
    assert cost.flops_per_round == pytest.approx(5 * (2e6 * 3 + 2 * 2 * 8 * 6))
    assert cost.usd_per_round == pytest.approx(5 * (1 * 1.0 + 2 * 2.0) / 1e6)
    assert cost.n_rounds == pytest.approx(0.4)


def test_shared_prompt_formula() -> None:
    """s = 1 is the plain per-sequence formula; s samples of one request add up to one prefill + s decodes."""
    spec = ModelSpec(1e6, 2, 8)
    rng = np.random.default_rng(0)
    p, c = rng.integers(0, 500, 50), rng.integers(0, 300, 50)
    t = (p + c).astype(float)
    old = 2e6 * t + 2 * 2 * 8 * t * np.maximum(t - 1, 0)
    assert np.array_equal(sample_flops(spec, p, c), old)
    assert np.array_equal(sample_flops(spec, p, c, np.ones(50)), old)
    # one request, p = 100, n = 3 completions of 5, 7 and 0 tokens
    got = sample_flops(spec, np.full(3, 100), np.array([5, 7, 0]), np.full(3, 3)).sum()
    prefill = 2e6 * 100 + 2 * 2 * 8 * 100 * 99
    decode = sum(2e6 * k + 2 * 2 * 8 * ((100 + k) * (99 + k) - 100 * 99) for k in (5, 7, 0))
    assert got == pytest.approx(prefill + decode, rel=1e-12)
    stats = TokenStats.from_arrays(np.full(3, 100), np.array([5, 7, 0]), np.full(3, 3))
    assert stats.prompt == pytest.approx(100 / 3) and stats.completion == pytest.approx(4)
    assert stats.t_quadratic == pytest.approx((105 * 104 + 107 * 106 + 100 * 99 - 2 * 100 * 99) / 3)
    assert run_cost("x", stats, n_problems=1, spec=spec).total_flops == pytest.approx(prefill + decode)
    assert TokenStats.from_arrays(p, c) == TokenStats.from_arrays(p, c, np.ones(50))


def test_model_lookup_by_prefix_and_override() -> None:
    assert find_model("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF") == ModelSpec(134.5e6, 30, 576)
    assert find_model("meta-llama/Meta-Llama-3.1-70B-Instruct").parameters == 70.6e9
    assert find_model("mystery-1b") is None
    mine = ModelSpec(1e9, 10, 100)
    assert find_model("mystery-1b-chat", {"mystery-1b": mine}) is mine


def test_spec_from_hf_config_matches_smollm2(tmp_path: Path) -> None:
    cfg = {"hidden_size": 576, "num_hidden_layers": 30, "vocab_size": 49152, "intermediate_size": 1536,
           "num_attention_heads": 9, "num_key_value_heads": 3, "hidden_act": "silu", "tie_word_embeddings": True}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    spec = spec_from_hf_config(path)
    assert (spec.layers, spec.hidden) == (30, 576) and abs(spec.parameters - 134.5e6) / 134.5e6 < 0.01
    path.write_text("{}")
    with pytest.raises(DataError, match="config.json"):
        spec_from_hf_config(path)


def test_pricing_file_yaml_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "prices.yaml"
    good.write_text("gpt-x:\n  prompt_usd_per_mtok: 1.5\n  completion_usd_per_mtok: 6\n")
    assert load_pricing(good) == {"gpt-x": Price(1.5, 6.0)}
    both = tmp_path / "both.json"
    both.write_text(json.dumps({"mine": {"parameters": 1e9, "layers": 8, "hidden": 512}}))
    assert load_cost_file(both) == ({}, {"mine": ModelSpec(1e9, 8, 512)})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"gpt-x": {"prompt_usd_per_mtok": "cheap"}}))
    with pytest.raises(DataError, match=r"bad.json: model 'gpt-x'"):
        load_pricing(bad)


def test_cheapest_run_for_a_target() -> None:
    ks = np.arange(1, 101)
    weak = ("weak", ks, 1 - 0.97**ks, 1.0)
    strong = ("strong", ks, 1 - 0.5**ks, 50.0)
    assert cheapest([weak, strong], 0.5) == ("weak", 23, 23.0)
    assert cheapest([weak, strong], 0.999) == ("strong", 10, 500.0)
