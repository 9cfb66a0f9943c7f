"""The log-probability scorer with the real embedded model."""

from __future__ import annotations

import math

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
