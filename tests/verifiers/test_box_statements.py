"""A box is read with everything it states, not as the number math-verify happens to keep (revision 6).

math-verify drops words (`\\text{...}` but "and"/"or"), wide spacing (`\\quad`), `\\mid`, an alignment `&` and
a base subscript, and reads several lines by their last: `\\boxed{19 \\text{ (maybe } 18)}`, `\\boxed{18 \\\\ 19}`
and `\\boxed{40_8}` read as 18, 19 and 40 to it, and passed those golds. At 10,000 samples a per-sample false
pass becomes a false solve, so each family is checked as a class: every word that may stand between two
numbers, every line layout, every pair of bases. GSM8K's typeset minus signs and number words are here too.
Look-alikes that must keep passing sit beside each family (MATH's own golds: `19 \\text{ and }43`, `-221_3`,
`\\text{A,D}`, matrices)."""

from __future__ import annotations

import itertools

import pytest
from _math_answers import outcome as _outcome

from monkeys.core import Outcome, Problem, Prompt, Sample
from monkeys.verifiers.math_answer import MathAnswer

# ---- words, spacing and lines between numbers in a box -------------------------------------------------------

WORDS = ["maybe", "possibly", "could be", "about", "approximately", "i.e.,", "not", "previously", "or rather",
         "if we exclude 0,", "alternatively", "rounded:", "exactly", "else", "which gives", "also"]
TEXTS = ["\\text{{ ({w} }}", "\\textrm{{ ({w} }}", "\\mbox{{ ({w} }}", "\\text{{ {w} }}", "\\quad \\text{{({w} }}"]


def test_another_value_after_words_in_a_box_is_a_hedge(verifier: MathAnswer) -> None:
    # a space before the second number first: the verdict cache keys answers up to spacing, and math-verify reads
    # `\text{ (maybe } 18)` as 18 but `\text{ (maybe }18)` as neither
    texts = [f"\\boxed{{19 {t.format(w=w)}{space}18{end}}}"
             for space, w, t, end in itertools.product([" ", ""], WORDS, TEXTS, [")", ""])]
    assert len(texts) == 320
    passing = [(gold, text) for text in texts for gold in ("18", "19")
               if _outcome(verifier, gold, text) is Outcome.PASS]
    assert passing == [], (len(passing), passing[:10])


SEPARATORS = ["\\sim", "|", "\\vert", "\\cr", "\\land", "\\wedge", "\\vee", "\\text{, }", "\\not=", "\\cong",
              "\\propto", "\\dots", "\\colon", "\\iff", "\\Leftrightarrow", "\\Leftarrow", "\\longmapsto", "\\ll",
              "\\gg", "\\hspace{1em}", "\\;", "\\searrow", "\\leftrightarrow"]


def test_a_number_math_verify_drops_makes_no_answer(verifier: MathAnswer) -> None:
    """Whatever stands between them: math-verify keeps the last number of `19 \\sim 18`, `19 \\cr 18`, ...; a
    box that states a number its reading ignores is not read as that reading."""
    texts = [f"\\boxed{{{a} {sep} {b}}}" for sep in SEPARATORS for a, b in (("19", "18"), ("x = 19", "18"))]
    passing = [text for text in texts if _outcome(verifier, "18", text) is Outcome.PASS]
    assert passing == [], (len(passing), passing)


@pytest.mark.parametrize(("gold", "text"), [
    ("18", "\\boxed{18 \\text{ cm}^2}"), ("1000", "\\boxed{1{,}000 \\text{ dollars}}"), ("x_1 + 2", "\\boxed{2 + x_1}"),
    ("\\sqrt[3]{2}", "\\boxed{2^{1/3}}"), ("2000", "\\boxed{2 \\times 10^{3}}"), ("3 + 4i", "\\boxed{4i + 3}"),
    ("(2, 5]", "\\boxed{(2, 5]}"), ("y = 2x + 3", "\\boxed{y = 3 + 2x}"), ("\\frac{1}{2}", "\\boxed{\\frac{2}{4}}"),
    ("10^{-3}", "\\boxed{0.001}"), ("\\{1, 2\\}", "\\boxed{\\{2, 1\\}}"), ("90^\\circ", "\\boxed{90^{\\circ}}"),
    ("19 \\sim 18", "\\boxed{19 \\sim 18}"),
])
def test_numbers_math_verify_reads_all_of_pass(verifier: MathAnswer, gold: str, text: str) -> None:
    assert _outcome(verifier, gold, text) is Outcome.PASS, (gold, text)


@pytest.mark.parametrize("text", [
    "\\boxed{19 \\text{ for } x = 18}", "\\boxed{19 \\quad (x = 18)}", "\\boxed{19 \\text{ (at } x = 18)}",
    "\\boxed{19 \\text{ when } n = 18}", "\\boxed{19 \\qquad (x = 18)}", "\\boxed{19 \\mid 18}", "\\boxed{19 & 18}",
    "\\boxed{18 \\\\ 19}", "\\boxed{x = 18 \\\\ x = 19}", "\\boxed{19 \\\\ 18}",
    "\\boxed{\\begin{aligned} x &= 19 \\\\ x &= 18 \\end{aligned}}", "\\boxed{\\begin{cases} 19 \\\\ 18 \\end{cases}}",
    "\\boxed{\\begin{aligned} x &= 18 \\\\ x &= 19 \\end{aligned}}", "\\boxed{\\begin{cases} 18 \\\\ 19 \\end{cases}}",
    "Final Answer: The final answer is $18 \\\\ 19$. I hope it is correct.",
    "Final Answer: The final answer is $19 \\\\ 18$. I hope it is correct.",
    "\\boxed{18\\text{ thousand}}", "\\boxed{18 \\text{ million}}", "\\boxed{18 \\textrm{ billion dollars}}",
    "\\boxed{\\not 18}", "\\boxed{18\\ldots}", "\\boxed{18, \\dots}",
])
def test_a_condition_other_lines_or_a_scale_word_are_not_the_gold_18(verifier: MathAnswer, text: str) -> None:
    assert _outcome(verifier, "18", text) is Outcome.FAIL, text


@pytest.mark.parametrize(("gold", "text"), [
    ("19", "\\boxed{19 \\text{ when } x = 18}"), ("19", "\\boxed{19 \\quad (x = 18)}"),
    ("19", "\\boxed{19 \\text{ for } x = 18}"), ("33", "\\boxed{33 \\text{ (base } 10)}"),
    ("19", "\\boxed{19 \\text{ (at } x = 18, y = 2)}"), ("18", "\\boxed{18 \\text{ (i.e. } 18)}"),
    ("18", "\\boxed{18 \\text{ dollars}}"), ("18", "\\boxed{18 \\text{ cm}^2}"), ("18", "\\boxed{18 \\quad}"),
    ("19 \\text{ and }43", "\\boxed{19 \\text{ and } 43}"),
    ("7, -2, \\text{ and } -5", "\\boxed{7, -2, \\text{ and } -5}"), ("-5, -2, 7", "\\boxed{7, -2, \\text{ and } -5}"),
    ("18 \\text{ thousand}", "\\boxed{18 \\text{ thousand}}"),
    ("\\begin{pmatrix} 6 \\\\ 3 \\\\ 0 \\end{pmatrix}", "\\boxed{\\begin{pmatrix} 6 \\\\ 3 \\\\ 0 \\end{pmatrix}}"),
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\boxed{\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}}"),
    ("0.5", "\\boxed{\\frac{1}{2} \\text{ (i.e. } 0.5)}"),
    ("\\frac{\\sqrt{2}}{2}", "\\boxed{\\frac{\\sqrt{2}}{2} \\text{ (about } 0.707)}"),
    ("33", "\\boxed{33 \\text{ (in base 10)}}"), ("33", "\\boxed{33_{10} \\text{ (in base } 10)}"),
    ("19", "\\boxed{19, \\text{ attained at } x = 18}"), ("18", "\\boxed{x = 18 \\\\ x = 18}"),
    ("18, 19", "\\boxed{x = 18 \\\\ x = 19}"),
    ("18", "\\boxed{\\begin{aligned} x &= 18 \\end{aligned}}"),
])
def test_one_value_with_words_a_condition_or_the_golds_shape_passes(verifier: MathAnswer, gold: str,
                                                                      text: str) -> None:
    assert _outcome(verifier, gold, text) is Outcome.PASS, (gold, text)


@pytest.mark.parametrize("text", ["\\boxed{19 \\text{ (maybe } 18)}", "\\boxed{19 \\quad \\text{(or rather } 18)}"])
def test_a_hedge_in_a_box_casts_no_vote(verifier: MathAnswer, text: str) -> None:
    verdict = verifier.verify(Problem("p", Prompt(text="q"), {"answer": "19", "task": "math"}), Sample("p", 0, 0, text))
    assert verdict.details["answer_key"] is None and "several answers" in verdict.reason, verdict


# ---- base subscripts ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["math-verify", "minerva"])
def test_a_base_label_is_part_of_the_number(verifier: MathAnswer, minerva: MathAnswer, mode: str) -> None:
    v = verifier if mode == "math-verify" else minerva
    digits = ["40", "42", "1101", "11010", "18"]
    labels = ["_2", "_4", "_6", "_7", "_8", "_9", "_{10}", "_{12}"]
    wrong = []
    for d, gold_label, answer_label in itertools.product(digits, labels, labels):
        gold_value, answer_value = _value(d, gold_label), _value(d, answer_label)
        if gold_value is None or gold_label == answer_label or gold_value == answer_value:
            continue
        if _outcome(v, d + gold_label, f"\\boxed{{{d}{answer_label}}}") is Outcome.PASS:
            wrong.append((d + gold_label, d + answer_label))
    for d, label in itertools.product(digits, labels):  # a labelled answer against a decimal gold
        if _value(d, label) != int(d) and _outcome(v, d, f"\\boxed{{{d}{label}}}") is Outcome.PASS:
            wrong.append((d, d + label))
    assert wrong == [], wrong


def _value(digits: str, label: str) -> int | None:
    try:
        return int(digits, int(label.strip("_{}")))
    except ValueError:
        return None


@pytest.mark.parametrize(("gold", "text"), [
    ("40_9", "\\boxed{40}"), ("40_9", "\\boxed{40_{9}}"), ("40_9", "\\boxed{40_9}"), ("18", "\\boxed{18_{10}}"),
    ("-221_3", "\\boxed{-221_3}"), ("-221_3", "\\boxed{-221}"), ("1101_2", "\\boxed{13_{10}}"), ("18", "\\boxed{22_8}"),
    ("x_1", "\\boxed{x_1}"), ("a_{10}", "\\boxed{a_{10}}"),
])
@pytest.mark.parametrize("mode", ["math-verify", "minerva"])
def test_a_base_label_look_alike_passes(verifier: MathAnswer, minerva: MathAnswer, mode: str, gold: str,
                                       text: str) -> None:
    assert _outcome(verifier if mode == "math-verify" else minerva, gold, text) is Outcome.PASS, (gold, text)


# ---- choice letters ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("gold", "text", "ok"), [
    ("\\text{A,D}", "\\boxed{A, D}", True), ("\\text{A,D}", "\\boxed{\\text{A}, \\text{D}}", True),
    ("\\text{A,D}", "\\boxed{\\text{(A)}, \\text{(D)}}", True), ("\\text{C,E}", "\\boxed{C, E}", True),
    ("\\text{B, E, G}", "\\boxed{B, E, G}", True), ("B, C", "\\boxed{\\text{B, C}}", True),
    ("\\text{A,D}", "\\boxed{D, A}", True), ("\\text{A,D}", "\\boxed{A, C}", False),
    ("\\text{A,D}", "\\boxed{A}", False), ("\\text{A,D}", "\\boxed{A, D, E}", False),
    ("B, C", "\\boxed{\\text{B}}", False), ("\\text{(C)}", "\\boxed{C}", True),
])
def test_choice_letters_compare_as_sets(verifier: MathAnswer, gold: str, text: str, ok: bool) -> None:
    assert (_outcome(verifier, gold, text) is Outcome.PASS) is ok, (gold, text)


# ---- GSM8K: typeset minus signs, number words ----------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "#### \u221218", "#### \u201318", "The answer is \u221218.", "She ends with \u221218 dollars.", "#### minus 18",
    "The answer is minus 18.", "#### 18 and three quarters", "#### 18 and two thirds", "#### 18 and one fifth",
    "#### 18\u207b\u00b9", "#### \u221a18", "#### \\sqrt{18}", "#### 18\u201320", "#### 18 \u2212 19",
])
def test_gsm8k_signs_and_number_words_change_the_value(verifier: MathAnswer, text: str) -> None:
    assert _outcome(verifier, "18", text, "gsm8k") is Outcome.FAIL, text


@pytest.mark.parametrize(("gold", "text"), [
    ("-10", "#### \u221210"), ("-10", "The answer is \u221210."), ("-10", "#### \u201310"), ("-18", "#### minus 18"),
    ("18.75", "#### 18 and three quarters"), ("18.4", "#### 18 and two fifths"), ("18.5", "#### 18 and a half"),
    ("0.5", "#### 2\u207b\u00b9"), ("4", "#### \u221a16"), ("18", "#### \\frac{36}{2}"),
    ("18", "#### $\\dfrac{36}{2}$"), ("4", "#### $\\sqrt{16}$"),
    ("0.5", "#### \\frac{1}{2}"), ("2", "She had 20 and gave away 18, so 20 minus 18 = 2.\n#### 2"),
    ("18", "#### 18"), ("18", "The answer is 18!"),
])
def test_gsm8k_signs_and_number_words_are_read(verifier: MathAnswer, gold: str, text: str) -> None:
    assert _outcome(verifier, gold, text, "gsm8k") is Outcome.PASS, (gold, text)


# ---- a space that text mode prints between digits ---------------------------------------------------------------

PRINTED = ["\\text{1 8}", "\\textrm{1 8}", "\\textbf{1  8}", "\\mbox{1 8}", "1\\text{ }8", "1\\mbox{ } 8",
           "\\text{1 }8", "1\\text{ 8}", "\\textnormal{1 8}"]


@pytest.mark.parametrize("box", PRINTED)
def test_digits_a_printed_space_separates_are_not_one_number(verifier: MathAnswer, box: str) -> None:
    # "\text{1 8}" shows "1 8", as "1\ 8" and "1\quad 8" do; light normalisation (the verdict cache's key) and
    # math-verify both read 18, so it passed gold 18, and so did any such answer once "\text{18}" was cached
    assert _outcome(verifier, "18", "The answer is $\\boxed{\\text{18}}$.") is Outcome.PASS
    assert _outcome(verifier, "18", f"The answer is $\\boxed{{{box}}}$.") is Outcome.FAIL, box


@pytest.mark.parametrize("box", ["1 8", "18\\text{ cm}", "1\\,8", "18 \\text{ apples}",
                                 "\\text{18}", "1\n8"])
def test_math_mode_spaces_and_units_still_read_as_one_number(verifier: MathAnswer, box: str) -> None:
    assert _outcome(verifier, "18", f"The answer is $\\boxed{{{box}}}$.") is Outcome.PASS, box
