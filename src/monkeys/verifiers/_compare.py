"""CodeContests output comparison, as the paper's harness: tokens after whitespace split, floats to 1e-5."""

from __future__ import annotations

import math

FLOAT_TOLERANCE = 1e-5


def _token_equal(got: str, want: str) -> bool:
    if got == want:
        return True
    if not any(c in got + want for c in ".eEnN"):  # two integers: exact only (floats lose big ints)
        return False
    try:
        a, b = float(got), float(want)
    except ValueError:
        return False
    if math.isnan(a) or math.isnan(b):
        return False
    return abs(a - b) <= FLOAT_TOLERANCE or abs(a - b) <= FLOAT_TOLERANCE * abs(b)


def outputs_match(got: bytes | str, want: str) -> bool:
    """True when `got` and `want` have the same tokens, numbers compared within `FLOAT_TOLERANCE`."""
    if isinstance(got, bytes):
        got = got.decode("utf-8", "replace")
    got_tokens, want_tokens = got.split(), want.split()
    return len(got_tokens) == len(want_tokens) and all(map(_token_equal, got_tokens, want_tokens))
