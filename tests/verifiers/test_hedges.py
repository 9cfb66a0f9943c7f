"""An answer that states several values names none. GSM8K answers are single numbers: "#### 18 or 19" fails and
casts no vote, even when one of them is the gold. MATH (math-verify, the default mode) reads an equation by its
last side and keeps the first side of an approximation, so `19 = 18`, `18 \\approx 19` and
`19 \\text{ (or } 18)` all read as 18 to it: they fail too. At 10,000 samples a hedge that passed would turn
into false solves. Answers followed by units or working, and true equations, still pass."""

from __future__ import annotations

import pytest

from monkeys.core import Outcome, Problem, Prompt, Sample
from monkeys.verifiers.math_answer import MathAnswer

GOLD = "18"


@pytest.fixture(scope="module")
def verifier() -> MathAnswer:
    v = MathAnswer()
    yield v
    v.close()


def _verdict(verifier: MathAnswer, text: str):  # type: ignore[no-untyped-def]
    return verifier.verify(Problem("p", Prompt(text="q"), {"answer": GOLD, "task": "gsm8k"}), Sample("p", 0, 0, text))


@pytest.mark.parametrize("text", [
    "#### 18 or 19", "#### 19 or 18", "#### 17, 18, 19", "#### 17, 18, or 19", "#### 18 19 20", "#### 36/2 or 19",
    "#### 18-20", "#### 15 to 20", "#### 18 = 19", "#### 18 and 19", "#### ±18", "#### \\pm 18", "#### +/- 18",
    "#### 18 dollars or 19 dollars", "#### 18 (or 19)", "#### $18$ or $19$", "The answer is 18 or 19.",
    "She has either 19 or 18 left.", "\\boxed{19} or \\boxed{18}", "She has 19, or maybe 18, left.",
    "She has 19 or perhaps 18 left.",
    # any symbol or connective word between the values joins them: the class, not a list of joiners
    "#### 18 & 19", "#### 18|19", "#### 18 | 19", "#### 18..19", "#### 18 vs 19", "#### 18 versus 19",
    "#### 18 \u2248 19", "#### 18 \u2260 19", "#### 18 \u00b1 1", "#### 18 [19]", "#### 18 + 1", "#### 18 * 19",
    "#### 18 through 20", "#### 18 dollars & 19 dollars", "#### 18 (vs 19)",
    # a hedging word before a later value, whatever else stands between (not a list of phrasings)
    "#### 18 or maybe 19", "#### 18, or perhaps 19", "#### 18 (or perhaps 19)", "#### 18 but it could be 19",
    "#### 18 if not 19", "#### 18 or else 19", "#### 18 (approx. 19)", "#### 18, i.e. 19", "#### 18 (give or take 1)",
    "#### 18 \u2014 or 19", "#### 18 / or 19", "#### 18 (after 3 days), or maybe 19", "The answer is 18 or possibly 19.",
    # a unit repeated is one quantity stated twice; another unit must convert exactly to be the same value
    "#### 18 dollars, or 19 dollars", "#### 18 dollars, 19 dollars", "#### 18 dollars, or 19 bucks",
    "#### $18, or 1900 cents", "#### 1 month, or 30 days",
    # a formatted answer line holds one value: in its first sentence any other value (not working equal to the
    # answer, not the same quantity in another unit) is an alternative; after it, one a correcting word precedes
    "#### 18 (19 with tax)", "#### 18 in total; 19 with the bonus", "#### 18 assuming 3 days, 19 otherwise",
    "#### 18 (after 3 days)", "The answer is 18 (after 3 days).", "The answer is 18 in total; 19 with the bonus",
    "#### 18 wait 19", "#### 18 actually 19", "#### 18 (final answer 19)", "A: 18 (19 if Sam counts)",
    "#### 18. Wait, actually it's 19.", "#### 18. Final answer: 19", "#### 18. No: 19", "#### 18 hours 30 minutes",
    # ... on the lines after the answer's too
    "#### 18\nActually, it's 19.", "#### 18\n(or maybe 19)", "The answer is 18.\nWait, let me recheck: it is 19.",
    # a value alone on a line after the answer's is stated as another answer
    "#### 18\n19", "#### 18\n\n**19**", "The answer is 18.\n$19$", "#### 18\nShe has 3 left.\n19",
    # "Answer:", "**Final Answer:**" at a line's start are markers too; LaTeX or markdown may wrap the number
    "**Answer:** 18 or 19", "Final answer: 18, or maybe 19", "A: \\boxed{18} or **19**", "**Final Answer**\n18 or 19",
    "#### 18. On second thought, 19", "The answer is 18 dollars\n#### 19 dollars",
    # without a marker: markdown, and words that offer the last value a few words before it
    "18 (though it could be **19**", "18 dollars. Hmm, maybe **19**", "18\n\nWait, I think it's **19**",
    # an answer stated another way (a weaker marker right before a number, a box) names another answer
    "The answer is 19.\n#### 18", "A: 19\n#### 18", "\\boxed{19}\n#### 18", "The answer is \\boxed{19}. #### 18",
    # without a marker, only words that offer another value or take one back between the last two values
    "She has 19 apples, or maybe 18 apples.", "She has 19 apples or 18 apples.", "It is 19. Or maybe 18.",
    "It is 19, no wait, 18.", "I think 19, but possibly 18.", "So 19 \u2014 I mean 18.",
    # two formatted answers that differ name two answers, whichever comes last
    "#### 19\nWait, that's wrong.\n#### 18", "A: 18\nA: 19", "#### 17 or 19\n#### 18",
])
def test_a_hedge_fails_and_casts_no_vote(verifier: MathAnswer, text: str) -> None:
    verdict = _verdict(verifier, text)
    assert verdict.outcome is Outcome.FAIL and "several answers" in verdict.reason, (text, verdict)
    assert verdict.details["answer_key"] is None and verdict.details["alternatives"]


@pytest.mark.parametrize("text", [
    "#### 18", "#### 18.", "#### 18 dollars", "#### $18.00", "#### 18 (eighteen)", "#### 18 (18)",
    "#### 18\n\nQuestion: Tom has 5 apples and 6 pears.", "The answer is 18. She had 3 left over.",
    "The answer is 18, because 3 + 15 = 18.", "She had 3 + 15 = 18 apples.", "#### 18\n#### 18.00",
    "#### 18. It took 3 days.", "#### 18 hours, or 1080 minutes", "#### +18", "#### 36/2", "#### 36 / 2 dollars",
    "#### 18, which is 3 * 6", "The answer is 18 dollars. It took 3 days of 6.", "#### 18 or so", "#### 18. The rest, 3, is left",
    "#### 18 hours or 1080 minutes", "#### $18, or 1800 cents", "#### 18 feet, or 216 inches", "The answer is 18 dollars.\nShe took 3 days.",
    "#### 18 = 3 * 6", "#### 18 = 3 x 6 dollars", "#### 18 (3 + 15)", "#### 18 = 20 - 2", "#### 18 = 36/2",
    # a few-shot continuation: the next question and its answer, where lm-eval's sampler would have stopped
    "#### 18\nQuestion: Ann has 3 cats. How many legs?\nAnswer: 3 * 4 = 12\n#### 12", "#### 18\nShe has 3 left.",
    "She had 18. The answer is 18.\n\nQ: Ann has 3 cats. How many legs?\nA: 3 * 4 = 12. The answer is 12.",
    # "A:" that begins the working (lm-eval's gsm8k-cot) is not the answer line
    "A: She sold 12 and then 6 more, so 18 in all. The answer is 18.",
    # ... and a value alone on a later line that repeats the answer, or a line of working, is not another answer
    "#### 18\n18", "#### 18\n3 apples were left", "#### 18\n1. 3 + 15 = 18",
    "**Final Answer**\n18", "## Final Answer\n18", "Answer: 18", "**Answer:** $18$",
    # the same answer stated another way, and working after a weaker marker that reaches the answer
    "The answer is 18.\n#### 18", "#### 18 \\boxed{18} The answer is 18.", "The final answer is 3 * 6 = 18 apples.\n#### 18",
    "The answer is the total: 19 - 1 = 18.\n#### 18",
    # without a marker, working and plain words between the last two values make no hedge ("for" is no "or")
    "She had 19 apples but gave 1 away, so 18 are left.", "So she pays 2 * $3 = $6 for 18 apples.",
    "19 - 1 = 18", "She had 19. No one took any, so 18 plus 0 is 18.",
    # a scale word is read as a unit: GSM8K golds are stated in it ("$60 million" answers "#### 60")
    "#### 18 million", "The answer is 18 thousand dollars.",
])
def test_one_answer_with_units_or_working_passes(verifier: MathAnswer, text: str) -> None:
    verdict = _verdict(verifier, text)
    assert verdict.outcome is Outcome.PASS, (text, verdict)


@pytest.mark.parametrize(("gold", "text"), [
    ("18", "\\boxed{19 = 18}"), ("18", "\\boxed{x = 19 = 18}"), ("18", "\\boxed{18 \\approx 19}"),
    ("18", "\\boxed{19 \\text{ (or } 18)}"), ("18", "\\boxed{18 \\lor 19}"), ("18", "\\boxed{18 \\text{ or } 19}"),
    ("\\frac{1}{2}", "\\boxed{\\frac{1}{3} = \\frac{1}{2}}"),
    # math-verify drops what follows a unit: it would read each of these as 18
    ("18", "\\boxed{18 \\text{ dollars}, 19 \\text{ dollars}}"), ("18", "\\boxed{18 \\mbox{ cm}; 19 \\mbox{ cm}}"),
    ("18", "\\boxed{18\\,\\mathrm{cm}, 19\\,\\mathrm{cm}}"), ("18", "\\boxed{18 \\text{ m} = 19 \\text{ m}}"),
    ("18", "\\boxed{18 \\text{ units} \\\\ 19 \\text{ units}}"), ("18", "\\boxed{18\\text{ cm}^2, 19\\text{ cm}^2}"),
    # ... and keeps the last side of an arrow between two numbers
    ("18", "\\boxed{19 \\Rightarrow 18}"), ("18", "\\boxed{19 \\to 18}"), ("18", "\\boxed{19 \\implies 18}"),
    # a number offered right after the box, as GSM8K's after its answer
    ("18", "The answer is $\\boxed{18}$ or maybe $19$."), ("18", "$\\boxed{18}$ or $19$"),
    ("18", "$\\boxed{18}$ (it could be 19)"), ("18", "$\\boxed{18}$. Wait, actually it's 19."),
    ("\\frac{1}{2}", "$\\boxed{\\frac{1}{2}}$, or perhaps 0.6"), ("18", "$\\boxed{18}$ or $\\frac{37}{2}$"),
    ("\\frac{1}{2}", "$\\boxed{\\frac{1}{2}}$ or maybe $\\dfrac{1}{3}$"), ("18", "\\boxed{18} \\text{ (or } 19)"),
    # boxes that state the answer together are read together, not by the last: "or" offers alternatives ...
    ("18", "\\boxed{19} or \\boxed{18}"), ("18", "$x = \\boxed{19}$ or $x = \\boxed{18}$"),
    ("18", "\\boxed{19}\\text{ or }\\boxed{18}"), ("18", "\\boxed{19}. Wait, actually \\boxed{18}"),
    ("18", "Final Answer: The final answer is $\\boxed{19}$ or $\\boxed{18}$. I hope it is correct."),
    # ... and a list ("and", commas, "=") is a set, which a single-valued reference is not
    ("18", "the roots are $\\boxed{-18}$ and $\\boxed{18}$"), ("18", "$\\boxed{17}$, $\\boxed{18}$"),
    ("18", "\\boxed{19} = \\boxed{18}"),
    # the Minerva phrase states one answer: not another phrase's, nor one offered after it or after its box
    ("18", "Final Answer: The final answer is $18$. I hope it is correct. Actually, it might be $19$."),
    ("18", "Final Answer: The final answer is $18$. I hope it is correct.\n"
           "Final Answer: The final answer is $19$. I hope it is correct."),
    ("18", "Final Answer: The final answer is $\\boxed{18}$ or maybe $19$. I hope it is correct."),
    ("18", "$\\boxed{19}$ \\\\ $\\boxed{18}$"),
    ("18", "So $x = \\boxed{19}$.\nFinal Answer: The final answer is $18$. I hope it is correct."),
    # ... on the lines after the box, where the number ends the sentence that offers it, or stands alone
    ("18", "$\\boxed{18}$\nActually, it's $19$."), ("18", "$\\boxed{18}$\n\nHmm, but maybe the answer is 19."),
    ("18", "$\\boxed{18}$.\n\nWait, I made a mistake. It should be $19$."), ("18", "$\\boxed{18}$\n\n**Final Answer**\n19"),
    # a hedge hidden behind more boxes than any answer holds (each box could cost a check: they are bounded)
    ("18", " or ".join(["\\boxed{19}"] + ["\\boxed{18}"] * 80)), ("18", " or ".join(f"\\boxed{{{i}}}" for i in range(5000))),
    # any word offering another answer after the box, or an answer's marker restating one; or before the box
    ("18", "$\\boxed{18}$ or even $19$"), ("18", "$\\boxed{18}$, no, $19$"), ("18", "$\\boxed{18}$ / $19$"),
    ("18", "$\\boxed{18}$\nThe answer is $19$"), ("19", "$\\boxed{18}$. On second thought, $\\boxed{19}$"),
    ("19", "$\\boxed{18}$ or even $\\boxed{19}$"), ("19", "$18$. Actually, $\\boxed{19}$"),
    ("19", "$18$ (though it could be $\\boxed{19}$"), ("19", "$18$. Either that or $\\boxed{19}$"),
    ("19", "Final Answer: The final answer is $18$. Actually, $19$. I hope it is correct."),
    # a list reference wants the whole list
    ("-2, 1", "$\\boxed{1}$"), ("-2, 1", "$\\boxed{-2}$, $\\boxed{1}$ and $\\boxed{3}$"),
])
def test_math_hedges_and_false_equations_fail(verifier: MathAnswer, gold: str, text: str) -> None:
    verdict = verifier.verify(Problem("p", Prompt(text="q"), {"answer": gold, "task": "math"}), Sample("p", 0, 0, text))
    assert verdict.outcome is Outcome.FAIL, (text, verdict)


@pytest.mark.parametrize(("gold", "text"), [
    ("18", "\\boxed{x = 2 \\cdot 9 = 18}"), ("18", "\\boxed{x = 18}"), ("18", "\\boxed{18}"),
    ("\\frac{\\sqrt{2}}{2}", "\\boxed{\\frac{\\sqrt{2}}{2} \\approx 0.707}"), ("x+1", "\\boxed{y = x + 1}"),
    ("18", "\\boxed{18 \\text{ dollars}}"), ("18", "\\boxed{18\\text{ cm}^2}"), ("18", "\\boxed{18\\,\\mathrm{cm}}"),
    ("18", "\\boxed{2 \\cdot 9 \\Rightarrow 18}"),
    # the prose of a solution after its box ("between 10 and 50", "2, 3, 4, or 6") and approximations
    ("18", "So $\\boxed{18}$ integers lie between 10 and 50."), ("18", "Only $\\boxed{18}$ is divisible by 2, 3, or 6."),
    ("\\frac{\\sqrt{2}}{2}", "$\\boxed{\\frac{\\sqrt{2}}{2}}$, or about 0.707"), ("18", "$\\boxed{18}$ or $\\frac{36}{2}$"),
    # several boxes of one value in several forms, a list that is the reference's, and boxes prose separates
    ("18", "\\boxed{18} = \\boxed{\\frac{36}{2}}"), ("x+11", "$\\boxed{x+11}$ or $\\boxed{11+x}$"),
    ("\\frac{639}{40}", "$\\boxed{15\\frac{39}{40}}$, or $\\boxed{\\frac{639}{40}}$ inches"),
    ("-2, 1", "the answers are $\\boxed{-2}$ and $\\boxed{1}$."), ("-2, 1", "$\\boxed{1}$ and $\\boxed{-2}$"),
    ("-2, 1", "$\\boxed{-2, 1}$"), ("18", "So $\\boxed{19}$.\n\nNote that we need the next one: $\\boxed{18}$."),
    ("18", " or ".join(["$\\boxed{18}$"] * 10)),
    # a few-shot continuation after the Minerva phrase (its next "Problem:") is not this answer's
    ("18", "Final Answer: The final answer is $18$. I hope it is correct.\n\nProblem:\nWhat is $1+1$?\n\n"
           "Solution:\n$1+1=2$.\nFinal Answer: The final answer is $2$. I hope it is correct."),
    ("18", "Final Answer: The final answer is $18$. I hope it is correct.\n"
           "Final Answer: The final answer is $18.0$. I hope it is correct."),
    # the prose of a solution on the lines after its box, hedging words included
    ("2", "So $f^{-1}(4) = \\boxed{2}$.\n\nNotice that we didn't actually need the value $4$ given in the problem."),
    ("9", "The greatest common factor is $\\boxed{9}$.\n\nAlternatively, since $9$ divides into $405$, it is $9$."),
    # "or" before a box restates an expression's value, and prose names other numbers
    ("140", "which equals $14 \\cdot 10$, or $\\boxed{140}$."),
    ("4", "the factors they share are $1$, $2$, $7$, and $14$.  Therefore, they could be thinking of $\\boxed{4}$ numbers."),
    ("9", "so $b = \\boxed{9}$. We can check our answer by verifying that $5 \\cdot 25_9 = 137_9$, which is true."),
    # the solution's box and the phrase state one answer, in any form
    ("\\frac{1}{2}", "So $x = \\boxed{\\frac{1}{2}}$.\nFinal Answer: The final answer is $0.5$. I hope it is correct."),
    ("-2, 1", "So $x = \\boxed{-2}$ or $x = \\boxed{1}$.\nFinal Answer: The final answer is $-2, 1$. I hope it is correct."),
])
def test_math_true_equations_and_close_approximations_pass(verifier: MathAnswer, gold: str, text: str) -> None:
    verdict = verifier.verify(Problem("p", Prompt(text="q"), {"answer": gold, "task": "math"}), Sample("p", 0, 0, text))
    assert verdict.outcome is Outcome.PASS, (text, verdict)


@pytest.mark.parametrize(("text", "value"), [
    ("#### 18\u00bd", "18.5"), ("#### 18 \u00bd", "18.5"), ("#### 18\u00bc dollars", "18.25"), ("#### 18\u2153", "55/3"),
    ("#### -18\u00bd", "-18.5"), ("#### 18\u00b2", "324"), ("#### 18\u00b3", "5832"), ("#### 18 squared", "324"),
    ("#### 18 and a half", "18.5"), ("The answer is 18 and one quarter.", "18.25"), ("#### negative 18", "-18"),
    ("She has 18\u00bd left.", "18.5"),
])
def test_what_changes_a_number_is_part_of_it(verifier: MathAnswer, text: str, value: str) -> None:
    """ "18\u00bd" is 18.5 and "18\u00b2" is 324: read as 18, a wrong answer would pass against 18."""
    verdict = _verdict(verifier, text)
    assert verdict.outcome is Outcome.FAIL and verdict.details["answer"] == value, (text, verdict)
    right = verifier.verify(Problem("p", Prompt(text="q"), {"answer": value, "task": "gsm8k"}), Sample("p", 0, 0, text))
    assert right.outcome is Outcome.PASS or "/" in value, (text, right)


def test_a_fraction_is_one_value_not_two(verifier: MathAnswer) -> None:
    """`#### 18/19` states one number, 18/19, which is not the gold: a plain wrong answer, not a hedge."""
    verdict = _verdict(verifier, "#### 18/19")
    assert verdict.outcome is Outcome.FAIL and verdict.reason == "answer 18/19 != reference 18", verdict
    assert verdict.details["answer_key"] == "n:18/19"
