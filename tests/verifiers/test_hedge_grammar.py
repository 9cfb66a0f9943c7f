"""A hedge is a class, not a list of phrasings: every combination of an answer's marker, two values in any
of the spellings models use (plain, `$…$`, a unit, `\\boxed{}`, markdown bold), one of 27 ways of offering
the second (a connective, a hedging or correcting word, a new line, another marker) and an ending fails
against both values. 23,328 GSM8K and 2,700 MATH completions, each checked against either gold.

What is left out on purpose, and why: GSM8K completions without any marker (the last number is the answer
and "She had 19, then 18" is working, not a hedge; only words that offer the last value count there), and
MATH values written before the final box without a box of their own ("$14 \\cdot 10$, or $\\boxed{140}$"
is how MATH's own solutions say "which is")."""

from __future__ import annotations

import itertools

import pytest

from monkeys.core import Outcome, Problem, Prompt, Sample
from monkeys.verifiers.math_answer import MathAnswer

JOINERS = [" or ", ", or maybe ", " (or ", ". Actually, ", "\nActually, ", " \u2014 wait, ", ". Hmm, maybe ",
           "\n\nOr perhaps ", " or possibly ", " / ", " | ", ", no, ", ". Correction: ", "; alternatively ",
           "\n#### ", "\nThe answer is ", " (though it could be ", " or even ", "\n\nWait, I think it's ",
           ". On second thought, ", " (or rather ", "\n\nDouble-check: actually ", ". Either that or ",
           " \\text{ or } ", " or, if we round, ", ". It might also be ", "\n\n**Final Answer**\n"]
GSM8K_MARKERS = ["#### ", "The answer is ", "A: ", "Answer: ", "**Answer:** ", "Final answer: "]
GSM8K_SPELLINGS = ["{v}", "${v}", "{v} dollars", "\\boxed{{{v}}}", "**{v}**", "$\\boxed{{{v}}}$"]
MATH_LEADS = ["", "The answer is ", "Final Answer: The final answer is ", "Therefore, $x = ", "So the answer is "]
MATH_BOXES = ["$\\boxed{{{v}}}$", "\\boxed{{{v}}}"]
MATH_SPELLINGS = [*MATH_BOXES, "${v}$", "{v}", "$\\boxed{{\\frac{{{v}}}{{1}}}}$"]


@pytest.fixture(scope="module")
def verifier() -> MathAnswer:
    v = MathAnswer()
    yield v
    v.close()


def _passing(verifier: MathAnswer, task: str, texts: list[str]) -> list[tuple[str, str]]:
    return [(gold, text) for text in texts for gold in ("18", "19")
            if verifier.verify(Problem("p", Prompt(text="q"), {"answer": gold, "task": task}),
                               Sample("p", 0, 0, text)).outcome is Outcome.PASS]


def test_no_gsm8k_hedge_passes(verifier: MathAnswer) -> None:
    texts = [m + a.format(v="18") + j + b.format(v="19") + end for m, a, j, b, end in itertools.product(
        GSM8K_MARKERS, GSM8K_SPELLINGS, JOINERS, GSM8K_SPELLINGS, ["", ".", ")", "\n"])]
    assert len(texts) == 23_328
    passing = _passing(verifier, "gsm8k", texts)
    assert passing == [], (len(passing), passing[:10])


def test_no_math_hedge_after_a_box_passes(verifier: MathAnswer) -> None:
    texts = [lead + a.format(v="18") + j + b.format(v="19") + end for lead, a, j, b, end in itertools.product(
        MATH_LEADS, MATH_BOXES, JOINERS, MATH_SPELLINGS, ["", ". I hope it is correct."])]
    assert len(texts) == 2_700
    passing = _passing(verifier, "math", texts)
    assert passing == [], (len(passing), passing[:10])
