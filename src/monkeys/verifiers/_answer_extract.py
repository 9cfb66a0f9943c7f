"""Find the final answer in a model's completion: GSM8K numbers, MATH `\\boxed{}` and the Minerva phrase.

Pure string scanning, linear in the input and safe to run in-process on untrusted text; nothing here
parses mathematics (that is `_math_normalize`, run under a deadline).
"""

from __future__ import annotations

import bisect
import functools
import math
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

# A number as GSM8K solutions write it: optional sign and currency, digits with thousands commas.
_NUMBER = r"-?\s?\$?\s?-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\$?\.\d+"
_NUMBER_RE = re.compile(_NUMBER)
# A time of day (`7:30`, `7:30:15`) is one token, not the number 7 followed by 30: GSM8K golds for "what
# time" questions are the hour (`#### 7`), which `7:00 p.m.` states and `7:30 p.m.` does not.
_TOKEN_RE = re.compile(rf"(?<![\d:])\s?(?P<clock>\d{{1,2}}):(?P<min>[0-5]\d)(?::(?P<sec>[0-5]\d))?(?![\d:])|{_NUMBER}")
# Markers after which a GSM8K answer is stated, strongest first: the dataset's `####`, the example
# solutions' `A:` (and "Answer:", "**Final Answer:**" at a line's start), and the "The answer is" of
# chain-of-thought prompts.
_GSM8K_MARKERS = (
    re.compile(r"####\s*"),
    re.compile(r"(?:^|\n)[ \t]*(?:\*\*|__|#+[ \t]*)?(?:A|(?:[Ff]inal |FINAL )?(?:[Aa]nswer|ANSWER))"
               r"(?:\s*:\s*(?:\*\*|__)?|(?:\*\*|__)[ \t]*:?|(?<=[Aa]nswer)[ \t]*(?=\n))\s*"),
    re.compile(r"[Tt]he (?:final )?answer is:?\s*"),
)
_MAX_NUMBER_DIGITS = 200  # a longer "number" is noise, not an answer; also bounds Decimal work
_ANSWER_SPAN = 64  # characters after a marker that hold its answer (and any alternatives stated with it)
_AFTER_SPAN = 200  # ... and where a value a hedging or correcting word precedes is still an alternative
# What joins two alternatives stated as one answer: "18 or 19", "18 vs 19", "18-20", "18, 19", "18 = 19",
# "18 & 19", "18 | 19", "18 ≈ 19", "18 ± 1", "18 to 20", "18 19", each optionally with a unit or a bracket
# ("18 dollars or 19", "18 (or 19)", "18 [19]"): any run of symbols, or a connective word, and nothing else.
# An answer ("#### 18", "A: 18", "The answer is 18") holds one value: up to the end of its sentence every
# other value on its line is an alternative ("#### 18 (19 with tax)", "#### 18 wait, 19", "The answer is 18
# in total; 19 with the bonus"), except working that equals the answer ("#### 18 = 3 * 6", "The answer is
# 18, because 3 + 15 = 18": `_working`) and the same quantity in another unit ("#### 18 hours, or 1080
# minutes", `_converts`: checked by arithmetic, not by the words). Measured on 5,532 real GSM8K completions
# (OpenAI's labelled example solutions, GPT-3 6B and 175B; SmolLM2 samples): 7 answer lines hold a second value
# at all, all fractions, ratios or false equations. After that sentence a later value on the line is an
# alternative where a hedging or correcting word stands before it (`_HEDGE_WORD`: "#### 18. Wait, actually
# 19") or the same unit is repeated ("#### 18 dollars. 19 dollars."), so "#### 18. She had 3 left over." is
# one value. A slash right after the first number makes a fraction, one value ("#### 1/2"
# is 0.5, see `_fraction`); a colon, a ratio ("2:1"), is read as before, its first number.
_CONNECTIVE = r",?\s*(?:or|and/or|and|nor|to|through|thru|till|until|vs\.?|versus)\b"
_SYMBOLS = r"(?:[^\w\s:(\[{]\s*)+"  # &, |, =, ~, -, ;, ..., ≈, ≠, ±, +, *: not a colon, not an opening bracket
_HEDGE_GAP = re.compile(
    rf"\s*[$%)\]]?\s*(?:(?:[A-Za-z]+\s+)?[(\[]?\s*(?:{_CONNECTIVE}|{_SYMBOLS})\s*[(\[$]?\s*"
    rf"|[(\[]?\s*)", re.IGNORECASE)
_HEDGE_WORD = re.compile(
    r"(?<![A-Za-z])(?:or|nor|either|maybe|perhaps|possibly|probably|likely|alternatively|otherwise|else|rather"
    r"|approx(?:\.|imately)?|about|around|roughly|nearly|almost|could|might|may|unless|if\s+not|also|between"
    r"|i\.?\s?e\.?|that\s+is|guess|unsure|not\s+sure|wait|actually|sorry|oops|correct(?:ion|ed)?|wrong"
    r"|mistake|re-?(?:check|calculat)\w*|final|answer|no(?=\s*[,:;.!])|second\s+thought|on\s+reflection"
    r"|re(?:consider|think)\w*|double-?check\w*|hmm+|instead|think)(?![A-Za-z])", re.IGNORECASE)
_NEXT_QUESTION = ("Question:", "\nQ:")  # where a few-shot continuation starts (lm-eval's gsm8k and gsm8k-cot)
_SENTENCE_END = re.compile(r"[.!?]+\s+(?=[A-Z])")
# Without a marker the value before the last is an alternative where only words that offer another value or
# take one back stand between them, after at most one word (its unit): "19, or maybe 18", "19 apples or 18
# apples", "19. Or maybe 18.", "19, no wait, 18", "19, but possibly 18". Working ("19 - 1 = 18", "19 but she
# gave 1 away") holds other words.
_OFFER = (r"or|and/or|maybe|perhaps|possibly|probably|alternatively|no|wait|actually|i\s+mean|sorry|oops"
          r"|correction|make\s+that")
_PUNCT = r"[\s,;.!?:*()\[\]|\u2014\u2013-]*"
_FILLER_WORD = r"(?<![A-Za-z])(?:but|even|else|rather|it'?s|it\s+is|either)(?![A-Za-z])"
# each run of punctuation is followed by a word or the end, so no two runs meet (no quadratic backtracking)
_OR_GAP = re.compile(rf"{_PUNCT}(?:[A-Za-z]+{_PUNCT})?(?:{_FILLER_WORD}{_PUNCT})*"
                     rf"(?<![A-Za-z])(?:{_OFFER})(?![A-Za-z]){_PUNCT}(?:(?:{_FILLER_WORD}|(?<![A-Za-z])(?:{_OFFER})"
                     rf"(?![A-Za-z])){_PUNCT})*", re.IGNORECASE)
# LaTeX around stated values that says nothing by itself: "$18$ or $19$", "\\boxed{18}\\text{ or }\\boxed{19}"
_FILLER = re.compile(r"\\(?:boxed|fbox|text|textrm|textbf|mathrm|mbox)\s*\{|\\(?:quad|qquad|[,;: !])|[{}$~]|\\[()\[\]]")


def _joins_alternatives(gap: str, pattern: re.Pattern[str] = _HEDGE_GAP) -> bool:
    """Whether `gap`, the text between two stated values, only joins them as alternatives."""
    return pattern.fullmatch(_FILLER.sub(" ", gap)) is not None


# The minus signs of typeset text (U+2212, and the en dash models write for one) are minus signs: read as
# nothing, "#### \u221218" passed gold 18. A range "18\u201320" stays two values joined by a symbol, a hedge. So
# are the other characters that print a minus or a hyphen-minus (revision 9): the hyphens U+2010 and U+2011, the
# figure dash, the small, full-width and heavy minus signs, the modifier minus. The em dash, punctuation far more
# often ("the answer is\u201418"), is not.
_MINUS_SIGNS = str.maketrans(dict.fromkeys("\u2212\u2013\u2010\u2011\u2012\ufe63\uff0d\u2796\u02d7", "-"))
# A LaTeX fraction of numbers is one value, as "36/2" is: "#### \frac{36}{2}" is 18, not 36 or 2.
_GSM8K_FRACTION = re.compile(r"\\[dt]?frac\s*\{\s*(-?\d{1,20}(?:\.\d{1,20})?)\s*\}"
                             r"\s*\{\s*(\d{1,20}(?:\.\d{1,20})?)\s*\}")
_GSM8K_ROOT = re.compile(r"\\sqrt\s*\{\s*(\d{1,20})\s*\}")
# a sign before a box is its number's: "$-\boxed{18}$" is -18, "$\pm\boxed{18}$" a hedge
_SIGN_THEN_BOX = re.compile(r"(?:(?<=[\s=$(:])|^)(-|\\(?:pm|mp)(?![A-Za-z])|\u00b1|\u2213)\s*\\(?:boxed|fbox)\s*\{")
_PLUS_MINUS = re.compile(r"(?:\u00b1|\u2213|\\pm|\\mp|\+\s*/\s*-|\+-)\s*\$?\s*$")  # "±18", "\pm 18", "+/- 18"


def gsm8k_answer(text: str) -> str | None:
    """The number after the last answer marker, else the last number in `text`; None if there is none.

    Returned in canonical form (`canonical_number`), so `$1,000.00` and `1000` give the same string. A time
    is one token: on the hour it is the hour (`7:00` -> `7`), else `H:MM[:SS]`, which equals no number.
    """
    return gsm8k_answers(text)[0]


def gsm8k_answers(text: str) -> tuple[str | None, list[str]]:
    """(the answer as `gsm8k_answer` finds it, other values stated as alternatives to it).

    A completion that hedges, "#### 18 or 19", "#### 18-20", "#### 18 & 19", "#### ±18", "#### 18 (19 with
    tax)", "#### 18. Wait, actually 19", "The answer is 18, or maybe 19", states no one answer: its
    alternatives are the other values (a sign for ±). They are read on the answer's own line after the marker
    (see the comment on `_CONNECTIVE`): every other value in its sentence except working equal to the answer
    ("#### 18 = 3 * 6") and the same quantity in another unit, and after the sentence values that a hedging
    or correcting word precedes, so "#### 18. She had 3 left over." has none; "#### 1/2" is one value, the
    fraction. Of several markers the last counts, and the other values the others state are alternatives
    ("#### 19 ... #### 18" names two answers, as "#### 18. Wait, actually 19" does); "A:" marks an answer
    only where its line starts with the number ("A: 18", not the working of "A: There are 15 trees ..."). A few-shot
    continuation after the first marker (from the next "Question:" or "Q:" on, where lm-eval's samplers
    stop) is not read. Without a marker the answer is the last number, and only an "or" before it makes
    the one before an alternative.
    """
    text = text if text.isascii() else text.translate(_MINUS_SIGNS)  # "#### \u221218"
    text = _GSM8K_FRACTION.sub(r"\1/\2", text) if "frac" in text else text  # "#### \frac{36}{2}"
    text = _GSM8K_ROOT.sub("\u221a\\1", text) if "sqrt" in text else text  # "#### \sqrt{18}" is no 18
    if "box" in text:  # "The answer is $-\boxed{18}$" is -18
        text = _SIGN_THEN_BOX.sub(lambda m: "\\boxed{" + m[1], text)
    marked = [m.end() for m in (marker.search(text) for marker in _GSM8K_MARKERS) if m is not None]
    if marked:  # a few-shot continuation (the next "Question:" or "Q:" and its answer) is not this answer
        cuts = [c for c in (text.find(q, min(marked)) for q in _NEXT_QUESTION) if c >= 0]
        text = text[:min(cuts)] if cuts else text
    for rank, marker in enumerate(_GSM8K_MARKERS):
        stated = [found for found in (_after_marker(text, m.end(), leading=marker is _A_MARKER)
                                      for m in marker.finditer(text)) if found is not None]
        if stated:  # the last counts; another value an earlier one states is an alternative ("#### 19 ... #### 18")
            answer, others = stated[-1]
            for value in (v for earlier, alternatives in stated[:-1] for v in (earlier, *alternatives)):
                if value is not None and value != answer and value not in others:
                    others.append(value)
            for value in _weaker_answers(text, rank, answer):  # "The answer is 19.\n#### 18", "\boxed{19}\n#### 18"
                if value != answer and value not in others:
                    others.append(value)
            return answer, others
    tokens = list(_TOKEN_RE.finditer(text))
    for i in range(len(tokens) - 1, -1, -1):
        value = _stated_value(text, tokens[i])
        if value is None:
            continue
        gap = text[tokens[i - 1].end():tokens[i].start()] if i else ""
        previous = _stated_value(text, tokens[i - 1]) if i else None
        hedged = previous is not None and previous != value and (_joins_alternatives(gap, _OR_GAP)
                                                                  or _offers_last(_FILLER.sub(" ", gap)))
        signs = text[max(0, tokens[i].start() - 16):tokens[i].start()] + ("-" if tokens[i].group().lstrip()[:1] == "-"
                                                                          else "")
        if value != "0" and _PLUS_MINUS.search(signs):  # "x = \pm\boxed{18}", "x = ±18": two values
            return value, [value[1:] if value.startswith("-") else "-" + value]
        return value, [previous] if hedged and previous is not None else []
    return None, []


def _weaker_answers(text: str, rank: int, answer: str | None) -> list[str]:
    """Values stated as the answer in another way than the marker that counts (of rank `rank` in
    `_GSM8K_MARKERS`): a weaker marker followed right away by a number ("The answer is 19.", "A: 19"; not
    "The answer is the total: 3 + 15 = 18") whose line does not reach `answer` ("the final answer is 15
    gallons * 8 pints / gallon = 120 pints" is working towards "#### 120"), and a box holding a plain number."""
    values = [found[0] for marker in _GSM8K_MARKERS[rank + 1:] for m in marker.finditer(text)
              if (found := _after_marker(text, m.end(), leading=True)) is not None and found[0] is not None
              and answer not in _line_values(text, m.end())]
    start = 0
    while (span := _next_box(text, start)) is not None:
        if (value := canonical_number(span[0])) is not None:
            values.append(value)
        start = span[1]
    return values


def _line_values(text: str, start: int) -> set[str | None]:
    """The values stated on the line from `start` (up to `_ANSWER_SPAN` characters)."""
    return {_stated_value(text, t) for t in _TOKEN_RE.finditer(text, start, _line_end(text, start, _ANSWER_SPAN))}


def _next_box(text: str, start: int) -> tuple[str, int] | None:
    """The content of the first `\\boxed{...}` at or after `start` and the index just past it."""
    at = text.find("\\boxed{", start)
    if at < 0:
        return None
    depth = 0
    for j in range(at + 6, min(len(text), at + 6 + _ANSWER_SPAN)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[at + 7:j].strip(), j + 1
    return "", at + 7  # unbalanced or too long to be a number: not one


# Without a marker, a short gap before the last value with a word that offers it instead, a few words before
# it ("19. Hmm, maybe 18", "19 (though it could be 18", "19\n\nWait, I think it's 18"), and no working.
_NO_MARKER_OFFER = re.compile(
    r"(?<![A-Za-z])(?:or|maybe|perhaps|possibly|probably|alternatively|otherwise|actually|wait|oops|sorry"
    r"|mistake|wrong|correction|could|might|no(?=\s*[,:;.!])|second\s+thought|hmm+|i\s+think)(?![A-Za-z])",
    re.IGNORECASE)
_GAP_WORKING = re.compile(r"[=+*/\u00d7\u00f7]|\d")


def _offers_last(gap: str) -> bool:
    """Whether `gap`, between the last two values of a completion without a marker, offers the last instead."""
    gap = gap.replace("**", " ").replace("__", " ")  # markdown bold is no multiplication
    offers = list(_NO_MARKER_OFFER.finditer(gap)) if len(gap) <= 80 and not _GAP_WORKING.search(gap) else []
    return bool(offers) and len(re.findall(r"[A-Za-z']+", gap[offers[-1].end():])) <= 4


_SLASH = re.compile(r"\s*/\s*")
_A_MARKER = _GSM8K_MARKERS[1]  # "A:", which also begins the working in lm-eval's gsm8k-cot format (so "Answer:")


def _line_end(text: str, start: int, span: int) -> int:
    """Where the line from `start` ends, at most `span` characters on."""
    end = text.find("\n", start, start + span)
    return start + span if end < 0 else end


# Before the answer's number, a relation or a word that bounds it or makes another value of it (revision 9):
# "#### more than 18", "#### at least 18", "#### <18", "#### \u226518", "#### not 18", "#### half of 18", "#### twice
# 18" stated no 18, yet the number was read alone. Approximations ("#### about 18", "#### ~18") still name 18.
_BOUND_AFTER = re.compile(r"[ \t*_]*(?:\+(?![\s$]*\d)|(?:or|and)\s+(?:more|less|fewer|greater|higher|lower|above"
                          r"|below|up|over|under)|at\s+(?:least|most))(?![A-Za-z])", re.IGNORECASE)  # "18+"
_BOUND_BEFORE = re.compile(
    r"(?:[<>\u2264\u2265\u2260\u2266\u2267\u2a7d\u2a7e\u226a\u226b]|\\(?:n?[lg]eq?(?:slant)?|[lg]t|neq?|not|ll|gg)"
    r"(?![A-Za-z])|(?<![A-Za-z])(?:not|at\s+(?:least|most)|(?:more|less|fewer|greater|larger|smaller|higher|lower)\s+than"
    r"|up\s+to|over|under|above|below|nearly|almost|(?:one[\s-]+)?(?:half|third|quarter|fourth|fifth)(?:\s+of)?"
    r"|twice|double|triple|thrice|quadruple)(?![A-Za-z]))[\s:=*_(\[]*$", re.IGNORECASE)


def _after_marker(text: str, start: int, leading: bool = False) -> tuple[str | None, list[str]] | None:
    """(the value stated right after a marker ending at `start`, values stated as alternatives to it on its
    line); None when no number follows on that line. The answer's first sentence holds one value (see the
    comment on `_CONNECTIVE`). `leading`: only a line that starts with its number is an answer ("A: 18";
    "A: There are 15 trees ..." begins the working, not the answer)."""
    end = _line_end(text, start, _ANSWER_SPAN)
    tokens = list(_TOKEN_RE.finditer(text, start, end))
    if not tokens or (leading and re.search(r"[A-Za-z]", _FILLER.sub(" ", text[start:tokens[0].start()]))):
        return None
    answer = _stated_value(text, tokens[0])
    if len(tokens) > 1 and _SLASH.fullmatch(text, tokens[0].end(), tokens[1].start()):  # "#### 1/2": one value
        answer = _fraction(tokens[0], tokens[1])
        tokens = tokens[1:]
    others: list[str] = []
    prefix = text[start:tokens[0].start()] + ("-" if tokens[0].group().lstrip().startswith("-") else "")
    if start < tokens[0].start() and _BOUND_BEFORE.search(_FILLER.sub(" ", text[start:tokens[0].start()])):
        return None, []  # "#### more than 18", "#### <18", "#### half of 18": a bound or another value, not 18
    if _BOUND_AFTER.match(text, tokens[0].end()):
        return None, []  # "#### 18 or more", "#### 18+": a bound
    if _PLUS_MINUS.search(prefix) and answer not in (None, "0"):  # "+/- 18" reads "+/" and the token "-18"
        others.append(answer[1:] if answer.startswith("-") else "-" + answer)
    sentence = _SENTENCE_END.search(text, tokens[0].end(), end)
    first_sentence = sentence.start() if sentence else end
    tokens += _TOKEN_RE.finditer(text, end, max(end, start + _AFTER_SPAN))  # "#### 18\nActually, 19."
    working = _working(text, tokens, answer)
    chained = True  # every gap so far only joined values: symbols join the next one too
    for i, (before, after) in enumerate(zip(tokens, tokens[1:], strict=False), 1):
        gap = text[before.end():after.start()]
        if gap == ":":  # a ratio, "2:1": read as its first number, as before
            continue
        chained = chained and after.start() < end  # the lines after the answer's join nothing by symbols
        if not (chained and _joins_alternatives(gap)):
            chained = False
            if not (after.start() < first_sentence or _HEDGE_WORD.search(_FILLER.sub(" ", gap))
                    or _same_unit_list(text, gap, after) or (after.start() >= end and _alone_on_line(text, after))):
                continue  # "The answer is 18 (after 3 days)": a value that explains, not one offered instead
        value = _stated_value(text, after)
        if value is None or value == answer or value in others or i in working or _converts(text, before, after):
            continue
        others.append(value)
    for word in _NUMBER_WORD.finditer(text, start, first_sentence):  # "#### 18 (nineteen)", "#### nineteen (18)"
        said = _WORD_VALUES[word[1].lower()] + (_WORD_VALUES[word[2].lower()] if word[2] else 0)
        if str(said) != answer and str(said) not in others:
            others.append(str(said))
    return answer, others


# A number word in the answer's sentence states a value as digits do (revision 9): "#### 18 (nineteen)" names
# two. "one" alone is left out (a pronoun as often), and so are words that a fraction or a scale follows ("18 and
# three quarters" is one value, "two dozen" a unit's count).
_WORD_VALUES = {w: n for n, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve"
                                           " thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety"
_WORD_VALUES.update({w: 10 * n for n, w in enumerate(_TENS.split(), 2)})
_NUMBER_WORD = re.compile(
    rf"(?<![A-Za-z-])({'|'.join(w for w in _WORD_VALUES if w not in ('zero', 'one'))})"
    r"(?:-(one|two|three|four|five|six|seven|eight|nine))?(?![A-Za-z-])"
    r"(?!\s+(?:halves|half|thirds?|quarters?|fourths?|fifths?|sixths?|sevenths?|eighths?|ninths?|tenths?|dozens?"
    r"|hundreds?|thousands?|millions?|billions?)(?![A-Za-z]))", re.IGNORECASE)


_BARE_LINE = re.compile(r"[\s*.,;:!()\[\]]*")  # what may stand beside a value alone on its line: "**19**", "(19)."


def _alone_on_line(text: str, token: re.Match[str]) -> bool:
    """ "#### 18\n19": a value on a line of its own after the answer's is stated as another answer."""
    first = token.start() + len(token.group()) - len(token.group().lstrip())  # the token may begin with a space
    low, high = max(0, first - _AFTER_SPAN), min(len(text), token.end() + _AFTER_SPAN)
    start, end = text.rfind("\n", low, first) + 1, text.find("\n", token.end(), high)
    if (start == 0 and low > 0) or (end < 0 and high < len(text)):
        return False  # a line longer than that holds more than a value (and reading it per token is quadratic)
    end = high if end < 0 else end
    return _BARE_LINE.fullmatch(_FILLER.sub(" ", text[start:first] + " " + text[token.end():end])) is not None


_OPERATOR_GAP = re.compile(r"\s*(?:[-+*/=x\u00d7\u00f7]|\\times|\\cdot|\\div)\s*")
_AS_OPERATOR = {"x": "*", "\u00d7": "*", "\\times": "*", "\\cdot": "*", "\u00f7": "/", "\\div": "/"}


def _working(text: str, tokens: list[re.Match[str]], answer: str | None) -> set[int]:
    """Indices of the tokens that are working equal to the answer: runs joined only by arithmetic operators
    whose every side (split at `=`) evaluates to the answer ("18 = 3 * 6", "3 + 15 = 18", "20 - 2")."""
    from monkeys.verifiers._math_normalize import numeric_value  # plain arithmetic, safe on any input

    target = numeric_value(answer) if answer and ":" not in answer else None
    if target is None:
        return set()
    found: set[int] = set()
    i = 0
    while i < len(tokens):
        j, sides = i, [_canonical_token(tokens[i]) or "?"]
        while j + 1 < len(tokens):
            gap = text[tokens[j].end():tokens[j + 1].start()]
            op = _OPERATOR_GAP.fullmatch(gap)
            signed = not gap.strip() and tokens[j + 1].group().lstrip().startswith("-")  # "20 -2": a sign
            if op is None and not signed:
                break
            value = _canonical_token(tokens[j + 1]) or "?"
            if op is not None and op.group().strip() == "=":
                sides.append(value)
            else:
                sides[-1] += (_AS_OPERATOR.get(op.group().strip(), op.group().strip()) if op else "") + value
            j += 1
        if j > i:
            values = [numeric_value(side, False) for side in sides]
            if all(v is not None and v.value == target.value for v in values):
                found.update(range(i, j + 1))
        i = j + 1
    return found


# Units a GSM8K answer is restated in, by dimension, in that dimension's smallest unit. Months are left out
# (a month is no fixed number of days), so "1 month, or 30 days" stays two values.
_UNIT_SIZE = {
    "second": ("time", 1), "sec": ("time", 1), "minute": ("time", 60), "min": ("time", 60),
    "hour": ("time", 3600), "hr": ("time", 3600), "day": ("time", 86400), "week": ("time", 604800),
    "year": ("time", 31536000), "cent": ("money", 1), "dollar": ("money", 100), "inch": ("length", 1),
    "foot": ("length", 12), "feet": ("length", 12), "yard": ("length", 36), "mile": ("length", 63360),
    "millimeter": ("metric", 1), "mm": ("metric", 1), "centimeter": ("metric", 10), "cm": ("metric", 10),
    "meter": ("metric", 1000), "m": ("metric", 1000), "kilometer": ("metric", 1000000), "km": ("metric", 1000000),
    "gram": ("mass", 1), "g": ("mass", 1), "kilogram": ("mass", 1000), "kg": ("mass", 1000),
    "ounce": ("pound", 1), "oz": ("pound", 1), "pound": ("pound", 16), "lb": ("pound", 16),
    "milliliter": ("volume", 1), "ml": ("volume", 1), "liter": ("volume", 1000), "l": ("volume", 1000),
    "cup": ("cups", 1), "pint": ("cups", 2), "quart": ("cups", 4), "gallon": ("cups", 16),
}
_UNIT_AFTER = re.compile(r"\s*([A-Za-z]+)")
_UNIT_THEN_SYMBOLS = re.compile(rf"\s*([A-Za-z]+)\s*{_SYMBOLS}")


def _same_unit_list(text: str, gap: str, after: re.Match[str]) -> bool:
    """ "18 dollars, 19 dollars": two values of one unit with only symbols between them are two answers."""
    unit = _UNIT_THEN_SYMBOLS.fullmatch(gap)
    word = _UNIT_AFTER.match(text, after.end())
    return unit is not None and word is not None and unit[1].lower() == word[1].lower()


def _unit(text: str, token: re.Match[str]) -> tuple[str, int] | None:
    """The unit a stated value is in: "$" before it, else the word right after it (plural or not)."""
    if "$" in token.group():
        return _UNIT_SIZE["dollar"]
    word = _UNIT_AFTER.match(text, token.end())
    if word is None:
        return None
    name = word[1].lower()
    for form in (name, name.removesuffix("s"), name.removesuffix("es")):  # "hours", "inches"
        if form in _UNIT_SIZE:
            return _UNIT_SIZE[form]
    return None


def _converts(text: str, before: re.Match[str], after: re.Match[str]) -> bool:
    """Whether `after` restates `before` in another unit of the same dimension ("18 hours, or 1080 minutes"):
    the units are read from the text and the values must agree exactly once converted."""
    first, second = _unit(text, before), _unit(text, after)
    if first is None or second is None or first == second or first[0] != second[0]:
        return False
    a, b = canonical_number(before.group()), canonical_number(after.group())
    if a is None or b is None:
        return False
    return Decimal(a) * first[1] == Decimal(b) * second[1]


def _fraction(top: re.Match[str], bottom: re.Match[str]) -> str | None:
    """`a/b` stated as the answer: its value, canonical like a number when the division ends (`4/2` -> `2`,
    `1/2` -> `0.5`), else `a/b` in lowest terms, which equals no GSM8K gold."""
    a, b = _canonical_token(top), _canonical_token(bottom)
    if a is None or b is None or ":" in a + b:
        return None
    return _exact(Fraction(Decimal(a)) / Fraction(Decimal(b))) if Decimal(b) != 0 else None


def _exact(value: Fraction) -> str | None:
    """A rational as GSM8K values are compared: a number where its decimal ends, else `p/q` in lowest terms."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator == 1:  # a terminating decimal
        return canonical_number(str(Decimal(value.numerator) / Decimal(value.denominator)))
    return f"{value.numerator}/{value.denominator}"


# What changes the value of the number it follows or precedes ("18\u00bd", "18\u00b2", "18 squared", "18 and a
# half", "negative 18"): without it 18 would be read, a wrong answer passing as 18. Scale words are not read
# ("$60 million", "7.2 billion jellyfish"): GSM8K states its golds in them, as in a unit ("#### 60").
_VULGAR = {"\u00bd": Fraction(1, 2), "\u2153": Fraction(1, 3), "\u2154": Fraction(2, 3), "\u00bc": Fraction(1, 4),
           "\u00be": Fraction(3, 4), "\u2155": Fraction(1, 5), "\u2156": Fraction(2, 5), "\u2157": Fraction(3, 5),
           "\u2158": Fraction(4, 5), "\u2159": Fraction(1, 6), "\u215a": Fraction(5, 6), "\u215b": Fraction(1, 8),
           "\u215c": Fraction(3, 8), "\u215d": Fraction(5, 8), "\u215e": Fraction(7, 8)}
_VULGAR_AFTER = re.compile(rf"[ ]?([{''.join(_VULGAR)}])")
_SUPERSCRIPTS = str.maketrans("\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079", "-0123456789")
_POWER_AFTER = re.compile(r"[ ]?(\u207b?[\u2070\u00b9\u00b2\u00b3\u2074-\u2079]{1,2})|\s+(squared|cubed)(?![A-Za-z])",
                          re.IGNORECASE)
_SUBSCRIPT_AFTER = re.compile(r"[ ]?[\u2080-\u2089]")  # "18\u2081\u2089": a base label, 18 in base 19; no number here
_NUMERATORS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
               "eight": 8, "nine": 9}
_DENOMINATORS = {"half": 2, "halves": 2, "third": 3, "quarter": 4, "fourth": 4, "fifth": 5, "sixth": 6,
                 "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}
_PARTS = "|".join(list(_DENOMINATORS)[2:])
_PART_AFTER = re.compile(rf"\s+and\s+({'|'.join(_NUMERATORS)})\s+(halves|half|(?:{_PARTS})s?)(?![A-Za-z])",
                         re.IGNORECASE)  # "18 and a half", "18 and three quarters"
# "negative 18", "minus 18" (not "20 minus 18", working)
_NEGATIVE_BEFORE = re.compile(r"(?:(?<![A-Za-z])negative|(?<![\d)]\s)(?<![\d)A-Za-z])minus)\s*$", re.IGNORECASE)


def _stated_value(text: str, match: re.Match[str]) -> str | None:
    """The value a number token states with the signs and words around it (see `_VULGAR`)."""
    plain = _canonical_token(match)
    if plain is None or ":" in plain:
        return plain
    value, end = Fraction(Decimal(plain)), match.end()
    if "\u221a" in text[max(0, match.start() - 2):match.start() + 1]:  # "\u221a18" is no 18; "\u221a16" is 4
        root = math.isqrt(int(value)) if value.denominator == 1 and value >= 0 else -1
        return str(root) if root >= 0 and root * root == value else "\u221a" + plain
    if _SUBSCRIPT_AFTER.match(text, end):
        return None
    sign = -1 if value < 0 else 1
    if (vulgar := _VULGAR_AFTER.match(text, end)) and value.denominator == 1:
        value, end = value + sign * _VULGAR[vulgar[1]], vulgar.end()
    elif part := _PART_AFTER.match(text, end):
        denominator = _DENOMINATORS[part[2].lower().removesuffix("s") if part[2].lower() != "halves" else "half"]
        value, end = value + sign * Fraction(_NUMERATORS[part[1].lower()], denominator), part.end()
    if power := _POWER_AFTER.match(text, end):
        exponent = int(power[1].translate(_SUPERSCRIPTS)) if power[1] else 2 if power[2].lower() == "squared" else 3
        if abs(value) >= 10 ** (_MAX_NUMBER_DIGITS // max(abs(exponent), 1)) or (value == 0 and exponent < 0):
            return None
        value, end = value ** exponent, power.end()  # "18\u207b\u00b9" is 1/18
    if _NEGATIVE_BEFORE.search(text, max(0, match.start() - 12), match.start()):
        value = -value
    return plain if value == Fraction(Decimal(plain)) else _exact(value)


def _canonical_token(match: re.Match[str]) -> str | None:
    if match["clock"] is None:
        return canonical_number(match.group())
    hour, minute, second = int(match["clock"]), int(match["min"]), int(match["sec"] or 0)
    if minute == second == 0:
        return str(hour)
    return f"{hour}:{minute:02d}" + (f":{second:02d}" if second else "")


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
    span = _last_boxed_span(text)
    return None if span is None else span[0]


# A box read as the answer is one a reader sees whole: a box inside another box is part of it (`\boxed{19
# \boxed{18}}` states "19 18", not 18) and a box inside `\phantom` is not shown (`\boxed{19}\phantom{\boxed{18}}`
# shows 19), nor is one in white (`\textcolor{white}{\boxed{18}}`, `{\color{white} \boxed{18}}`). Each was read as
# 18 by taking the last `\boxed` in the text.
_WHITE = (r"\s*(?:\[\s*[A-Za-z]+\s*\])?\s*\{\s*(?i:white|\#?f{3}|\#?f{6}|1(?:\.0*)?\s*,\s*1(?:\.0*)?\s*,\s*1(?:\.0*)?"
          r"|255\s*,\s*255\s*,\s*255)\s*\}")  # white, #FFF, [rgb]{1,1,1}, [RGB]{255,255,255}, [HTML]{FFFFFF}
_BOX_SCAN = re.compile(rf"\\(?:boxed|fbox)(?![A-Za-z])|\\(?:[hv]?phantom(?![A-Za-z])|textcolor{_WHITE})"
                       rf"|\\color{_WHITE}|[{{}}]")
_COLOR_HIDES = re.compile(rf"\\(?:text)?color{_WHITE}")
_INNER_BOX = re.compile(r"\\(?:boxed|fbox)\s*(?=\{)")


# The argument of an operator: a box there is part of an expression (`\sqrt{\boxed{18}}`, `\frac{1}{\boxed{18}}`)
_OPERATOR_BEFORE = re.compile(r"(?:\\(?:sqrt\s*(?:\[[^\[\]{}]*\])?|[dt]?frac|[dt]?binom)|[\^_]"
                              r"|\\[dt]?(?:frac|binom)\s*\{[^{}]*\})\s*\Z")


_BOX_CMD = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BRACE = re.compile(r"[{}]")


def _in_operator(text: str, at: int) -> bool:
    """Whether the box at `at` stands in an operator's argument: a brace open before it in its math (back to a `$`,
    300 characters at most) that `_OPERATOR_BEFORE` opens."""
    start = max(text.rfind("$", max(0, at - 300), at) + 1, at - 300, 0)
    opened: list[int] = []
    for m in _BRACE.finditer(text, start, at):
        if m.group() == "{":
            opened.append(m.start())
        elif opened:
            opened.pop()
    return any(_OPERATOR_BEFORE.search(text, max(0, p - 60), p) for p in opened)


@functools.lru_cache(maxsize=16)
def _visible_boxes(text: str) -> tuple[tuple[int, ...], frozenset[int]]:
    """Where the boxes a reader sees start, in order: not inside another box's braces nor a phantom's (one whose
    brace never closes, a truncated or garbled box, hides nothing); and those of them in an operator's argument.
    Linear; cached, as one completion is read many times."""
    commands = [m.start() for m in _BOX_CMD.finditer(text)]
    if len(commands) <= 1 and "phantom" not in text and not _COLOR_HIDES.search(text):
        starts = commands  # nothing to be inside of: most completions
    else:
        starts = _top_level_boxes(text)
    return tuple(starts), frozenset(at for at in starts if _in_operator(text, at))


def _top_level_boxes(text: str) -> list[int]:
    opened: list[int] = []
    unclosed: set[int] = set()
    for m in _BOX_SCAN.finditer(text):
        if m.group() == "{":
            opened.append(m.start())
        elif m.group() == "}" and opened:
            opened.pop()
    unclosed.update(opened)
    starts: list[int] = []
    stack: list[int] = []  # per open brace: 1 a box's, 2 a phantom's, 0 another
    boxes = hidden = 0
    pending, pending_end = 0, -1
    for m in _BOX_SCAN.finditer(text):
        token = m.group()
        if token.startswith("\\color"):  # white from here to the end of its group
            if not stack:
                break
            if stack[-1] == 0:
                stack[-1], hidden = 2, hidden + 1
            continue
        if token == "{":
            kind = pending if pending and not text[pending_end:m.start()].strip() and m.start() not in unclosed else 0
            stack.append(kind)
            boxes, hidden = boxes + (kind == 1), hidden + (kind == 2)
            pending = 0
        elif token == "}":
            if stack:
                kind = stack.pop()
                boxes, hidden = boxes - (kind == 1), hidden - (kind == 2)
            pending = 0
        else:
            if token[1] in "bf" and not boxes and not hidden:
                starts.append(m.start())
            pending, pending_end = (1 if token[1] in "bf" else 2), m.end()  # \phantom, \textcolor{white}
    return starts


def _last_box_start(text: str, before: int | None = None) -> int:
    """Where the last box a reader sees (`_visible_boxes`) starts, of those that start before `before`; -1: none."""
    if "\\boxed" not in text and "\\fbox" not in text:
        return -1
    starts = _visible_boxes(text)[0]
    k = bisect.bisect_left(starts, len(text) + 1 if before is None else before)
    return starts[k - 1] if k else -1


def _last_boxed_span(text: str, before: int | None = None) -> tuple[str, int] | None:
    """`last_boxed` and the index just past the box; with `before`, of the last box that starts before it.
    Boxes inside it are unwrapped (`\\boxed{x = \\boxed{18}}` is `x = {18}`)."""
    span = _box_span(text, before)
    return span if span is None or "\\" not in span[0] else (_INNER_BOX.sub("", span[0]), span[1])


def _box_span(text: str, before: int | None) -> tuple[str, int] | None:
    at = _last_box_start(text, before)
    if at < 0:
        return None
    i = at + (6 if text.startswith("\\boxed", at) else 5)  # just past the command name
    if i < len(text) and text[i] == " ":
        end = i + 1
        while end < len(text) and text[end] not in "$ \n":
            end += 1
        content = text[i + 1:end].strip()
        return (content, end) if content else None
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
                return text[i + 1:j].strip(), j + 1
    return None  # unbalanced: a truncated completion


# What joins boxes into one answer: "$\\boxed{3}$ or $\\boxed{\\frac{2}{5}}$", "\\boxed{-2} and \\boxed{1}",
# "x = \\boxed{19}, x = \\boxed{18}", "\\boxed{19} = \\boxed{18}", "\\boxed{19} / \\boxed{18}", "\\boxed{19}\\n
# The answer is \\boxed{18}": punctuation, a connective, a variable named again, an answer's marker, and
# nothing else; or, within `_AFTER_SPAN` characters, a word that offers another answer or takes the box back
# ("\\boxed{19}. Wait, actually \\boxed{18}", "\\boxed{19}\\n\\nOn second thought, \\boxed{18}"). The prose of
# MATH's reference solutions between boxes ("Note:", "We also could have noted that ...") joins nothing.
_BOX_JOIN = re.compile(
    r"[\s.,;:=\\()\[\]|/*#-]*(?:(?:either|or|and|and/or|or\s+maybe|or\s+perhaps|or\s+possibly|or\s+even"
    r"|(?:the\s+)?(?:final\s+)?answer(?:\s+is)?)\b[\s.,;:*#]*)*(?:[A-Za-z](?:_\w+)?\s*=\s*)?", re.IGNORECASE)
# A word that offers another answer or takes one back, near a box. Around a MATH box the solution's prose goes
# on ("between 10 and 50", "greater than 125", "3 or 4 of them"), so this list is narrower than GSM8K's
# `_HEDGE_WORD` (which would flag 49 of MATH's 5,500 reference solutions; this flags none).
_OFFERING = re.compile(
    r"(?<![A-Za-z])(?:maybe|perhaps|possibly|probably|alternatively|otherwise|or\s+else|or\s+rather|or\s+even"
    r"|instead|actually|wait|oops|sorry|mistake|wrong|correction|could\s+(?:also\s+)?be|might\s+(?:also\s+)?be"
    r"|no(?=\s*[,:;.!])|second\s+thought|hmm+|i\s+think|double-?check\w*|either|if\s+we\s+round)(?![A-Za-z])",
    re.IGNORECASE)
MAX_JOINED_BOXES = 64  # boxes read back from the last, at most (`final_boxes` returns one more when there are more)
_OR_JOIN = re.compile(r"(?<![A-Za-z])(?:or|either)(?![A-Za-z])", re.IGNORECASE)


def final_boxes(text: str) -> tuple[list[str], bool]:
    """The boxes that state the final answer together, first to last, and whether they are offered as
    alternatives ("or", a hedging word) rather than listed ("and", a comma, "="). One box: `([last], False)`;
    none: `([], False)`; more than `MAX_JOINED_BOXES`: the last that many and one more, no further."""
    span = _last_boxed_span(text)
    if span is None:
        return [], False
    boxes, offered = [span[0]], False
    start = _last_box_start(text)
    while len(boxes) <= MAX_JOINED_BOXES:  # past it, the caller fails the answer: no need to read further
        earlier = _last_boxed_span(text, start)
        if earlier is None or earlier[1] > start:
            break
        gap = _FILLER.sub(" ", text[earlier[1]:start])
        hedge = start - earlier[1] <= _AFTER_SPAN and _OFFERING.search(gap) is not None
        if not (hedge or _BOX_JOIN.fullmatch(gap)):
            break
        offered = offered or hedge or _OR_JOIN.search(gap) is not None
        boxes.insert(0, earlier[0])
        start = _last_box_start(text, start)
    return boxes, offered


# A time boxed without its a.m./p.m., which follows the box: `$\boxed{4:30}$ p.m.`, `\boxed{9}\text{ am}`,
# `\boxed{4:30} in the afternoon`.
_CLOCK_IN_BOX = re.compile(r"\d{1,2}(?::\d{2}){0,2}")
_MERIDIEM_AFTER = re.compile(r"(?:\s|\$|~|\\[ ,;!])*(?:\\(?:text|textrm|mathrm|mbox)\s*\{)?(?:\s|~|\\[ ,;])*"
                             r"([AaPp]\.?\s?[Mm](?![A-Za-z])\.?|in\s+the\s+(?:morning|afternoon|evening)\b)")


# A box is the answer where it stands alone, not where it is part of an expression (revision 9): inside an
# operator's argument (`\sqrt{\boxed{18}}`), raised to a power (`\boxed{18}^2`; not `^\circ`, `^o`) or written against
# digits (`1\boxed{8}`, `\boxed{1}8`) it states no answer, and a minus sign before it is the answer's (`x =
# -\boxed{18}` is -18; `-\frac{3}{2} - \boxed{2}`, a difference, is not), as is a scale word after it (`$\boxed{18}$
# thousand`). Each was read as the box alone.
_POWER_AFTER_BOX = re.compile(r"\s*\^\s*\{?\s*[-+]?\s*(?:\d|[a-np-zA-Z](?![A-Za-z])|\\[dt]?frac)|\d")  # not ^\circ, ^o
_MINUS_BEFORE_BOX = re.compile(r"(?:[-\u2212\u2013\u00b1\u2213]|\\(?:pm|mp)(?![A-Za-z]))\s*\Z")  # and \pm
_OPERAND_END = re.compile(r"(?:[\w)\]}|!.'^]|\\[A-Za-z]+)\Z")
_SCALE_AFTER_BOX = re.compile(r"(?:\s|\$|~|\\[ ,;])*(?:\\(?:text|textrm|mathrm|mbox)\s*\{\s*)?"
                              r"(thousand|million|billion|trillion|hundred|dozen)(?![A-Za-z])", re.IGNORECASE)
_PROSE_WORD_END = re.compile(r"(?:^|\s)[A-Za-z]{2,}\Z")


def _box_in_context(text: str, at: int, content: str, end: int) -> str | None:
    """The value the box at `text[at:end]` states with what is written around it (see above); None: no answer."""
    if at in _visible_boxes(text)[1] or _POWER_AFTER_BOX.match(text, end) or text[at - 1:at] in tuple("0123456789."):
        return None
    if scale := _SCALE_AFTER_BOX.match(text, end):  # "$\boxed{18}$ thousand" is 18,000
        content = f"{content} \\text{{ {scale[1]}}}"
    minus = _MINUS_BEFORE_BOX.search(text, max(0, at - 12), at)
    if minus is None:
        return content
    before = text[max(0, minus.start() - 40):minus.start()].rstrip()
    if before and _OPERAND_END.search(before) and not _PROSE_WORD_END.search(before):
        return content  # "a - \boxed{2}": a difference
    return ("-" if minus.group().strip() in "-\u2212\u2013" else "\\pm") + "{" + content + "}"  # \mp: a hedge too


def _boxed_answer(text: str) -> str | None:
    """The last box's content, with the a.m./p.m. written right after it when the box holds a bare time; with
    its sign, or None where it is part of an expression (`_box_in_context`)."""
    span = _last_boxed_span(text)
    if span is None:
        return None
    content, end = span
    stated = _box_in_context(text, _last_box_start(text), content, end)
    if stated != content:
        return stated
    if _CLOCK_IN_BOX.fullmatch(content):
        after = _MERIDIEM_AFTER.match(text, end)
        # `\boxed{5} in the morning` may count eggs; `\boxed{5:00} in the morning` tells the time
        if after is not None and (":" in content or not after.group(1).startswith("in")):
            return f"{content} {after.group(1)}"
    return content


_MINERVA_HEAD = "Final Answer: The final answer is"
_MINERVA_END = re.compile(r"(?=\. I hope it is correct\.)")
_MINERVA_END_LEN = len(". I hope it is correct.")


class _Phrase:
    """One Minerva phrase: `group(1)` is its answer; `start()`/`end()` index `text + "I hope it is correct."`."""

    __slots__ = ("_start", "_end", "_answer")

    def __init__(self, start: int, end: int, answer: str) -> None:
        self._start, self._end, self._answer = start, end, answer

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end

    def group(self, _: int = 1) -> str:
        return self._answer


def _minerva_phrases(text: str) -> list[_Phrase]:
    """The phrases `Final Answer: The final answer is(.*?)\\. I hope it is correct\\.` finds, in order and not
    overlapping, in `text + "I hope it is correct."`. Linear: that regular expression's lazy `.*?` scanned to
    the end of the text from every unterminated phrase (quadratic); here every phrase head looks up the next
    terminator among those found once."""
    text += "I hope it is correct."
    ends = [m.start() for m in _MINERVA_END.finditer(text)]
    phrases: list[_Phrase] = []
    at, k = text.find(_MINERVA_HEAD), 0
    while at >= 0:
        head_end = at + len(_MINERVA_HEAD)
        k = bisect.bisect_left(ends, head_end, k)
        if k == len(ends):
            break
        end = ends[k] + _MINERVA_END_LEN
        phrases.append(_Phrase(at, end, text[head_end:ends[k]]))
        at = text.find(_MINERVA_HEAD, end)
    return phrases


def _first_phrase(text: str) -> _Phrase | None:
    phrases = _minerva_phrases(text)
    return phrases[0] if phrases else None


def minerva_answer(text: str) -> str | None:
    """The answer stated in the Minerva prompt's closing phrase ("The final answer is X. I hope...")."""
    match = _first_phrase(text)
    if match is None:
        return None
    return match.group(1).strip() or None


_OR_RIGHT_AFTER = re.compile(r"[\s,;(\[]*(?:or|and/or|/|\|)[\s,;]*", re.IGNORECASE)  # "\boxed{18} or $19$", "(or 19)"
# An answer's marker after the box states another: "\boxed{18}\nThe answer is 19", "\boxed{18}\n#### 19"
_RESTATED = re.compile(r"####|(?<![A-Za-z])(?:(?:the\s+)?(?:final\s+)?answer\s*(?:is|:)|final\s+answer)(?![A-Za-z])",
                       re.IGNORECASE)  # not "we can check our answer by verifying that $5 \cdot 25_9 = ...$"
# A fraction offered after a box is a number too: "$\boxed{18}$ or $\frac{37}{2}$"
_LATEX_FRACTION = re.compile(r"\\[dt]?frac\s*\{\s*(-?\d{1,20})\s*\}\s*\{\s*(\d{1,20})\s*\}")


def _fraction_as_decimal(match: re.Match[str]) -> str:
    numerator, denominator = int(match[1]), int(match[2])
    if denominator == 0:
        return match.group()
    return format((Decimal(numerator) / Decimal(denominator)).normalize(), "f")


def boxed_alternatives(text: str) -> list[str]:
    """Numbers offered instead of the last box after it, within `_AFTER_SPAN` characters: a number that a
    hedging or correcting word precedes ("$\\boxed{18}$ or maybe $19$", "\\boxed{18}. Actually, 19"), as in
    GSM8K answers; on the lines after the box's, only one that also ends its sentence ("\\n\\nWait, it should
    be $19$.", not "we didn't actually need the value $4$ given") or stands alone on its line. Only where the
    box is plain arithmetic (`\\frac`, `\\sqrt`, `\\pi` and numbers) and the number differs from it by more
    than 1% ("\\boxed{\\frac{\\sqrt{2}}{2}}, about 0.707" is fine); a box of anything else is left to the box
    alone."""
    span = _last_boxed_span(text)
    if span is None:
        return []
    return _offered_after(text, span[0], span[1], min(len(text), span[1] + _AFTER_SPAN))


# What may stand between an offering word and the box it offers: "it's", "the answer is", "it should be", "x ="
_INTRODUCES = re.compile(r"[\s,;.:!?()=-]*(?:(?:it'?s|it|is|be|the|answer|final|value|result|that|this|was|would"
                         r"|should|i|think|just|really|or|[a-z])(?![A-Za-z])[\s,;.:!?()=-]*){0,4}", re.IGNORECASE)


def offered_before(text: str) -> list[str]:
    """A number offered instead of the last box right before it: "$18$, or maybe $\\boxed{19}$", "18. Actually,
    $\\boxed{19}$", "$18$ (though it could be $\\boxed{19}$": between the value and the box a word that offers
    another answer or takes one back (`_OFFERING`, not a bare "or": MATH's solutions write "$14 \\cdot 10$, or
    $\\boxed{140}$" for "which is"), a few words before the box, and no working; where the box is plain
    arithmetic and the value differs from it by more than 1%."""
    from monkeys.verifiers._math_normalize import light_normalize, numeric_value

    span = _last_boxed_span(text)
    at = _last_box_start(text)
    boxed = numeric_value(light_normalize(span[0])) if span is not None else None
    if boxed is None:
        return []
    window = _LATEX_FRACTION.sub(_fraction_as_decimal, text[max(0, at - _AFTER_SPAN):at])
    tokens = list(_TOKEN_RE.finditer(window))
    if not tokens:
        return []
    value, gap = _canonical_token(tokens[-1]), window[tokens[-1].end():]
    gap = _FILLER.sub(" ", gap).replace("**", " ")
    offers = list(_OFFERING.finditer(gap)) if len(gap) <= 80 and not _GAP_WORKING.search(gap) else []
    if value is None or ":" in value or not offers or not _INTRODUCES.fullmatch(gap[offers[-1].end():]):
        return []  # "$14 \\cdot 10$, or $\\boxed{140}$" restates; "they could be thinking of $\\boxed{4}$" counts
    stated, target = float(Decimal(value)), float(boxed.value)
    return [value] if abs(stated - target) > 1e-2 * max(abs(stated), abs(target), 1e-12) else []


def _offered_in(answer: str) -> list[str]:
    """Numbers a bare (unboxed) Minerva answer offers after a word that offers another answer or takes one back
    ("$18$. Actually, $19$", "$18$ (though it could be $19$"), where the value before it is a plain number."""
    offer = _OFFERING.search(answer) if "\\boxed" not in answer and "\\fbox" not in answer else None
    if offer is None:
        return []
    before = _canonical_token(tokens[-1]) if (tokens := list(_TOKEN_RE.finditer(answer, 0, offer.start()))) else None
    if before is None or ":" in before:
        return []
    return [v for t in _TOKEN_RE.finditer(answer, offer.end()) if (v := _canonical_token(t)) is not None
            and ":" not in v and Decimal(v) != Decimal(before)][:1]


def minerva_alternatives(text: str) -> list[str]:
    """Answers offered besides the Minerva phrase's (the first "The final answer is X. I hope it is correct."):
    a different X another phrase states before a few-shot continuation ("Problem:") begins, a number offered
    after the phrase as after a box ("... I hope it is correct. Actually, it might be $19$."), within
    `_AFTER_SPAN` characters, and one offered after a box inside it."""
    from monkeys.verifiers._math_normalize import light_normalize, numeric_value

    phrases = _minerva_phrases(text)
    if not phrases:
        return []
    first = phrases[0]
    cut = text.find("Problem:", first.end())
    end = len(text) if cut < 0 else cut

    def stated(phrase: _Phrase) -> str:
        answer = phrase.group(1).strip()
        inner = _boxed_answer(answer)
        return light_normalize(inner if inner is not None else answer.strip("$").strip())

    answer = stated(first)
    value = numeric_value(answer)
    out = boxed_alternatives(first.group(1)) + offered_before(first.group(1)) + _offered_in(first.group(1))
    for later in (p for p in phrases[1:] if p.start() < end):
        other = stated(later)
        other_value = numeric_value(other)
        same = value.value == other_value.value if value and other_value else other == answer
        if not same and other not in out:
            out.append(other)
    out += [v for v in _offered_after(text, answer, first.end(), min(end, first.end() + _AFTER_SPAN)) if v not in out]
    return out


def box_before_phrase(text: str) -> str | None:
    """What the solution boxed before the Minerva phrase (the prompt's worked examples box the answer and then
    state it in the phrase): its last box, or its final boxes as a list ("3, \\frac{2}{5}", see `final_boxes`);
    None without a phrase or such a box."""
    phrase = _first_phrase(text)
    if phrase is None:
        return None
    boxes, _ = final_boxes(text[:phrase.start()])
    boxes = list(dict.fromkeys(boxes))
    return None if not boxes or len(boxes) > MAX_JOINED_BOXES else ", ".join(boxes)


# A value that ends its sentence: "Actually, it's $19$.", "maybe the answer is 19", not "we didn't actually
# need the value $4$ given in the problem"
_SENTENCE_TAIL = re.compile(r"[\s$}*)]*(?:[.!?](?!\d)|\n|$)")


def _offered_after(text: str, answer: str, start: int, end: int) -> list[str]:
    """Numbers in `text[start:end]` offered instead of `answer`, a plain-arithmetic value (see
    `boxed_alternatives`); none where `answer` is anything else."""
    from monkeys.verifiers._math_normalize import light_normalize, numeric_value

    boxed = numeric_value(light_normalize(answer))
    if boxed is None:
        return []
    after = _LATEX_FRACTION.sub(_fraction_as_decimal, text[start:end])
    first_line = len(after) if "\n" not in after else after.index("\n")
    out: list[str] = []
    previous = 0
    for i, token in enumerate(_TOKEN_RE.finditer(after)):
        gap, previous = _FILLER.sub(" ", after[previous:token.start()]), token.end()
        value = _canonical_token(token)
        hedge = [m.end() for m in _OFFERING.finditer(gap)] + [m.end() for m in _RESTATED.finditer(gap)]
        offered = bool(hedge) and len(re.findall(r"[A-Za-z]+", gap[max(hedge):])) <= 3  # "maybe 19", "it's 19"
        if token.start() > first_line:  # on the lines after: the value that ends a sentence offering it
            offered = (offered and _SENTENCE_TAIL.match(after, token.end()) is not None) or _alone_on_line(after, token)
        if value is None or ":" in value or not (offered or (i == 0 and _OR_RIGHT_AFTER.fullmatch(gap))):
            continue  # prose after the box: "or else $J$ would have more than 16", "divided by 2, 3, 4, or 6"
        stated, target = float(Decimal(value)), float(boxed.value)
        if abs(stated - target) > 1e-2 * max(abs(stated), abs(target), 1e-12) and value not in out:
            out.append(value)
    return out


# What a reader never sees is not read (revision 9): a Markdown (HTML) comment and a LaTeX `\iffalse ... \fi` block.
# "$\boxed{19}$ <!-- $\boxed{18}$ -->" shows 19, and "19 <!-- #### 18 -->" shows no "####": both were read as 18.
_COMMENT_ENDS = (("<!--", "-->"), ("\\iffalse", "\\fi"))


def without_comments(text: str) -> str:
    """`text` with each closed `<!-- ... -->` and `\\iffalse ... \\fi` replaced by a space (an unclosed one, which
    may be a literal `<!--`, is kept). Linear."""
    for head, tail in _COMMENT_ENDS:
        if head not in text:
            continue
        parts, at = [], 0
        start = text.find(head)
        while start >= 0:
            end = text.find(tail, start + len(head))
            if end < 0:
                break
            parts += [text[at:start], " "]
            at = end + len(tail)
            start = text.find(head, at)
        text = "".join(parts) + text[at:]
    return text


# A few-shot continuation: after its answer a base model sampled without the prompt's stop sequence goes on with
# the next "Problem:" and solves it, boxing that answer. Read whole, the last box was the made-up problem's
# ("$\\boxed{19}$.\n\nProblem:\nWhat is $9+9$?\n\nSolution: $\\boxed{18}$" passed gold 18; revision 9). A line that
# starts a next problem after a box or the Minerva phrase ends the completion, as lm-eval's stop at "Problem:" does.
_NEXT_PROBLEM = re.compile(r"\n[ \t]*(?:#+[ \t]*|\*\*)?Problem(?:[ \t]+\d+)?[ \t]*(?:\*\*)?:")


def without_continuation(text: str) -> str:
    """`text` up to a next problem that follows its first box or Minerva phrase (see above)."""
    answered = [i for i in (text.find("\\boxed"), text.find("\\fbox"), text.find(_MINERVA_HEAD)) if i >= 0]
    cut = _NEXT_PROBLEM.search(text, min(answered)) if answered else None
    return text if cut is None else text[:cut.start()]


def math_answer(text: str) -> str | None:
    """MATH final answer: the Minerva phrase when present (the prompt asks for it), else the last box.

    Boxes that state the answer together ("$x$ must be $\\boxed{3}$ or $\\boxed{\\frac{2}{5}}$", the same value
    in two forms "$\\boxed{\\frac{25}{13}} = \\boxed{1\\frac{12}{13}}$") are `final_boxes`; the verifier
    decides what they mean (11 of MATH's 5,000 test solutions write them).
    """
    answer = minerva_answer(text)
    if answer is not None:
        inner = _boxed_answer(answer)
        return inner if inner is not None else answer.strip().strip("$").strip()
    return _boxed_answer(text)
