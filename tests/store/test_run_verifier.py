"""One answer to "which verifier": a run that used its task's default verifier (config.verifier null) is
read the same by results, report data, export and selection curves (the README's Python example)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monkeys.analysis.selection import selection_curves
from monkeys.config import build_config
from monkeys.pipeline import run
from monkeys.registry import register_scorer
from monkeys.report.data import load_run
from monkeys.store import connect, read_config, read_results, run_verifier
from monkeys.store.export import export_run


@register_scorer("store-test-length")
class _Length:
    def score(self, problem, sample) -> float:  # type: ignore[no-untyped-def]
        return float(len(sample.text))

    def close(self) -> None:
        pass


def _gsm8k_run(tmp_path: Path) -> Path:
    data = tmp_path / "test.jsonl"
    data.write_text("".join(json.dumps({"question": f"What is {i} + 1?", "answer": f"so #### {i + 1}"}) + "\n"
                            for i in range(3)))
    out = tmp_path / "run"
    run(build_config(dict(task="gsm8k", data=str(data), task_options={"shots": 0}, sampler="scripted",
                          sampler_options={"responses": ["#### 1", "#### 2", "#### 3", "so #### 2"]}, n=6,
                          batch_size=3, scorers=["store-test-length"], out=out)))
    return out


def test_a_run_with_the_default_verifier_is_read_the_same_everywhere(tmp_path: Path) -> None:
    out = _gsm8k_run(tmp_path)
    db = connect(out)
    assert read_config(db).get("verifier") is None  # left to the task's default ...
    name = run_verifier(db)
    assert name  # ... and resolved the one way
    assert read_results(db).verifier == name and sum(read_results(db).n) == 18
    assert load_run(out).verifier == name and load_run(out).verifiers == [name]
    export_run(out, tmp_path / "e.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert {r["verifier"] for r in rows} == {name}
    curves = selection_curves(connect(out), scorer="store-test-length")  # the README's example
    assert set(curves) == {"coverage", "majority", "best_of_n", "weighted_vote"}
    assert curves["majority"] and curves["coverage"][1] > 0


def test_report_data_counts_timeouts_and_loads_another_verifier(tmp_path: Path) -> None:
    from monkeys.core import Completion, Outcome, Problem, Prompt, Verdict
    from monkeys.store import StoreWriter, write_meta, write_problems

    out = tmp_path / "run"
    db = connect(out, create=True)
    write_problems(db, [Problem("a", Prompt("q")), Problem("b", Prompt("q"))])
    write_meta(db, "verifier", "code")
    writer = StoreWriter(out)
    for pid in ("a", "b"):
        for i in range(4):
            writer.put_sample(pid, Completion(i, i, "x", 3, 2, "stop", 0.0), "m")
    limits = {("a", 0): "cpu", ("a", 1): "wall", ("b", 2): "cpu", ("b", 3): None}
    for pid in ("a", "b"):
        for i in range(4):
            limit = limits.get((pid, i), "")
            details = {"time_limit": limit} if limit else {}
            outcome = Outcome.TIMEOUT if (pid, i) in limits else Outcome.PASS
            writer.put_verdict(pid, i, "code", Verdict(outcome, "slow", details))
            writer.put_verdict(pid, i, "other", Verdict(Outcome.FAIL if i else Outcome.PASS, "r"))
    writer.close()
    data = load_run(out)
    assert data.verifier == "code" and data.verifiers == ["code", "other"]
    assert data.timeouts == {"a": 2, "b": 2}
    assert data.timeout_limits == {"cpu": 2, "wall": 1, "unknown": 1}
    assert list(data.c) == [2, 2]
    other = load_run(out, verifier="other")
    assert other.verifier == "other" and list(other.c) == [1, 1] and other.timeouts == {}


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_export_import_round_trip_keeps_what_majority_vote_needs(tmp_path: Path, suffix: str) -> None:
    from monkeys.store.importer import import_results

    out = _gsm8k_run(tmp_path)
    export_run(out, tmp_path / f"e{suffix}")
    if suffix == ".jsonl":
        rows = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
        assert all(r["answer_key"] is not None and json.loads(r["details"])["answer_key"] == r["answer_key"]
                   for r in rows)
    import_results(tmp_path / f"e{suffix}", tmp_path / "back")
    before = selection_curves(connect(out))
    after = selection_curves(connect(tmp_path / "back"))
    assert set(before) == {"coverage", "majority"} and before == after
    export_run(tmp_path / "back", tmp_path / f"again{suffix}")
    if suffix == ".jsonl":
        again = [json.loads(line) for line in (tmp_path / "again.jsonl").read_text().splitlines()]
        keep = ("problem_id", "sample_index", "outcome", "answer", "answer_key", "prompt_shared", "correct")
        assert [{k: r[k] for k in keep} for r in again] == [{k: r[k] for k in keep} for r in rows]
