"""`monkeys view` (a real process, fetched over HTTP and shown in Chromium) on a run whose every text field is
hostile: answers and problem ids that are matplotlib mathtext or hold control characters, sample texts
holding difflib's own change markers or bidirectional overrides; and the headers that keep other origins from
using the viewer's responses."""

from __future__ import annotations

import html
import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from viewkit import HOSTILE, Viewer, monkeys, start_viewer

# mathtext that does not parse, a pair of dollars, control characters (an SVG holding them is not XML)
ANSWERS = ["$\\sqrt{$", "$\\undefinedmacro{1}$", "a $x$ b \x1b]0;T\x07\x00", "42"]
PROBLEM = "p $\\frac{1}{$ \x1b[2J"
# difflib marks changes with \0+, \0-, \0^ and closes them with \1: a text holding them opened spans
MARKERS = "\x00+\x00-\x00^ mark \x01\x01\x01 end"
# "Trojan Source": shown raw, the override and isolates make the line read `if role != "admin":  # user`
TROJAN = 'if role != "user\u202e \u2066# admin\u2069 \u2066":\r\n    grant()'


@pytest.fixture(scope="module")
def hostile_viewer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Viewer]:
    tmp = tmp_path_factory.mktemp("view-hostile")
    rows = tmp / "hostile.jsonl"
    with rows.open("w") as fh:
        for i in range(8):
            answer = ANSWERS[i % len(ANSWERS)]
            fh.write(json.dumps({"problem_id": PROBLEM, "sample_index": i, "correct": i % 4 == 3,
                                 "text": f"sample {i}\n{HOSTILE}\n{MARKERS if i % 2 else 'plain'}\n{TROJAN}\n",
                                 "answer": answer, "answer_key": answer}) + "\n")
    out = tmp / "hostile-run"
    done = monkeys("import", str(rows), str(out), "--model", f"m {HOSTILE}")
    assert done.returncode == 0, done.stderr
    yield from start_viewer([out])


def test_hostile_answers_and_problem_ids_draw_a_well_formed_histogram(hostile_viewer: Viewer) -> None:
    page = hostile_viewer.get("/run/0/problem", id=PROBLEM)
    assert page.status_code == 200 and "<script>" not in page.text
    assert "answers.svg" in page.text  # the page shows the histogram
    for pid in (PROBLEM, "$\\undefinedmacro$", "\x1b]52;c;eA==\x07"):  # the id is drawn in the title, found or not
        svg = hostile_viewer.get("/run/0/answers.svg", id=pid)
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml"), svg.text[:300]
        ET.fromstring(svg.content)  # well-formed: a browser draws it


def test_a_diff_shows_difflib_markers_in_a_text_as_text(hostile_viewer: Viewer) -> None:
    page = hostile_viewer.get("/run/0/diff", problem=PROBLEM, a=1, b=3)
    assert page.status_code == 200
    table = page.text[page.text.index('<table class="diff"'):]
    assert table.count("<span") == table.count("</span>")  # no span opened or closed by the texts
    assert "\x00" not in page.text and "\\x00+\\x00-\\x00^" in page.text.replace("&nbsp;", " ")


def test_every_answer_forbids_use_by_other_origins(hostile_viewer: Viewer) -> None:
    import httpx

    for response in (hostile_viewer.get("/run/0"), hostile_viewer.get("/run/0/coverage.svg"),
                     hostile_viewer.get("/static/style.css"), hostile_viewer.get("/run/7"),
                     httpx.get(hostile_viewer.url + "/run/0", headers={"Host": "rebind.example"})):
        assert response.headers.get("cross-origin-resource-policy") == "same-origin", response.headers
        assert response.headers.get("cross-origin-opener-policy") == "same-origin"
        assert response.headers.get("x-content-type-options") == "nosniff"


def test_control_and_bidirectional_characters_are_shown_not_obeyed(hostile_viewer: Viewer) -> None:
    for path, params in (("/run/0/sample", {"problem": PROBLEM, "index": 1}),
                         ("/run/0/problem", {"id": PROBLEM}), ("/run/0", {})):
        page = hostile_viewer.get(path, **params).text
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", page), path
    sample = hostile_viewer.get("/run/0/sample", problem=PROBLEM, index=1).text
    assert "\\u202e" in sample and "\\x1b[2J" in sample and "\\x00+" in sample
    form = hostile_viewer.get("/run/0/diff", problem=PROBLEM, a=1, b=3).text
    field = re.search(r'name="problem" value="([^"]*)"', form)
    assert field and html.unescape(field.group(1)) == PROBLEM  # the diff form sends back the id exactly


def test_a_reviewer_in_a_browser_sees_the_override_not_its_effect(hostile_viewer: Viewer) -> None:
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                    None)
    if chromium is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium); the browser test needs one")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(f"{hostile_viewer.url}/run/0/sample?{urlencode({'problem': PROBLEM, 'index': 1})}")
            text = page.inner_text("#text")
            assert 'if role != "user\\u202e \\u2066# admin\\u2069 \\u2066":' in text, text
            assert not set(text) & {"\u202e", "\u2066", "\u2069", "\x1b"}
            page.goto(f"{hostile_viewer.url}/run/0/diff?{urlencode({'problem': PROBLEM, 'a': 1})}")
            page.click("button")  # the diff form, sent back as the page gave it
            page.wait_for_load_state("load")
            assert page.locator("table.diff").count() == 1
        finally:
            browser.close()
