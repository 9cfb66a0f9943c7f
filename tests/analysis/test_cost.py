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
    find_price,
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


@pytest.mark.parametrize(("name", "body", "message"), [
    ("neg.yaml", "m: {prompt_usd_per_mtok: -0.15, completion_usd_per_mtok: 0.6}\n",
     r"neg.yaml: model 'm': field 'prompt_usd_per_mtok': expected a number >= 0, got -0.15"),
    ("nan.json", '{"m": {"prompt_usd_per_mtok": "nan", "completion_usd_per_mtok": 1}}',
     r"model 'm': field 'prompt_usd_per_mtok': expected a number >= 0, got 'nan'"),
    ("inf.yaml", "m: {prompt_usd_per_mtok: 1, completion_usd_per_mtok: .inf}\n",
     r"field 'completion_usd_per_mtok': expected a number >= 0, got inf"),
    ("bool.json", '{"m": {"prompt_usd_per_mtok": true, "completion_usd_per_mtok": true}}',
     r"field 'prompt_usd_per_mtok': expected a number >= 0, got True"),
    ("half.yaml", "m: {prompt_usd_per_mtok: 0.15}\n", r"model 'm': missing field 'completion_usd_per_mtok'"),
    ("typo.yaml", "m: {prompt_usd_per_mtok: 1, completion_usd_per_mtok: 2, completon: 3}\n",
     r"model 'm': unknown field 'completon'"),
    ("layers.yaml", "m: {parameters: 8.0e9, layers: 32.7, hidden: 4096}\n",
     r"model 'm': field 'layers': expected a positive integer, got 32.7"),
    ("hidden.yaml", "m: {parameters: 8.0e9, layers: 32, hidden: true}\n",
     r"model 'm': field 'hidden': expected a positive integer, got True"),
    ("params.yaml", "m: {parameters: -8.0e9, layers: 32, hidden: 4096}\n",
     r"model 'm': field 'parameters': expected a positive number, got '-8.0e9'"),
    ("empty.json", "  \n", r"empty.json: empty; expected a JSON mapping"),
    ("prices.txt", "m: {prompt_usd_per_mtok: 1}\n", r"prices.txt:1: not valid JSON \(read as JSON: a YAML file is named"),
])
def test_pricing_file_refuses_values_that_are_no_price(tmp_path: Path, name: str, body: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(body)
    with pytest.raises(DataError, match=message):
        load_cost_file(path)


def test_pricing_file_with_a_bom_or_in_toml_and_yaml_scientific_notation(tmp_path: Path) -> None:
    bom = tmp_path / "bom.json"
    entry = {"prompt_usd_per_mtok": 1, "completion_usd_per_mtok": 2}
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps({"m": entry}).encode())
    assert load_pricing(bom) == {"m": Price(1.0, 2.0)}
    toml = tmp_path / "prices.toml"
    toml.write_text('[m]\nprompt_usd_per_mtok = 0.5\ncompletion_usd_per_mtok = 0\n')
    assert load_pricing(toml) == {"m": Price(0.5, 0.0)}
    yaml_file = tmp_path / "shape.yaml"  # YAML 1.1 reads 8e9 as text: still the number it means
    yaml_file.write_text("m: {parameters: 8e9, layers: 32, hidden: 4096}\n")
    assert load_cost_file(yaml_file) == ({}, {"m": ModelSpec(8e9, 32, 4096)})


def test_a_price_applies_to_its_own_model_only() -> None:
    """`gpt-4o`'s price is not `gpt-4o-mini`'s (a prefix once matched); case and an org/ path do not matter."""
    prices = {"gpt-4o": Price(2.5, 10.0), "SmolLM2-135M": Price(0.01, 0.02)}
    assert find_price("gpt-4o-mini", prices) is None
    assert find_price("gpt-4o", prices) == Price(2.5, 10.0)
    assert find_price("HuggingFaceTB/smollm2-135m", prices) == Price(0.01, 0.02)
