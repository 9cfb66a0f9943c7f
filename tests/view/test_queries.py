"""The viewer's queries on both store layouts: an m001 store built by hand (two verifiers, a scorer, answers)
and the same store upgraded by a writer give the same rows; no problem-page query scans a sample or verdict
table (each reads one problem's key range or index); the served pages show the second verifier and scores."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from viewkit import start_viewer

from monkeys.store import connect, open_readonly
from monkeys.store.migrations import m001_initial
from monkeys.view.queries import Filters, Queries

N_PROBLEMS, N_SAMPLES = 30, 400


def build_m001(run: Path) -> None:
    """An m001 store: problem i has N_SAMPLES samples; verifier 'math-answer' passes index % 7 == i % 7 and
    records answers; verifier 'strict' passes index % 11 == 0; scorer 'length' scores every third sample."""
    run.mkdir(parents=True)
    db = sqlite3.connect(run / "monkeys.db", isolation_level=None)
    db.execute("BEGIN")
    m001_initial(db)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    db.execute("INSERT INTO _migrations VALUES ('m001_initial', '2026-01-01')")
    db.execute("INSERT INTO meta VALUES ('config', ?), ('verifier', '\"math-answer\"'), ('protections', '{}')",
               (json.dumps({"task": "hand-made", "n": N_SAMPLES}),))
    sid = 0
    for p in range(N_PROBLEMS):
        pid = f"q/{p}"
        db.execute("INSERT INTO problems VALUES (?, ?, ?, ?)",
                   (pid, p, json.dumps({"text": f"What is {p} mod 7?"}), json.dumps({"answer": str(p % 7)})))
        for i in range(N_SAMPLES):
            sid += 1
            answer = str(i % 7)
            db.execute("INSERT INTO samples VALUES (?, ?, ?, ?, ?, 5, 7, 'stop', 0.1, 'm', '2026-01-01')",
                       (sid, pid, i, i, f"<i>work</i> {i}\nanswer: {answer}"))
            ok = answer == str(p % 7)
            db.execute("INSERT INTO verdicts VALUES (?, 'math-answer', ?, ?, ?, 0, 0.001, '2026-01-01')",
                       (sid, "pass" if ok else "fail", "right" if ok else f"answer {answer} is wrong",
                        json.dumps({"answer": answer, "answer_key": f"n:{answer}"})))
            db.execute("INSERT INTO verdicts VALUES (?, 'strict', ?, ?, '{}', 0, 0.001, '2026-01-01')",
                       (sid, "pass" if i % 11 == 0 else "error", "strict says so"))
            if i % 3 == 0:
                db.execute("INSERT INTO scores VALUES (?, 'length', ?, '2026-01-01')", (sid, i / 4))
    db.execute("COMMIT")
    db.close()


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("view-layouts")
    old = tmp / "m001"
    build_m001(old)
    new = tmp / "upgraded"
    shutil.copytree(old, new)
    connect(new).close()  # a writer upgrades the copy to the current layout
    return old, new


def read_all(run: Path) -> dict[str, object]:
    db = open_readonly(run)
    try:
        q = Queries(db)
        out: dict[str, object] = {"verifiers": q.verifiers(), "scorers": q.scorers()}
        for v in ("math-answer", "strict"):
            out[f"stats {v}"] = q.problem_stats(v)
            out[f"facets {v}"] = q.facets("q/3", v)
            out[f"page {v}"] = q.samples("q/3", v, Filters(), offset=50, limit=50)
            out[f"fail {v}"] = q.samples("q/3", v, Filters(outcome="fail"), offset=10, limit=50)
            out[f"reason {v}"] = q.samples("q/3", v, Filters(reason="answer 4 is wrong"), offset=0, limit=50)
            out[f"answer {v}"] = q.samples("q/3", v, Filters(answer_key="n:3", outcome="pass"), offset=0, limit=50)
            out[f"answers {v}"] = q.answers("q/3", v)
            out[f"count {v}"] = q.count("q/3", v, Filters(answer_key="n:3", outcome="pass"))
        out["sample"] = q.sample("q/3", 12)
        out["none"] = q.sample("q/3", N_SAMPLES)
        out["count"] = q.sample_count()
        return out
    finally:
        db.close()


def test_both_layouts_read_the_same(layouts: tuple[Path, Path]) -> None:
    old, new = layouts
    a, b = read_all(old), read_all(new)
    assert a == b
    stats = a["stats math-answer"]
    assert [s.passes for s in stats][:3] == [58, 57, 57]  # type: ignore[index]
    fails = a["fail math-answer"]
    assert [r.index for r in fails][:3] == [12, 13, 14]  # type: ignore[union-attr]
    assert all(r.outcome == "fail" for r in fails)  # type: ignore[union-attr]
    page = a["page math-answer"]
    assert [r.index for r in page] == list(range(50, 100))  # type: ignore[union-attr]
    assert page[1].scores == {"length": 51 / 4} and page[0].scores == {}  # type: ignore[index]
    assert [r.index for r in a["reason math-answer"]] == [i for i in range(N_SAMPLES) if i % 7 == 4][:50]  # type: ignore[union-attr]
    assert [r.index for r in a["answer math-answer"]] == [i for i in range(N_SAMPLES) if i % 7 == 3][:50]  # type: ignore[union-attr]
    answers = a["answers math-answer"]
    assert answers[0].key == "n:0" and answers[0].count == 58  # type: ignore[index]
    assert {x.key: x.passes for x in answers}["n:3"] == 57  # type: ignore[union-attr]
    assert a["answers strict"] == [] and a["facets strict"].outcomes == {"pass": 37, "error": 363}  # type: ignore[union-attr]
    sample = a["sample"]
    assert sample.text == "<i>work</i> 12\nanswer: 5" and {v["verifier"] for v in sample.verdicts} == {  # type: ignore[union-attr]
        "math-answer", "strict"} and sample.scores == {"length": 3.0}  # type: ignore[union-attr]
    assert a["none"] is None and a["count"] == N_PROBLEMS * N_SAMPLES
    assert a["count math-answer"] == 57 and a["count strict"] == 0


def test_problem_page_queries_read_key_ranges_not_tables(layouts: tuple[Path, Path]) -> None:
    for run in layouts:
        db = open_readonly(run)
        try:
            q = Queries(db)
            q.trace = []
            for v in ("math-answer", "strict"):
                q.facets("q/7", v)
                q.samples("q/7", v, Filters(), offset=300, limit=50)
                q.samples("q/7", v, Filters(outcome="fail"), offset=100, limit=50)
                q.samples("q/7", v, Filters(reason="answer 4 is wrong"), offset=0, limit=50)
                q.samples("q/7", v, Filters(answer_key="n:2"), offset=0, limit=50)
                q.answers("q/7", v)
                q.first_index("q/7", v, "pass")
                q.count("q/7", v, Filters(outcome="fail", answer_key="n:1"))
            q.sample("q/7", 5)
            assert len(q.trace) > 10
            for sql, args in q.trace:
                plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", args)]
                scans = [step for step in plan if step.startswith("SCAN") and "subquery" not in step]
                assert not scans, f"{run.name}: {sql}\n{plan}"
            q.trace = []
            q.problem_stats("math-answer")  # the index: one aggregate statement
            assert len([s for s, _ in q.trace if "GROUP BY" in s]) == 1
        finally:
            db.close()


def test_pages_show_a_chosen_verifier_and_scores(layouts: tuple[Path, Path]) -> None:
    for v in start_viewer(list(layouts)):
        for run in (0, 1):
            default = v.get(f"/run/{run}")
            assert default.status_code == 200 and "verifier: math-answer" in default.text
            strict = v.get(f"/run/{run}", verifier="strict")
            assert "verifier: strict" in strict.text and "verifier=strict" not in default.text.split("<h2>Problems")[1]
            problem = v.get(f"/run/{run}/problem", id="q/3", verifier="strict")
            assert "error (363)" in problem.text and "pass (37)" in problem.text
            assert "<th>length</th>" in problem.text and ">0.75<" in problem.text  # sample 3's score
            plain = v.get(f"/run/{run}/problem", id="q/3").text
            assert 'id="right-answer">3<' in plain and 'id="majority">0<' in plain
            other = v.get(f"/run/{run}/problem", id="q/3").text
            assert f'/run/{1 - run}/problem?id=q%2F3' in other  # the same problem in the other run
