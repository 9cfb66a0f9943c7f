"""MBPP (Austin et al. 2021): short Python tasks checked by three asserts each.

Loads a local JSONL/Parquet (`text`, `code`, `task_id`, `test_list`, `test_setup_code`) or, online, the
hub's `google-research-datasets/mbpp` (full config, test split). The reference solution (`code`), when
the data has one, travels as the reference's `solution`: code-tests times it to set the problem's limit.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from monkeys.core import Problem
from monkeys.registry import register_task
from monkeys.tasks._checks import check_asserts
from monkeys.tasks._files import check_fields, check_unique_ids, load_hub, read_records
from monkeys.tasks.humaneval import code_prompt

FIELDS = {"task_id": int | str, "text": str, "test_list": list[str]}
OPTIONAL = {"test_setup_code": str | None, "code": str | None}


@register_task("mbpp")
class MBPP:
    """Mostly Basic Python Problems; the prompt shows the task and its asserts (as in the MBPP paper)."""

    name: ClassVar[str] = "mbpp"
    default_verifier: ClassVar[str] = "code-tests"

    def __init__(self, data: str | None = None, prompt_style: Literal["chat", "completion"] = "chat",
                 hub_dataset: str = "google-research-datasets/mbpp", split: str = "test") -> None:
        self.data = data
        self.prompt_style = prompt_style
        self.hub_dataset = hub_dataset
        self.split = split

    def load_problems(self) -> list[Problem]:
        if self.data:
            records = read_records(self.data, FIELDS, OPTIONAL)
        else:
            records = [(f"{self.hub_dataset}[{self.split}] row {n}", r)
                       for n, r in enumerate(load_hub(self.hub_dataset, "full", self.split), 1)]
            for where, r in records:
                check_fields(r, where, FIELDS, OPTIONAL)
        check_unique_ids((where, f"mbpp/{r['task_id']}") for where, r in records)
        problems = []
        for where, r in records:
            tests = "\n".join(r["test_list"])
            check_asserts(tests, where, "test_list")
            instruction = (f"You are an expert Python programmer, and here is your task: {r['text']} "
                           f"Your code should pass these tests:\n\n{tests}\n\nReply with the code in one "
                           "```python code block.")
            prompt = code_prompt(instruction, "", self.prompt_style)
            if self.prompt_style == "completion":
                prompt = code_prompt("", f'"""\n{r["text"]}\n{tests}\n"""\n', "completion")
            problems.append(Problem(
                problem_id=f"mbpp/{r['task_id']}",
                prompt=prompt,
                reference={"kind": "asserts", "prompt_code": "", "test_code": tests, "entry_point": None,
                           "setup_code": r.get("test_setup_code") or "",
                           **({"solution": r["code"]} if r.get("code") else {})},
            ))
        return problems
