"""Normalise and compare MATH answers: math-verify, and the Minerva/lm-eval `is_equiv` normalisation.

The `check_*` and `answer_key` functions parse untrusted LaTeX with sympy and can hang on hostile input
(huge exponents, nested radicals): call them only through `_timeout.DeadlinePool`, never in the caller's
process. The string helpers (`light_normalize`, `minerva_normalize`) are linear and safe anywhere.
"""

from __future__ import annotations

import functools
import re
from typing import Any

# lm-eval `minerva_math/utils.py` (Lewkowycz et al. 2022, appendix D.1), kept verbatim in behaviour.
_SUBSTITUTIONS = [
    ("an ", ""), ("a ", ""), (".$", "$"), ("\\$", ""), (r"\ ", ""), (" ", ""), ("mbox", "text"),
    (",\\text{and}", ","), ("\\text{and}", ","), ("\\text{m}", "\\text{}"),
]
_REMOVED = [
    "square", "ways", "integers", "dollars", "mph", "inches", "ft", "hours", "km", "units", "\\ldots", "sue",
    "points", "feet", "minutes", "digits", "cents", "degrees", "cm", "gm", "pounds", "meters", "meals",
    "edges", "students", "childrentickets", "multiples", "\\text{s}", "\\text{.}", "\\text{\ns}",
    "\\text{}^2", "\\text{}^3", "\\text{\n}", "\\text{}", r"\mathrm{th}", r"^\circ", r"^{\circ}", r"\;",
    r",\!", "{,}", '"', "\\dots",
]


def minerva_normalize(answer: str) -> str:
    """lm-eval's `normalize_final_answer`: drop units and words, unwrap `\\text{}`, fix `\\frac12`."""
    answer = answer.split("=")[-1]
    for before, after in _SUBSTITUTIONS:
        answer = answer.replace(before, after)
    for expr in _REMOVED:
        answer = answer.replace(expr, "")
    answer = re.sub(r"(.*?)(\$)(.*?)(\$)(.*)", "$\\3$", answer)
    answer = re.sub(r"(\\text\{)(.*?)(\})", "\\2", answer)
    answer = re.sub(r"(\\textbf\{)(.*?)(\})", "\\2", answer)
    answer = re.sub(r"(\\overline\{)(.*?)(\})", "\\2", answer)
    answer = re.sub(r"(\\boxed\{)(.*)(\})", "\\2", answer)
    answer = re.sub(r"(frac)([^{])(.)", "frac{\\2}{\\3}", answer)
    answer = re.sub(r"(sqrt)([^{])", "sqrt{\\2}", answer)
    answer = answer.replace("$", "")
    if answer.replace(",", "").isdigit():
        answer = answer.replace(",", "")
    return answer


_LIGHT = [("\\left", ""), ("\\right", ""), ("\\!", ""), ("\\,", ""), ("\\;", ""), ("\\dfrac", "\\frac"),
          ("\\tfrac", "\\frac"), ("$", ""), (" ", ""), ("\n", "")]


def light_normalize(answer: str) -> str:
    """Spacing and display-style markup only: strings equal after this are equal answers in any mode."""
    for before, after in _LIGHT:
        answer = answer.replace(before, after)
    return answer.rstrip(".")


_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def plain_numbers_differ(a: str, b: str) -> bool:
    """True when both are plain decimals with different values: a sure FAIL that needs no sympy."""
    if not (_PLAIN_NUMBER.fullmatch(a) and _PLAIN_NUMBER.fullmatch(b)) or len(a) + len(b) > 200:
        return False
    from decimal import Decimal
    return Decimal(a) != Decimal(b)


# ---- run under a deadline, in a worker process -------------------------------------------------------

def warmup() -> None:
    """Import the parsers before the first deadline starts (called by `_timeout` at worker start)."""
    import latex2sympy2_extended  # noqa: F401
    import math_verify  # noqa: F401
    _mv_parse("1")


@functools.lru_cache(maxsize=4096)
def _mv_parse(answer: str) -> list[Any]:
    """Parsed once per worker: golds recur for every sample of a problem, answers across samples."""
    from math_verify import parse
    return parse("\\boxed{" + answer + "}", parsing_timeout=None)  # type: ignore[arg-type]


def check_math_verify(gold: str, answer: str) -> bool:
    """math-verify equivalence of two extracted answers (gold first: its form guides the comparison)."""
    from math_verify import verify
    gold_parsed, answer_parsed = _mv_parse(gold), _mv_parse(answer)
    if not gold_parsed or not answer_parsed:
        return False
    return bool(verify(gold_parsed, answer_parsed, timeout_seconds=None))


def check_minerva(gold: str, answer: str) -> bool:
    """lm-eval `is_equiv`: normalised strings equal, or `simplify(a - b) == 0` on the parsed LaTeX.

    lm-eval parses with `sympy.parsing.latex.parse_latex` (needs antlr4 4.11); we use latex2sympy2
    (math-verify's parser, same grammar family), so a few exotic inputs parse where lm-eval's would not.
    """
    a, b = minerva_normalize(gold), minerva_normalize(answer)
    if a.strip() == b.strip():
        return True
    import sympy
    from latex2sympy2_extended import latex2sympy
    try:
        diff = latex2sympy(a) - latex2sympy(b)
        return bool(sympy.simplify(diff) == 0)
    except Exception:  # lm-eval: any failure to parse, subtract or simplify is "not equivalent"
        return False


def answer_key(answer: str) -> str:
    """A canonical string shared by equivalent answers, for majority vote without pairwise comparisons.

    Numbers become `n:` + 10 significant digits (so `0.5`, `\\frac12`, `1/2` collide); other expressions
    sympy's canonical printing of the parsed form; anything unparsable its normalised string. The key is
    the same in both modes (math-verify's parser is the more robust), so votes do not depend on the mode.
    """
    fallback = "s:" + light_normalize(answer)
    try:
        parsed = _mv_parse(answer)
    except Exception:
        return fallback
    if not parsed:
        return fallback
    expr = parsed[0]
    try:
        if getattr(expr, "is_number", False) and not getattr(expr, "free_symbols", True):
            value = complex(expr.evalf(20))
            if value.imag == 0:
                return "n:" + format(value.real, ".10g")
        return "e:" + str(expr)
    except Exception:
        return fallback


def check_and_key(mode: str, gold: str, answer: str) -> tuple[bool, str]:
    """One round trip to the worker: the verdict and the answer's vote key (mode "key": the key only)."""
    if mode == "key":
        return True, answer_key(answer)
    check = check_minerva if mode == "minerva" else check_math_verify
    return check(gold, answer), answer_key(answer)
