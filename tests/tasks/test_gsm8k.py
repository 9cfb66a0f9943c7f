"""GSM8K task: local loading, paper prompts (5-shot, seeded per problem), errors naming file/line/field."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from monkeys.errors import DataError
from monkeys.registry import create
from monkeys.tasks.gsm8k import GSM8K

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "gsm8k"
needs_data = pytest.mark.skipif(not (DATA / "test.jsonl").exists(), reason="../shared/data/gsm8k not present")


@needs_data
def test_loads_test_split_with_five_shot_prompts() -> None:
    problems = create("task", "gsm8k", data=str(DATA / "test.jsonl")).load_problems()
    assert len(problems) == 1319
    first = problems[0]
    assert first.problem_id == "test/0"
    assert first.reference == {"answer": "18", "task": "gsm8k"}
    assert first.prompt.text.count("Question: ") == 6
    assert first.prompt.text.endswith("at the farmers' market?\nAnswer:")
    assert "Question:" in first.prompt.stop
    assert len(first.prompt.messages) == 11 and first.prompt.messages[-1]["role"] == "user"


@needs_data
def test_shots_are_seeded_per_problem(tmp_path: Path) -> None:
    full = GSM8K(data=str(DATA / "test.jsonl")).load_problems()
    again = GSM8K(data=str(DATA / "test.jsonl")).load_problems()
    assert [p.prompt for p in full[:50]] == [p.prompt for p in again[:50]]
    shots = [p.prompt.text.rsplit("Question: ", 1)[0] for p in full[:2]]
    assert shots[0] != shots[1]  # each problem draws its own examples
    other_seed = GSM8K(data=str(DATA / "test.jsonl"), seed=1).load_problems()
    assert full[0].prompt.text != other_seed[0].prompt.text
    # a file holding only the first problem gives that problem the same prompt
    head = tmp_path / "test.jsonl"
    head.write_text((DATA / "test.jsonl").read_text().splitlines()[0] + "\n")
    alone = GSM8K(data=str(head), train_data=str(DATA / "train.jsonl")).load_problems()
    assert alone[0].prompt == full[0].prompt


def test_bad_records_name_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "test.jsonl"
    bad.write_text(json.dumps({"question": "q", "answer": "no marker"}) + "\n")
    with pytest.raises(DataError, match=r"test.jsonl:1: field 'answer'"):
        GSM8K(data=str(bad), shots=0).load_problems()
    bad.write_text("\n" + json.dumps({"answer": "#### 3"}) + "\n")
    with pytest.raises(DataError, match=r"test.jsonl:2: field 'question' must be a non-empty string"):
        GSM8K(data=str(bad), shots=0).load_problems()
    bad.write_text("{not json\n")
    with pytest.raises(DataError, match=r"test.jsonl:1: not valid JSON"):
        GSM8K(data=str(bad), shots=0).load_problems()
    with pytest.raises(DataError, match="missing.jsonl: data file not found"):
        GSM8K(data=str(tmp_path / "missing.jsonl"), shots=0).load_problems()


def test_hub_without_datasets_says_pass_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # import fails, as offline without the extra
    with pytest.raises(DataError, match="--data"):
        GSM8K().load_problems()
