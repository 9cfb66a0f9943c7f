"""CI gates on the linters: `ruff` and `mypy` (configured in pyproject.toml) report nothing on `src/`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("tool", [["ruff", "check", "src"], ["mypy"]], ids=["ruff", "mypy"])
def test_src_is_clean(tool: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", *tool], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(tool)} found problems:\n{done.stdout[-6000:]}{done.stderr[-2000:]}"
