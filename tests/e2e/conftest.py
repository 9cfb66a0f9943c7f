"""Run the installed `monkeys` command as a user would: a real process, real files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

MONKEYS = str(Path(sys.executable).parent / "monkeys")


def monkeys(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MONKEYS, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


@pytest.fixture
def cli():
    return monkeys
