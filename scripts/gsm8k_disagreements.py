"""List every GSM8K example solution where math-answer's verdict differs from its `is_correct` label.

Usage: python scripts/gsm8k_disagreements.py [../shared/data/gsm8k/example_model_solutions.jsonl]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from monkeys.core import Problem, Prompt, Sample
from monkeys.verifiers._answer_extract import gsm8k_answer
from monkeys.verifiers.math_answer import MathAnswer

MODELS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
DEFAULT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "gsm8k" / "example_model_solutions.jsonl"


def main(path: Path) -> int:
    verifier = MathAnswer()
    total = disagree = 0
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        record = json.loads(line)
        gold = gsm8k_answer(record["ground_truth"])
        problem = Problem(f"line {line_no}", Prompt(), {"answer": gold, "task": "gsm8k"})
        for model in MODELS:
            verdict = verifier.verify(problem, Sample(problem.problem_id, 0, 0, record[model]["solution"]))
            total += 1
            if verdict.passed != record[model]["is_correct"]:
                disagree += 1
                tail = record[model]["solution"][-120:].replace("\n", " | ")
                print(f"{path.name}:{line_no} {model}: label={record[model]['is_correct']} "
                      f"ours={verdict.outcome.value} gold={gold} answer={verdict.details.get('answer')} ...{tail}")
    verifier.close()
    print(f"{disagree} disagreements of {total} samples; agreement {(total - disagree) / total:.4%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT))
