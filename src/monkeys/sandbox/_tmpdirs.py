"""The sandboxes' private directories under the temp dir, named by the pid that owns them, so that one
left behind by an owner that was killed (a worker a program brought down, a parent killed mid-run) is
deleted by the next sandbox that starts instead of piling up. A pid means something only in its own pid
namespace, so the name carries that too, and a sweep only judges directories of its own namespace (a /tmp
shared between containers keeps every other container's). Standard library only (runs under the system
Python too)."""

from __future__ import annotations

import os
import shutil
import tempfile

PREFIX = "monkeys-sbx-"


def _owner_prefix(pid: int | None = None) -> str:
    """`monkeys-sbx-<pid namespace>-<pid>-` (the namespace's inode; 0 where /proc does not say)."""
    try:
        ns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        ns = 0
    return f"{PREFIX}{ns}-" + ("" if pid is None else f"{pid}-")


def _alive(pid: int) -> bool:
    """A zombie counts as dead: its directory is no longer in use."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def sweep(parent: str | None = None) -> int:
    """Delete the directories of owners that are gone; returns how many. One whose pid was reused by a live
    process stays until that process is gone too (safe: never a live owner's)."""
    parent = parent or tempfile.gettempdir()
    removed = 0
    try:
        names = os.listdir(parent)
    except OSError:
        return 0
    ours = _owner_prefix()
    for name in names:
        owner = name.removeprefix(ours).split("-", 1)[0]
        if name.startswith(ours) and owner.isdigit() and not _alive(int(owner)):
            path = os.path.join(parent, name)
            shutil.rmtree(path, ignore_errors=True)
            removed += not os.path.exists(path)
    return removed


def make(*, swept: bool = False) -> str:
    """A new private directory owned by this process (mode 0700), after sweeping what dead owners left
    (`swept`: the caller has swept once already, at its own start, and makes one per execution)."""
    if not swept:
        sweep()
    return tempfile.mkdtemp(prefix=_owner_prefix(os.getpid()))
