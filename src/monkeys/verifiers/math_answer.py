"""Final-answer equivalence for GSM8K and MATH, with each sympy check under a hard deadline.

GSM8K answers are compared as exact decimals in-process (fast, bounded). MATH answers go to a pool of
worker processes (`_timeout`) unless a cheap string test settles them; results are cached, because
repeated sampling produces the same few answers thousands of times. Times of day (`4:30 p.m.`, `16:30`)
are settled in-process by the same rules in both modes (`_math_normalize.time_verdict`), never as the
fraction both parsers would read. The verdict carries the extracted
answer and a vote key (`details["answer"]`, `details["answer_key"]`) that selection methods read back.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Annotated, Any, ClassVar, Literal

from annotated_types import Ge, Gt

from monkeys.core import Outcome, Problem, Prompt, Sample, Verdict
from monkeys.errors import ConfigError
from monkeys.registry import SPEED_ONLY, register_verifier
from monkeys.verifiers._answer_extract import (
    MAX_JOINED_BOXES,
    box_before_phrase,
    boxed_alternatives,
    canonical_number,
    final_boxes,
    gsm8k_answers,
    math_answer,
    minerva_alternatives,
    minerva_answer,
    offered_before,
    without_comments,
    without_continuation,
)
from monkeys.verifiers._math_normalize import (
    asked_quantities,
    canonical_labels,
    clock_value,
    equation_verdict,
    letters_verdict,
    light_normalize,
    minerva_normalize,
    numeric_value,
    numeric_verdict,
    rebase,
    spaced_comma,
    stated_parts,
    text_spaced_digits,
    time_verdict,
)
from monkeys.verifiers._timeout import CheckTimeout, DeadlinePool, WorkerDied

MODES = ("math-verify", "minerva")
_MAX_ANSWER_CHARS = 2000  # longer "answers" are rambling, not answers: they fail (cut short, they could pass)
_MAX_BOXES = 16  # boxes read as one answer, at most: each may cost an equivalence check


_gold_number = functools.lru_cache(maxsize=65536)(canonical_number)  # one gold, many samples


@functools.lru_cache(maxsize=65536)
def _minerva_light(answer: str) -> str:
    return light_normalize(minerva_normalize(answer))


_OR_WORD = re.compile(r"(?<![A-Za-z])or(?![A-Za-z])|\\lor(?![A-Za-z])", re.IGNORECASE)  # "18 \text{or} 19"


def _question(prompt: Prompt) -> str:
    """The problem as the prompt asks it: its last user message, else the text from its last "Problem:" (the few-shot
    examples before it are other problems)."""
    for message in reversed(prompt.messages):
        if message.get("role") == "user":
            return str(message.get("content", ""))  # one string per problem: `asked_quantities` caches by it
    at = prompt.text.rfind("Problem:")
    return prompt.text[max(at, len(prompt.text) - 4000, 0):]


def _is_list(answer: str) -> bool:
    """ "-2, 1" is a list of answers; "(0,0)", "[2,5)" and "\\{1, 2\\}" are one (a comma inside brackets)."""
    depth = 0
    for char in answer:
        depth += 1 if char in "([{" else -1 if char in ")]}" else 0
        if char == "," and depth == 0:
            return True
    return False


@register_verifier("math-answer")
class MathAnswer:
    """Final-answer equivalence for GSM8K/MATH; the reference is compared after normalisation.

    `mode`: "math-verify" (sympy-backed, robust) or "minerva" (lm-eval `is_equiv`, the paper's grader).
    `reference["task"]` picks the checker: "gsm8k" (numeric) or "math" (the default).
    `timeout_s` bounds each sympy check; `workers` is the number of checking processes.
    """

    # What a verdict means changes only with a new revision (`store.revisions`: a resume refuses to mix them).
    revision: ClassVar[int] = 9
    revision_notes: ClassVar[dict[int, str]] = {
        2: "answers hedged between values ('#### 18 or 19', an 'or' in a box) and false equations fail;"
           " '#### 1/2' is the fraction",
        3: "any symbols or connective word between two GSM8K values make a hedge ('18 & 19', '18 vs 19',"
           " '18 ± 1'); a few-shot continuation after the answer is not read",
        4: "a GSM8K answer's sentence holds one value ('#### 18 (19 with tax)' fails), except working equal to"
           " it and the same value in another unit ('18 hours or 1080 minutes'); after it a value a hedging or"
           " correcting word precedes is an alternative ('18. Wait, actually 19'), as is a different value an"
           " earlier '####' states; 'A:' before working is no answer; a MATH answer math-verify reads only part"
           " of ('18 \\text{ cm}, 19 \\text{ cm}'), an arrow between two different numbers ('19 \\Rightarrow"
           " 18') and a number offered right after the box ('\\boxed{18} or maybe 19') fail",
        5: "an answer is read with everything that states it: boxes stated together ('\\boxed{19} or"
           " \\boxed{18}' a hedge, '\\boxed{-2} and \\boxed{1}' a list that passes only a list reference), a"
           " different answer the solution boxes before the Minerva phrase, in a later phrase (before a next"
           " 'Problem:') or offered after the phrase or its box, a GSM8K answer stated another way than by the"
           " marker that counts ('The answer is 19.\\n#### 18', '\\boxed{19}\\n#### 18'), a value alone on a"
           " line after it ('#### 18\\n19'), and without a marker words that offer another value between the last"
           " two ('19, no wait, 18') all name another answer; a GSM8K number's attached fraction, power and sign"
           " are part of it ('18\u00bd' is 18.5, '18\u00b2' 324, 'negative 18' -18); a fraction offered after a"
           " MATH box is read ('\\boxed{18} or \\frac{37}{2}'), up to 200 characters on, past its line"
           " ('\\boxed{18}\\nActually, it's $19$.'), as is one a word offers right before the box ('$18$."
           " Actually, $\\boxed{19}$'); 'Answer:' and '**Final Answer**' at a line's start mark a GSM8K answer",
        6: "a MATH box is read with all it states, not as math-verify's last number: a number its reading ignores"
           " fails the box unless the gold has one too ('19 \\sim 18', '19 \\cr 18', '19 \\text{, } 18'); words or"
           " wide spacing between"
           " numbers state another value ('19 \\text{ (maybe } 18)', '(i.e., 18)', '(if we exclude 0, 18)': a"
           " hedge) or a condition ('19 \\text{ for } x = 18', '33 \\text{ (base } 10)': the box is read before"
           " it), several lines ('18 \\\\ 19', aligned, cases) several answers, unless the gold has that shape;"
           " a base subscript is part of the number ('40_8' is not '40_9', '18_8' no number; an unlabelled answer"
           " is read in a labelled gold's base), in both modes; choice letters compare as sets ('A, D' is"
           " '\\text{A,D}'); GSM8K reads U+2212 and the en dash as minus signs, 'minus 18' as -18, '18 and three"
           " quarters' as 18.75, '18\u207b\u00b9' as 1/18, '\u221a18' and '\\sqrt{18}' as no 18, '\\frac{36}{2}' as"
           " 18; a scale word, '\\not' or '\\ldots' in a MATH box is no bare number; the"
           " readers of repeated '####' lines and Minerva phrases are linear",
        7: "a base label is read in any form ('18_{(19)}', '18_{[19]}', '18_{\\text{19}}', '18_{19^1}', '{18}_{19}' are"
           " 27, not 18; '18_{\\text{ten}}' is 18), also inside an expression ('-18_{(19)}' is -27), and one that"
           " cannot be read ('18_{b}') leaves no number, in both modes; in the default mode an equation against a gold"
           " that is none states its last side only where its left side names a quantity ('x = 18', '\\text{x} = 18',"
           " 'f(3) = 18', 'AB = 18') or no side has a variable ('2 \\cdot 9 = 18'): '2x = 18', 'x - 19 = 18',"
           " '|x| = 18' fail",
        8: "in the default mode, digits that a space printed in text mode separates ('\\text{1 8}', '1\\text{ }8') are"
           " several numbers, not one (math-verify and the verdict cache's key both read 18)",
        9: "a MATH box is the one a reader sees: a box inside another is part of it ('\\boxed{19 \\boxed{18}}'"
           " is no 18), one inside '\\phantom', in white or in a comment ('<!-- -->', '\\iffalse', also for GSM8K) is"
           " not read, nor is a few-shot continuation's (a "
           "next 'Problem:' after the answer); a box inside an expression ('\\sqrt{\\boxed{18}}', "
           "'\\boxed{18}^2', '1\\boxed{8}') states no answer and a sign before a box is the answer's ('x = "
           "-\\boxed{18}' is -18, '\\pm\\boxed{18}' a hedge, in GSM8K too); a box whose words or marks make its"
           " number a bound or another value fails ('\\le 18', '< 18', '18 \\text{ at most}', '18 \\text{ "
           "squared}', '18 \\text{ dozen}', '18 \\text{ (nineteen)}'); in the default mode two different "
           "numbers are no longer equal by math-verify's rounding to 6 places ('0.0000002' for '0.0000001', "
           "'\\frac{355}{113}' for '\\pi') unless one is a decimal of at least 6 significant digits the other "
           "rounds to ('0.333333' for '\\frac{1}{3}'); GSM8K reads the hyphen, figure dash and small, "
           "full-width and heavy minus signs as minus signs, '18 \u00b2' as 324, '18\u2081\u2089' as no number, "
           "a bound or "
           "another value before the answer ('#### more than 18', '#### <18', '#### half of 18') or after it"
           " ('#### 18 or more', '#### 18+') as no answer, and a number word in the answer's sentence as a "
           "value ('#### 18 (nineteen)' is a hedge); in the default mode an equation whose left side"
           " is the expression the problem asks for right after an asking word passes on its last side ('a + b = 7' for"
           " 'Find $a+b$.'; revision 7 failed it), an expression a condition states does not ('If $a+b=7$, find $ab$')"}

    def __init__(self, mode: Literal["math-verify", "minerva"] = "math-verify",
                 timeout_s: Annotated[float, Gt(0)] = 5.0, workers: Annotated[int, Ge(1), SPEED_ONLY] = 2,
                 cache_size: Annotated[int, Ge(0), SPEED_ONLY] = 100_000,
                 memory_mb: Annotated[int, Ge(16)] | None = 2048) -> None:
        if mode not in MODES:
            raise ConfigError(f"verifier math-answer: mode {mode!r} is not one of {', '.join(MODES)}")
        if timeout_s <= 0:
            raise ConfigError(f"verifier math-answer: timeout_s must be > 0, got {timeout_s}")
        self.mode = mode
        self.timeout_s = float(timeout_s)
        self._pool = DeadlinePool("monkeys.verifiers._math_normalize:check_and_key", workers,
                                  memory_mb=memory_mb)
        self._cache: OrderedDict[tuple[str, str], tuple[bool, str]] = OrderedDict()  # verdicts (this mode)
        self._keys: OrderedDict[str, str] = OrderedDict()  # vote keys by normalised answer
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._pending: dict[tuple[int, Any], Future[Any]] = {}  # checks in flight, by cache and key

    def verify(self, problem: Problem, sample: Sample) -> Verdict:
        start = time.perf_counter()
        ref = problem.reference
        gold = ref.get("answer")
        if not isinstance(gold, str) or not gold.strip():
            return Verdict(Outcome.ERROR, f"problem {problem.problem_id}: reference has no 'answer' string")
        text = without_comments(sample.text)  # "19 <!-- #### 18 -->" shows 19
        if ref.get("task") == "gsm8k":
            verdict = self._verify_gsm8k(gold, text)
        else:
            verdict = self._verify_math(gold, text, asked_quantities(_question(problem.prompt)))
        return Verdict(verdict.outcome, verdict.reason, verdict.details, time.perf_counter() - start)

    def _verify_gsm8k(self, gold: str, text: str) -> Verdict:
        expected = _gold_number(gold)
        if expected is None:
            return Verdict(Outcome.ERROR, f"GSM8K gold answer {gold!r} is not a number")
        answer, others = gsm8k_answers(text)
        if answer is None:
            return Verdict(Outcome.FAIL, "no number in the completion", {"answer": None, "answer_key": None})
        if others:  # a hedge names no one answer: it neither passes nor votes
            stated = " or ".join([answer, *others])
            return Verdict(Outcome.FAIL, f"several answers stated ({stated}): a hedge is not an answer",
                           {"answer": answer, "alternatives": others, "answer_key": None, "gold": expected})
        details = {"answer": answer, "answer_key": ("t:" if ":" in answer else "n:") + answer, "gold": expected}
        if answer == expected:
            return Verdict(Outcome.PASS, f"answer {answer} equals the reference", details)
        return Verdict(Outcome.FAIL, f"answer {answer} != reference {expected}", details)

    def _verify_math(self, gold: str, text: str, asked: frozenset[str] = frozenset()) -> Verdict:
        text = without_continuation(text)  # a next "Problem:" after the answer is not this problem's
        raw = math_answer(text)
        if raw is None:
            why = ("no \\boxed{} answer stands on its own (a box inside an expression, a phantom or white text states"
                   " none)" if "\\boxed" in text or "\\fbox" in text else "no \\boxed{} answer")
            return Verdict(Outcome.FAIL, f"{why} and no 'The final answer is' phrase",
                           {"answer": None, "answer_key": None})
        if len(raw) > _MAX_ANSWER_CHARS:  # cut short, "18 <2,000 spaces> \text{ or } 19" read as 18
            return Verdict(Outcome.FAIL, f"the answer is {len(raw):,} characters long: rambling, not an answer",
                           {"answer": raw[:200], "answer_key": None, "gold": gold, "mode": self.mode})
        if self.mode == "math-verify" and _OR_WORD.search(raw) and not _OR_WORD.search(gold):
            # math-verify reads `19 \text{ (or } 18)` as 18: a hedge names no one answer (`minerva` keeps
            # the paper's grader, which never passes these anyway: it compares the strings)
            return Verdict(Outcome.FAIL, f"several answers stated ({raw}): a hedge is not an answer",
                           {"answer": raw, "answer_key": None, "gold": gold, "mode": self.mode})
        if self.mode == "math-verify" and (stated := stated_parts(gold, canonical_labels(raw))) is not None:
            kind, parts = stated  # words, spacing or lines in the box that math-verify would drop
            if kind == "lines":  # "18 \\ 19": each line an answer, read as boxes stated together are
                return self._several(gold, parts, False, asked)
            if kind == "several":  # "19 \text{ (maybe } 18)": a hedge, whatever the gold
                return Verdict(Outcome.FAIL, f"several answers stated ({raw}): a hedge is not an answer",
                               {"answer": raw, "alternatives": parts[1:], "answer_key": None, "gold": gold,
                                "mode": self.mode})
            if kind == "scaled":  # "18 \\text{ thousand}": math-verify would read 18
                return Verdict(Outcome.FAIL, f"answer {raw!r} is changed by a word or mark the reference does not have",
                               {"answer": raw, "answer_key": None, "gold": gold, "mode": self.mode})
            raw = parts[0]  # "19 \text{ for } x = 18": the answer, then a condition
        phrase = minerva_answer(text)
        if self.mode == "minerva":  # the paper's grader reads the phrase or the last box alone, lists aside
            boxes, _ = final_boxes(text if phrase is None else phrase)
            members = list(dict.fromkeys([*boxes[:-1], raw]))
            if len(members) > 1 and _is_list(gold) and len(members) <= _MAX_BOXES:  # a list where the gold is one
                joined = ", ".join(members)
                if len(joined) > _MAX_ANSWER_CHARS:
                    return Verdict(Outcome.FAIL, f"several answers stated ({len(members)} boxes, {len(joined):,}"
                                   " characters)", {"answer": joined[:200], "answer_key": None, "gold": gold,
                                                    "mode": self.mode})
                return self._judge(gold, joined)
            return self._judge(gold, raw)
        others = boxed_alternatives(text) + offered_before(text) if phrase is None else minerva_alternatives(text)
        if others:  # "$\\boxed{18}$ or maybe $19$": the box and a number offered after it
            return Verdict(Outcome.FAIL, f"several answers stated ({raw} or {' or '.join(others)}): a hedge is not"
                           " an answer", {"answer": raw, "alternatives": others, "answer_key": None, "gold": gold,
                                           "mode": self.mode})
        boxed = box_before_phrase(text)
        if boxed is not None and light_normalize(boxed) != light_normalize(raw):  # "\\boxed{19}. ... is $18$."
            if self._judge(raw, boxed).outcome is not Outcome.PASS:
                return Verdict(Outcome.FAIL, f"several answers stated ({boxed} boxed, {raw} in the final answer):"
                               " a hedge is not an answer", {"answer": raw, "alternatives": [boxed],
                                                             "answer_key": None, "gold": gold, "mode": self.mode})
        boxes, offered = final_boxes(text if phrase is None else phrase)
        if len(boxes) > MAX_JOINED_BOXES:  # more boxes than any answer holds: several answers, whatever they say
            return self._several(gold, boxes, offered, asked)
        members = list(dict.fromkeys([*boxes[:-1], raw]))  # the last box as `math_answer` read it
        if len(boxes) > 1 and len({light_normalize(m) for m in members}) > 1:
            return self._several(gold, members, offered, asked)
        return self._judge(gold, raw, asked)

    def _several(self, gold: str, members: list[str], offered: bool, asked: frozenset[str] = frozenset()) -> Verdict:
        """Boxes that state the final answer together ("$\\boxed{19}$ or $\\boxed{18}$", "\\boxed{-2} and
        \\boxed{1}") are one answer only when they are one value in several forms; else they are a set, which
        passes only where the reference is that set. math-verify would read the last box alone."""
        last, joined = members[-1], ", ".join(members)
        if len(members) > _MAX_BOXES or len(joined) > _MAX_ANSWER_CHARS:  # bounds the checks one sample costs
            return Verdict(Outcome.FAIL, f"several answers stated ({len(members)}+ boxes, {len(joined)} characters)",
                           {"answer": joined[:200], "answer_key": None, "gold": gold, "mode": self.mode})
        if all(self._judge(last, m).outcome is Outcome.PASS for m in members[:-1]):  # stops at the first other
            return self._judge(gold, last, asked)  # "\\boxed{\\frac{25}{13}} = \\boxed{1\\frac{12}{13}}"
        verdict = self._judge(gold, joined, asked)
        if verdict.outcome is not Outcome.FAIL:
            return verdict  # the whole set is the reference, or the check could not decide
        stated = (" or " if offered else " and ").join(members)
        details = {**verdict.details, "alternatives": members[:-1]}
        if offered:  # a hedge names no one answer: it neither passes nor votes
            details["answer_key"] = None
            return Verdict(Outcome.FAIL, f"several answers stated ({stated}): a hedge is not an answer", details)
        return Verdict(Outcome.FAIL, f"several answers stated together ({stated}) are not equivalent to "
                                     f"{gold!r} ({self.mode})", details)

    def _judge(self, gold: str, raw: str, asked: frozenset[str] = frozenset()) -> Verdict:
        """The verdict on one stated answer `raw`; `asked`: the quantities the problem asks for (`asked_quantities`)."""
        shown = minerva_normalize(raw) if self.mode == "minerva" else light_normalize(raw)
        details: dict[str, Any] = {"answer": shown, "gold": gold, "mode": self.mode}
        if self.mode == "math-verify" and text_spaced_digits(raw):  # "\text{1 8}" shows 1 8, not 18
            details["answer_key"] = None
            return Verdict(Outcome.FAIL, f"several answers stated ({raw}): digits that a printed space separates are"
                                         " not one number", details)
        based, gold, read = rebase(gold, raw)  # both parsers drop a base subscript: "18_{(19)}" is 27, not 18
        if read is None:  # "18_{x}", "18_8": a subscript that cannot be read leaves no number, and no vote
            return self._verdict(False, "s:" + light_normalize(raw), details)
        raw = read
        gold_l, raw_l = light_normalize(gold), light_normalize(raw)
        raw_th = not spaced_comma(raw)
        number = numeric_value(raw_l, raw_th)
        clock = clock_value(raw)
        # a time's or a plain number's vote key needs no sympy
        known = clock.key() if clock is not None else number.key() if number is not None else None
        timed = time_verdict(gold, raw)  # times of day, never fractions: the same rules in both modes
        if timed is not None:
            return self._verdict(timed, known or self._key_of(raw, raw_l), details)
        if based is None and self.mode == "math-verify":
            based = letters_verdict(gold_l, raw_l)  # "A, D" and "\text{A,D}" name the same choices
        if based is None and self.mode == "math-verify":
            based = equation_verdict(gold, raw, asked)  # "2x = 18" states x = 9, not 18
        if based is not None:
            return self._verdict(based, known or self._key_of(raw, raw_l), details)
        if gold_l == raw_l:  # same string up to spacing: equal in every mode, and the same vote key
            return self._verdict(True, known or self._key_of(raw, raw_l), details)
        if self.mode == "minerva":  # what minerva compares, in the evaluator's spelling
            # minerva_normalize already drops the commas of `1,000`; anything else with commas is not a number
            fast = numeric_verdict(_minerva_light(gold), _minerva_light(raw), self.mode, False, False)
        else:
            fast = numeric_verdict(gold_l, raw_l, self.mode, not spaced_comma(gold), raw_th)
        if fast is not None:
            return self._verdict(fast, known or self._key_of(raw, raw_l), details)
        try:
            ok, key = self._checked(gold, raw, gold_l, raw_l)
        except CheckTimeout as exc:
            details["answer_key"] = "s:" + raw_l
            return Verdict(Outcome.TIMEOUT, f"equivalence check timed out: {exc}", details)
        except (WorkerDied, RuntimeError) as exc:
            details["answer_key"] = "s:" + raw_l
            return Verdict(Outcome.ERROR, f"equivalence check failed: {exc}", details)
        return self._verdict(ok, known or key, details)

    @staticmethod
    def _verdict(ok: bool, key: str, details: dict[str, Any]) -> Verdict:
        details["answer_key"] = key
        if ok:
            return Verdict(Outcome.PASS, f"answer {details['answer']!r} is equivalent to the reference", details)
        return Verdict(Outcome.FAIL, f"answer {details['answer']!r} is not equivalent to "
                                     f"{details['gold']!r} ({details['mode']})", details)

    def _once(self, cache: OrderedDict[Any, Any], key: Any, compute: Callable[[], Any]) -> Any:
        """`cache[key]`, else `compute()` once: threads asking for a key already being computed wait for
        that result (or its exception) instead of sending the same check to the pool again."""
        with self._lock:
            hit = cache.get(key)
            if hit is not None:
                cache.move_to_end(key)
                return hit
            pending = self._pending.get((id(cache), key))
            if pending is None:
                pending = self._pending[(id(cache), key)] = Future()
                owner = True
            else:
                owner = False
        if not owner:
            return pending.result()  # bounded: the owner's call has a hard deadline
        try:
            value = compute()
        except BaseException as exc:
            with self._lock:
                del self._pending[(id(cache), key)]
            pending.set_exception(exc)
            raise
        with self._lock:
            self._put(cache, key, value)
            del self._pending[(id(cache), key)]
        pending.set_result(value)
        return value

    def _put(self, cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        cache[key] = value  # caller holds the lock
        cache.move_to_end(key)
        if len(cache) > self._cache_size:
            cache.popitem(last=False)

    def _key_of(self, raw: str, raw_l: str) -> str:
        """The vote key of a non-numeric answer: cached per normalised answer, else one worker round trip."""
        try:
            return self._once(self._keys, raw_l,
                              lambda: self._pool.call("key", raw, raw, timeout_s=self.timeout_s,
                                                      prefer=hash(raw_l))[1])
        except (CheckTimeout, WorkerDied, RuntimeError):
            return "s:" + raw_l

    def _checked(self, gold: str, raw: str, gold_l: str, raw_l: str) -> tuple[bool, str]:
        """(equivalent, vote key) from the cache or the worker pool; the key is cached for the answer too."""
        def check() -> tuple[bool, str]:
            # same gold, same worker when it is free: the gold is parsed once per problem, not per sample
            ok, key = self._pool.call(self.mode, gold, raw, timeout_s=self.timeout_s, prefer=hash(gold_l))
            with self._lock:
                self._put(self._keys, raw_l, key)
            return bool(ok), key
        return self._once(self._cache, (gold_l, raw_l), check)

    def start(self) -> None:
        """Start the checking processes now (they otherwise start on first use)."""
        self._pool.start()

    def close(self) -> None:
        """Stop the checking processes."""
        self._pool.close()
