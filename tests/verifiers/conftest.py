"""Fixtures of the math-answer test files: `verifier` (default mode) and `minerva`. A test file of another
verifier defines its own `verifier`, which takes precedence in that file (pytest's override by module)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from monkeys.verifiers.math_answer import MathAnswer


@pytest.fixture(scope="module")
def verifier() -> Iterator[MathAnswer]:
    v = MathAnswer()
    yield v
    v.close()


@pytest.fixture(scope="module")
def minerva() -> Iterator[MathAnswer]:
    v = MathAnswer(mode="minerva")
    yield v
    v.close()
