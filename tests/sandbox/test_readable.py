"""`_readable.allowlist`: everything under the roots stays reachable except the hidden directories, through
links too (Landlock rules follow a link to what it names)."""

from __future__ import annotations

import os
import site
from pathlib import Path

from monkeys.sandbox import _readable


def _covered(path: str, grants: list[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == os.path.realpath(g) or real.startswith(os.path.realpath(g) + "/") for g in grants)


def test_allowlist_grants_all_but_the_hidden_directories(tmp_path: Path) -> None:
    root = tmp_path / "usr"
    for d in ("lib/python3/dist-packages/answers", "lib/python3.11/json", "lib/x86_64", "share/zoneinfo", "bin"):
        (root / d).mkdir(parents=True)
    (root / "lib/python3/dist-packages/answers/HumanEval.jsonl.gz").write_text("secret")
    (root / "lib/python3.11/os.py").write_text("stdlib")
    (root / "lib/libc.so").write_text("lib")
    (root / "lib/python3/README").write_text("beside the hidden one")
    (root / "share/to_packages").symlink_to(root / "lib/python3/dist-packages")  # a way round: must stay shut
    (root / "share/to_python3").symlink_to(root / "lib/python3")  # contains the hidden one: expanded
    (root / "share/to_stdlib").symlink_to(root / "lib/python3.11")  # clear: granted through the link
    (root / "lib64").symlink_to(root / "lib")  # as /lib64 -> /usr/lib on merged-/usr systems
    hidden = [str(root / "lib/python3/dist-packages")]
    grants = _readable.allowlist([str(root), str(root / "lib64")], hidden)

    assert not _covered(str(root / "lib/python3/dist-packages/answers/HumanEval.jsonl.gz"), grants)
    assert not any(_covered(h, [g]) or _covered(g, hidden) for g in grants for h in hidden)
    for path, _dirs, files in os.walk(root):  # every other file is reachable
        for name in files:
            full = os.path.join(path, name)
            assert _covered(full, grants) or _covered(full, hidden), full
    assert _covered(str(root / "share/to_stdlib/os.py"), grants) and _covered(str(root / "bin"), grants)
    assert str(root) not in grants and str(root / "lib") not in grants  # they hold the hidden one


def test_nothing_hidden_grants_the_roots_whole(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    assert _readable.allowlist([str(tmp_path / "a"), str(tmp_path / "absent")], []) == [str(tmp_path / "a")]


def test_package_dirs_include_the_system_and_host_ones_under_system_directories() -> None:
    found = _readable.host_package_dirs()
    system = [p for p in ("/usr/lib/python3/dist-packages",) if os.path.isdir(p)]
    assert set(system) <= set(found)
    roots = [os.path.realpath(r) for r in _readable.SYSTEM_DIRS if os.path.exists(r)]
    for own in site.getsitepackages():  # the host's own: hidden when they lie under a system directory
        real = os.path.realpath(own)
        under = any(real.startswith(r + "/") for r in roots)
        assert (real in found) == (under and os.path.isdir(real)), own
    assert all(any(p.startswith(r + "/") for r in roots) for p in found)
