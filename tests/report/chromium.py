"""Headless Chromium helpers for report tests: a screenshot, and per-figure pixel statistics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)

# Appended to a copy of the report: after load, each <img> is drawn to a canvas and its luminance spread
# recorded, so "every figure rendered" is checked figure by figure, not just for the page as a whole.
_PROBE = """<script>
window.addEventListener('load', () => {
  const out = [...document.images].map(img => {
    const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
    if (!c.width) return {w: 0, std: 0};
    const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data; let s = 0, s2 = 0, n = d.length / 4;
    for (let i = 0; i < d.length; i += 4) { const y = (d[i] + d[i+1] + d[i+2]) / 3; s += y; s2 += y * y; }
    return {w: img.naturalWidth, shown: img.getBoundingClientRect().width, std: Math.sqrt(s2 / n - (s / n) ** 2)};
  });
  document.body.setAttribute('data-probe', JSON.stringify(out));
});
</script>"""


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    profile = tempfile.mkdtemp(prefix="monkeys-chromium-")
    try:
        return subprocess.run(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=120, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(html: Path, out: Path, size: tuple[int, int] = (1200, 2400)) -> Path:
    _run([f"--window-size={size[0]},{size[1]}", f"--screenshot={out}", html.resolve().as_uri()])
    return out


def probe_figures(html: Path, workdir: Path) -> list[dict[str, float]]:
    """Load a copy of `html` with the probe script; return per-image width, shown width and pixel spread."""
    probed = workdir / "probed.html"
    probed.write_text(html.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    result = _run(["--virtual-time-budget=10000", "--dump-dom", probed.resolve().as_uri()])
    match = re.search(r'data-probe="([^"]*)"', result.stdout)
    assert match, f"probe did not run; chromium stderr: {result.stderr[-500:]}"
    return json.loads(match.group(1).replace("&quot;", '"'))
