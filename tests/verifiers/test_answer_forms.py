"""Answer forms that named another value than the gold and passed, checked as classes (revision 9).

A ninth red-team round found these, each read by math-verify or the GSM8K reader as the gold 18: a box inside
another box or inside `\\phantom`, a relation or bound with no left side (`\\le 18`, `18 \\text{ at most}`), a
word that scales or powers the number (`18 \\text{ dozen}`, `18 \\text{ squared}`) or names another value
(`18 \\text{ (nineteen)}`), two numbers math-verify's rounding to 6 places calls equal (`0.0000002` for
`0.0000001`, `\\frac{355}{113}` for `\\pi`), and in GSM8K the minus signs and hyphens of typeset text, a
superscript after a space, a subscript base label, a bound or another value before the number ("#### more than
18", "#### half of 18") and number words ("#### 18 (nineteen)"). Look-alikes that must keep passing sit beside
each family. At 10,000 samples a per-sample false pass becomes a false solve."""

from __future__ import annotations

import itertools

import pytest
from _math_answers import outcome as _outcome

from monkeys.core import Outcome, Problem, Prompt, Sample
from monkeys.verifiers._answer_extract import last_boxed, math_answer
from monkeys.verifiers._math_normalize import asked_quantities, numeric_verdict
from monkeys.verifiers.math_answer import MathAnswer

# ---- the box a reader sees -------------------------------------------------------------------------------------

NESTED = ["$\\boxed{19 \\boxed{18}}$", "$\\boxed{19, \\boxed{18}}$", "$\\boxed{19 \\text{ or } \\fbox{18}}$",
          "$\\fbox{19 \\boxed{18}}$", "$\\boxed{\\frac{19}{\\boxed{18}}}$", "$\\boxed{19 + \\boxed {18}}$"]
HIDDEN = ["$\\boxed{19}\\phantom{\\boxed{18}}$", "$\\boxed{19}$ $\\hphantom{\\boxed{18}}$",
          "$\\boxed{19}\\vphantom{x \\boxed{18}}$", "\\boxed{19}\n\n$\\phantom{ {\\boxed{18}} }$"]


@pytest.mark.parametrize("text", NESTED + HIDDEN)
def test_a_box_inside_a_box_or_a_phantom_is_not_the_answer(verifier: MathAnswer, text: str) -> None:
    # the last `\boxed` in the text was read: 18, though a reader sees "19 18" or only 19
    assert _outcome(verifier, "18", text) is Outcome.FAIL, text


@pytest.mark.parametrize(("text", "box"), [
    ("$\\boxed{\\boxed{18}}$", "{18}"), ("$\\boxed{x = \\boxed{18}}$", "x = {18}"), ("$\\fbox{\\boxed{18}}$", "{18}"),
    ("$\\boxed{19\\phantom{1}}$ and then $\\boxed{18}$", "18"), ("$\\phantom{x}\\boxed{18}$", "18"),
    ("$\\boxed{19$ wait, truncated. So $\\boxed{18}$.", "18"),  # an unclosed box hides nothing
    ("\\boxed 18", "18"), ("$\\boxed{18}$", "18"),
])
def test_boxes_a_reader_sees_are_read(verifier: MathAnswer, text: str, box: str) -> None:
    assert last_boxed(text) == box, text
    assert _outcome(verifier, "18", text) is Outcome.PASS, text


WHITE = ["$\\boxed{19}$ $\\textcolor{white}{\\boxed{18}}$", "$\\boxed{19}$ ${\\color{white}\\boxed{18}}$",
         "$\\boxed{19}$ $\\textcolor{#FFFFFF}{\\boxed{18}}$", "$\\boxed{19}$ $\\textcolor[rgb]{1,1,1}{\\boxed{18}}$",
         "$\\boxed{19}$ ${\\color[RGB]{255, 255, 255} \\boxed{18}}$", "$\\boxed{19}$ $\\textcolor{#fff}{\\boxed{18}}$",
         "$\\boxed{19}$ $\\textcolor {white} {x = \\boxed{18}}$", "$\\boxed{19}$ {\\color{ white } $\\boxed{18}$}"]
NEXT = ["Problem:", "Problem 2:", "## Problem:", "**Problem:**", "  Problem:"]


@pytest.mark.parametrize("text", WHITE)
def test_a_box_in_white_is_not_the_answer(verifier: MathAnswer, text: str) -> None:
    assert _outcome(verifier, "18", text) is Outcome.FAIL, text
    assert _outcome(verifier, "19", text) is Outcome.PASS, text


@pytest.mark.parametrize("head", NEXT)
def test_a_few_shot_continuation_after_the_answer_is_not_read(verifier: MathAnswer, head: str) -> None:
    # a base model sampled without the stop sequence solves a made-up next problem; its box was read as the answer
    for answer, then in (("$\\boxed{19}$.", "$9 + 9 = \\boxed{18}$."),
                         ("Final Answer: The final answer is $19$. I hope it is correct.",
                          "$9 + 9 = \\boxed{18}$."),
                         ("$\\boxed{19}$.", "Final Answer: The final answer is $18$. I hope it is correct.")):
        text = f"So $x = 19$, and {answer}\n\n{head}\nWhat is $9 + 9$?\n\nSolution:\n{then}"
        assert _outcome(verifier, "18", text) is Outcome.FAIL, text
        assert _outcome(verifier, "19", text) is Outcome.PASS, text


COMMENTED = ["So $\\boxed{19}$. <!-- $\\boxed{18}$ -->", "So $\\boxed{19}$.\n<!--\nFinal: \\boxed{18}\n-->",
             "$\\boxed{19}$ \\iffalse $\\boxed{18}$ \\fi",
             "The answer is $19$. <!-- Final Answer: The final answer is $18$. I hope it is correct. -->"]


@pytest.mark.parametrize("text", COMMENTED)
def test_what_a_comment_hides_is_not_read(verifier: MathAnswer, text: str) -> None:
    assert _outcome(verifier, "18", text) is Outcome.FAIL, text


@pytest.mark.parametrize("text", ["She has 19 apples. <!-- #### 18 -->", "#### 19 <!-- or 18 -->",
                                  "The answer is 19.\n\\iffalse\n#### 18\n\\fi"])
def test_gsm8k_what_a_comment_hides_is_not_read(verifier: MathAnswer, text: str) -> None:
    assert _outcome(verifier, "18", text, "gsm8k") is Outcome.FAIL, text
    assert _outcome(verifier, "19", text, "gsm8k") is Outcome.PASS, text


@pytest.mark.parametrize("text", ["<!-- draft: 19 --> So $\\boxed{18}$.", "Use <!-- to start. So $\\boxed{18}$.",
                                  "<!--" * 5000 + "$\\boxed{18}$"])
def test_text_around_or_with_an_unclosed_comment_is_read(verifier: MathAnswer, text: str) -> None:
    assert _outcome(verifier, "18", text) is Outcome.PASS, text[:40]


def test_a_problem_restated_before_the_answer_is_read_whole(verifier: MathAnswer) -> None:
    text = "Problem:\nFind $x$.\n\nSolution:\nWe get $x = \\boxed{18}$."
    assert _outcome(verifier, "18", text) is Outcome.PASS


IN_EXPRESSION = ["$x = \\sqrt{\\boxed{18}}$", "$x = \\frac{1}{\\boxed{18}}$", "$x = \\frac{\\boxed{18}}{2}$",
                 "$x = \\boxed{18}^2$", "$x = \\boxed{18}^{2}$",
                 "$\\boxed{18}^{-1}$", "$\\boxed{18}^n$", "$x = 2^{\\boxed{18}}$", "$x = 1\\boxed{18}$",
                 "$x = \\boxed{18}0$", "$x = 0.\\boxed{18}$", "$x = \\sqrt[3]{\\boxed{18}}$",
                 "$\\dfrac{3}{\\boxed{18}}$"]
SIGNED = ["$x = -\\boxed{18}$", "The answer is $-\\boxed{18}$.", "So $x = - \\boxed{18}$", "$(-\\boxed{18})$",
          "we get \\[ y = -\\boxed{18}. \\]", "The answer is -\\boxed{18}.", "$x = \u2212\\boxed{18}$"]


@pytest.mark.parametrize("text", IN_EXPRESSION)
def test_a_box_inside_an_expression_is_no_answer(verifier: MathAnswer, text: str) -> None:
    assert _outcome(verifier, "18", text) is Outcome.FAIL, text


@pytest.mark.parametrize("text", SIGNED)
def test_a_minus_sign_before_a_box_is_the_answers(verifier: MathAnswer, text: str) -> None:
    assert _outcome(verifier, "18", text) is Outcome.FAIL, text
    assert _outcome(verifier, "-18", text) is Outcome.PASS, text


@pytest.mark.parametrize(("gold", "text"), [
    ("2", "$-\\frac{3}{2}-(-\\frac{7}{2})=\\boxed{2}$, or $\\frac{-4}{2}=-\\frac{3}{2}-\\boxed{2}$."),
    ("18", "$x - \\boxed{18}$"), ("18", "$\\pi - \\boxed{18}$"), ("18", "$\\boxed{18}^\\circ$"),
    ("18", "$\\boxed{18}^{\\circ}$"), ("18", "$\\boxed{18}^o$"), ("18", "$\\boxed{18}^{\\text{o}}$"),
    ("18", "$\\boxed{18}^{\\prime}$"), ("18", "$\\text{angle} = \\boxed{18}^\\circ$"),
    ("18", "so it is $\\boxed{18}$."),
    ("18", "$x^2 = \\boxed{18}$"), ("18", "$\\frac{36}{2} = \\boxed{18}$"), ("18", "$\\sqrt{324} = \\boxed{18}$"),
])
def test_a_box_beside_an_expression_is_still_read(verifier: MathAnswer, gold: str, text: str) -> None:
    assert _outcome(verifier, gold, text) is Outcome.PASS, (gold, text)


@pytest.mark.parametrize("text", ["$x = \\pm\\boxed{18}$", "$x = \\mp \\boxed{18}$", "$x = \u00b1\\boxed{18}$",
                                  "$x = \u2213\\boxed{18}$"])
@pytest.mark.parametrize("task", ["math", "gsm8k"])
def test_a_plus_minus_sign_before_a_box_is_a_hedge(verifier: MathAnswer, text: str, task: str) -> None:
    for gold in ("18", "-18"):
        assert _outcome(verifier, gold, text, task) is Outcome.FAIL, (gold, text)


@pytest.mark.parametrize("text", ["The answer is $-\\boxed{18}$.", "So the answer is -\\boxed{18}.", "= -\\boxed{18}"])
def test_gsm8k_a_minus_sign_before_a_box_is_the_answers(verifier: MathAnswer, text: str) -> None:
    assert _outcome(verifier, "18", text, "gsm8k") is Outcome.FAIL, text
    assert _outcome(verifier, "-18", text, "gsm8k") is Outcome.PASS, text


@pytest.mark.parametrize("text", ["$\\boxed{18}$ thousand", "there are $\\boxed{18}$ million of them",
                                  "$\\boxed{18}\\text{ hundred}$", "\\boxed{18} dozen eggs"])
def test_a_scale_word_after_the_box_is_the_answers(verifier: MathAnswer, text: str) -> None:
    assert _outcome(verifier, "18", text) is Outcome.FAIL, text


@pytest.mark.parametrize("mode", ["math-verify", "minerva"])
@pytest.mark.parametrize("middle", [" " * 2100, "\\," * 1100, "\\phantom{" + "x" * 2100 + "}"])
def test_an_answer_too_long_to_read_fails_whole_not_cut_short(verifier: MathAnswer, minerva: MathAnswer, mode: str,
                                                               middle: str) -> None:
    # cut to 2,000 characters, "18 <spaces> \text{ or } 19" was read as 18
    v = verifier if mode == "math-verify" else minerva
    for text in (f"$\\boxed{{18{middle}\\text{{ or }} 19}}$",
                 f"Final Answer: The final answer is $18{middle}\\text{{ or }} 19$. I hope it is correct."):
        assert _outcome(v, "18", text) is Outcome.FAIL, (mode, text[:40])


def test_nested_and_hidden_boxes_are_read_in_the_minerva_phrase_too(verifier: MathAnswer) -> None:
    phrase = "Final Answer: The final answer is $\\boxed{19 \\boxed{18}}$. I hope it is correct."
    assert math_answer(phrase) == "19 {18}"
    assert _outcome(verifier, "18", phrase) is Outcome.FAIL


# ---- bounds, relations, scale and power words, number words in a box -------------------------------------------

RELATIONS = ["\\le", "\\leq", "\\ge", "\\geq", "<", ">", "\\lt", "\\gt", "\\ne", "\\neq", "\\leqslant", "\\geqslant",
             "\\lesssim", "\\gtrsim", "\\ll", "\\gg", "\u2264", "\u2265", "\u2260", "\\not="]
BOUND_WORDS = ["at least", "at most", "or more", "or fewer", "or less", "and up", "more than", "less than",
               "fewer than", "greater than", "up to", "not", "under", "over", "nearly", "almost", "below zero"]


@pytest.mark.parametrize("relation", RELATIONS)
def test_a_relation_with_no_left_side_states_a_bound_not_the_number(verifier: MathAnswer, relation: str) -> None:
    for box in (f"{relation} 18", f"{relation}18", f"\\left. {relation} 18 \\right.", f"{{{relation} 18}}"):
        assert _outcome(verifier, "18", f"The answer is $\\boxed{{{box}}}$.") is Outcome.FAIL, box


@pytest.mark.parametrize("words", BOUND_WORDS)
def test_a_bound_in_words_states_no_value(verifier: MathAnswer, words: str) -> None:
    for box in (f"18 \\text{{ {words}}}", f"\\text{{{words} }} 18", f"18\\mbox{{ ({words})}}"):
        assert _outcome(verifier, "18", f"$\\boxed{{{box}}}$") is Outcome.FAIL, box


@pytest.mark.parametrize("word", ["squared", "cubed", "dozen", "hundred", "halves", "thirds", "quarters", "tenths",
                                  "hundredths", "(nineteen)", "(or nineteen)", "(twenty-one)", "or seventeen"])
def test_a_word_that_scales_powers_or_names_another_value_is_no_18(verifier: MathAnswer, word: str) -> None:
    for box in (f"18 \\text{{ {word}}}", f"18\\textrm{{ {word}}}", f"18\\ \\mathrm{{{word}}}"):
        assert _outcome(verifier, "18", f"$\\boxed{{{box}}}$") is Outcome.FAIL, box


@pytest.mark.parametrize(("gold", "box"), [
    ("18", "\\approx 18"), ("18", "= 18"), ("18", "x = 18"), ("18", "18 \\text{ cm squared}"),
    ("18", "18 \\text{ square units}"), ("18", "18 \\text{ (eighteen)}"), ("18", "18\\text{ cm}^2"),
    ("18", "18 \\text{ ways}"), ("x \\le 18", "x \\le 18"), ("18", "18\\%"), ("0.18", "18\\%"),
    ("5 \\text{ dozen}", "5 \\text{ dozen}"), ("\\text{at least } 5", "\\text{at least } 5"),
    ("(-\\infty, 18]", "(-\\infty, 18]"), ("18", "18 \\text{ (the only answer)}"),
    ("18", "18 \\text{ (maximum)}"), ("\\langle 1, 2 \\rangle", "<1, 2>"), ("18", "18'"),
])
def test_look_alikes_of_bounds_and_words_still_pass(verifier: MathAnswer, gold: str, box: str) -> None:
    assert _outcome(verifier, gold, f"The answer is $\\boxed{{{box}}}$.") is Outcome.PASS, (gold, box)


# ---- rounding: how close a different number may be ---------------------------------------------------------------

@pytest.mark.parametrize(("gold", "box"), [
    ("0.0000001", "0.0000002"), ("0.0000001", "0"), ("0.5", "0.5000004"), ("2.5", "2.50000001"),
    ("\\frac{1}{3}", "0.3333334"), ("\\pi", "\\frac{355}{113}"), ("\\sqrt{2}", "\\frac{665857}{470832}"),
    ("\\frac{1}{30000}", "0.000033"), ("0.0000001", "0.0000002 \\text{ cm}"), ("0.0000001", "0.00002\\%"),
    ("\\pi", "\\frac{355}{113} \\text{ radians}"), ("10^{-7}", "2 \\cdot 10^{-7} \\text{ m}"),
    ("0.0000001", "0.0000002 + 0 \\cdot 1.234567 \\text{ cm}"),
    ("\\pi", "\\frac{355}{113} + 0 \\cdot 3.141593 \\text{ m}"),
])
def test_numbers_that_differ_below_six_places_are_different(verifier: MathAnswer, gold: str, box: str) -> None:
    # math-verify rounds to 6 decimal places before comparing: each of these passed
    assert _outcome(verifier, gold, f"$\\boxed{{{box}}}$") is Outcome.FAIL, (gold, box)


@pytest.mark.parametrize(("gold", "box"), [
    ("\\frac{1}{3}", "0.333333"), ("\\frac{1}{3}", "0.3333333"), ("\\sqrt{2}", "1.414214"), ("\\pi", "3.141593"),
    ("\\frac{2}{3}", "0.666667"), ("0.5", "\\frac{1}{2}"), ("0.0000001", "10^{-7}"), ("18", "18.0"),
    ("\\frac{1}{3}", "0.333333 \\text{ cm}"), ("18", "1800\\%"),
])
def test_a_decimal_written_to_six_significant_digits_still_passes(verifier: MathAnswer, gold: str, box: str) -> None:
    assert _outcome(verifier, gold, f"$\\boxed{{{box}}}$") is Outcome.PASS, (gold, box)


def test_numeric_verdict_fails_different_numbers_that_no_decimal_rounds() -> None:
    assert numeric_verdict("0.0000001", "0.0000002", "math-verify") is False
    assert numeric_verdict("\\pi", "\\frac{355}{113}", "math-verify") is False
    assert numeric_verdict("\\frac{1}{3}", "0.333333", "math-verify") is None  # math-verify decides, as before
    assert numeric_verdict("0.0000001", "0.0000002", "minerva") is None  # the paper's grader is left as it was


# ---- GSM8K: minus signs, superscripts and subscripts, bounds and number words ---------------------------------------

MINUS = ["\u2212", "\u2013", "\u2010", "\u2011", "\u2012", "\ufe63", "\uff0d", "\u2796", "\u02d7"]
MARKERS = ["#### {}", "The answer is {}.", "Answer: {}", "She has 3 apples.\n#### {}"]


@pytest.mark.parametrize(("minus", "marker"), list(itertools.product(MINUS, MARKERS)))
def test_gsm8k_every_typeset_minus_sign_is_one(verifier: MathAnswer, minus: str, marker: str) -> None:
    text = marker.format(minus + "18")
    assert _outcome(verifier, "18", text, "gsm8k") is Outcome.FAIL, text
    assert _outcome(verifier, "-18", text, "gsm8k") is Outcome.PASS, text


@pytest.mark.parametrize("answer", ["18 \u00b2", "18 \u00b3", "18\u2081\u2089", "18 \u2088", "18\u2082"])
def test_gsm8k_a_power_after_a_space_or_a_subscript_changes_the_number(verifier: MathAnswer, answer: str) -> None:
    assert _outcome(verifier, "18", f"#### {answer}", "gsm8k") is Outcome.FAIL, answer


BEFORE = ["more than", "less than", "at least", "at most", "not", "up to", "over", "under", "nearly", "almost",
          "half of", "one third of", "a quarter of", "twice", "double", "triple", "<", ">", "\u2264", "\u2265",
          "\u2260", "\\le", "\\geq", "\\neq", "$\\le$", "more than $"]


@pytest.mark.parametrize(("before", "marker"), list(itertools.product(BEFORE, ["#### {} 18", "The answer is {} 18."])))
def test_gsm8k_a_bound_or_another_value_before_the_number_is_no_answer(verifier: MathAnswer, before: str,
                                                                        marker: str) -> None:
    text = marker.format(before)
    assert _outcome(verifier, "18", text, "gsm8k") is Outcome.FAIL, text


@pytest.mark.parametrize("text", ["#### 18 or more", "#### 18+", "#### 18 at least", "#### 18 or fewer", "#### **18+**",
                                  "The answer is 18 or more.", "#### 18 and up", "#### $18+"])
def test_gsm8k_a_bound_after_the_number_is_no_answer(verifier: MathAnswer, text: str) -> None:
    assert _outcome(verifier, "18", text, "gsm8k") is Outcome.FAIL, text


@pytest.mark.parametrize("text", ["#### 18 (nineteen)", "#### nineteen (18)", "#### 18, or maybe seventeen",
                                  "#### 18 (twenty-one with tax)", "The answer is 18 (nineteen).",
                                  "#### 18 or ninety"])
def test_gsm8k_a_number_word_in_the_answer_is_another_value(verifier: MathAnswer, text: str) -> None:
    assert _outcome(verifier, "18", text, "gsm8k") is Outcome.FAIL, text


@pytest.mark.parametrize(("gold", "text"), [
    ("18", "#### about 18"), ("18", "#### ~18"), ("18", "#### A total of 18"), ("18", "#### $18"),
    ("18", "#### 18 (eighteen)"), ("18", "#### 18, one for each of them"), ("18.75", "#### 18 and three quarters"),
    ("24", "#### 24 (two dozen)"), ("18", "#### 18\n\nTwo of them were red."), ("324", "#### 18\u00b2"),
    ("18", "#### **18**"), ("-18", "#### -18"), ("18", "The answer is 18 = 3 * 6."),
    ("18", "Over the 3 days she earns 6 each day, so 3 * 6 = 18.\n#### 18"),
    ("18", "#### 18 = 16 + 2"), ("18", "#### 18 or so"), ("18", "#### 18. Or more precisely, 18 dollars."),
])
def test_gsm8k_look_alikes_still_pass(verifier: MathAnswer, gold: str, text: str) -> None:
    assert _outcome(verifier, gold, text, "gsm8k") is Outcome.PASS, (gold, text)


# ---- an equation that restates the quantity the problem asks for (a false fail since revision 7) ---------------------

def _asked(verifier: MathAnswer, question: str, gold: str, box: str, chat: bool = True) -> Outcome:
    prompt = (Prompt(text="q", messages=({"role": "user", "content": "Problem:\nWhat is $1+1$?"},
                                         {"role": "assistant", "content": "$\\boxed{2}$"},
                                         {"role": "user", "content": f"Problem:\n{question}"}))
              if chat else Prompt(text=f"Problem:\nWhat is $1+1$?\n\nSolution:\n2\n\nProblem:\n{question}\n\n"
                                       "Solution:"))
    problem = Problem("p", prompt, {"answer": gold, "task": "math"})
    return verifier.verify(problem, Sample("p", 0, 0, f"So $\\boxed{{{box}}}$.")).outcome


@pytest.mark.parametrize("chat", [True, False])
@pytest.mark.parametrize(("question", "gold", "box"), [
    ("If $a$ and $b$ are the roots of $x^2 - 7x + 12 = 0$, find $a+b$.", "7", "a + b = 7"),
    ("What is the value of $x_1 + x_2$?", "18", "x_1+x_2 = 18"),
    ("Compute $f(2) + g(3)$.", "18", "f(2) + g(3) = 18"),
    ("Let $x = 9$. What is $2x$?", "18", "2x = 18"),
    ("Evaluate $\\frac{a}{b}$ given that $a = 36$ and $b = 2$.", "18", "\\frac{a}{b} = \\dfrac{36}{2} = 18"),
    ("Find the sum of $a^2 + b^2$.", "18", "a^2+b^2=18"),
])
def test_an_equation_restating_the_asked_quantity_states_its_value(verifier: MathAnswer, chat: bool, question: str,
                                                                    gold: str, box: str) -> None:
    assert _asked(verifier, question, gold, box, chat) is Outcome.PASS, (question, box)
    wrong = box.rsplit("=", 1)[0] + "= 19"
    assert _asked(verifier, question, gold, wrong, chat) is Outcome.FAIL, (question, wrong)


@pytest.mark.parametrize(("question", "gold", "box"), [
    ("If $a+b = 7$ and $ab = 12$, find $ab$.", "12", "a + b = 12"),  # the condition's expression is not asked
    ("Find $a+b$.", "7", "b + a = 7"),  # written otherwise: not read as the asked quantity
    ("Find $x$ if $2x = 18$.", "9", "2x = 9"),
    ("Find $a+b$.", "7", "a + b - 1 = 7"),
    ("What is $2x$?", "18", "2x = 19 = 18"),
    ("Find $a+b$.", "7", "a + b = 8 = 7"),
])
def test_an_equation_whose_left_side_is_not_asked_still_fails(verifier: MathAnswer, question: str, gold: str,
                                                               box: str) -> None:
    assert _asked(verifier, question, gold, box) is Outcome.FAIL, (question, box)


def test_asked_quantities_are_read_after_an_asking_word_only() -> None:
    assert asked_quantities("If $a+b=7$ and $c = 2$, find $a + b + c$. What is $ab$?") == {"a+b+c", "ab"}
    assert asked_quantities("Given $x^2 + y^2 = 4$, compute the value of $\\left(x+y\\right)^2$.") == {"(x+y)^2"}
    assert asked_quantities("Find all $x$ such that $x > 2$.") == frozenset()
    assert asked_quantities("No question here: $a+b$.") == frozenset()
