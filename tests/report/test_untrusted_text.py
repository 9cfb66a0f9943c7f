"""`monkeys report` on runs whose model names, run names and verifier names are hostile (they come from
imported tables and task files): escape sequences are shown, not sent to the terminal; `[...]` is text, not
Rich markup; `$...$` is text, not matplotlib mathtext."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import write_run

MONKEYS = str(Path(sys.executable).with_name("monkeys"))
# OSC 52 (clipboard) ended by ST, OSC 0 (title) ended by BEL, CSI erase screen, C1 CSI, a bidi override,
# an unbalanced Rich closing tag, a Rich link, and mathtext that does not parse
HOSTILE = ("\x1b]52;c;b3duZWQ=\x1b\\\x1b]0;PWNED\x07\x1b[2J\x9b31m\u202e [/x] [link=http://evil.example]x[/link]"
           " $\\undefinedmacro{1}$")


def test_hostile_names_are_printed_as_text_and_drawn_as_text(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    runs = [write_run(tmp_path / f"run{i} $\\frac{{1}}{{$ [/y] \x1b[1A", rng.random((4, 8)) < 0.4,
                      model=f"model{i} {HOSTILE}", verifier=f"v {HOSTILE}") for i in range(2)]
    html = tmp_path / "report.html"
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    done = subprocess.run([MONKEYS, "report", *map(str, runs), "--html", str(html)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for stream in (done.stdout, done.stderr):
        assert not any(c in stream for c in "\x1b\x07\x9b\u202e"), repr(stream[-2000:])
    assert "\\x1b]52;c;b3duZWQ=" in done.stdout and "[/x]" in done.stdout
    assert "[link=http://evil.example]" in done.stdout
    assert "$\\undefinedmacro{1}$" in done.stdout.replace("\n", "")
    page = html.read_text()
    assert page.count("<img") >= 3 and "[/x]" in page  # the figures were drawn


def test_an_error_line_quoting_store_text_does_not_drive_the_terminal(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", np.ones((2, 3), dtype=bool), verifier=f"v {HOSTILE}")
    done = subprocess.run([MONKEYS, "report", str(run), "--verifier", "nope"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert not any(c in done.stderr for c in "\x1b\x07\x9b\u202e") and "\\x1b]0;PWNED\\x07" in done.stderr


def test_plan_prints_and_draws_hostile_names_as_text(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    pilot = write_run(tmp_path / "pilot $\\undefinedmacro$", rng.random((30, 16)) < rng.beta(0.3, 2, (30, 1)),
                      model=f"m {HOSTILE}")
    done = subprocess.run([MONKEYS, "plan", str(pilot), "--plot", str(tmp_path / "plan.png")], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "plan.png").stat().st_size > 0
    assert not any(c in done.stdout + done.stderr for c in "\x1b\x07\x9b\u202e") and "\\x1b]52;c;" in done.stdout
