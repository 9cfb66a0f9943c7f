"""The log-probability scorer with the real embedded model."""

from __future__ import annotations

import math

import pytest

from monkeys.core import Problem, Prompt, Sample
from monkeys.registry import create

PROBLEM = Problem("p", Prompt(messages=({"role": "user", "content": "What is the capital of France?"},)))


def sample(text: str) -> Sample:
    return Sample(problem_id="p", index=0, seed=0, text=text)


def test_likely_answer_scores_higher_than_nonsense() -> None:
    scorer = create("scorer", "logprob")
    good = scorer.score(PROBLEM, sample("The capital of France is Paris."))
    bad = scorer.score(PROBLEM, sample("Purple bananas sing xylophone seventeen."))
    assert good < 0 and bad < 0 and good > bad + 1.0
    assert math.isfinite(scorer.score(PROBLEM, sample("")))  # empty text is scored, never undefined
    scorer.close()


def test_prompt_cache_reuse_scores_as_running_the_prompt_again() -> None:
    """The prompt's KV cache reused across samples (batched, right-padded) gives the scores of running the
    whole prompt again per sample (the old way), within float32 rounding; so does `score` one at a time."""
    problem = Problem("q", Prompt(messages=(
        {"role": "system", "content": "Answer with a number."},
        {"role": "user", "content": "Natalia sold clips to 48 of her friends in April, and then she sold half as "
                                    "many clips in May. How many clips did Natalia sell altogether?"})))
    texts = ["72", "Natalia sold 48 / 2 = 24 clips in May, so 48 + 24 = 72 altogether. The answer is 72.",
             "", "She sold 48 + 24 = 72.", "I do not know.", "72 clips"]
    samples = [Sample("q", i, 0, t) for i, t in enumerate(texts)]
    old = create("scorer", "logprob", reuse_prompt=False).score_many(problem, samples)
    new_scorer = create("scorer", "logprob", batch_tokens=40)  # several passes of several rows each
    new = new_scorer.score_many(problem, samples)
    one = [new_scorer.score(problem, s) for s in reversed(samples)][::-1]
    assert len(set(old)) == len(old)  # distinct texts, distinct scores: the comparison can fail
    assert new == pytest.approx(old, abs=1e-4) and one == pytest.approx(old, abs=1e-4)
