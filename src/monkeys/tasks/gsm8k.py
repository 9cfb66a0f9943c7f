"""GSM8K (Cobbe et al. 2021) as the paper runs it: 5-shot prompts drawn from the train split per problem.

Few-shot examples are drawn with a seed derived from (seed, problem index), so a problem's prompt never
depends on which other problems were loaded. Grading is `math-answer`'s numeric checker.
"""

from __future__ import annotations

import hashlib
import random
from typing import Annotated, Any, ClassVar

from annotated_types import Ge, Le

from monkeys.core import Problem, Prompt
from monkeys.errors import ConfigError, DataError
from monkeys.registry import register_task
from monkeys.tasks._files import read_records
from monkeys.tasks._math_data import field, hub_records

STOP = ("Question:", "</s>", "<|im_end|>")  # lm-eval gsm8k.yaml `until`, as the paper used


def gold_answer(solution: str, where: str) -> str:
    """The number after `####` in a GSM8K solution, commas dropped; `DataError` if there is none."""
    marker = solution.rfind("####")
    if marker < 0:
        raise DataError(f"{where}: field 'answer' has no '#### <number>' final answer")
    number = solution[marker + 4:].strip().replace(",", "").replace("$", "")
    if not number:
        raise DataError(f"{where}: field 'answer' has an empty '####' final answer")
    return number


@register_task("gsm8k")
class GSM8K:
    """Grade-school math word problems (1,319 test), graded by the final number."""

    name: ClassVar[str] = "gsm8k"
    default_verifier: ClassVar[str] = "math-answer"

    def __init__(self, data: str | None = None, train_data: str | None = None,
                 shots: Annotated[int, Ge(0), Le(16)] = 5, seed: int = 0, split: str = "test") -> None:
        if not 0 <= shots <= 16:
            raise ConfigError(f"task gsm8k: shots must be between 0 and 16, got {shots}")
        self.data, self.train_data, self.shots, self.seed, self.split = data, train_data, shots, seed, split

    def _records(self, path: str | None, split: str) -> list[tuple[str, dict[str, Any]]]:
        if path is None:
            return [(f"openai/gsm8k[{split}] row {n}", r) for n, r in hub_records("openai/gsm8k", "main", split,
                                                                                 "gsm8k")]
        return read_records(path)

    def _train_pool(self) -> list[tuple[str, str]]:
        if self.shots == 0:
            return []
        path = self.train_data
        if path is None and self.data is not None:
            sibling = self.data.replace("test", "train")  # ../shared/data/gsm8k/test.jsonl -> train.jsonl
            if sibling == self.data:
                raise ConfigError("task gsm8k: pass train_data (the few-shot pool) with a local --data file")
            path = sibling
        return [(field(r, "question", w), field(r, "answer", w)) for w, r in self._records(path, "train")]

    def load_problems(self) -> list[Problem]:
        pool = self._train_pool()
        if 0 < len(pool) < self.shots:
            raise DataError(f"task gsm8k: the few-shot pool has {len(pool)} examples, fewer than {self.shots}")
        problems = []
        for i, (where, record) in enumerate(self._records(self.data, self.split)):
            question = field(record, "question", where)
            answer = gold_answer(field(record, "answer", where), where)
            shots = random.Random(_seed(self.seed, i)).sample(pool, self.shots) if self.shots else []
            problems.append(Problem(f"{self.split}/{i}", build_prompt(question, shots),
                                    {"answer": answer, "task": "gsm8k"}))
        return problems


def _seed(seed: int, index: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"gsm8k\x00{seed}\x00{index}".encode(), digest_size=8).digest(), "big")


def build_prompt(question: str, shots: list[tuple[str, str]]) -> Prompt:
    """The paper's format: `Question: ...\\nAnswer: ...` blocks, then the question (lm-eval gsm8k)."""
    text = "".join(f"Question: {q}\nAnswer: {a}\n\n" for q, a in shots) + f"Question: {question}\nAnswer:"
    messages: list[dict[str, str]] = []
    for q, a in shots:
        messages += [{"role": "user", "content": f"Question: {q}"}, {"role": "assistant", "content": a}]
    messages.append({"role": "user", "content": f"Question: {question}"})
    return Prompt(text=text, messages=tuple(messages), stop=STOP)
