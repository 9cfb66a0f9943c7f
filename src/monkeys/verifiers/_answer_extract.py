"""Find the final answer in a model's completion: GSM8K numbers, MATH `\\boxed{}` and the Minerva phrase.

Pure string scanning, linear in the input and safe to run in-process on untrusted text; nothing here
parses mathematics (that is `_math_normalize`, run under a deadline).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# A number as GSM8K solutions write it: optional sign and currency, digits with thousands commas.
_NUMBER = r"-?\s?\$?\s?-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\$?\.\d+"
_NUMBER_RE = re.compile(_NUMBER)
# Markers after which a GSM8K answer is stated, strongest first: the dataset's `####`, the example
# solutions' `A:`, and the "The answer is" of chain-of-thought prompts.
_GSM8K_MARKERS = (
    re.compile(r"####\s*"),
    re.compile(r"(?:^|\n)\s*A:\s*"),
    re.compile(r"[Tt]he (?:final )?answer is:?\s*"),
)
_MAX_NUMBER_DIGITS = 200  # a longer "number" is noise, not an answer; also bounds Decimal work


def gsm8k_answer(text: str) -> str | None:
    """The number after the last answer marker, else the last number in `text`; None if there is none.

    Returned in canonical form (`canonical_number`), so `$1,000.00` and `1000` give the same string.
    """
    for marker in _GSM8K_MARKERS:
        found = None
        for found in marker.finditer(text):
            pass
        if found is not None:
            match = _NUMBER_RE.search(text, found.end(), found.end() + 64)
            if match is not None:
                return canonical_number(match.group())
    numbers = _NUMBER_RE.findall(text)
    for raw in reversed(numbers):
        value = canonical_number(raw)
        if value is not None:
            return value
    return None


def canonical_number(raw: str) -> str | None:
    """`-$1,234.50` -> `-1234.5`; trailing zeros, currency, spaces and commas dropped. None if not a number."""
    cleaned = raw.replace(",", "").replace("$", "").replace(" ", "").rstrip(".")
    if cleaned.startswith("--"):
        cleaned = cleaned[2:]
    if not cleaned or len(cleaned) > _MAX_NUMBER_DIGITS:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` / `\\fbox{...}` (braces balanced), or of `\\boxed 5`; else None."""
    boxed, fbox = text.rfind("\\boxed"), text.rfind("\\fbox")
    if boxed < 0 and fbox < 0:
        return None
    i = boxed + 6 if boxed > fbox else fbox + 5  # just past the command name
    if i < len(text) and text[i] == " ":
        end = i + 1
        while end < len(text) and text[end] not in "$ \n":
            end += 1
        return text[i + 1:end].strip() or None
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text) or text[i] != "{":
        return None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j].strip()
    return None  # unbalanced: a truncated completion


_MINERVA_RE = re.compile(r"Final Answer: The final answer is(.*?)\. I hope it is correct\.", re.S)


def minerva_answer(text: str) -> str | None:
    """The answer stated in the Minerva prompt's closing phrase ("The final answer is X. I hope...")."""
    match = _MINERVA_RE.search(text + "I hope it is correct.")
    if match is None:
        return None
    return match.group(1).strip() or None


def math_answer(text: str) -> str | None:
    """MATH final answer: the Minerva phrase when present (the prompt asks for it), else the last box."""
    answer = minerva_answer(text)
    if answer is not None:
        inner = last_boxed(answer)
        return inner if inner is not None else answer.strip().strip("$").strip()
    return last_boxed(text)
