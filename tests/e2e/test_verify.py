"""`monkeys verify` as a user runs it: samples made elsewhere verified into a run, and a second verifier's
verdicts added to a stored run. Real CLI processes, real sandbox, real stores."""

from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from conftest import MONKEYS, addition_problems, monkeys, stored_samples

from monkeys.tasks.humaneval import bundled_path


def _humaneval(n: int) -> list[dict]:
    with gzip.open(bundled_path(), "rt") as fh:
        return [json.loads(line) for line in fh][:n]


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _verdicts(run: Path, verifier: str | None = None) -> dict[tuple[str, int], str]:
    db = sqlite3.connect(f"file:{run / 'monkeys.db'}?mode=ro", uri=True)
    try:
        query = ("SELECT s.problem_id, s.sample_index, v.outcome FROM verdicts v JOIN samples s USING (sample_id)"
                 + (" WHERE v.verifier = ?" if verifier else ""))
        return {(p, i): o for p, i, o in db.execute(query, (verifier,) if verifier else ())}
    finally:
        db.close()


def _samples_file(tmp_path: Path) -> tuple[Path, dict[tuple[str, int], str]]:
    """Chat-style full functions and completion-style bodies, right and wrong, for 4 HumanEval problems."""
    rows, expected = [], {}
    for r in _humaneval(4):
        pid = r["task_id"]
        cases = [
            (f"```python\n{r['prompt']}{r['canonical_solution']}```", "pass"),  # a whole function, fenced
            (r["canonical_solution"], "pass"),  # a completion: the body, appended to the prompt
            (r["prompt"] + "    return None\n", "fail"),
            ("    import sys\n    sys.exit(0)\n", "fail"),  # exits before the tests: never a pass
        ]
        for i, (text, outcome) in enumerate(cases):
            rows.append({"problem_id": pid, "sample_index": i, "text": text, "model": "elsewhere-7b"})
            expected[(pid, i)] = outcome
    return _write_jsonl(tmp_path / "samples.jsonl", rows), expected


def test_verify_file_then_export_and_verify_again_gives_identical_verdicts(tmp_path: Path) -> None:
    samples, expected = _samples_file(tmp_path)
    run = tmp_path / "run"
    done = monkeys("verify", str(samples), "--task", "humaneval", "--task-option", "prompt_style=completion",
                   "--out", str(run), "--no-report")
    assert done.returncode == 0, done.stderr
    assert "verified 16 samples" in done.stderr
    assert _verdicts(run) == expected
    # the report reads it like any run
    report = monkeys("report", str(run))
    assert report.returncode == 0, report.stderr
    assert "elsewhere-7b" in report.stdout
    # round trip: export, verify the export into a new run, the same verdicts
    exported = tmp_path / "export.jsonl"
    assert monkeys("export", str(run), str(exported)).returncode == 0
    run2 = tmp_path / "run2"
    again = monkeys("verify", str(exported), "--task", "humaneval", "--out", str(run2), "--no-report")
    assert again.returncode == 0, again.stderr
    assert _verdicts(run2) == _verdicts(run)
    # a finished run verified again: nothing to do, nothing verified twice
    rerun = monkeys("verify", str(samples), "--task", "humaneval", "--task-option", "prompt_style=completion",
                    "--out", str(run), "--no-report")
    assert rerun.returncode == 0, rerun.stderr
    assert "verified 0 samples" in rerun.stderr


def test_bad_rows_are_one_error_line_naming_file_and_row_and_nothing_is_written(tmp_path: Path) -> None:
    rows = [{"problem_id": "HumanEval/0", "sample_index": 0, "text": "x = 1"},
            {"problem_id": "HumanEval/0", "sample_index": 1, "text": "x = 2"},
            {"problem_id": "HumanEval/999", "sample_index": 0, "text": "x = 3"}]
    samples = _write_jsonl(tmp_path / "bad.jsonl", rows)
    run = tmp_path / "run"
    done = monkeys("verify", str(samples), "--task", "humaneval", "--out", str(run))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr
    assert "bad.jsonl" in lines[0] and "row 3" in lines[0] and "HumanEval/999" in lines[0]
    assert not (run / "monkeys.db").exists()
    missing_text = _write_jsonl(tmp_path / "notext.jsonl", [{"problem_id": "HumanEval/0", "sample_index": 0}])
    done = monkeys("verify", str(missing_text), "--task", "humaneval", "--out", str(run))
    assert done.returncode == 2 and "text" in done.stderr and "notext.jsonl" in done.stderr
    assert not (run / "monkeys.db").exists()


def test_usage_errors(tmp_path: Path) -> None:
    samples, _ = _samples_file(tmp_path)
    no_task = monkeys("verify", str(samples), "--out", str(tmp_path / "r"))
    assert no_task.returncode == 2 and "--task" in no_task.stderr
    no_out = monkeys("verify", str(samples), "--task", "humaneval")
    assert no_out.returncode == 2 and "--out" in no_out.stderr
    bad_option = monkeys("verify", str(samples), "--task", "humaneval", "--out", str(tmp_path / "r"),
                         "--verifier-option", "flagged=maybe")
    assert bad_option.returncode == 2 and "flagged" in bad_option.stderr
    assert not (tmp_path / "r").exists()


def test_kill_9_mid_verify_then_rerun_verifies_every_sample_once(tmp_path: Path) -> None:
    """Slow samples (each sleeps in its function, which the tests call 7 times) so the kill lands midway; the
    rerun verifies only the rest."""
    r = _humaneval(1)[0]
    body = "    import time\n    time.sleep(0.03)\n" + r["canonical_solution"]
    rows = [{"problem_id": r["task_id"], "sample_index": i, "text": body + f"\n# variant {i}\n"} for i in range(60)]
    samples = _write_jsonl(tmp_path / "slow.jsonl", rows)
    run = tmp_path / "run"
    args = [MONKEYS, "verify", str(samples), "--task", "humaneval", "--out", str(run), "--no-report",
            "--verify-workers", "2"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    before = 0
    while time.monotonic() < deadline:
        before = len(_verdicts(run)) if stored_samples(run) else 0
        if before >= 10:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = len(_verdicts(run))
    assert 0 < before < 60, before
    assert stored_samples(run) == 60  # the samples were stored whole, in one transaction
    done = monkeys(*args[1:])
    assert done.returncode == 0, done.stderr
    assert f"verified {60 - before} samples (resumed)" in done.stderr
    verdicts = _verdicts(run)
    assert len(verdicts) == 60 and set(verdicts.values()) == {"pass"}


def test_second_verifier_on_a_stored_run_keeps_both_verdict_sets(tmp_path: Path) -> None:
    gold = [("test/0", "18"), ("test/1", "3")]
    rows = []
    for pid, answer in gold:
        rows += [{"problem_id": pid, "sample_index": 0, "text": f"So the answer is {answer}. #### {answer}"},
                 {"problem_id": pid, "sample_index": 1, "text": "The answer is \\boxed{7}. #### 7"}]
    data = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "gsm8k" / "test.jsonl"
    if not data.exists():
        pytest.skip(f"{data} absent (the repo's sibling shared/data)")
    samples = _write_jsonl(tmp_path / "gsm.jsonl", rows)
    run = tmp_path / "run"
    first = monkeys("verify", str(samples), "--task", "gsm8k", "--data", str(data), "--task-option", "shots=0",
                    "--out", str(run), "--no-report")
    assert first.returncode == 0, first.stderr
    second = monkeys("verify", str(run), "--verifier", "math-answer", "--verifier-option", "mode=minerva",
                     "--no-report")
    assert second.returncode == 0, second.stderr
    assert "verified 4 samples" in second.stderr
    main, minerva = _verdicts(run, "math-answer"), _verdicts(run, "math-answer[mode=minerva]")
    assert len(main) == len(minerva) == 4
    assert main[("test/0", 0)] == minerva[("test/0", 0)] == "pass"
    assert main[("test/0", 1)] == minerva[("test/0", 1)] == "fail"
    again = monkeys("verify", str(run), "--verifier", "math-answer", "--verifier-option", "mode=minerva",
                    "--no-report")
    assert again.returncode == 0 and "verified 0 samples" in again.stderr
    # the run cannot be sampled into: one clear line
    refused = monkeys("run", "--task", "gsm8k", "--out", str(run), "-n", "1")
    assert refused.returncode == 2 and "monkeys verify" in refused.stderr


def test_imported_run_gets_verdicts_of_a_real_verifier(tmp_path: Path) -> None:
    """The paper's YAML layout imported with its own verdicts, then checked with math-answer."""
    yaml_dir = tmp_path / "yaml"
    yaml_dir.mkdir()
    (yaml_dir / "p1.yaml").write_text(
        "prompt: What is 2+2?\ngt_answer: '4'\nsamples:\n- 'So \\boxed{4}'\n- 'So \\boxed{5}'\n"
        "is_corrects:\n- true\n- true\n")
    run = tmp_path / "run"
    assert monkeys("import", str(yaml_dir), str(run)).returncode == 0
    refused = monkeys("verify", str(run), "--no-report")
    assert refused.returncode == 2 and "--verifier" in refused.stderr
    done = monkeys("verify", str(run), "--verifier", "math-answer", "--no-report")
    assert done.returncode == 0, done.stderr
    assert _verdicts(run, "math-answer") == {("p1", 0): "pass", ("p1", 1): "fail"}
    assert _verdicts(run, "imported") == {("p1", 0): "pass", ("p1", 1): "pass"}


def test_the_papers_yaml_layout_of_raw_generations_is_verified_against_the_task(tmp_path: Path) -> None:
    """large_language_monkeys writes one `<row>.yaml` per GSM8K problem (prompt, question, samples,
    gt_answer; no verdicts): its files name the task's `test/<row>` problems."""
    data = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "gsm8k" / "test.jsonl"
    if not data.exists():
        pytest.skip(f"{data} absent (the repo's sibling shared/data)")
    yaml_dir = tmp_path / "llmonk"
    yaml_dir.mkdir()
    for row, answer in ((0, 18), (1, 3)):
        (yaml_dir / f"{row}.yaml").write_text(
            f"prompt: 'Question: ...'\nquestion: '...'\ngt_answer: 'so #### {answer}'\nsamples:\n"
            f"- ' She makes {answer} dollars.\\n#### {answer}'\n- ' It is 5.\\n#### 5'\n")
    run = tmp_path / "run"
    done = monkeys("verify", str(yaml_dir), "--task", "gsm8k", "--data", str(data), "--task-option", "shots=0",
                   "--out", str(run), "--no-report")
    assert done.returncode == 0, done.stderr
    assert _verdicts(run) == {("test/0", 0): "pass", ("test/0", 1): "fail", ("test/1", 0): "pass",
                              ("test/1", 1): "fail"}


def test_rerun_after_the_samples_file_was_edited_is_refused_and_the_run_kept(tmp_path: Path) -> None:
    """A rerun resumes the samples it stored; an edited FILE (rows added, a text changed) is not those
    samples: one error line saying so and what to do, exit 2, the store byte for byte as it was."""
    data = addition_problems(tmp_path, 3)
    args = ["--task", "gsm8k", "--data", str(data), "--task-option", "shots=0", "--no-report"]
    samples = _write_jsonl(tmp_path / "s.jsonl", [{"problem_id": "test/0", "text": "#### 40"}])
    run = tmp_path / "run"
    first = monkeys("verify", str(samples), *args, "--out", str(run))
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    for rows in ([{"problem_id": "test/0", "text": "#### 41"}],  # same size, other contents
                 [{"problem_id": "test/0", "text": "#### 40"}, {"problem_id": "test/1", "text": "#### 41"}]):
        _write_jsonl(samples, rows)
        again = monkeys("verify", str(samples), *args, "--out", str(run))
        assert again.returncode == 2, again.stderr
        errors = [line for line in again.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "Traceback" not in again.stderr, again.stderr
        assert "s.jsonl: changed since it was imported" in errors[0] and "new --out" in errors[0]
        assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    _write_jsonl(samples, [{"problem_id": "test/0", "text": "#### 40"}])  # as it was: resumes
    resumed = monkeys("verify", str(samples), *args, "--out", str(run))
    assert resumed.returncode == 0 and "verified 0 samples" in resumed.stderr, resumed.stderr


def test_the_summary_prints_names_with_brackets_as_they_are(tmp_path: Path) -> None:
    """`math-answer[mode=minerva]` and a run directory `runs[x]` went through Rich markup, which ate the
    bracketed part: the printed `monkeys report` command named a verifier the run does not have."""
    data = addition_problems(tmp_path, 2)
    samples = _write_jsonl(tmp_path / "s.jsonl", [{"problem_id": "test/0", "text": "#### 40"}])
    run = tmp_path / "runs[x]"
    first = monkeys("verify", str(samples), "--task", "gsm8k", "--data", str(data), "--task-option", "shots=0",
                    "--out", str(run), "--no-report")
    assert first.returncode == 0, first.stderr
    assert f"monkeys report {run} --verifier 'math-answer'" in " ".join(first.stderr.split())
    second = monkeys("verify", str(run), "--verifier", "math-answer", "--verifier-option", "mode=minerva",
                     "--no-report")
    assert second.returncode == 0, second.stderr
    flat = " ".join(second.stderr.split())
    assert f"monkeys verify {run} verifier=math-answer" in flat
    assert f"monkeys report {run} --verifier 'math-answer[mode=minerva]'" in flat
