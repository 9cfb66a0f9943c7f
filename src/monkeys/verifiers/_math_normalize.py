"""Normalise and compare MATH answers: math-verify, and the Minerva/lm-eval `is_equiv` normalisation.

The `check_*` and `answer_key` functions parse untrusted LaTeX with sympy and can hang on hostile input
(huge exponents, nested radicals): call them only through `_timeout.DeadlinePool`, never in the caller's
process. The string helpers (`light_normalize`, `minerva_normalize`, `clock_value`, `time_verdict`) are
linear and safe anywhere.
"""

from __future__ import annotations

import collections
import functools
import math
import re
from fractions import Fraction
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


# Spaces in a text-mode group are printed, where math mode drops them: `\text{1 8}` and `1\text{ }8` show
# "1 8", two numbers (as `1\ 8` and `1\quad 8` do), yet `light_normalize` and math-verify both read 18.
_PRINTED_GROUP = re.compile(r"\\(?:text(?:rm|bf|it|normal|sf|tt|up)?|mbox)\s*\{([^{}]*)\}")
_PRINTED_SPACE_DIGITS = re.compile("\\d\\s*\x00[\x00\\s]*\\d")


def text_spaced_digits(answer: str) -> bool:
    """Whether a space that text mode prints stands between two digits (`\\text{1 8}`, `1\\text{ }8`)."""
    if "\\" not in answer:
        return False
    shown = _PRINTED_GROUP.sub(lambda m: m.group(1).replace(" ", "\x00"), answer)
    return "\x00" in shown and _PRINTED_SPACE_DIGITS.search(shown) is not None


def light_normalize(answer: str) -> str:
    """Spacing and display-style markup only: strings equal after this are equal answers in any mode."""
    for before, after in _LIGHT:
        answer = answer.replace(before, after)
    return answer.rstrip(".")


# ---- plain arithmetic, evaluated in-process -------------------------------------------------------------
# Most MATH answers are numbers: integers, decimals, `\frac{}{}`, `\sqrt{}`, `\pi` and their sums and
# products. Those are settled here without sympy: a strict recursive-descent evaluator that accepts only
# that grammar (anything else -- letters, commas, `!`, `%`, `\sqrt[3]`, mixed numbers, big exponents --
# returns None and goes to the worker pool), with bounded length, digits and exponents, so it cannot hang.

_MAX_EVAL_CHARS = 160
_MAX_LITERAL_DIGITS = 40
_MAX_EXPONENT = 64
_MAX_BITS = 512  # a Fraction whose numerator or denominator grows past this is not a plain answer
_NUM_AT = re.compile(r"\d+(?:\.\d+)?")


class _NotPlain(Exception):
    pass


class Num:
    """A value from `numeric_value`: exact (`Fraction`) unless an irrational or a decimal literal is in it."""

    __slots__ = ("value", "exact", "decimal")

    def __init__(self, value: Fraction | float, exact: bool, decimal: bool) -> None:
        self.value, self.exact, self.decimal = value, exact, decimal

    def key(self) -> str:
        """The vote key `answer_key` gives a number (`n:` + 10 significant digits)."""
        v = float(self.value)
        return "n:" + format(v if v != 0 else 0.0, ".10g")


class _Eval:
    def __init__(self, s: str) -> None:
        self.s, self.i, self.decimal = s, 0, False

    def peek(self, word: str) -> bool:
        return self.s.startswith(word, self.i)

    def eat(self, word: str) -> bool:
        if self.s.startswith(word, self.i):
            self.i += len(word)
            return True
        return False

    def expr(self) -> Fraction | float:
        value = self.term()
        while True:
            if self.eat("+"):
                value = value + self.term()
            elif self.eat("-"):
                value = value - self.term()
            else:
                return value

    def term(self) -> Fraction | float:
        value, literal = self.signed()
        divided = False
        while True:
            if self.eat("\\cdot") or self.eat("\\times") or self.eat("*"):
                value, literal = value * self.signed()[0], False
            elif self.eat("/") or self.eat("\\div"):
                rhs = self.signed()[0]
                if rhs == 0:
                    raise _NotPlain
                value, literal, divided = value / rhs, False, True
            elif self.peek("\\sqrt") or self.peek("\\pi") or self.peek("(") or self.peek("\\frac"):
                # implicit product: 2\sqrt{3}, \frac12\pi. Not after a bare number before \frac (3\frac12 is a
                # mixed number to some parsers), nor after a division (1/2\pi: which way it binds is unclear).
                if divided or (literal and self.peek("\\frac")):
                    raise _NotPlain
                value, literal = value * self.power(), False
            else:
                return value

    def signed(self) -> tuple[Fraction | float, bool]:
        if self.eat("-"):
            return -self.signed()[0], False
        if self.eat("+"):
            return self.signed()[0], False
        m = _NUM_AT.match(self.s, self.i)
        value = self.power()
        return value, m is not None and self.i == m.end()  # a bare number (no exponent)

    def power(self) -> Fraction | float:
        base = self.atom()
        if not self.eat("^"):
            return base
        exp = self.group()
        if self.peek("^") or not isinstance(exp, Fraction) or exp.denominator != 1:
            raise _NotPlain
        e = int(exp)
        if abs(e) > _MAX_EXPONENT or (base == 0 and e < 0):
            raise _NotPlain
        return _checked(base ** e)

    def group(self) -> Fraction | float:
        """A `{...}` argument, or a single digit (`\\frac12`, `\\sqrt2`, `2^3`)."""
        if self.eat("{"):
            value = self.expr()
            if not self.eat("}"):
                raise _NotPlain
            return value
        if self.i < len(self.s) and self.s[self.i].isdigit():
            self.i += 1
            return Fraction(int(self.s[self.i - 1]))
        raise _NotPlain

    def atom(self) -> Fraction | float:
        m = _NUM_AT.match(self.s, self.i)
        if m is not None:
            text = m.group()
            if len(text) > _MAX_LITERAL_DIGITS or (self.s.startswith(".", m.end())):
                raise _NotPlain
            self.i = m.end()
            self.decimal = self.decimal or "." in text
            return Fraction(text)
        if self.eat("\\frac") or self.eat("\\dfrac") or self.eat("\\tfrac"):
            num = self.group()
            den = self.group()
            if den == 0:
                raise _NotPlain
            return _checked(num / den)
        if self.eat("\\sqrt"):
            if self.peek("["):
                raise _NotPlain
            return _sqrt(self.group())
        if self.eat("\\pi"):
            if self.i < len(self.s) and self.s[self.i].isalpha():
                raise _NotPlain
            return math.pi
        if self.eat("{") or self.eat("("):
            close = "}" if self.s[self.i - 1] == "{" else ")"
            value = self.expr()
            if not self.eat(close):
                raise _NotPlain
            return value
        raise _NotPlain


def _checked(value: Fraction | float) -> Fraction | float:
    if isinstance(value, Fraction):
        if value.numerator.bit_length() > _MAX_BITS or value.denominator.bit_length() > _MAX_BITS:
            raise _NotPlain
    elif not math.isfinite(value) or abs(value) > 1e300:
        raise _NotPlain
    return value


def _sqrt(x: Fraction | float) -> Fraction | float:
    if x < 0:
        raise _NotPlain  # imaginary: sympy's business
    if isinstance(x, Fraction):
        n, d = math.isqrt(x.numerator), math.isqrt(x.denominator)
        if n * n == x.numerator and d * d == x.denominator:
            return Fraction(n, d)
    return math.sqrt(x)


_SPACED_COMMA = re.compile(r",\s|\s,|,\\[ ,;:]")


def spaced_comma(answer: str) -> bool:
    """True when a comma has space next to it: `1, 2` is a list to math-verify even if `1,000` is a number."""
    return "," in answer and _SPACED_COMMA.search(answer) is not None


_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def _plain_spelling(answer: str, thousands: bool) -> str:
    """Spellings of a number that math-verify and minerva both read as the number: `\\$18`, `90^\\circ`,
    `10,080` / `10{,}080` (thousands in groups of three, when `thousands`: `1,2` stays a pair, and so does
    `111, 111` -- `light_normalize` drops that space, so the caller says whether there was one), `.5`."""
    if answer.startswith("\\$"):
        answer = answer[2:]
    elif answer[:1] == "\\" and answer[1:2].isdigit():  # `\\$18` after `light_normalize` dropped the `$`
        answer = answer[1:]
    for suffix in ("^\\circ", "^{\\circ}"):
        if answer.endswith(suffix):
            answer = answer[: -len(suffix)]
    if thousands and "," in answer:
        answer = answer.replace("{,}", ",")
        if _THOUSANDS.fullmatch(answer):
            answer = answer.replace(",", "")
    if answer.startswith(".") or answer.startswith("-."):
        answer = answer.replace(".", "0.", 1)
    return answer


@functools.lru_cache(maxsize=65536)
def numeric_value(answer: str, thousands: bool = True) -> Num | None:
    """The value of a `light_normalize`d answer that is plain arithmetic on numbers, else None. Safe anywhere.

    `thousands`: read `10,080` as ten thousand and eighty (pass False when the original had `, `)."""
    if not answer or len(answer) > _MAX_EVAL_CHARS:
        return None
    answer = _plain_spelling(answer, thousands)
    ev = _Eval(answer)
    try:
        value = ev.expr()
        if ev.i != len(answer):
            return None
        value = _checked(value)
    except (_NotPlain, ZeroDivisionError, OverflowError, ValueError):
        return None
    return Num(value, isinstance(value, Fraction), ev.decimal)


def numeric_verdict(gold: str, answer: str, mode: str, gold_thousands: bool = True,
                    answer_thousands: bool = True) -> bool | None:
    """Equivalence of two `light_normalize`d plain-arithmetic answers without sympy; None when unsure.

    FAIL needs a clear gap (more than math-verify's 6-decimal float rounding and than double rounding);
    PASS needs exact rational equality, or in math-verify mode equality to double precision (math-verify
    compares numerically; minerva's `simplify(a - b) == 0` may not prove an irrational identity).
    """
    g, a = numeric_value(gold, gold_thousands), numeric_value(answer, answer_thousands)
    if g is None or a is None:
        return None
    if g.exact and a.exact:
        if g.value == a.value:
            return True if (mode != "minerva" or not (g.decimal or a.decimal)) else None
        rel = 1e-12
    elif mode == "minerva":
        rel = 1e-9
    else:
        gv, av = float(g.value), float(a.value)
        if abs(gv - av) <= 1e-12 * max(1.0, abs(gv), abs(av)):
            return True
        rel = 1e-9
    gv, av = float(g.value), float(a.value)
    if abs(gv - av) > max(2e-6, rel * max(abs(gv), abs(av))):
        return False
    if mode != "minerva" and not (_rounds(answer, answer_thousands, g) or _rounds(gold, gold_thousands, a)):
        return False  # two different values math-verify's rounding to 6 places would call equal
    return None


# math-verify rounds numbers to 6 decimal places before comparing, so values that differ below that passed:
# `0.0000002` for `0.0000001`, `\frac{355}{113}` for `\pi`, `0.3333334` for `\frac{1}{3}`. Two values that differ
# are equal answers only where one is a decimal written as the other correctly rounded to its last digit, with
# at least 6 significant digits (`0.333333` and `0.3333333` for `\frac13`, `1.414214` for `\sqrt2`); math-verify
# then decides, as before (revision 9).
_DECIMAL_LITERAL = re.compile(r"-?(\d*)\.(\d+)")
_MIN_ROUNDED_DIGITS = 6


def _rounds(text: str, thousands: bool, other: Num) -> bool:
    """Whether `text` is a decimal literal with at least `_MIN_ROUNDED_DIGITS` significant digits that is
    `other` correctly rounded to its last decimal place."""
    literal = _DECIMAL_LITERAL.fullmatch(_plain_spelling(text, thousands))
    if literal is None or len((literal[1] + literal[2]).lstrip("0")) < _MIN_ROUNDED_DIGITS:
        return False
    half = Fraction(1, 2 * 10 ** len(literal[2]))
    value = Fraction(literal.group())
    if isinstance(other.value, Fraction):
        return abs(value - other.value) <= half
    return abs(float(value) - other.value) <= float(half) * (1 + 1e-9)


# ---- times of day ----------------------------------------------------------------------------------------
# Both parsers read `4:30` as the ratio 4/30, so gold `2:15` accepted `4:30` (2/15 = 4/30), and `\text{4:30
# p.m.}` was text to one and 4/30 to the other. Times are recognised here, in-process and before any parser,
# in both modes. A *clock* is H:MM or H:MM:SS (two-digit minutes and seconds; hour 0-23), or an hour 1-12
# with a.m./p.m. (`9 a.m.`, `9am`, `9\text{ a.m.}`), with optional a.m./p.m. in any spelling (`pm`, `P.M.`,
# `p. m`, inside or outside `\text{}`), `noon`/`midnight`, `o'clock`, `in the morning/afternoon/evening`;
# `4.30 p.m.` only with a.m./p.m. (without, it is a decimal). Read as:
# - *specific* (one time of day): a.m./p.m., noon, midnight, or 24-hour evidence (hour 0 or 13-23, or a
#   zero-padded hour `04:30`); `4:30 p.m.` == `16:30` == `16:30:00`; `12:00 a.m.` is midnight.
# - *12-hour* (either of two times 12 h apart): hour 1-12 without a.m./p.m. (`4:30`, `4 o'clock`).
# - *marked* (a time, never a ratio): a.m./p.m., noon, midnight, o'clock, seconds, a zero-padded hour or
#   minute (`1:03`), hour 0. Unmarked clocks (`2:15`, `9:16`) could be ratios.
# Verdicts (gold first; None: not about times, the usual checks decide):
# - gold a clock, answer a clock: equal as times. A specific gold needs the same specific time: `4:30` does
#   not answer `4:30 p.m.` (it may mean 4:30 a.m.; lm-eval and math-verify rejected it too, and a hedged
#   answer must not count at large k). A 12-hour gold accepts any answer naming the same clock reading
#   (`4:30`, `4:30 p.m.`, `16:30` for gold `4:30`).
# - gold a marked clock, answer no clock: not equal (never a fraction or a bare hour: `9` is not `9 a.m.`).
# - gold an unmarked clock, answer no clock (`\frac{9}{16}`, `0.5625` for `9:16`), or gold no clock and the
#   answer an unmarked one (`6:10` for `3:5`): ratios as before.
# - gold no clock, answer a marked clock: not equal (`3:01` is not the ratio `3:1`).
# Ratios with a one-digit term (`3:1`, `1:2`, `1:1`, MATH's colon golds besides its two times) are no clocks.

_CLOCK_MARKUP = re.compile(r"\\(?:text(?:rm|normal|up|sf|tt|bf|it)?|math(?:rm|sf|tt|bf|it)|mbox|hbox|operatorname)"
                           r"(?![a-zA-Z])")
_CLOCK_SPACE = re.compile(r"\\(?:[,;:! ]|q?quad(?![a-zA-Z])|[et]n?space(?![a-zA-Z])|thinspace)|~")
_CLOCK = re.compile(r"""
    (?:at\s*)?
    (?:
      (?P<h>\d{1,2})
      (?:\s*(?P<sep>[:.])\s*(?P<m>\d{2})(?:\s*:\s*(?P<s>\d{2}))?)?
      \s*(?P<mer>[ap]\s?\.?\s?m(?![a-z])\.?|o\s?['\u2019`]?\s?clock|noon|midnight
              |in\s+the\s+(?:morning|afternoon|evening))?
    | (?:twelve\s*)?(?P<word>noon|midnight)
    )
    \s*\.?""", re.X)
_DAY, _HALF_DAY = 86400, 43200


class Clock:
    """A time read from an answer: seconds since midnight (the a.m. reading of a 12-hour clock), whether it
    is one time of day (`specific`), and whether it is certainly a time rather than a ratio (`marked`)."""

    __slots__ = ("seconds", "specific", "marked")

    def __init__(self, seconds: int, specific: bool, marked: bool) -> None:
        self.seconds, self.specific, self.marked = seconds, specific, marked

    def key(self) -> str:
        """Vote key: `t:16:30` for a time of day, `t12:04:30` for a 12-hour reading without a.m./p.m."""
        hours, rest = divmod(self.seconds, 3600)
        text = f"{hours:02d}:{rest // 60:02d}" + (f":{rest % 60:02d}" if rest % 60 else "")
        return ("t:" if self.specific else "t12:") + text

    def same_as(self, answer: Clock) -> bool:
        """Is `answer` this (gold) time: the same time of day, or for a 12-hour gold the same clock reading."""
        if self.specific:
            return answer.specific and answer.seconds == self.seconds
        return answer.seconds % _HALF_DAY == self.seconds % _HALF_DAY


@functools.lru_cache(maxsize=65536)
def clock_value(answer: str) -> Clock | None:
    """The time an extracted answer states, else None (see the rules above). Linear; safe anywhere."""
    if len(answer) > 120:
        return None
    if not any(ch.isdigit() for ch in answer) and not ("noon" in answer.lower() or "midnight" in answer.lower()):
        return None
    text = answer.replace("\\colon", ":").replace("\\left", "").replace("\\right", "")
    text = _CLOCK_SPACE.sub(" ", _CLOCK_MARKUP.sub("", text))
    text = " ".join(text.translate(str.maketrans("", "", "${}")).lower().split())
    match = _CLOCK.fullmatch(text)
    if match is None:
        return None
    if match["word"]:
        return Clock(12 * 3600 if match["word"] == "noon" else 0, True, True)
    h_text, sep, m_text, s_text, mer = match["h"], match["sep"], match["m"], match["s"], match["mer"]
    hour, minute, second = int(h_text), int(m_text or 0), int(s_text or 0)
    if minute > 59 or second > 59:
        return None
    within = minute * 60 + second
    if mer is None:  # a bare H:MM[:SS]: 24-hour if the hour says so, else a 12-hour reading
        if m_text is None or sep != ":" or hour > 23:
            return None
        padded = len(h_text) == 2 and h_text[0] == "0"
        specific = hour == 0 or hour >= 13 or padded
        marked = padded or hour == 0 or s_text is not None or m_text[0] == "0"
        return Clock(hour * 3600 + within, specific, marked)
    if not 1 <= hour <= 12:
        return None
    if "clock" in mer:
        return Clock((hour % 12) * 3600, False, True) if m_text is None else None
    if mer in ("noon", "midnight"):
        if hour != 12 or within:
            return None
        return Clock(12 * 3600 if mer == "noon" else 0, True, True)
    pm = mer[0] == "p" or mer.endswith(("afternoon", "evening"))
    return Clock(((hour % 12) + (12 if pm else 0)) * 3600 + within, True, True)


def time_verdict(gold: str, answer: str) -> bool | None:
    """Equivalence when the gold or the answer is a time (rules above); None when times are not involved."""
    g, a = clock_value(gold), clock_value(answer)
    if g is None:
        return False if a is not None and a.marked else None
    if a is None:
        return False if g.marked else None
    return g.same_as(a)


# ---- what a box states: base-labelled numbers, equations, letter lists, several values -------------------
# Both parsers drop a subscript on a number (`40_8`, `18_{(19)}`, `18_{\text{19}}` are 40 and 18 to them), so
# gold `40_9` accepted `40_8` and gold 18 accepted `18_8` and `18_{(19)}`. A *labelled number* is digits
# (`40`, `152A`, `0.0011`, also written `{40}`, `(40)`, `\text{40}`) with a subscript in any form: `_8`, `_{8}`,
# `_{(8)}`, `_{[8]}`, `_{{8}}`, `_{ 8 }`, `_{\text{8}}`, `_{\mathrm{(8)}}`, `_\text{8}`, `_{8^1}`, `_{2+6}`,
# `_{\text{eight}}`, `_{\text{base } 8}`: the label is read, its markup aside, as a plain-arithmetic integer or
# a number word, and it is a base from 2 to 36. A subscript on a number is never ignored: one that cannot be
# read so (`18_x`, `18_{b}`, `18_{\text{base } b}`, `18_1`), an invalid digit (`18_8`) or digits written right
# after it (`1_{10}8`) make the number unreadable, which equals nothing. Letters before a subscript are a
# symbol's (`x_1`, `a_{10}`, `\log_2`, `F_{10}`; `2A_1` too, where the letter cannot be a digit of the base).
# Rules (gold first):
# - a gold that is one labelled number (`40_9`, `-221_3`, `0.0011_{2}`) is answered by one number of its value:
#   a labelled one in any form, or an unlabelled one read in the gold's base, as MATH's problems ("Express your
#   answer in base 9") intend (`40` answers `40_9`); anything else fails;
# - otherwise every labelled number is replaced by its value before the usual checks (`18_{10}` and `22_8`
#   answer 18, `18_{(19)}` is 27, `-18_{(19)}` is -27), and an answer with an unreadable one fails.
_LABEL_MARKUP = re.compile(r"\\(?:text(?:rm|bf|it|normal|up|sf|tt)?|math(?:rm|bf|it|sf|tt|normal)|mbox|hbox"
                           r"|operatorname|left|right)(?![A-Za-z])|\\[ ,;:!]|~|\s")
_WRAPPER_BEFORE = re.compile(r"\\(?:text(?:rm|bf|it|normal|up|sf|tt)?|math(?:rm|bf|it|sf|tt|normal)|mbox|hbox"
                             r"|operatorname)\s*$")
_BRACKETS = re.compile(r"[{}()\[\]]")
_COMMAND_AT = re.compile(r"\\(?:[A-Za-z]+|.)\s*")
_DIGIT_RUN = re.compile(r"[0-9]+")
_LABEL_DIGITS = re.compile(r"[0-9]{1,3}")
_IN_BASE = re.compile(r"[0-9A-Z]+(?:\.[0-9A-Z]+)?|\.[0-9A-Z]+")
_LABEL_WORDS = {word: n for n, word in enumerate(
    "two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen".split(), 2)}
_LABEL_WORDS.update({"binary": 2, "ternary": 3, "octal": 8, "decimal": 10, "hexadecimal": 16})
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")
_MAX_UNDERSCORES = 512  # subscripts read in one answer, at most; more make it unreadable
_SPAN = 80  # characters a labelled number's digits or label may span


class _Labelled:
    """A labelled number found in a text: `s[start:end]`, its `digits` (None where the subscript is on an
    exponent or a non-digit number), the base `label` (None: unreadable), its `value` (None: no number) and
    what replaces it (`text`: its value; None where it has none)."""

    __slots__ = ("start", "sub", "end", "digits", "label", "value", "text")

    def __init__(self, start: int, sub: int, end: int, digits: str | None, label: int | None,
                 value: Fraction | None, text: str | None) -> None:
        self.start, self.sub, self.end, self.digits = start, sub, end, digits
        self.label, self.value, self.text = label, value, text


def _matching(s: str, at: int, step: int) -> int | None:
    """Index of the bracket matching `s[at]` (forward for an opener, `step` 1; backward, -1), within `_SPAN`."""
    depth, i, stop = 0, at, (min(len(s), at + _SPAN) if step > 0 else max(-1, at - _SPAN))
    while i != stop:
        ch = s[i]
        if ch in "{(":
            depth += step
        elif ch in "})":
            depth -= step
        if depth == 0:
            return i
        i += step
    return None


def _label_value(content: str) -> int | None:
    """The base a subscript's content names (`8`, `(8)`, `\\text{8}`, `8^1`, `\\text{eight}`, `\\text{base }8`)."""
    text = _LABEL_MARKUP.sub("", content)
    if len(text) > _SPAN:
        return None
    bare = _BRACKETS.sub("", text).lower()
    bare = bare[4:] if bare.startswith("base") else bare
    if _LABEL_DIGITS.fullmatch(bare):
        value: int | None = int(bare)
    elif bare in _LABEL_WORDS:
        value = _LABEL_WORDS[bare]
    else:
        num = numeric_value(text.replace("[", "(").replace("]", ")"))
        value = int(num.value) if num is not None and num.exact and Fraction(num.value).denominator == 1 else None
    return value if value is not None and 2 <= value <= 36 else None


def _subscript(s: str, u: int) -> tuple[str, int] | None:
    """(content, end) of the subscript whose `_` is at `s[u]`: a braced group, a command with its argument
    (`_\\text{8}`), a run of digits (`_10`, as people write it) or one character."""
    i = u + 1
    while i < len(s) and s[i] in " \t\n":
        i += 1
    if i >= len(s):
        return None
    if s[i] == "{":
        j = _matching(s, i, 1)
        return None if j is None else (s[i + 1:j], j + 1)
    if s[i] == "\\":
        end = _COMMAND_AT.match(s, i).end()  # type: ignore[union-attr]  # `\\` then anything matches
        if end < len(s) and s[end] == "{":
            j = _matching(s, end, 1)
            if j is None:
                return None
            end = j + 1
        return s[i:end], end
    digits = _DIGIT_RUN.match(s, i)
    if digits is not None:
        return digits.group(), digits.end()
    return s[i], i + 1


def _in_base(digits: str, base: int) -> Fraction | None:
    """The value of `digits` (`152A`, `0.0011`) in `base`, None where a digit is not one of that base."""
    if len(digits) > 64 or not _IN_BASE.fullmatch(digits):
        return None
    whole, _, frac = digits.partition(".")
    try:
        value = Fraction(int(whole, base) if whole else 0)
        if frac:
            value += Fraction(int(frac, base), base ** len(frac))
    except ValueError:
        return None
    return value


def _as_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"\\frac{{{value.numerator}}}{{{value.denominator}}}"


def _number_before(s: str, u: int) -> tuple[int, str, bool, bool] | None:
    """(start, text, braced, exponent) of the number a subscript whose `_` is at `s[u]` labels: digits (`18`,
    `152A`, `0.0011`), a group (`{18}`, `(18)`, `\\text{18}`: braced) or, with `exponent`, a number raised to a
    power (`10^{2}_{3}`: the subscript is the base's; text empty); None where it is a symbol's (`x_1`,
    `\\log_2`, `x^2_1`, `\\mathbf{v}_1`)."""
    k = u - 1
    while k >= 0 and s[k] in " \t\n":
        k -= 1
    if k < 0:
        return None
    exponent = False
    if s[k] in "})":  # `{18}_{19}`, `\\text{18}_{19}`, `(18)_{19}`, `10^{2}_{3}`
        p = _matching(s, k, -1)
        if p is None:
            return None
        q = p - 1
        while q >= 0 and s[q] in " \t\n":
            q -= 1
        wrapper = _WRAPPER_BEFORE.search(s, max(0, p - 24), p)
        if wrapper is not None:
            return wrapper.start(), s[p + 1:k], True, False
        if q >= 0 and s[q] == "_":
            return None  # a subscript's group
        if q < 0 or s[q] != "^":
            return p, s[p + 1:k], True, False
        exponent, k = True, q - 1  # `10^{2}_{3}`: the subscript belongs to what the power raises
    elif k >= 1 and s[k - 1] == "^" and s[k].isalnum():
        exponent, k = True, k - 2  # `10^2_{3}`
    if exponent:
        while k >= 0 and s[k] in " \t\n":
            k -= 1
        return (u, "", False, True) if k >= 0 and (s[k].isdigit() or s[k] in "})") else None
    j = k + 1
    while k >= 0 and (s[k] in "0123456789." or "A" <= s[k] <= "Z"):
        k -= 1
    if k >= 0 and (s[k].isalpha() or s[k] == "\\"):
        return None  # `x1_2`, `\\log_2`
    return (k + 1, s[k + 1:j], False, False) if any(c.isdigit() for c in s[k + 1:j]) else None


def _labelled_at(s: str, u: int) -> _Labelled | None:
    """The labelled number whose subscript's `_` is at `s[u]`, or None where the subscript is a symbol's."""
    before = _number_before(s, u)
    if before is None:
        return None
    start, text, braced, exponent = before
    digits = _BRACKETS.sub("", _LABEL_MARKUP.sub("", text))
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("-") if braced else digits
    if exponent:
        number = None
    elif any(c.isdigit() for c in digits) and _IN_BASE.fullmatch(digits):
        number = "digits"
    elif braced and numeric_value(light_normalize(text)) is not None:
        number = "value"  # `{\\frac{1}{2}}_{10}`: no digits, a value
    else:
        return None  # `\\mathbf{v}_1`, `(x+1)_2`
    found = _subscript(s, u)
    if found is None:
        return _Labelled(start, u, len(s), None, None, None, None)
    content, end = found
    label = _label_value(content)
    if number == "digits" and any(c.isalpha() for c in digits) and (label is None or label <= 10):
        return None  # `2A_1`: a symbol's subscript, not a digit of the base
    if exponent:  # only base ten leaves the number as it is
        return _Labelled(start, u, end, None, label, None, "" if label == 10 else None)
    value: Fraction | None = None
    if label is not None and number == "digits":
        value = _in_base(digits, label)
    elif label == 10:
        num = numeric_value(light_normalize(text))
        value = Fraction(num.value) if num is not None and num.exact else None
    after = end
    while after < len(s) and s[after] in " \t\n":
        after += 1
    if after < len(s) and (s[after].isdigit() or s[after] == "."):
        value = None  # `1_{10}8`: digits after the subscript are not its number's
    if value is None:
        return _Labelled(start, u, end, digits if number == "digits" else None, label, None, None)
    value *= sign if braced else 1
    shown = _as_text(value)
    shown = "{" + shown + "}" if braced or value.denominator != 1 else shown
    return _Labelled(start, u, end, digits if number == "digits" else None, label, value, shown)


def _labelled_numbers(s: str) -> list[_Labelled] | None:
    """The labelled numbers in `s`, in order; None where it has too many subscripts or they overlap."""
    found: list[_Labelled] = []
    u = s.find("_")
    for _ in range(_MAX_UNDERSCORES):
        if u < 0:
            return found
        number = _labelled_at(s, u)
        if number is not None:
            if found and number.start < found[-1].end:
                return None
            found.append(number)
        u = s.find("_", max(u + 1, number.end if number is not None else 0))
    return None if u >= 0 else found


def _whole(s: str, found: list[_Labelled]) -> tuple[int, _Labelled] | None:
    """(sign, the number) where `s` is one labelled number with digits, up to spacing and a minus sign."""
    if len(found) != 1 or found[0].digits is None:
        return None
    first = len(s) - len(s.lstrip())
    sign = 1
    if s.startswith("-", first):
        sign, first = -1, first + 1
        while first < len(s) and s[first] in " \t\n":
            first += 1
    number = found[0]
    return (sign, number) if number.start == first and number.end == len(s.rstrip().rstrip(".")) else None


def _replaced(s: str, found: list[_Labelled]) -> str:
    parts, at = [], 0
    for number in found:
        parts += [s[at:number.start], number.text or ""]
        at = number.end
    return "".join(parts) + s[at:]


def canonical_labels(answer: str) -> str:
    """`answer` with each readable base label written `_{N}` (`18_{\\text{10}}` is `18_{10}`), so that words in a
    label are not read as words between numbers (`stated_parts`). Linear; safe anywhere."""
    found = _labelled_numbers(answer) if "_" in answer else None
    if not found:
        return answer
    parts, at = [], 0
    for number in found:
        if number.label is not None and number.digits is not None:
            parts += [answer[at:number.sub], f"_{{{number.label}}}"]
            at = number.end
    return "".join(parts) + answer[at:]


def rebase(gold: str, answer: str) -> tuple[bool | None, str, str | None]:
    """(verdict, gold, answer) with base-labelled numbers read (rules above): the verdict where a labelled
    gold or an unreadable answer decides it, with answer None where it is unreadable; else None, with each
    labelled number replaced by its value. Linear; safe anywhere."""
    g_found = _labelled_numbers(gold) if "_" in gold else []
    a_found = _labelled_numbers(answer) if "_" in answer else []
    if not g_found and not a_found and g_found is not None and a_found is not None:
        return None, gold, answer
    if g_found is None or any(n.text is None for n in g_found) and _whole(gold, g_found) is None:
        return None, gold, answer  # a gold read no further: the usual checks decide, as before
    whole = _whole(gold, g_found)
    if whole is not None:
        g_sign, g = whole
        if g.value is None or g.label is None:
            return None, gold, answer  # an invalid gold (`18_8`): the usual checks decide
        clean = _UNESCAPED_DOLLAR.sub("", answer)  # "$40_{(9)}$" is one number too
        sides = _top_level(clean, _RELATION)
        if len(sides) == 2 and _names_a_quantity(sides[0]):
            clean = sides[1]  # "x = 40_9", "n = 40": the number the variable is
        c_found = _labelled_numbers(clean) if "_" in clean else []
        a_whole = _whole(clean, c_found) if c_found else None
        if a_whole is not None:
            value = a_whole[1].value
            a_value = None if value is None else a_whole[0] * value
        else:
            plain = light_normalize(clean)
            a_sign = -1 if plain.startswith("-") else 1
            value = _in_base(plain.lstrip("-"), g.label) if not c_found else None
            a_value = None if value is None else a_sign * value
        return a_value is not None and a_value == g_sign * g.value, gold, answer
    if a_found is None or any(n.text is None for n in a_found):
        return False, gold, None
    return None, _replaced(gold, g_found), _replaced(answer, a_found)


# An equation in a box against a gold that is none: math-verify compares its last side, so `2x = 18`,
# `x - 19 = 18`, `x^2 = 18` and `|x| = 18` answered 18, whatever x is. The box states a value only where its
# left side names the quantity asked for: a variable (`x`, `\theta`, `x_1`, `a_{n}`, `x'`, `\text{x}`,
# `\mathrm{v}`, `\hat{y}`), a word (`\text{Area}`), a segment, angle or area name (`AB`, `\overline{AB}`,
# `\angle ABC`, `m\angle A`, `[ABC]`), a function's value (`f(3)`, `P(A)`, `g^{-1}(2)`) or a tuple of
# variables (`(x, y)`); or where no side has a variable (`2 \cdot 9 = 18`, `\sin 30^\circ = \frac12`: the
# check of false equations compares those sides). Otherwise its last side is not what it states the answer
# is, and it fails. Each item of a list is read so (`x = 18, y = 19`); a chain by its first side (`x = 2 \cdot
# 9 = 18`). `=`, `==`, `:=`, `\equiv`, `\approx`, `\simeq` are equations here; `<=`, `>=`, `!=` are not.
# Where the gold is an equation (`y = 2x + 3`, `x = 3`) math-verify compares both sides and this does not apply.
_RELATION = re.compile(r"==?|:=|\\(?:approx|simeq|equiv|coloneqq|doteq)(?![A-Za-z])|\u2248|\u2261")
_ITEM_SEPARATOR = re.compile(r"[,;]|\\q?quad(?![A-Za-z])|\\(?:text(?:rm|bf|it)?|mbox)\s*\{[\s,;]*(?:and|or)?[\s,;]*\}")
_NAME_SPACING = re.compile(r"\\(?:left|right|displaystyle)(?![A-Za-z])|\\[ ,;:!]|[\s~$&]"
                           r"|\\(?:begin|end)\s*\{[^{}]*\}")
_GREEK = (r"\\(?:var)?(?:alpha|beta|gamma|delta|epsilon|zeta|eta|theta|iota|kappa|lambda|mu|nu|xi|rho|sigma|tau"
          r"|upsilon|phi|chi|psi|omega)|\\(?:Gamma|Delta|Theta|Lambda|Xi|Sigma|Upsilon|Phi|Psi|Omega|ell)")
_DECOR = (r"\\(?:text(?:rm|it|bf|normal|sf)?|math(?:rm|it|bf|sf|cal|bb|frak)|mbox|operatorname|boldsymbol|bm"
          r"|bar|hat|vec|tilde|overline|widehat|widetilde|overrightarrow|dot|ddot)")
_SYMBOL = rf"(?:(?:[A-Za-z]|{_GREEK})(?![A-Za-z])|{_DECOR}\{{(?:[A-Za-z]|{_GREEK}|[A-Za-z]+)\}}|\{{[A-Za-z]\}})"
_SUB = r"(?:_(?:\{[^{}=]{0,40}(?:\{[^{}=]{0,40}\}[^{}=]{0,40}){0,3}\}|[A-Za-z0-9]))"
_PRIME = r"(?:'|\^\{?\\prime\}?|\^\{?\*\}?)"
_ONE_NAME = rf"{_SYMBOL}(?:{_SUB}|{_PRIME}){{0,4}}"
_NAME = re.compile(
    rf"{_ONE_NAME}|\({_ONE_NAME}(?:,{_ONE_NAME}){{1,8}}\)"
    r"|m?\\angle\{?[A-Z]{1,3}\}?|\\overline\{[A-Z]{2,3}\}|[A-Z]{2,3}|\[[A-Z]{3,4}\]|\\triangle[A-Z]{3}"
    rf"|[fghpqrFGHPQ]{_SUB}?(?:\^\{{-1\}}|'{{1,3}})?\((?:[^()=]|\([^()=]*\)){{1,60}}\)")
_NO_VARIABLE = re.compile(r"\\(?:[dt]?frac|sqrt|cdot|times|div|pi|infty|pm|mp|circ|sin|cos|tan|cot|sec|csc|arcsin"
                          r"|arccos|arctan|log|ln|exp|binom|left|right|displaystyle)(?![A-Za-z])|\\[ ,;:!%$]"
                          r"|\\(?:begin|end)\s*\{[^{}]*\}|&")


def _top_level(text: str, pattern: re.Pattern[str]) -> list[str]:
    """`text` split where `pattern` matches outside brackets (the `=` of `<=`, `>=`, `!=` splits nothing)."""
    depth, bounds = [0], []
    for ch in text:
        depth.append(depth[-1] + (ch in "{([") - (ch in "})]"))
    for match in pattern.finditer(text):
        if depth[match.start()] == 0 and not (match.group() == "=" and text[match.start() - 1:match.start()] in "<>!"
                                              and match.start() > 0):
            bounds.append(match)
    if not bounds:
        return [text]
    parts, at = [], 0
    for match in bounds:
        parts.append(text[at:match.start()])
        at = match.end()
    return [*parts, text[at:]]


def _is_equation(text: str) -> bool:
    return any(len(_top_level(item, _RELATION)) > 1 for item in _top_level(text, _ITEM_SEPARATOR))


def _names_a_quantity(side: str) -> bool:
    side = _NAME_SPACING.sub("", side)
    return len(side) <= 120 and _NAME.fullmatch(side) is not None


def _has_no_variable(side: str) -> bool:
    return re.search(r"[A-Za-z\\]", _NO_VARIABLE.sub("", side)) is None


def equation_verdict(gold: str, answer: str, asked: frozenset[str] = frozenset()) -> bool | None:
    """False where `answer` states an equation whose left side names no quantity and the gold is no equation
    (rules above); None otherwise (the usual checks decide). A left side that is a quantity the problem asks for
    (`asked`, from `asked_quantities`) names it: "Find $a+b$." is answered by `a + b = 7`. Linear; safe anywhere."""
    if len(answer) > 2000 or _RELATION.search(answer) is None or _is_equation(gold):
        return None
    for item in _top_level(answer, _ITEM_SEPARATOR):
        sides = _top_level(item, _RELATION)
        if (len(sides) > 1 and not _names_a_quantity(sides[0]) and not all(map(_has_no_variable, sides))
                and _quantity_key(sides[0]) not in asked):
            return False
    return None


# The quantity a problem asks for, where it is an expression right after an asking word (revision 9): "Find
# $a+b$.", "What is the value of $x_1 + x_2$?", "Compute $f(2) + g(3)$." An answer that restates it as an equation's
# left side (`a + b = 7`) states its value on the last side, as `x = 7` does for "Find $x$". Only the expression
# that follows the asking word counts, never one a condition states ("If $a+b=7$, find $ab$": `a + b = 12` still
# fails), and it must be written the same up to spacing (`b + a = 7` fails).
_ASKED = re.compile(r"(?<![A-Za-z])(?:find|compute|evaluate|determine|calculate|what\s+(?:is|are|was|will\s+be)"
                    r"|value\s+of)\s+(?:(?:the|a|an)\s+)?(?:(?:exact|numerical|possible|smallest|largest|greatest|least"
                    r"|maximum|minimum|positive|negative|integer|real|total|resulting|final)\s+)*"
                    r"(?:(?:value|sum|product|number|quantity|difference|ratio)\s+(?:of\s+)?)?\$([^$]{1,120})\$",
                    re.IGNORECASE)
_NOT_ASKED = re.compile(r"[=<>,;]|\\(?:[lg]eq?|neq?|approx|in|text)(?![A-Za-z])")


def _quantity_key(expression: str) -> str:
    return _NAME_SPACING.sub("", light_normalize(expression)).rstrip(".,;:?!")


@functools.lru_cache(maxsize=4096)
def asked_quantities(question: str) -> frozenset[str]:
    """The expressions a problem asks for right after an asking word (rules above), as `_quantity_key`s."""
    return frozenset(_quantity_key(m[1]) for m in _ASKED.finditer(question[-4000:])
                     if not _NOT_ASKED.search(m[1]) and _quantity_key(m[1]))


# Choice letters: "Enter the letters, separated by commas". `\text{A,D}`, `A, D`, `\text{A}, \text{D}`,
# `\text{(A)}, \text{(D)}` and `\text{A, D}` name the same choices; math-verify reads some as a set of
# symbols and some as text, so they failed each other.
_LETTER_MARKUP = re.compile(r"\\(?:text(?:bf|rm)?|mathrm|mathbf|mbox)\s*\{|[{}()\s]|\\[ ,;!]")
_LETTER_LIST = re.compile(r"[A-Z](?:,[A-Z])*")


def letters_verdict(gold: str, answer: str) -> bool | None:
    """Equivalence of two lists of choice letters, one of them with a comma; None when either is no such list."""
    if "," not in gold + answer:
        return None
    g, a = _LETTER_MARKUP.sub("", gold), _LETTER_MARKUP.sub("", answer)
    if len(g) > 60 or len(a) > 60 or not (_LETTER_LIST.fullmatch(g) and _LETTER_LIST.fullmatch(a)):
        return None
    return sorted(set(g.split(","))) == sorted(set(a.split(",")))


# Values a box states apart from what math-verify reads. It drops words (`\text{...}` but "and"/"or"), wide
# spacing (`\quad`), `\mid` and an alignment `&` (outside matrices), and reads several lines (`\\`,
# `aligned`, `cases`) by their last, so `19 \text{ (maybe } 18)`, `19 \quad (x = 18)` and `18 \\ 19` were 18
# and 19 to it. A box whose words or spacing stand between numbers states several values: the words give a
# condition (`19 \text{ for } x = 18`, `33 \text{ (base } 10)`), and the box is read as what precedes them,
# or they state another value (`(maybe 18)`, `(i.e., 18)`, `(if we exclude 0, 18)`), a hedge; several lines
# with different values are several answers; a scale word (`18 \text{ thousand}`) multiplies the number, and
# `\not`, `\ldots` change what it states.
# Where the gold itself has that shape (`19 \text{ and }43`, a matrix), the box is left to the usual checks.
_DROPPED = re.compile(r"\\(?:text(?:rm|bf|it)?|mbox|mathrm)\s*\{([^{}]*)\}|\\(?:q?quad|mid)(?![A-Za-z])|&")
_SCALE_WORD = re.compile(r"\\(?:text(?:rm|bf|it)?|mbox|mathrm)\s*\{[^{}]*?(?<![A-Za-z])"
                         r"(thousand|million|billion|trillion|hundred|dozen"
                         r"|(?:halve|third|quarter|fourth|fifth|sixth|seventh|eighth|ninth|tenth)s)", re.IGNORECASE)
_CHANGES_IT = re.compile(r"\\not(?![A-Za-z])|\\[lc]?dots(?![A-Za-z])")
# What else makes a number something other than itself (revision 9): a power said right after it (`18 \text{
# squared}`; `18 \text{ cm squared}` is a unit's), a bound in words (`18 \text{ at most}`, `\text{at least } 18`)
# or a relation with no left side (`\le 18`, `< 18`, `\neq 18`): math-verify read 18 in each.
_POWER_WORD = re.compile(r"[\d}]\s*(?:\\[ ,;:]\s*)*\\(?:text(?:rm|bf|it)?|mbox|mathrm)\s*\{\s*(squared|cubed)"
                         r"(?![A-Za-z])", re.IGNORECASE)
_BOUND_WORD = re.compile(r"\\(?:text(?:rm|bf|it)?|mbox|mathrm)\s*\{[^{}]*?(?<![A-Za-z])((?:at\s+(?:least|most)"
                         r"|(?:or|and)\s+(?:more|less|fewer|greater|higher|lower|above|below|up|over|under)"
                         r"|(?:more|less|fewer|greater|larger|smaller|higher|lower)\s+than|up\s+to|not|under|over"
                         r"|above|below|nearly|almost))(?![A-Za-z])", re.IGNORECASE)
_ANGLE_VECTOR = re.compile(r"\s*<[^<>]*,[^<>]*>\s*")
_LEADING_RELATION = re.compile(r"(?:[\s${.]|\\left(?![A-Za-z])|\\displaystyle)*(?:[<>\u2264\u2265\u2260\u226a\u226b"
                               r"\u2272\u2273]|\\(?:n?[lg]eq?(?:slant)?|n?[lg]eqq|[lg]t|neq?|not|ll|gg|lesssim|gtrsim"
                               r"|n?less|n?gtr|prec|succ|preceq|succeq)(?![A-Za-z]))")
_JOINING_WORDS = re.compile(r"[\s,.;:()]*(?:(?:and|or)[\s,.;:()]*)?")
_NUMBER_IN = re.compile(r"\d+(?:\.\d+)?")
_CONDITION = re.compile(r"(?:[A-Za-z](?:_\{?\w+\}?)?=-?\d+(?:\.\d+)?,?)+")
_CONDITION_MARKUP = re.compile(r"\\(?:text(?:rm|bf|it)?|mbox|mathrm)\s*\{[^{}]*\}|\\(?:left|right|q?quad|[ ,;!])"
                               r"|[\s$()\[\]]")
_ENVIRONMENT = re.compile(r"\\(?:begin|end)\s*\{\s*(?:aligned|align\*?|cases|gathered|split|array)\s*\}(?:\{[^{}]*\})?"
                          r"|&")


def _words_between(answer: str) -> tuple[str, str] | None:
    """(what precedes the first dropped words or spacing that stand between numbers, what follows it)."""
    answer = _UNIT_POWER.sub(r"\1", answer)
    for match in _DROPPED.finditer(answer):
        if match.group() == "&" and ("matrix" in answer or "array" in answer):
            continue  # a matrix's columns
        words = match.group(1)
        if words is not None and _JOINING_WORDS.fullmatch(words):
            continue  # "19 \text{ and } 43" is a list to math-verify; "\text{, }" is `_drops_a_number`'s
        lead, rest = answer[:match.start()], answer[match.start():]
        if not _NUMBER_IN.search(lead):
            continue  # "\text{about } 18": words before the first number
        return (lead, rest) if _NUMBER_IN.search(rest) or _NUMBER_WORD.search(rest) else None
    return None


# A number word in a box's words states a value as digits do: `18 \text{ (nineteen)}` is two (math-verify read 18).
_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
_WORD_VALUES = {w: n for n, w in enumerate((_UNITS + " seventeen eighteen nineteen").split())}
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety"
_WORD_VALUES.update({w: 10 * n for n, w in enumerate(_TENS.split(), 2)})
_NUMBER_WORD = re.compile(rf"(?<![A-Za-z])({'|'.join(_WORD_VALUES)})(?:-({'|'.join(_UNITS.split()[1:10])}))?"
                          r"(?![A-Za-z])", re.IGNORECASE)


def _word_restates(lead: str, rest: str) -> bool:
    """Whether the values `rest` states are one number word equal to the plain-arithmetic `lead` (`18 \\text{
    (eighteen)}`)."""
    words = list(_NUMBER_WORD.finditer(rest))
    value = numeric_value(light_normalize(lead))
    if len(words) != 1 or _NUMBER_IN.search(rest) or value is None:
        return False
    word = words[0]
    said = _WORD_VALUES[word[1].lower()] + (_WORD_VALUES[word[2].lower()] if word[2] else 0)
    return value.value == said


def _lines(answer: str) -> list[str]:
    """The lines of a box (`18 \\\\ 19`, `aligned`, `cases`), outside matrices; one line when it has none."""
    if "\\\\" not in answer or "matrix" in answer:
        return [answer]
    return [line for line in _ENVIRONMENT.sub(" ", answer).split("\\\\") if line.strip()]


def _restates(lead: str, rest: str) -> bool:
    """Whether `rest` is a plain number within 1% of the plain-arithmetic `lead` (`\\frac{1}{2} \\text{ (i.e. }
    0.5)`, `\\frac{\\sqrt{2}}{2} \\text{ (about } 0.707)`), as after a box (`boxed_alternatives`)."""
    a, b = numeric_value(light_normalize(lead)), numeric_value(rest.rstrip(".,;"))
    if a is None or b is None:
        return False
    x, y = float(a.value), float(b.value)
    return abs(x - y) <= 1e-2 * max(abs(x), abs(y), 1e-12)


def stated_parts(gold: str, answer: str) -> tuple[str, list[str]] | None:
    """What a box states beyond math-verify's reading of it (rules above), for a gold without that shape:
    ("lines", its lines) when it has several lines, ("lead", [the part before a condition]) when words after
    it only set a variable or a base, ("several", [lead, rest]) when they state another value, ("scaled",
    [answer]) when a scale word ("thousand", "million") in words multiplies it or `\\not`, `\\ldots` change it;
    else None."""
    if len(answer) > 2000:
        return None
    if (scale := _SCALE_WORD.search(answer)) is not None and scale[1].lower() not in gold.lower():
        return "scaled", [answer]  # "18 \text{ thousand}" is 18,000; math-verify reads 18
    if (mark := _CHANGES_IT.search(answer)) is not None and mark.group() not in gold:
        return "scaled", [answer]  # "\not 18", "18\ldots": math-verify reads 18
    if (power := _POWER_WORD.search(answer)) is not None and power[1].lower() not in gold.lower():
        return "scaled", [answer]  # "18 \text{ squared}" is 324
    if (bound := _BOUND_WORD.search(answer)) is not None and bound[1].lower() not in gold.lower():
        return "scaled", [answer]  # "\text{at least } 18" bounds the answer: it states no value
    if (_LEADING_RELATION.match(answer) is not None and _LEADING_RELATION.match(gold) is None
            and not _ANGLE_VECTOR.fullmatch(answer)):
        return "scaled", [answer]  # "\le 18", "< 18": a bound, not 18 ("<1, 2>" is a vector)
    if len(_lines(answer)) > 1 and "\\\\" not in gold:
        return "lines", _lines(answer)
    split = _words_between(answer)
    if split is None or _words_between(gold) is not None:
        return None
    lead, rest = split
    bare = _CONDITION_MARKUP.sub("", rest)
    if (_CONDITION.fullmatch(bare) or ("base" in rest and (bare.isdigit() or not bare)) or _restates(lead, bare)
            or _word_restates(lead, rest)):
        return "lead", [lead.strip().rstrip(",;:").strip()]  # "19, \text{ attained at } x = 18" is 19
    return "several", [lead.strip(), rest.strip()]


# ---- run under a deadline, in a worker process -------------------------------------------------------

# Answer shapes MATH produces, parsed and compared once at worker start: the LaTeX parser (ANTLR) builds its
# prediction tables lazily, so a cold worker's first few hundred checks run ~2x slower than a warm one's.
_WARMUP_ANSWERS = (
    "\\frac{3}{4}", "-\\dfrac{2}{3}", "0.25", "1,000", "2\\sqrt{3}", "\\frac{3+\\sqrt{5}}{2}", "\\sqrt[3]{2}",
    "4\\pi", "\\frac{\\pi}{6}", "2^{10}", "10^{-3}", "3\\frac{1}{2}", "90^\\circ", "20\\%", "\\$18.50",
    "5\\text{ cm}", "\\text{(C)}", "\\text{Monday}", "x=5", "y = -2x + 3", "x^2+2x+1", "(x+1)(x-1)",
    "\\frac{x}{2}", "a+b", "2x^3 - 5x", "[2,5)", "(-\\infty,3]", "(-\\infty,-2)\\cup(2,\\infty)",
    "\\left( 3, \\frac{\\pi}{2} \\right)", "(1,-16,-4,43)", "\\{1,2\\}", "1, 2, 3", "x \\in [-2,7]",
    "\\begin{pmatrix} 1 \\\\ -2 \\end{pmatrix}", "\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}",
    "1+2i", "\\sqrt{-1}", "\\cot x", "\\sin 30^\\circ", "\\log_2 8", "6!", "\\binom{5}{2}", "204_5",
    "e^{2}", "\\infty", "p - q", "\\mathbf{a}", "\\{-1, 3\\}", "\\frac{1}{x}", "\\tfrac{\\sqrt{2}}{2}",
)


def warmup() -> None:
    """Import the parsers and prime their tables before the first deadline starts (`_timeout` calls it
    once per worker, outside any deadline)."""
    import latex2sympy2_extended  # noqa: F401
    import math_verify  # noqa: F401
    from math_verify import verify
    parsed = [_mv_parse(a) for a in _WARMUP_ANSWERS]
    for i, gold in enumerate(parsed):  # each shape against a number and against its neighbour
        for other in (parsed[0], parsed[(i + 1) % len(parsed)]):
            try:
                verify(gold, other, timeout_seconds=None)
            except Exception:
                pass
    _mv_parse.cache_clear()


@functools.lru_cache(maxsize=4096)
def _mv_parse(answer: str) -> list[Any]:
    """Parsed once per worker: golds recur for every sample of a problem, answers across samples."""
    from math_verify import parse
    return parse("\\boxed{" + answer + "}", parsing_timeout=None)  # type: ignore[arg-type]


def check_math_verify(gold: str, answer: str) -> bool:
    """math-verify equivalence of two extracted answers (gold first: its form guides the comparison).

    math-verify compares an equation by its last side (`x = 18` is 18), which also reads `19 = 18` and
    `x = 19 = 18` as 18: an answer that equates two different numbers states nothing true and fails here
    (`x = 2 \\cdot 9 = 18` still passes: its numeric sides agree; a decimal side within 0.1%)."""
    from math_verify import verify
    gold_parsed, answer_parsed = _mv_parse(gold), _mv_parse(answer)
    if not gold_parsed or not answer_parsed:
        return False
    if (_false_equation(answer_parsed[0]) or _far_approximation(answer) or _false_arrow(answer)
            or _partly_read(answer) or (_drops_a_number(answer) and not _drops_a_number(gold))):
        return False
    if not verify(gold_parsed, answer_parsed, timeout_seconds=None):
        return False
    return not _rounded_away(gold, answer, gold_parsed[0], answer_parsed[0])


_DECIMAL_IN = re.compile(r"(\d*)\.(\d+)")


def _rounded_away(gold: str, answer: str, gold_expr: Any, answer_expr: Any) -> bool:
    """Whether math-verify's rounding to 6 places made two different numbers equal (`0.0000002 \\text{ cm}` for
    `0.0000001`, `\\frac{355}{113} \\text{ rad}` for `\\pi`) with neither written as a decimal of at least 6
    significant digits and no other number on its side, as `numeric_verdict` rules for plain numbers."""
    if not (getattr(gold_expr, "is_number", False) and getattr(answer_expr, "is_number", False)):
        return False
    if gold_expr == answer_expr or (not _DECIMAL_IN.search(gold + answer) and "\\" not in gold + answer):
        return False  # the same parse, or integers and fractions, which math-verify compares exactly
    try:
        g, a = complex(gold_expr.doit().evalf(30)), complex(answer_expr.doit().evalf(30))  # `18\%` is unevaluated
    except Exception:  # noqa: BLE001 - not a number after all: math-verify's verdict stands
        return False
    scales = (1, 100, 0.01) if "%" in gold + answer else (1,)  # math-verify reads `18\%` as 18 where the gold is
    if any(abs(g - a * k) <= 1e-12 * max(1.0, abs(g), abs(a * k)) for k in scales):
        return False
    return not any(len(numbers := _LITERAL.findall(text)) == 1 and len(numbers[0].replace(".", "").lstrip("0"))
                   >= _MIN_ROUNDED_DIGITS and "." in numbers[0] for text in (gold, answer))  # "1.414214 \text{ cm}"


# A unit's exponent ("18 \text{ cm}^2") is the one number math-verify may drop with its unit.
_UNIT_POWER = re.compile(r"(\\(?:text|textrm|textbf|mbox|mathrm)\s*\{[^{}]*\})\s*\^\s*\{?\d\}?")
_DIGIT = re.compile(r"\d")


def _partly_read(answer: str) -> bool:
    """Whether math-verify compared only part of `answer`: a digit of it is missing from the text it
    extracted. math-verify drops what follows a unit, so `18 \\text{ dollars}, 19 \\text{ dollars}` and
    `18\\,\\mathrm{cm}, 19\\,\\mathrm{cm}` read as 18: two values stated, one compared. (Measured: no
    MATH reference answer loses a digit this way, except `.5`, which reads as `\\frac{1}{2}` and never
    gets here: plain numbers are settled before math-verify.)"""
    parsed = _mv_parse(answer)
    if len(parsed) < 2 or not isinstance(parsed[1], str):
        return False
    stated = collections.Counter(_DIGIT.findall(_UNIT_POWER.sub(r"\1", answer)))
    return bool(stated - collections.Counter(_DIGIT.findall(parsed[1])))


_LITERAL = re.compile(r"\d+(?:\.\d+)?")
_MAX_PROBED = 8  # numbers probed in one answer, at most: each costs a parse
_PROBE = "987654"


@functools.lru_cache(maxsize=4096)
def _drops_a_number(answer: str) -> bool:
    """Whether math-verify's reading of `answer` ignores a number the answer states that differs from every
    number it reads: each number in turn is replaced by another, and one whose replacement leaves the parse as
    it was is dropped. math-verify drops what stands beside `\\sim`, `|`, `\\land`, `\\hspace`, `\\cr`, `\\colon`,
    `\\text{, }` and many more, keeping the last number: `19 \\sim 18` is 18 to it. A unit's exponent
    (`18 \\text{ cm}^2`) is not probed."""
    from math_verify import parse
    text = _UNIT_POWER.sub(r"\1", answer)
    literals = list(_LITERAL.finditer(text))
    if not 2 <= len(literals) <= _MAX_PROBED or _APPROX.search(text) or _ARROW.search(text):
        return False  # an approximation or an arrow keeps one side: `_far_approximation` and `_false_arrow` judge
    if not _SPACED_DIGITS.search(text) and _PLAIN_MATH.fullmatch(_SPACES.sub("", text)):
        return False  # fractions, roots, powers, tuples, sets, functions: math-verify reads every number there
    reading = _mv_parse(text)
    if not reading:
        return False
    dropped: set[Fraction] = set()
    kept: set[Fraction] = set()
    for literal in literals:
        try:
            other = parse("\\boxed{" + text[:literal.start()] + _PROBE + text[literal.end():] + "}",
                          parsing_timeout=None)  # type: ignore[arg-type]
            same = bool(other) and bool(other[0] == reading[0])
        except Exception:  # noqa: BLE001 - a variant that does not parse changed the reading
            same = False
        (dropped if same else kept).add(Fraction(literal.group()))
    return bool(dropped - kept)


# Plain mathematics, in which math-verify reads every number written (no word, spacing command, `|`, `\\sim`,
# `\\colon`, ... that it drops): nothing to probe, so most answers cost no extra parse.
_PLAIN_MATH = re.compile(r"(?:[0-9A-Za-z+\-*/^_=(),.\[\]{}!<>']|\\(?:[dt]?frac|sqrt|pi|cdot|times|left|right|"
                         r"infty|pm|mp|div|le|ge|leq|geq|neq|ne|sin|cos|tan|sec|csc|cot|arcsin|arccos|arctan|log|ln|"
                         r"exp|alpha|beta|gamma|delta|theta|lambda|mu|sigma|phi|omega|cup|cap|emptyset|\{|\})"
                         r"(?![A-Za-z]))*")
_SPACES = re.compile(r"\s+")
_SPACED_DIGITS = re.compile(r"\d\s+\d")  # "19 18": two numbers, whatever the spaces say
_APPROX = re.compile(r"\\approx|\\simeq|\u2248")
_ARROW = re.compile(r"\\(?:to|rightarrow|Rightarrow|longrightarrow|Longrightarrow|implies|mapsto)(?![A-Za-z])"
                    r"|\u2192|\u21d2")


def _false_arrow(answer: str) -> bool:
    """Whether `answer` is `a \\to b` (or `\\Rightarrow`, `\\implies`) of two numbers that differ: math-verify
    keeps the last side, so `19 \\Rightarrow 18` would be 18 (`2 \\cdot 9 \\Rightarrow 18` is fine)."""
    return _far_approximation(answer, _ARROW, 1e-3)


def _far_approximation(answer: str, joiner: re.Pattern[str] = _APPROX, tolerance: float = 1e-2) -> bool:
    """Whether `answer` states `a \\approx b` of two numbers more than 1% apart (math-verify keeps only `a`:
    `18 \\approx 19` would be 18; `\\frac{\\sqrt2}{2} \\approx 0.707` is fine)."""
    sides = [side for side in joiner.split(answer) if side.strip()]
    if len(sides) < 2:
        return False
    values = []
    for side in sides:
        parsed = _mv_parse(side)
        expr = parsed[0] if parsed else None
        if expr is None or not getattr(expr, "is_number", False):
            return False
        try:
            values.append(complex(expr.evalf(30)))
        except Exception:  # noqa: BLE001 - not a number after all: nothing to compare
            return False
    return any(abs(a - b) > tolerance * max(abs(a), abs(b), 1e-12) for a, b in zip(values, values[1:], strict=False))


def _false_equation(expr: Any) -> bool:
    """Whether `expr` (a parsed answer) is an equation, or a chain or set of them, with two sides that are
    numbers and differ."""
    import sympy

    if isinstance(expr, (sympy.And, sympy.Or)) or isinstance(expr, (set, frozenset, tuple, list)):
        parts = expr.args if isinstance(expr, sympy.Basic) else tuple(expr)
        return any(_false_equation(part) for part in parts)
    if isinstance(expr, sympy.Equality):
        lhs, rhs = expr.args
        if getattr(lhs, "is_number", False) and getattr(rhs, "is_number", False):
            try:
                if lhs.has(sympy.Float) or rhs.has(sympy.Float):  # a decimal side: `\\sqrt{2} = 1.414` is fine
                    a, b = complex(lhs.evalf(30)), complex(rhs.evalf(30))
                    return abs(a - b) > 1e-3 * max(abs(a), abs(b), 1e-12)
                return bool(sympy.simplify(lhs - rhs) != 0)
            except Exception:  # noqa: BLE001 - what cannot be decided is not called false
                return False
    return False


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
    clock = clock_value(answer)
    if clock is not None:
        return clock.key()
    fallback = "s:" + light_normalize(answer)
    try:
        parsed = _mv_parse(answer)
        if not parsed or _partly_read(answer) or _drops_a_number(answer):  # two values stated, one read: no vote
            return fallback
    except Exception:
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
    timed = time_verdict(gold, answer)
    if timed is not None:
        return timed, answer_key(answer)
    check = check_minerva if mode == "minerva" else check_math_verify
    return check(gold, answer), answer_key(answer)
