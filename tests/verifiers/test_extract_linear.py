"""Answer extraction runs in the main process on untrusted text, with no deadline: every reader must stay
linear in the completion's length. Long runs of one character or phrase are where a regular expression with
two adjacent repeats backtracks quadratically (20,000 newlines took 1.2 s in the `A:` marker, 20,000 spaces
65 s in the no-marker hedge rule); at 200,000 characters quadratic work takes hours, so the timeout fails it."""

from __future__ import annotations

import pytest

from monkeys.verifiers import _answer_extract as ax

UNITS = [" ", "\n", ", ", "or ", "maybe ", ". ", "$", "{", "1 ", "\\boxed{1} or ", "x = ", "A: ", "#### "]
FRAMES = ["{g}", "She has 19{g}18 left", "#### 18{g}", "#### 18 {g} 19", "\\boxed{{18}}{g}\\boxed{{19}}",
          "Final Answer: The final answer is $18${g}. I hope it is correct.", "The answer is 19.{g}\n#### 18"]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("unit", UNITS)
def test_readers_are_linear_on_long_repeats(unit: str) -> None:
    for frame in FRAMES:
        text = frame.format(g=unit * (200_000 // len(unit)))
        answer, _ = ax.gsm8k_answers(text)
        assert answer is None or isinstance(answer, str)
        ax.final_boxes(text)
        ax.boxed_alternatives(text)
        ax.minerva_alternatives(text)
        ax.box_before_phrase(text)
        ax.math_answer(text)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("text", [
    "#### 18 " * 12_500,  # every marker read its line's later values, each scanning the whole line: 17 s at 16 KB
    "A: 18 " * 16_000, "The answer is 18 " * 6_000,
    "Final Answer: The final answer is $18$.\n" * 25_000,  # no terminator: each phrase scanned to the end
    "Final Answer: The final answer is \\boxed{18}. " * 20_000,
])
def test_repeated_answers_are_read_in_linear_time(text: str) -> None:
    """Repeated answer lines and unterminated Minerva phrases (100 KB to 1 MB): quadratic work takes many
    minutes here, linear a few seconds."""
    ax.gsm8k_answers(text)
    ax.math_answer(text)
    ax.minerva_alternatives(text)
    ax.box_before_phrase(text)
    ax.final_boxes(text)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("unit", ["`", "```", "```python\n", "```a\n", "```diff\n--- a/x\n+++ b/x\n", "\n", " "])
def test_code_and_diff_extraction_are_linear(unit: str) -> None:
    """The first fence of a code sample (200,000 backticks took 25 s) and a SWE answer's fenced diffs (20,000
    opening fences with no closing one took 19 s) are found by scanning, in linear time."""
    from monkeys.swe.patching import extract_diff
    from monkeys.verifiers._code_extract import extract_code

    text = unit * (1_000_000 // len(unit))  # quadratic work on a million characters takes hours
    assert isinstance(extract_code(text), str)
    extract_diff(text)


@pytest.mark.parametrize(("text", "code"), [
    ("no fence", "no fence"), ("```python\nx = 1\n```\nrest", "x = 1\n"), ("```\nx = 1", "x = 1"),
    ("say ```py extra\nx\n```", "x\n"), ("``` ``` \nx\n``` y", "x\n"), ("```no newline", "```no newline"),
    ("a\n```\n\n```\n```\nb\n```", "\n"),
])
def test_code_is_the_first_fenced_block(text: str, code: str) -> None:
    from monkeys.verifiers._code_extract import extract_code

    assert extract_code(text) == code
