"""A run store on a disk with no room left: SQLite cannot make the store's -shm/-wal file and says only "disk
I/O error", which reads like a damaged store. The line now says the disk is full, the store is left as it
was, and the same command goes on once there is room. A real full disk: a small tmpfs (root only)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("monkeys_e2e_conftest", Path(__file__).parents[1] / "conftest.py")
assert _spec is not None and _spec.loader is not None
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
monkeys = _e2e.monkeys

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_opening_a_store_on_a_full_disk_says_the_disk_is_full(small_disk: Path, tmp_path: Path):
    data = _e2e.addition_problems(tmp_path, 3)
    run = small_disk / "run"
    proc = monkeys("run", "--task", "gsm8k", "--data", str(data), "--task-option", "shots=0", "--sampler",
                   "scripted", "--sampler-option", 'responses=["#### 40"]', "-n", "4", "--no-report", "--out",
                   str(run))
    assert proc.returncode == 0, proc.stderr
    with open(small_disk / "fill", "wb") as fh:  # every byte left
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    before = hashlib.sha256((run / "monkeys.db").read_bytes()).hexdigest()
    args = ["verify", str(run), "--verifier", "math-answer", "--verifier-option", "mode=minerva", "--no-report"]
    proc = monkeys(*args)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: {run / 'monkeys.db'}: cannot open the run store"), line
    assert "the disk holding it is full" in line, line
    assert hashlib.sha256((run / "monkeys.db").read_bytes()).hexdigest() == before
    (small_disk / "fill").unlink()
    proc = monkeys(*args)
    assert proc.returncode == 0, proc.stderr
    assert "verified 12 samples" in proc.stderr
