"""Core records and plug-in protocols shared by every stage of a run.

These are plain data: a task turns a dataset into `Problem`s, a sampler turns a `Prompt` into
`Completion`s, a verifier turns a (`Problem`, `Sample`) pair into a `Verdict`. Nothing here knows about
the store, the CLI or any concrete backend.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable


class Outcome(StrEnum):
    """How a verification ended. `reason` on the verdict says why in words."""

    PASS = "pass"
    FAIL = "fail"
    TIMEOUT = "timeout"
    ERROR = "error"


@dataclass(frozen=True)
class Prompt:
    """What a sampler is asked: chat `messages` (preferred for instruct models) or raw `text`.

    A sampler that cannot use chat messages falls back to `text`; tasks fill both where they can.
    `stop` sequences end a completion early (the sampler strips them from the text).
    """

    text: str = ""
    messages: tuple[dict[str, str], ...] = ()
    stop: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "messages": list(self.messages), "stop": list(self.stop)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Prompt:
        return cls(
            text=d.get("text", ""),
            messages=tuple(d.get("messages", ())),
            stop=tuple(d.get("stop", ())),
        )


@dataclass(frozen=True)
class Problem:
    """One problem of a task.

    `reference` is the verifier's private data (tests, gold answer, entry point), plain JSON so it can be
    stored and a resumed run verifies against exactly what the first run loaded. Conventions used by the
    built-in verifiers:

    - code with assert tests (HumanEval/MBPP): ``{"kind": "asserts", "prompt_code": str,
      "test_code": str, "entry_point": str | None, "setup_code": str}``; the program run is the
      extracted code, then setup, then test code, then ``check(entry_point)`` when an entry point is given.
      An optional ``"solution"`` (a correct program) lets `code-tests` derive the problem's time limit.
    - code with stdin/stdout tests (CodeContests): ``{"kind": "stdio", "tests": [{"stdin": str,
      "stdout": str}, ...]}``.
    - math answers (GSM8K/MATH): ``{"answer": str}``.
    """

    problem_id: str
    prompt: Prompt
    reference: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SampleRequest:
    """Ask for sample `index` of a problem, drawn with `seed` (derived by `derive_seed`)."""

    index: int
    seed: int


@dataclass(frozen=True)
class Completion:
    """What a sampler returns for one `SampleRequest`.

    `prompt_tokens` is the full prompt's length; `prompt_shared` is how many samples of one request (a
    batch, or a server call with `n`) the prompt was processed once for, so cost counts it once per request.
    """

    index: int
    seed: int
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" | "length" | other backend-specific value
    latency_s: float
    prompt_shared: int = 1
    logprobs: tuple[tuple[str, float], ...] | None = None  # (token, log-probability) of each sampled token


@dataclass(frozen=True)
class Sample:
    """A stored completion of one problem, as verifiers and analysis see it."""

    problem_id: str
    index: int
    seed: int
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    latency_s: float = 0.0


@dataclass(frozen=True)
class Verdict:
    """The result of checking one sample. A failed sample is data, never an exception.

    `details` holds structured extras (which test failed, extracted answer, cache hit, time-limit retry).
    """

    outcome: Outcome
    reason: str
    details: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS


def derive_seed(run_seed: int, problem_id: str, index: int) -> int:
    """Seed of sample `index` of `problem_id`: a hash, so resume and workers need no shared state."""
    digest = hashlib.blake2b(f"{run_seed}\x00{problem_id}\x00{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFF_FFFF  # fits every backend's seed type


@runtime_checkable
class Task(Protocol):
    """A dataset adapter: loads problems with prompts and names the verifier that checks them."""

    name: ClassVar[str]
    default_verifier: ClassVar[str]

    def load_problems(self) -> list[Problem]:
        """All problems in a stable order. Raises `DataError` naming the file on bad data."""
        ...


@runtime_checkable
class Sampler(Protocol):
    """A model backend. `sample` returns one `Completion` per request, in any order.

    `model_name` is what the store records as the model. When `redraw_whole_batch` is true the pipeline
    always asks for whole fixed batches of indices (so a resumed run sees exactly the batches an
    uninterrupted one did); already stored indices are then dropped by the store.
    """

    model_name: str
    redraw_whole_batch: bool

    def sample(
        self, prompt: Prompt, requests: Sequence[SampleRequest], *, temperature: float, top_p: float,
        max_tokens: int,
    ) -> list[Completion]: ...

    def close(self) -> None: ...


@runtime_checkable
class Verifier(Protocol):
    """Checks one sample of one problem. Must be safe to call from several threads at once."""

    def verify(self, problem: Problem, sample: Sample) -> Verdict: ...

    def close(self) -> None: ...
