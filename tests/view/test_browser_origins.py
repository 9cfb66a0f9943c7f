"""`monkeys view` in a real headless Chromium (the system's, through Playwright) against a web page of another
origin: a page served from another port of this machine cannot load the viewer's images or pages as its own
subresources (it would learn from whether and how they load), cannot read a page, cannot frame the viewer;
and a page whose name is re-pointed at 127.0.0.1 (DNS rebinding, simulated by Chromium's resolver rules)
gets 421, not the runs."""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from collections.abc import Iterator

import pytest
from viewkit import Viewer

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                None)


def attack_page(viewer: str) -> bytes:
    """A page that tries every subresource use of the viewer and records what it could tell in body@data-out."""
    return f"""<!doctype html><title>elsewhere</title><body>
<img id=coverage src="{viewer}/run/0/coverage.svg"><img id=missing src="{viewer}/run/0/coverage.svg?verifier=none">
<iframe id=frame src="{viewer}/run/0"></iframe>
<script>
const out = {{}};
const note = (k, v) => {{ out[k] = v; document.body.dataset.out = JSON.stringify(out); }};
for (const id of ['coverage', 'missing']) {{
  const img = document.getElementById(id);
  img.onload = () => note(id, 'loaded ' + img.naturalWidth);
  img.onerror = () => note(id, 'error');
}}
fetch('{viewer}/run/0', {{mode: 'no-cors'}}).then(r => note('no-cors', r.type), () => note('no-cors', 'error'));
fetch('{viewer}/run/0').then(r => r.text()).then(t => note('read', 'read ' + t.length), () => note('read', 'error'));
</script></body>""".encode()


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium); the browser test needs one")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP rebind.test 127.0.0.1"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def elsewhere(viewer: Viewer) -> Iterator[str]:
    """The attack page, served from another port of 127.0.0.1 (another origin)."""
    body = attack_page(viewer.url)

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_of_another_origin_can_neither_load_nor_read_nor_frame_the_viewer(
        chromium: object, viewer: Viewer, elsewhere: str) -> None:
    page = chromium.new_page()  # type: ignore[attr-defined]
    page.goto(elsewhere)
    page.wait_for_function("document.body.dataset.out && Object.keys(JSON.parse(document.body.dataset.out)).length"
                           " == 4", timeout=60_000)
    seen = json.loads(page.eval_on_selector("body", "b => b.dataset.out"))
    assert seen == {"coverage": "error", "missing": "error", "no-cors": "error", "read": "error"}, seen
    framed = [f for f in page.frames if f is not page.main_frame]
    assert framed and "monkeys view" not in framed[0].content()
    page.close()


def test_a_name_re_pointed_at_loopback_gets_421_in_the_browser(chromium: object, viewer: Viewer) -> None:
    page = chromium.new_page()  # type: ignore[attr-defined]
    port = viewer.url.rsplit(":", 1)[1]
    answer = page.goto(f"http://rebind.test:{port}/run/0")
    assert answer.status == 421 and "imported-run" not in page.content()
    assert page.goto(f"http://localhost:{port}/run/0").status == 200
    page.close()
