"""`monkeys view` in a real headless browser: Playwright driving the system's Chromium (never a downloaded
browser). Pages load, the coverage plot renders, clicking a filter changes the listed samples, hostile
sample text does not run, and the screenshots are not blank."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from viewkit import PROBLEMS, Viewer

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                None)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium); the browser test needs one")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


def shot(page: object, path: Path) -> float:
    """Screenshot `page` to `path` (and to $MONKEYS_VIEW_SCREENSHOTS when set); return the luminance spread."""
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    keep = os.environ.get("MONKEYS_VIEW_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)
    with Image.open(path) as img:
        return float(ImageStat.Stat(img.convert("L")).stddev[0])


def rows(page: object) -> list[tuple[str, str]]:
    """(index, outcome) of each listed sample."""
    return page.eval_on_selector_all(  # type: ignore[attr-defined]
        "tr.sample", "rs => rs.map(r => [r.cells[0].innerText.trim(), r.dataset.outcome])")


def test_pages_load_filters_work_and_screenshots_are_not_blank(browser: object, viewer: Viewer,
                                                               tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)  # CSP violations too

    page.goto(viewer.url + "/")
    assert page.locator("text=imported-run").count() >= 1
    page.select_option("header select[name=run]", label="second-run")  # the run selector
    page.click("header button")
    page.wait_for_load_state("load")
    assert page.url.endswith("/run/1") and page.locator("h1").inner_text() == "second-run"
    page.goto(viewer.url + "/")
    page.click("a:text('imported-run')")
    page.wait_for_load_state("load")
    assert page.url.endswith("/run/0")
    assert page.locator("#problems tr").count() == PROBLEMS + 1  # a header row and one row per problem
    width = page.eval_on_selector("img.plot", "img => img.complete ? img.naturalWidth : -1")
    assert width > 100, "the coverage plot did not render"
    assert shot(page, tmp_path / "view-run.png") > 8
    page.click("#problems ~ p a:text('unsolved'), p.filters a:text('unsolved')")
    page.wait_for_load_state("load")
    assert "show=unsolved" in page.url
    unsolved = page.locator("#problems tr").count() - 1
    assert 1 <= unsolved < PROBLEMS

    page.goto(viewer.url + "/run/0/problem?id=prob-9")
    before = rows(page)
    assert len(before) == 50 and {o for _, o in before} == {"pass", "fail"}
    page.click("#outcome-filters a[data-outcome='fail']")
    page.wait_for_load_state("load")
    assert "outcome=fail" in page.url
    after = rows(page)
    assert after and after != before and {o for _, o in after} == {"fail"}
    assert shot(page, tmp_path / "view-problem-fail.png") > 8
    page.click("#outcome-filters a[data-outcome='pass']")
    page.wait_for_load_state("load")
    passed = rows(page)
    assert passed and {o for _, o in passed} == {"pass"} and not {i for i, _ in passed} & {i for i, _ in after}

    # the hostile text in every sample is shown, not run
    assert page.title() != "owned" and not dialogs and not errors
    assert page.locator("tr.sample pre", has_text="<script>document.title").count() == len(passed)
    page.click("tr.sample td a")
    page.wait_for_load_state("load")
    assert "<script>document.title='owned'</script>" in page.inner_text("#text")
    assert page.title() != "owned" and not dialogs
    assert shot(page, tmp_path / "view-sample.png") > 8
    page.goto(viewer.url + "/run/0/problem?id=prob-6")
    page.click("a:text('diff vs a pass')")
    page.wait_for_load_state("load")
    assert page.locator("table.diff").count() == 1 and page.title() != "owned"
    assert shot(page, tmp_path / "view-diff.png") > 8
    assert not errors and not dialogs, errors + dialogs
    page.close()
