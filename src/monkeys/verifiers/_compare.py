"""CodeContests output comparison, as the paper's harness: tokens after whitespace split, floats to 1e-5.

A token equal as text matches. Otherwise only an expected token that is a float (a decimal number with a
point or an exponent: `0.5`, `1e-3`, `2.`) accepts a numeric answer within an absolute or relative error
of 1e-5, and the answer must be a plain decimal number too. An integer expected token is compared
exactly, as text: `1000000007` rejects `1000000000.0`, `1000000007.0`, `+1000000007`, `01000000007` and
`1.000000007e9` (a float comparison would accept a 5 ppm error on every answer of a problem).
`nan`, `inf` and Python's `1_000` spellings are not numbers here.
"""

from __future__ import annotations

import re

FLOAT_TOLERANCE = 1e-5
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _is_float_token(token: str) -> bool:
    return _DECIMAL.fullmatch(token) is not None and any(c in token for c in ".eE")


def _token_equal(got: str, want: str) -> bool:
    if got == want:
        return True
    if not _is_float_token(want) or _DECIMAL.fullmatch(got) is None:
        return False
    a, b = float(got), float(want)
    return abs(a - b) <= FLOAT_TOLERANCE or abs(a - b) <= FLOAT_TOLERANCE * abs(b)


def outputs_match(got: bytes | str, want: str) -> bool:
    """True when `got` and `want` have the same tokens, floats compared within `FLOAT_TOLERANCE`."""
    if isinstance(got, bytes):
        got = got.decode("utf-8", "replace")
    got_tokens, want_tokens = got.split(), want.split()
    return len(got_tokens) == len(want_tokens) and all(map(_token_equal, got_tokens, want_tokens))
