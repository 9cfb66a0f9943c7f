"""MATH (Hendrycks et al. 2021) with the Minerva 4-shot prompt, as the paper runs it; or MATH-500.

The gold answer is the record's `answer` field (MATH-500) or the last `\\boxed{}` of its `solution` (all its final
boxes, as a list, where the problem asks for a comma-separated list and the solution boxes each item).
Samples end with "Final Answer: The final answer is X. I hope it is correct." (the prompt teaches it).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from annotated_types import Ge, Le

from monkeys.core import Problem, Prompt
from monkeys.errors import ConfigError, DataError
from monkeys.registry import register_task
from monkeys.tasks._files import read_records
from monkeys.tasks._math_data import field, hub_records, reference_answer

STOP = ("Problem:",)  # lm-eval minerva_math `until`
_HUB = {"full": ("DigitalLearningGmbH/MATH-lighteval", "default"), "math500": ("HuggingFaceH4/MATH-500", None)}

# Minerva (Lewkowycz et al. 2022) 4-shot examples, as in lm-eval `minerva_math/utils.py`.
MINERVA_SHOTS: tuple[tuple[str, str, str], ...] = (
    ("Find the domain of the expression  $\\frac{\\sqrt{x-2}}{\\sqrt{5-x}}$.}",
     "The expressions inside each square root must be non-negative. Therefore, $x-2 \\ge 0$, so $x\\ge2$, and "
     "$5 - x \\ge 0$, so $x \\le 5$. Also, the denominator cannot be equal to zero, so $5-x>0$, which gives "
     "$x<5$. Therefore, the domain of the expression is $\\boxed{[2,5)}$.", "[2,5)"),
    ("If $\\det \\mathbf{A} = 2$ and $\\det \\mathbf{B} = 12,$ then find $\\det (\\mathbf{A} \\mathbf{B}).$",
     "We have that $\\det (\\mathbf{A} \\mathbf{B}) = (\\det \\mathbf{A})(\\det \\mathbf{B}) = (2)(12) = "
     "\\boxed{24}.$", "24"),
    ("Terrell usually lifts two 20-pound weights 12 times. If he uses two 15-pound weights instead, how many "
     "times must Terrell lift them in order to lift the same total weight?",
     "If Terrell lifts two 20-pound weights 12 times, he lifts a total of $2\\cdot 12\\cdot20=480$ pounds of "
     "weight.  If he lifts two 15-pound weights instead for $n$ times, he will lift a total of "
     "$2\\cdot15\\cdot n=30n$ pounds of weight.  Equating this to 480 pounds, we can solve for $n$:\n"
     "\\begin{align*}\n30n&=480\\\\\n\\Rightarrow\\qquad n&=480/30=\\boxed{16}\n\\end{align*}", "16"),
    ("If the system of equations\n\n\\begin{align*}\n6x-4y&=a,\\\\\n6y-9x &=b.\n\\end{align*}has a solution "
     "$(x, y)$ where $x$ and $y$ are both nonzero,\nfind $\\frac{a}{b},$ assuming $b$ is nonzero.",
     "If we multiply the first equation by $-\\frac{3}{2}$, we obtain\n\n$$6y-9x=-\\frac{3}{2}a.$$Since we also "
     "know that $6y-9x=b$, we have\n\n$$-\\frac{3}{2}a=b\\Rightarrow\\frac{a}{b}=\\boxed{-\\frac{2}{3}}.$$",
     "-\\frac{2}{3}"),
)


def _target(solution: str, answer: str) -> str:
    return f"{solution}\nFinal Answer: The final answer is ${answer}$. I hope it is correct."


def build_prompt(problem: str, shots: int = 4) -> Prompt:
    """`Problem:\\n...\\n\\nSolution:` blocks (Minerva), then the problem; chat messages alongside."""
    examples = MINERVA_SHOTS[:shots]
    blocks = [f"Problem:\n{p}\n\nSolution:\n{_target(s, a)}" for p, s, a in examples]
    text = "\n\n".join([*blocks, f"Problem:\n{problem}\n\nSolution:"])
    messages: list[dict[str, str]] = []
    for p, s, a in examples:
        messages += [{"role": "user", "content": f"Problem:\n{p}"}, {"role": "assistant", "content": _target(s, a)}]
    messages.append({"role": "user", "content": f"Problem:\n{problem}"})
    return Prompt(text=text, messages=tuple(messages), stop=STOP)


@register_task("math")
class MATH:
    """Competition mathematics (5,000 test problems, or the MATH-500 subset), graded by final answer."""

    name: ClassVar[str] = "math"
    default_verifier: ClassVar[str] = "math-answer"

    def __init__(self, data: str | None = None, subset: Literal["full", "math500"] = "full",
                 shots: Annotated[int, Ge(0), Le(len(MINERVA_SHOTS))] = 4) -> None:
        if subset not in _HUB:
            raise ConfigError(f"task math: subset must be one of {', '.join(_HUB)}, got {subset!r}")
        if not 0 <= shots <= len(MINERVA_SHOTS):
            raise ConfigError(f"task math: shots must be between 0 and {len(MINERVA_SHOTS)}, got {shots}")
        self.data, self.subset, self.shots = data, subset, shots

    def _records(self) -> list[tuple[str, dict[str, Any]]]:
        if self.data is None:
            name, config = _HUB[self.subset]
            return [(f"{name} row {n}", r) for n, r in hub_records(name, config, "test", "math")]
        return read_records(self.data)

    def load_problems(self) -> list[Problem]:
        problems, seen = [], dict[str, str]()
        for i, (where, record) in enumerate(self._records()):
            text = field(record, "problem", where)
            if isinstance(record.get("answer"), str) and record["answer"].strip():
                gold = record["answer"].strip()
            else:
                gold = reference_answer(text, field(record, "solution", where))
                if not gold:
                    raise DataError(f"{where}: field 'solution' has no \\boxed{{}} answer and there is no "
                                    "'answer' field")
            pid = str(record.get("unique_id") or f"test/{record.get('idx', i)}")
            if pid in seen:
                raise DataError(f"{where}: problem id {pid!r} appears twice (first at {seen[pid]}); "
                                "expected a unique id per problem")
            seen[pid] = where
            reference = {"answer": gold, "task": "math", "level": record.get("level"),
                         "subject": record.get("type") or record.get("subject")}
            problems.append(Problem(pid, build_prompt(text, self.shots), reference))
        return problems
