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
