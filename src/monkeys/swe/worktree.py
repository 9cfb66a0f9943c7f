"""Checkouts of a repository at an instance's `base_commit`, made once and reset between patches.

A worktree here is a plain directory plus an index file beside it, both written by git with
`--git-dir` pointing at the user's repository (a clone or a bare mirror) and `--work-tree` at the
directory: no `.git` inside it, so nothing the tests write there can configure a later git command,
and the user's repository keeps its HEAD, index and refs (only objects are read). Resetting is
`read-tree --reset -u` plus `clean -ffdx`: every tracked file back at the commit, every other file gone.
`WorktreePool` keeps numbered slots per repository and hands each caller one of its own, switched to
the commit it needs (git rewrites only the files that differ between two commits).
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

GIT_SAFE = ("-c", "safe.directory=*", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
            "-c", "core.autocrlf=false")


class GitError(Exception):
    """A git command failed: the repository or commit is unusable (not a sample's fault)."""


def git_dir(repo_dir: str | os.PathLike[str]) -> Path:
    """The git directory of a clone or a bare mirror."""
    path = Path(repo_dir)
    if not path.is_dir():
        raise GitError(f"no repository at {path}")
    out = subprocess.run(["git", *GIT_SAFE, "-C", str(path), "rev-parse", "--absolute-git-dir"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise GitError(f"{path} is not a git repository: {out.stderr.strip()[:200]}")
    return Path(out.stdout.strip())


@dataclass(frozen=True)
class Applied:
    """How a patch went on: `method` ("git apply" or "patch --fuzz=5") or None with the `error`."""

    method: str | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.method is not None


class Worktree:
    """One checkout of `commit` at `path` (index at `path`.index, scratch files at `path`.tmp)."""

    def __init__(self, gitdir: Path, commit: str, path: Path) -> None:
        self.gitdir, self.commit, self.path = gitdir, commit, path
        self.index = path.with_name(path.name + ".index")
        self.scratch = path.with_name(path.name + ".tmp")

    def git(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "GIT_INDEX_FILE": str(self.index), "GIT_DIR": str(self.gitdir),
               "GIT_WORK_TREE": str(self.path), "LC_ALL": "C"}
        out = subprocess.run(["git", *GIT_SAFE, *args], cwd=self.path, env=env, input=input, capture_output=True,
                             text=True, errors="surrogateescape")
        if check and out.returncode != 0:
            raise GitError(f"git {' '.join(args[:2])} failed in {self.path}: {out.stderr.strip()[:300]}")
        return out

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.scratch.mkdir(exist_ok=True)
        self.git("cat-file", "-e", f"{self.commit}^{{commit}}")
        self.reset()

    def reset(self) -> None:
        """Every tracked file as at `commit`, nothing else (ignored files too)."""
        self.git("read-tree", "--reset", "-u", self.commit)
        self.git("clean", "-ffdxq")

    def reset_owner(self) -> None:
        """Take the checkout's top directory back after a contained run handed it to another uid (its
        files are put back by the next `reset`)."""
        if self.path.exists() and os.geteuid() == 0:
            os.chown(self.path, 0, 0)

    def apply(self, diff: str, fuzzy: bool = True) -> Applied:
        """Apply `diff` with `git apply`; when that refuses, with GNU `patch --fuzz=5` (the harness's own
        fallback) unless `fuzzy` is false. A refused patch leaves the tree as it was."""
        patch_file = self.scratch / "patch.diff"
        patch_file.write_text(diff, encoding="utf-8", errors="surrogateescape")
        first = self.git("apply", "--verbose", "--whitespace=nowarn", str(patch_file), check=False)
        if first.returncode == 0:
            return Applied("git apply")
        error = _apply_error(first.stderr)
        if not fuzzy or not shutil.which("patch"):
            return Applied(None, error)
        argv = ["patch", "--batch", "--fuzz=5", "-p1", "--forward", "--no-backup-if-mismatch",
                "-r", str(self.scratch / "rejects"), "-i", str(patch_file)]
        dry = subprocess.run([*argv, "--dry-run"], cwd=self.path, capture_output=True, text=True,
                             errors="replace")
        if dry.returncode != 0:
            return Applied(None, error)
        real = subprocess.run(argv, cwd=self.path, capture_output=True, text=True, errors="replace")
        if real.returncode != 0:
            self.reset()
            return Applied(None, error)
        return Applied("patch --fuzz=5")

    def changed(self) -> list[str]:
        """Paths that differ from `commit`: edited, deleted, added (ignored files included)."""
        out = self.git("status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored=matching",
                       "--no-renames").stdout
        return sorted({entry[3:] for entry in out.split("\0") if len(entry) > 3})

    def revert(self, paths: Sequence[str]) -> None:
        """Put `paths` back as at `commit` (a path the commit lacks is removed)."""
        tracked = set(self.git("ls-tree", "-r", "--name-only", self.commit, "--", *paths).stdout.splitlines()) \
            if paths else set()
        for path in paths:
            full = self.path / path
            if path not in tracked and (full.is_file() or full.is_symlink()):
                full.unlink()
            elif path not in tracked and full.is_dir():
                shutil.rmtree(full)
        if tracked:
            self.git("checkout", self.commit, "--", *sorted(tracked))


def _apply_error(stderr: str) -> str:
    """The lines of `git apply`'s complaint that name the file and hunk."""
    keep = [line.strip() for line in stderr.splitlines()
            if (line.startswith(("error:", "fatal:")) or "patch failed" in line or "does not apply" in line)
            and not line.rstrip().endswith("while searching for:")]
    text = "; ".join(dict.fromkeys(keep)) or stderr.strip().splitlines()[-1:] and stderr.strip().splitlines()[-1]
    return str(text)[:500]


class WorktreePool:
    """Reusable worktrees under `root`, one folder per repository with numbered slots.

    `acquire(repo_dir, commit)` yields a slot reset to `commit` for this caller only: a free slot already
    at that commit if there is one, else any free slot of the repository switched to it (git rewrites only
    the files that differ), else a new slot. A slot is held by an exclusive lock on its lock file, so
    threads and processes sharing `root` never share one."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._at: dict[Path, str] = {}  # slot -> the commit it was last reset to (this process)
        self._lock = threading.Lock()

    @contextmanager
    def acquire(self, repo_dir: str | os.PathLike[str], commit: str) -> Iterator[Worktree]:
        gd = git_dir(repo_dir)
        tag = hashlib.blake2b(str(gd).encode(), digest_size=4).hexdigest()
        name = gd.parent.name if gd.name == ".git" else gd.name.removesuffix(".git")
        folder = self.root / f"{name}-{tag}"
        folder.mkdir(parents=True, exist_ok=True)
        slot, lock = self._take(folder, commit)
        try:
            tree = Worktree(gd, commit, slot)
            if not (slot.exists() and tree.index.exists()):
                tree.create()
            else:
                tree.git("cat-file", "-e", f"{commit}^{{commit}}")
                tree.reset()
            with self._lock:
                self._at[slot] = commit
            yield tree
        finally:
            lock.close()  # releases the slot

    def _take(self, folder: Path, commit: str) -> tuple[Path, IO[str]]:
        """Lock a slot of `folder`: one at `commit` first, then any, then a new one."""
        with self._lock:
            known = [p for p, c in self._at.items() if p.parent == folder]
        same = sorted(p for p in known if self._at.get(p) == commit)
        existing = sorted((p for p in folder.iterdir() if p.suffix == "" and p.is_dir()), key=lambda p: p.name)
        tried: set[Path] = set()
        for slot in itertools.chain(same, existing, (folder / str(n) for n in itertools.count(1))):
            if slot in tried:
                continue
            tried.add(slot)
            lock = open(slot.with_name(slot.name + ".lock"), "w")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                continue
            return slot, lock
        raise AssertionError("unreachable")
