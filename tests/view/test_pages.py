"""`monkeys view` as a real process on real stores, fetched over HTTP: pages, filters, paging, escaping,
math answers, diffs, and that the run directories are left as they were."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from pathlib import Path

import httpx
from viewkit import HOSTILE, PROBLEMS, SAMPLES, Viewer, monkeys, snapshot, start_viewer


def listed(html: str) -> list[tuple[int, str]]:
    """(sample index, outcome) of each row of a problem page's sample table."""
    return [(int(i), o) for o, i in re.findall(
        r'<tr class="sample" data-outcome="([^"]*)">\s*<td class="num"><a href="[^"]*">(\d+)</a>', html)]


def truth(run: Path) -> dict[str, list[str]]:
    """Each problem's outcomes by sample index, read straight from the store."""
    db = sqlite3.connect(f"file:{run / 'monkeys.db'}?mode=ro", uri=True)
    try:
        out: dict[str, list[str]] = {}
        for pid, _, outcome in db.execute(
                "SELECT s.problem_id, s.sample_index, v.outcome FROM samples s JOIN verdicts v USING (sample_id)"
                " ORDER BY s.problem_id, s.sample_index"):
            out.setdefault(pid, []).append(outcome)
        return out
    finally:
        db.close()


def test_index_lists_runs_and_run_page_names_every_problem(viewer: Viewer) -> None:
    home = viewer.get("/")
    assert home.status_code == 200
    assert "imported-run" in home.text and "second-run" in home.text
    page = viewer.get("/run/0")
    assert page.status_code == 200
    for p in range(PROBLEMS):
        assert f">prob-{p}</a>" in page.text
    assert '"made_by"' in page.text or "imported" in page.text  # the config is shown
    assert "<h2>Protections</h2>" in page.text
    assert 'src="/run/0/coverage.svg"' in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


def test_unsolved_filter_and_sort(viewer: Viewer, import_run: Path) -> None:
    outcomes = truth(import_run)
    unsolved = {pid for pid, o in outcomes.items() if "pass" not in o}
    assert "prob-0" in unsolved
    page = viewer.get("/run/0", show="unsolved").text
    shown = set(re.findall(r">(prob-\d+)</a></td>", page))
    assert shown == unsolved
    ranked = re.findall(r">(prob-\d+)</a></td>", viewer.get("/run/0", sort="rate").text)
    rates = [outcomes[p].count("pass") / len(outcomes[p]) for p in ranked]
    solved_flags = [r > 0 for r in rates]
    assert solved_flags == sorted(solved_flags)  # unsolved first
    assert [r for r in rates if r > 0] == sorted(r for r in rates if r > 0)


def test_coverage_plot_is_svg(viewer: Viewer) -> None:
    svg = viewer.get("/run/0/coverage.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in svg.text and "<script" not in svg.text


def test_problem_page_pages_its_samples(viewer: Viewer, import_run: Path) -> None:
    outcomes = truth(import_run)["prob-6"]
    first = viewer.get("/run/0/problem", id="prob-6")
    assert first.status_code == 200
    rows = listed(first.text)
    assert [i for i, _ in rows] == list(range(50))
    assert [o for _, o in rows] == outcomes[:50]
    second = listed(viewer.get("/run/0/problem", id="prob-6", page=2).text)
    assert [i for i, _ in second] == list(range(50, SAMPLES))
    other = viewer.get("/run/1/problem", id="prob-6").text  # the same problem in the other run
    assert [o for _, o in listed(other)] == truth(viewer.runs[1])["prob-6"][:50]


def test_filters_change_what_is_listed(viewer: Viewer, import_run: Path) -> None:
    outcomes = truth(import_run)["prob-9"]
    fails = [i for i, o in enumerate(outcomes) if o == "fail"]
    passes = [i for i, o in enumerate(outcomes) if o == "pass"]
    assert fails and passes
    page = viewer.get("/run/0/problem", id="prob-9").text
    assert f"fail ({len(fails)})" in page and f"pass ({len(passes)})" in page
    only_fail = listed(viewer.get("/run/0/problem", id="prob-9", outcome="fail").text)
    assert [i for i, _ in only_fail] == fails[:50] and {o for _, o in only_fail} == {"fail"}
    only_pass = listed(viewer.get("/run/0/problem", id="prob-9", outcome="pass").text)
    assert [i for i, _ in only_pass] == passes[:50]
    reason = re.search(r'href="([^"]*reason=[^"]*)"', page)
    assert reason, "the page offers reason filters"
    by_reason = viewer.get(reason.group(1).replace("&amp;", "&"))
    assert by_reason.status_code == 200 and listed(by_reason.text)
    nothing = listed(viewer.get("/run/0/problem", id="prob-9", reason="no such reason").text)
    assert nothing == []
    both = listed(viewer.get("/run/0/problem", id="prob-9", outcome="pass", reason="no such reason").text)
    assert both == []


def test_store_text_is_escaped_everywhere(viewer: Viewer) -> None:
    for path, params in (("/run/0/problem", {"id": "prob-3"}), ("/run/0/sample", {"problem": "prob-3", "index": 1}),
                         ("/run/0/diff", {"problem": "prob-3", "a": 0, "b": 1})):
        page = viewer.get(path, **params)
        assert page.status_code == 200, (path, page.text[-300:])
        assert "<script>document.title" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;document.title" in page.text
    sample = viewer.get("/run/0/sample", problem="prob-3", index=1).text
    assert "sample 1 of problem 3" in sample
    assert HOSTILE.replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;") in sample
    assert '"imported' in sample or "imported" in sample  # the verdict and its details


def test_diff_of_a_failing_sample_against_a_passing_one(viewer: Viewer, import_run: Path) -> None:
    outcomes = truth(import_run)["prob-6"]
    fail, ok = outcomes.index("fail"), outcomes.index("pass")
    problem = viewer.get("/run/0/problem", id="prob-6").text
    assert f"/run/0/diff?problem=prob-6&amp;a={fail}" in problem
    diff = viewer.get("/run/0/diff", problem="prob-6", a=fail)
    assert diff.status_code == 200
    assert f"sample {fail} vs {ok}" in diff.text
    assert 'class="diff"' in diff.text and "diff_chg" in diff.text or "diff_sub" in diff.text
    never = viewer.get("/run/0/diff", problem="prob-0", a=0)  # prob-0 never passes
    assert never.status_code == 404 and "no passing sample" in never.text


def test_unknown_things_are_404_pages(viewer: Viewer) -> None:
    assert viewer.get("/run/7").status_code == 404
    missing = viewer.get("/run/0/problem", id="<b>nope</b>")
    assert missing.status_code == 404 and "&lt;b&gt;nope" in missing.text
    assert viewer.get("/run/0/sample", problem="prob-1", index=SAMPLES).status_code == 404
    wrong = viewer.get("/run/0", verifier="nonesuch")
    assert wrong.status_code == 404 and "imported" in wrong.text


def test_math_run_answers_majority_and_right_answer(math_viewer: Viewer) -> None:
    page = math_viewer.get("/run/0/problem", id="test/1")
    assert page.status_code == 200
    assert re.search(r'id="right-answer">3<', page.text)
    assert re.search(r'id="majority">1<', page.text)  # 12 samples answered 1
    assert "(12 of 30)" in page.text
    table = page.text.split('id="answers"')[1].split("</table>")[0]
    assert re.search(r">3</a></td>\s*<td class=\"num\">8</td>", table)
    by_answer = re.search(r'href="([^"]*answer=n%3A3[^"]*)"', page.text) or re.search(
        r'href="([^"]*answer=[^"]*3[^"]*)"', table)
    assert by_answer
    only_page = math_viewer.get(by_answer.group(1).replace("&amp;", "&")).text
    only = listed(only_page)
    assert "30 sample(s); 8 listed" in only_page
    both = math_viewer.get(by_answer.group(1).replace("&amp;", "&") + "&outcome=fail").text
    assert "30 sample(s); 0 listed" in both and listed(both) == []
    assert [i for i, _ in only] == list(range(12, 20)) and {o for _, o in only} == {"pass"}
    svg = math_viewer.get("/run/0/answers.svg", id="test/1")
    assert svg.status_code == 200 and "<svg" in svg.text
    listing = math_viewer.get("/run/0/problem", id="test/1").text
    assert "&lt;b&gt;hard&lt;/b&gt;" in listing


def test_the_run_directory_is_left_untouched(tmp_path: Path, import_run: Path) -> None:
    import shutil

    run = tmp_path / "untouched"
    shutil.copytree(import_run, run)
    before = snapshot(run)
    for v in start_viewer([run]):
        for path, params in (("/", {}), ("/run/0", {}), ("/run/0/coverage.svg", {}),
                             ("/run/0/problem", {"id": "prob-2", "outcome": "fail"}),
                             ("/run/0/sample", {"problem": "prob-2", "index": 3})):
            assert v.get(path, **params).status_code == 200
        assert snapshot(run) == before
    assert snapshot(run) == before


def test_bad_arguments_are_one_line_errors(tmp_path: Path, viewer: Viewer) -> None:
    missing = monkeys("view", str(tmp_path / "nope"), "--no-browser", timeout=60)
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: ") and len(missing.stderr.strip().splitlines()) == 1
    port = httpx.URL(viewer.url).port
    busy = monkeys("view", str(viewer.runs[0]), "--port", str(port), "--no-browser", timeout=60)
    assert busy.returncode == 2 and "cannot listen" in busy.stderr, busy.stderr


def test_view_help_lists_options() -> None:
    result = subprocess.run([*monkeys_args(), "view", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for word in ("--port", "--host", "--no-browser"):
        assert word in result.stdout


def monkeys_args() -> list[str]:
    from viewkit import MONKEYS

    return [MONKEYS]


def test_ctrl_c_stops_it_cleanly(import_run: Path) -> None:
    import signal

    for v in start_viewer([import_run]):
        assert v.get("/run/0").status_code == 200
        v.process.send_signal(signal.SIGINT)
        assert v.process.wait(timeout=30) == 0
        err = v.process.stderr.read() if v.process.stderr else ""
        assert "Traceback" not in err and "interrupted" not in err, err


def test_a_run_being_written_is_shown_as_it_changes(tmp_path: Path, import_run: Path) -> None:
    """A writer holds the store open with commits in its WAL (a live run): the viewer reads beside it and its
    cached per-problem counts follow each commit."""
    import shutil

    run = tmp_path / "live"
    shutil.copytree(import_run, run)
    writer = sqlite3.connect(run / "monkeys.db", isolation_level=None)
    try:
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute("INSERT OR REPLACE INTO meta VALUES ('note', '1')")  # a commit left in the WAL
        assert (run / "monkeys.db-wal").stat().st_size > 0
        for v in start_viewer([run]):
            before = v.get("/run/0", show="unsolved").text
            assert ">prob-0</a>" in before
            writer.execute("UPDATE verdicts SET outcome = 'pass' WHERE sample_id = (SELECT sample_id FROM samples"
                           " WHERE problem_id = 'prob-0' AND sample_index = 5)")
            after = v.get("/run/0", show="unsolved").text
            assert ">prob-0</a>" not in after
            page = v.get("/run/0/problem", id="prob-0", outcome="pass").text
            assert [i for i, _ in listed(page)] == [5]
    finally:
        writer.close()


def test_a_page_asked_for_by_another_host_name_is_refused(viewer: Viewer) -> None:
    """DNS rebinding: a web page that re-points its own name at 127.0.0.1 sends its name as Host; the viewer
    bound to 127.0.0.1 answers loopback names only, so that page reads nothing."""
    port = viewer.url.rsplit(":", 1)[1]
    for host in ("attacker.example", f"attacker.example:{port}", f"127.0.0.1.attacker.example:{port}",
                 f"localhost:{port}@attacker.example", ""):
        refused = httpx.get(viewer.url + "/run/0", headers={"Host": host}, timeout=60)
        assert refused.status_code in (400, 421), (host, refused.status_code)
        assert "prob-" not in refused.text
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}", f"LOCALHOST:{port}"):
        assert httpx.get(viewer.url + "/run/0", headers={"Host": host}, timeout=60).status_code == 200, host
