"""`monkeys run --task swe-bench` and `monkeys verify` of SWE-bench predictions, end to end as a user runs
them: the real CLI, the toolz repository with a real bug planted (tests/swe/swe_fixture.py), the `swe-tests`
verifier running the repository's own tests in the sandbox, then `monkeys report` with its SWE-bench tables.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "swe"))
from swe_fixture import BUGGY, FIXED, SOURCE_FILE, build_instance, make_patch, offline_install  # noqa: E402

from monkeys.sandbox._command import unavailable  # noqa: E402

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=f"no command sandbox: {unavailable()}")
pytest.importorskip("bm25s", reason="the swe extra (bm25s) is not installed")

STILL_BUGGY = "            yield prev[:list(prev).index(no_pad)]\n"  # calls __eq__ all the same


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("swe-e2e")
    instance, repo = build_instance(root / "repos")
    data = root / "instances.jsonl"
    data.write_text(json.dumps(instance) + "\n")
    return {"root": root, "instance": instance, "repo": repo, "data": data, "cache": root / "cache"}


def run_config(world: dict[str, Any], out: Path, **settings: Any) -> Path:
    """A config file (the install commands hold quotes a command line would mangle)."""
    config = {"task": "swe-bench", "data": str(world["data"]), "out": str(out),
              "task_options": {"repos": str(world["root"] / "repos"), "cache_dir": str(world["cache"] / "task"),
                               "context_tokens": 1500},
              "verifier_options": {"cache_dir": str(world["cache"] / "verifier"), "install": offline_install(),
                                   "timeout_s": 300},
              **settings}
    path = out.with_suffix(".json")
    path.write_text(json.dumps(config))
    return path


def verdicts(run: Path) -> list[tuple[int, str, str, dict[str, Any]]]:
    db = sqlite3.connect(f"file:{run / 'monkeys.db'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT s.sample_index, v.outcome, v.reason, v.details FROM verdicts v JOIN samples s"
                          " ON s.sample_id = v.sample_id ORDER BY s.sample_index").fetchall()
    finally:
        db.close()
    return [(i, o, r, json.loads(d or "{}")) for i, o, r, d in rows]


def test_scripted_run_gold_search_replace_and_wrong_answers(world: dict[str, Any], cli: Callable[..., Any]) -> None:
    gold = world["instance"]["patch"]
    search_replace = (f"The padding is found with tuple.index, which calls __eq__.\n\n```python\n### {SOURCE_FILE}\n"
                      f"<<<<<<< SEARCH\n{BUGGY}=======\n{FIXED}>>>>>>> REPLACE\n```\n")
    wrong = "```diff\n" + make_patch(world["repo"], world["instance"]["base_commit"],
                                     {SOURCE_FILE: (BUGGY, STILL_BUGGY)}) + "```\n"
    unmatched = (f"### {SOURCE_FILE}\n<<<<<<< SEARCH\n    return nothing\n=======\n    return something\n"
                 ">>>>>>> REPLACE\n")
    out = world["root"] / "scripted"
    config = run_config(world, out, sampler="scripted", n=4, max_tokens=100_000,
                        sampler_options={"responses": [gold, search_replace, wrong, unmatched], "pick": "index"})
    done = cli("run", "--config", str(config))
    assert done.returncode == 0, done.stderr
    got = verdicts(out)
    assert [(i, o) for i, o, _, _ in got] == [(0, "pass"), (1, "pass"), (2, "fail"), (3, "fail")], got
    assert got[0][2] == got[1][2] == "resolved"
    assert got[2][2].startswith("FAIL_TO_PASS still failing: toolz/tests/test_itertoolz.py::test_partition_all")
    assert got[3][2] == (f"no diff: SEARCH/REPLACE block 1 ({SOURCE_FILE}): the SEARCH text does not match the "
                         "file (it looks for 'return nothing')")
    assert "SWE-bench: 1 of 1 instances resolved by some attempt, 4 attempts verified" in done.stdout
    assert "resolved rate vs attempts (= coverage vs k)" in done.stdout
    report = cli("report", str(out), "--format", "json")
    assert report.returncode == 0, report.stderr
    swe = json.loads(report.stdout)["runs"][0]["swe"]
    assert swe["instances"] == [{"instance_id": "pytoolz__toolz-387", "attempts": 4, "resolved": 2,
                                 "first_resolved": 1,
                                 "failures": {"FAIL_TO_PASS still failing": 1, "no diff": 1}, "flaky_tests": []}]
    assert {(r["outcome"], r["reason"], r["attempts"]) for r in swe["reasons"]} == {
        ("pass", "resolved", 2), ("fail", "FAIL_TO_PASS still failing", 1), ("fail", "no diff", 1)}


def test_verify_swe_bench_predictions(world: dict[str, Any], cli: Callable[..., Any]) -> None:
    gold = world["instance"]["patch"]
    wrong = make_patch(world["repo"], world["instance"]["base_commit"], {SOURCE_FILE: (BUGGY, STILL_BUGGY)})
    preds = world["root"] / "preds.jsonl"
    iid = world["instance"]["instance_id"]
    preds.write_text("".join(json.dumps({"instance_id": iid, "model_patch": p, "model_name_or_path": "my-agent"})
                             + "\n" for p in (wrong, None, gold)))
    out = world["root"] / "verified"
    done = cli("verify", str(preds), "--task", "swe-bench", "--data", str(world["data"]),
               "--task-option", f"repos={world['root'] / 'repos'}",
               "--task-option", f"cache_dir={world['cache'] / 'task'}", "--task-option", "context_tokens=0",
               "--verifier-option", f"cache_dir={world['cache'] / 'verifier'}",
               "--verifier-option", "install=" + json.dumps(offline_install()), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert [(i, o, r.split(":")[0]) for i, o, r, _ in verdicts(out)] == [
        (0, "fail", "FAIL_TO_PASS still failing"), (1, "fail", "empty patch"), (2, "pass", "resolved")]
    assert "SWE-bench: 1 of 1 instances resolved by some attempt, 3 attempts verified" in done.stdout
    assert "my-agent" in done.stdout


@pytest.mark.slow
def test_embedded_model_path_runs(world: dict[str, Any], cli: Callable[..., Any]) -> None:
    """The default sampler (the embedded model) on one instance: its answers will not apply; the point is
    that prompts fit, samples are drawn, verdicts are stored and reported."""
    pytest.importorskip("torch")
    out = world["root"] / "embedded"
    config = run_config(world, out, n=2, max_tokens=16, batch_size=2)
    config_doc = json.loads(config.read_text())
    config_doc["task_options"]["context_tokens"] = 150
    config.write_text(json.dumps(config_doc))
    done = cli("run", "--config", str(config), "--no-report")
    assert done.returncode == 0, done.stderr
    got = verdicts(out)
    assert [i for i, *_ in got] == [0, 1]
    assert all(o in ("pass", "fail") for _, o, _, _ in got), got
    report = cli("report", str(out))
    assert report.returncode == 0, report.stderr
    assert "verdict reasons" in report.stdout and "attempts per instance" in report.stdout
