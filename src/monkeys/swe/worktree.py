"""Checkouts of a repository at an instance's `base_commit`, made once and reset between patches.

A worktree here is a plain directory plus an index file beside it, both written by git with
`--git-dir` pointing at the user's repository (a clone or a bare mirror) and `--work-tree` at the
directory: no `.git` inside it, so nothing the tests write there can configure a later git command,
and the user's repository keeps its HEAD, index and refs (only objects are read). Resetting removes the
whole checkout and writes it anew from the commit: a test run may leave anything in it (a file or folder
named `.git`, which `git clean` never removes; extended attributes, modes and times of the folders git
keeps; a `.gitattributes` that re-encodes the next checkout), and none of it may reach the next sample.
A fresh checkout costs about what the test run's own start-up does (a few hundred ms on a large repo).
`WorktreePool` keeps numbered slots per repository and hands each caller one of its own.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import itertools
import os
import shutil
import stat
import subprocess
import threading
import tokenize
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from monkeys.swe.patching import FileChange

GIT_SAFE = ("-c", "safe.directory=*", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
            "-c", "core.autocrlf=false")


APPLY_TIMEOUT_S = 300.0  # one `git apply` or `patch` of a model patch


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

    def git(self, *args: str, input: str | None = None, check: bool = True,
            timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "GIT_INDEX_FILE": str(self.index), "GIT_DIR": str(self.gitdir),
               "GIT_WORK_TREE": str(self.path), "LC_ALL": "C"}
        out = subprocess.run(["git", *GIT_SAFE, *args], cwd=self.path, env=env, input=input, capture_output=True,
                             text=True, errors="surrogateescape", timeout=timeout)
        if check and out.returncode != 0:
            raise GitError(f"git {' '.join(args[:2])} failed in {self.path}: {out.stderr.strip()[:300]}")
        return out

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.scratch.mkdir(exist_ok=True)
        self.git("cat-file", "-e", f"{self.commit}^{{commit}}")
        self.reset()

    def reset(self) -> None:
        """A new checkout of `commit`: the old one removed whole, so nothing an earlier run left survives.
        The old one is renamed aside first and removed in the background (removing is as slow as writing)."""
        if self.path.exists() or self.path.is_symlink():
            aside = self.path.with_name(f"{self.path.name}.old-{uuid.uuid4().hex[:12]}")
            os.rename(self.path, aside)
            threading.Thread(target=_remove_quietly, args=(aside,), daemon=True).start()
        self.path.mkdir(parents=True)
        self.index.unlink(missing_ok=True)
        self.git("read-tree", "--reset", "-u", self.commit)

    def git_entries(self) -> list[str]:
        """Paths named `.git` inside the checkout (git status never lists them: a patch or a test made them)."""
        found = []
        for root, dirs, files in _walk(self.path):
            for name in [*dirs, *files]:
                if name == ".git":
                    found.append(os.path.relpath(os.path.join(root, name), self.path))
            dirs[:] = [d for d in dirs if d != ".git"]
        return sorted(found)

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
        try:
            first = self.git("apply", "--verbose", "--whitespace=nowarn", str(patch_file), check=False,
                             timeout=APPLY_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.reset()
            return Applied(None, f"git apply ran past {APPLY_TIMEOUT_S:g} s")
        if first.returncode == 0:
            return Applied("git apply")
        error = _apply_error(first.stderr)
        if not fuzzy or not shutil.which("patch"):
            return Applied(None, error)
        argv = ["patch", "--batch", "--fuzz=5", "-p1", "--forward", "--no-backup-if-mismatch",
                "-r", str(self.scratch / "rejects"), "-i", str(patch_file)]
        try:  # a fuzzy search of many hunks over a long file can take minutes: the grader must not wait on it
            dry = subprocess.run([*argv, "--dry-run"], cwd=self.path, capture_output=True, text=True,
                                 errors="replace", timeout=APPLY_TIMEOUT_S)
            if dry.returncode != 0:
                return Applied(None, error)
            real = subprocess.run(argv, cwd=self.path, capture_output=True, text=True, errors="replace",
                                  timeout=APPLY_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.reset()
            return Applied(None, f"{error}; patch --fuzz=5 ran past {APPLY_TIMEOUT_S:g} s")
        if real.returncode != 0:
            self.reset()
            return Applied(None, error)
        return Applied("patch --fuzz=5")

    def sizes(self, paths: Sequence[str]) -> int:
        """Bytes the checkout's `paths` hold (regular files; links and folders count nothing)."""
        total = 0
        for path in paths:
            try:
                st = os.lstat(self.path / path)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
        return total

    def blob_sizes(self, paths: Sequence[str]) -> int:
        """Bytes of `paths` as `commit` holds them (a path it lacks counts nothing)."""
        if not paths:
            return 0
        query = "".join(f"{self.commit}:{p}\n" for p in paths)
        out = self.git("cat-file", "--batch-check=%(objectsize)", input=query, check=False).stdout
        return sum(int(w) for w in out.split() if w.isdigit())

    def changed(self) -> list[str]:
        """Paths that differ from `commit`: edited, deleted, added (ignored files included), and any entry
        named `.git` (git metadata a patch wrote, which git itself never reports)."""
        out = self.git("status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored=matching",
                       "--no-renames").stdout
        return sorted({entry[3:] for entry in out.split("\0") if len(entry) > 3} | set(self.git_entries()))

    def untracked(self, paths: Sequence[str]) -> list[str]:
        """Those of `paths` that `commit` does not have (files the patch or a run added)."""
        if not paths:
            return []
        tracked = set(self.git("ls-tree", "-r", "--name-only", self.commit, "--", *paths).stdout.splitlines())
        return [p for p in paths if p not in tracked]

    def packages(self) -> list[str]:
        """Directories of the checkout that hold an `__init__.py` ("." for the top), relative paths."""
        found = []
        for root, dirs, files in _walk(self.path):
            dirs[:] = [d for d in dirs if d != ".git"]
            if "__init__.py" in files:
                rel = os.path.relpath(root, self.path)
                found.append(rel.replace(os.sep, "/"))
        return found

    def added_lines(self, paths: Sequence[str]) -> list[FileChange]:
        """What each changed file now holds that the commit's version did not, read from the checkout
        itself (so a binary hunk, a fuzzy apply or a re-encoded file hides nothing the patch text would):
        Python sources decoded as the interpreter will (their coding cookie), the rest as UTF-8."""
        out = []
        for path in paths:
            full = self.path / path
            try:
                if full.is_symlink() or not full.is_file():
                    continue
                data = full.read_bytes()
            except OSError:  # a path the host cannot name (too long), or gone: nothing to read
                continue
            new = _source_lines(data, path)
            old_blob = self.git("cat-file", "blob", f"{self.commit}:{path}", check=False)
            before = Counter(old_blob.stdout.splitlines()) if old_blob.returncode == 0 else Counter()
            added = []
            for line in new:
                if before[line] > 0:
                    before[line] -= 1
                else:
                    added.append(line)
            out.append(FileChange(path, path, added))
        return out

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


def _source_lines(data: bytes, path: str) -> list[str]:
    encoding = "utf-8"
    if path.endswith((".py", ".pyw", ".pyi")):
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError:
            encoding = "utf-8"
    try:
        return data.decode(encoding, "surrogateescape").splitlines()
    except (LookupError, UnicodeError):
        return data.decode("utf-8", "surrogateescape").splitlines()


def _walk(top: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """`os.walk(top)` (top-down, symbolic links not followed, `dirs` prunable) without recursion: a folder
    thousands deep, which a patch or a test run can make, overflowed the recursive walk."""
    stack = [str(top)]
    while stack:
        root = stack.pop()
        dirs: list[str] = []
        files: list[str] = []
        try:
            with os.scandir(root) as entries:
                for entry in entries:
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        is_dir = False
                    (dirs if is_dir else files).append(entry.name)
        except OSError:
            continue
        yield root, dirs, files
        stack.extend(os.path.join(root, d) for d in reversed(dirs))


def _remove_quietly(path: Path) -> None:
    """`_remove_tree`, where another process may be removing the same folder (an old checkout set aside);
    whatever goes wrong leaves at most a folder behind, never an error for the next sample."""
    try:
        _remove_tree(path)
    except Exception:
        pass


def _remove_tree(path: Path) -> None:
    """Remove `path` whole, even where a run took the owner's write or search right from its folders or
    nested them deeper than a recursive removal can go (GNU rm walks any depth)."""
    if not (path.is_symlink() or path.is_file()) and path.exists() and shutil.which("rm"):
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(path)], capture_output=True)
        if path.exists() and not path.is_symlink():
            subprocess.run(["chmod", "-R", "u+rwx", "--", str(path)], capture_output=True)
            subprocess.run(["rm", "-rf", "--one-file-system", "--", str(path)], capture_output=True)
        if not path.exists():
            return

    def retry(func: object, name: str, _exc: object) -> None:
        parent = os.path.dirname(name)
        os.chmod(parent, 0o700)
        if os.path.isdir(name) and not os.path.islink(name):
            os.chmod(name, 0o700)
            shutil.rmtree(name, onerror=retry)
        else:
            os.unlink(name)

    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        os.chmod(path, 0o700)
        shutil.rmtree(path, onerror=retry)


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
        for left in folder.glob("*.old-*"):  # checkouts a stopped process renamed aside but did not remove
            _remove_quietly(left)
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
