"""CodeContests output comparison, as the paper's harness: tokens split on ASCII whitespace, floats to 1e-5.

A token equal as bytes matches. Otherwise only an expected token that is a float (a decimal number with a
point or an exponent: `0.5`, `1e-3`, `2.`) accepts a numeric answer within an absolute error of 1e-5 (the
paper's rule; a relative one would pass `123455678` for `123456789.5`), and the answer must be a plain
decimal number too. An integer expected token is compared exactly, as text: `1000000007` rejects
`1000000000.0`, `1000000007.0`, `+1000000007`, `01000000007` and `1.000000007e9` (a float comparison
would accept a 5 ppm error on every answer of a problem). `nan`, `inf` and Python's `1_000` spellings are
not numbers here. Only ASCII whitespace separates tokens and only ASCII digits are digits (`"3\\xa04"` is
one token, `"３"` no number), and the number pattern cannot backtrack, so a long token costs linear time.
"""

from __future__ import annotations

import re

FLOAT_TOLERANCE = 1e-5
# possessive: a million digits followed by an `x` fails in one pass, not in a million
_DECIMAL = re.compile(rb"[+-]?(?:\d++(?:\.\d*+)?|\.\d++)(?:[eE][+-]?\d++)?")


def _is_float_token(token: bytes) -> bool:
    return _DECIMAL.fullmatch(token) is not None and any(c in token for c in b".eE")


def _token_equal(got: bytes, want: bytes) -> bool:
    if got == want:
        return True
    if not _is_float_token(want) or _DECIMAL.fullmatch(got) is None:
        return False
    return abs(float(got) - float(want)) <= FLOAT_TOLERANCE + 1e-12  # 2.00001 vs 2.0 is 1e-5 in binary too


def outputs_match(got: bytes | str, want: str) -> bool:
    """True when `got` and `want` have the same tokens, floats compared within `FLOAT_TOLERANCE`."""
    if isinstance(got, str):
        got = got.encode("utf-8", "surrogateescape")
    got_tokens, want_tokens = got.split(), want.encode("utf-8", "surrogateescape").split()
    return len(got_tokens) == len(want_tokens) and all(map(_token_equal, got_tokens, want_tokens))
