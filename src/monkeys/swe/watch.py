"""What a test run did to the files pytest reads as the tests, seen by the kernel while it ran (inotify).

The checkout is writable while the tests run (a repository's tests may write there), and the code under
test runs before pytest reads the test modules: a package's `__init__.py` is imported before its test
subpackage, a repository's conftest imports the package. That code could rewrite a test file, write a
bytecode cache for it (pytest reads `__pycache__` even when it writes none), add a conftest, or swap a
whole test folder for a forged copy and put the original back once it was imported, so that the
checkout at the end shows nothing; or rewrite a helper module of the test folder the test imports.
`TestFilesWatch` watches, from outside the sandbox, the folders on the way to each file of the test patch,
the test folder holding it (its outermost `tests`/`test`/`testing` folder, else its own folder) with every
folder and Python file in it, and names every change that could alter what pytest runs as the tests:
a file of the test patch, a Python file of a test folder (written through any link: the files are
watched themselves), or a folder on the way, created, written, moved or deleted; a `conftest.py`,
`__init__.py`, `__pycache__` or `.pyc` created or moved in a watched folder; an entry made there that the
import system would take for one of those modules (a folder `test_x/` or an extension module
`test_x.cpython-311-x86_64-linux-gnu.so` beside `test_x.py`: a package and an extension module are found
before the source); and a queue overflow (too much happening to tell). Other files, such as what the
tests write for themselves, are ignored.

Bytecode: `plant()`, before the run, puts an empty file named `__pycache__` in each watched folder that
holds Python files, so that no interpreter can write or read a bytecode cache there (a child the tests
start with an environment of their own writes caches; it now fails to, quietly, as on a read-only
folder), while the code under test would have to remove or replace that file, which the watch names.
A test tree too large to watch whole (`MAX_FOLDERS`, `MAX_FILES`) is a `WatchError`: the verifier
cannot judge the sample there, rather than judging it with part of the tests unwatched.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.machinery
import os
import select
import struct
import threading
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

IN_MODIFY, IN_CLOSE_WRITE, IN_MOVED_FROM, IN_MOVED_TO = 0x2, 0x8, 0x40, 0x80
IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_MOVE_SELF = 0x100, 0x200, 0x400, 0x800
IN_Q_OVERFLOW, IN_IGNORED, IN_ISDIR = 0x4000, 0x8000, 0x40000000
IN_ONLYDIR, IN_DONT_FOLLOW = 0x01000000, 0x02000000
IN_NONBLOCK, IN_CLOEXEC = 0o4000, 0o2000000
_ENTRY = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY | IN_CLOSE_WRITE
_SELF = IN_DELETE_SELF | IN_MOVE_SELF
_FILE = IN_MODIFY | IN_CLOSE_WRITE | _SELF
_EVENT = struct.Struct("iIII")
_SENSITIVE = {"conftest.py", "__init__.py", "__pycache__"}
_PYTHON = (".py", ".pyc", ".pyo")
# what the import system finds a module `name` by, beside `name/` (a package) and `name` itself
_IMPORTABLE = tuple(sorted(set(importlib.machinery.all_suffixes()) | {".pyc", ".pyo", ".pyw", ".pyd", ".so"}))
TEST_DIRS = {"tests", "test", "testing"}
MAX_FOLDERS, MAX_FILES = 20_000, 100_000  # a larger test tree is not watched: a WatchError, never half a watch


class WatchError(Exception):
    """The kernel refused to watch (no inotify, or its limits reached): not the sample's fault."""


def _what(mask: int) -> str:
    for bit, word in ((IN_CREATE, "created"), (IN_MOVED_TO, "moved in"), (IN_MOVED_FROM, "moved away"),
                      (IN_DELETE, "deleted"), (IN_MOVE_SELF, "moved away"), (IN_DELETE_SELF, "deleted"),
                      (IN_MODIFY, "written"), (IN_CLOSE_WRITE, "opened for writing")):
        if mask & bit:
            return word
    return "changed"


class TestFilesWatch:
    """Watch `root`'s test files (`protected`, paths relative to `root`) while a run happens in between
    `start()` and `stop()`; `stop()` returns what was done to them, one "path: what" string each."""

    __test__ = False  # not a pytest test class

    def __init__(self, root: Path, protected: Iterable[str]) -> None:
        self.root = root
        self.files = sorted({p for p in protected if p and not PurePosixPath(p).is_absolute()})
        self.found: dict[str, str] = {}
        self._names: dict[int, str] = {}  # watch descriptor -> folder or file (relative; "" is root)
        self._dirs: dict[int, set[str]] = {}  # folder watch -> the entry names that matter in it
        self._strict: set[int] = set()  # folder watches of test folders: every Python file in them matters
        self._stems: dict[int, set[str]] = {}  # folder watch -> module names an importable new entry may not take
        self._plan: tuple[dict[str, set[str]], set[str]] | None = None
        self._fd = -1
        self._thread: threading.Thread | None = None
        self._stop_r, self._stop_w = -1, -1

    def plan(self) -> tuple[dict[str, set[str]], set[str]]:
        """(folder -> the names on the way that matter in it, the test folders), relative paths; raises
        `WatchError` when the test tree is too large to watch."""
        if self._plan is None:
            folders: dict[str, set[str]] = {"": set()}
            for path in self.files:
                parts = PurePosixPath(path).parts
                for i in range(len(parts)):
                    folder = "/".join(parts[:i])
                    folders.setdefault(folder, set()).add(parts[i])  # the next step on the way, or the file
            self._plan = folders, self._test_folders()
        return self._plan

    def plant(self) -> None:
        """Before the run: an empty file `__pycache__` in each folder to watch that holds Python files and no
        `__pycache__` yet (no bytecode cache can be written or read there; see the module docstring)."""
        folders, strict = self.plan()
        for folder in sorted(set(folders) | strict):
            full = self.root / folder if folder else self.root
            try:
                if full.is_symlink() or not full.is_dir() or os.path.lexists(full / "__pycache__") or \
                        not any(e.name.endswith(".py") for e in os.scandir(full)):
                    continue
                os.close(os.open(full / "__pycache__", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o444))
            except OSError:
                continue

    def start(self, through: str = "") -> None:
        """Watch from now on; `through` + the root's absolute path is where the run sees the root (its mount
        namespace, `/proc/PID/root`), "" where it sees the host's own."""
        folders, strict = self.plan()
        if through:
            self.root = Path(through + str(self.root.resolve()))
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        try:
            init, add = libc.inotify_init1, libc.inotify_add_watch
        except AttributeError:
            raise WatchError("this system has no inotify") from None
        add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self._fd = init(IN_NONBLOCK | IN_CLOEXEC)
        if self._fd < 0:
            raise WatchError(f"inotify_init1: {os.strerror(ctypes.get_errno())}")
        for folder in sorted(set(folders) | strict):
            full = self.root / folder if folder else self.root
            if not full.is_dir() or full.is_symlink():
                continue
            names = folders.get(folder, set())
            wd = self._add(add, full, folder, IN_ONLYDIR | IN_DONT_FOLLOW | _ENTRY | _SELF)
            self._dirs[wd] = names | _SENSITIVE
            self._stems[wd] = {n.split(".", 1)[0] for n in names} | {"conftest", "__init__"}
            if folder in strict:
                self._strict.add(wd)
                try:
                    self._stems[wd] |= {e.name[:-3] for e in os.scandir(full) if e.name.endswith(".py")}
                except OSError:
                    pass
            cache = full / "__pycache__"
            if cache.is_dir() and not cache.is_symlink():
                wd = self._add(add, cache, f"{folder}/__pycache__".lstrip("/"),
                               IN_ONLYDIR | IN_DONT_FOLLOW | _ENTRY | _SELF)
                self._dirs[wd] = set()  # everything in it matters
            files = {*names, "conftest.py", "__init__.py"}
            if folder in strict:
                try:
                    files |= {e.name for e in os.scandir(full) if e.name.endswith(".py")}
                except OSError:
                    pass
            for name in sorted(files):
                entry = full / name
                if entry.is_file() and not entry.is_symlink():
                    self._add(add, entry, f"{folder}/{name}".lstrip("/"), IN_DONT_FOLLOW | _FILE)
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._drain, name="monkeys-test-files-watch", daemon=True)
        self._thread.start()

    def _test_folders(self) -> set[str]:
        """The test folders of the test patch's files and every folder in them (relative paths); a
        `WatchError` when that would be too many to watch."""
        tops = set()
        for path in self.files:
            parts = PurePosixPath(path).parts[:-1]
            at = next((i for i, part in enumerate(parts) if part in TEST_DIRS), None)
            tops.add("/".join(parts[:at + 1] if at is not None else parts))
        found: set[str] = set()
        files = 0
        for top in sorted(tops):
            stack = [top]
            while stack:
                folder = stack.pop()
                if folder in found:
                    continue
                found.add(folder)
                try:
                    entries = list(os.scandir(self.root / folder if folder else self.root))
                except OSError:
                    continue
                files += sum(1 for e in entries if e.name.endswith(".py"))
                if len(found) > MAX_FOLDERS or files > MAX_FILES:
                    raise WatchError(f"the test folder {top or '.'} holds more than {MAX_FOLDERS:,} folders or "
                                     f"{MAX_FILES:,} Python files, too many to watch while the tests run")
                if folder == "" and top == "":
                    continue  # a test file at the top: the top folder's own files, not the whole checkout
                stack.extend(f"{folder}/{e.name}".lstrip("/") for e in entries
                             if e.is_dir(follow_symlinks=False) and e.name not in (".git", "__pycache__"))
        return found

    def _add(self, add: Any, path: Path, name: str, mask: int) -> int:
        wd = add(self._fd, os.fsencode(path), mask)
        if wd < 0:
            err = ctypes.get_errno()
            self.close()
            raise WatchError(f"inotify_add_watch {name or '.'}: {os.strerror(err)}")
        self._names.setdefault(wd, name)
        return int(wd)

    def _drain(self) -> None:
        stopping = False
        while True:
            ready, _, _ = select.select([self._fd, self._stop_r], [], [], None if not stopping else 0)
            if self._fd in ready:
                try:
                    data = os.read(self._fd, 1 << 16)
                except BlockingIOError:
                    data = b""
                self._read(data)
                continue
            if stopping:
                return
            if self._stop_r in ready:
                stopping = True  # read what is left, then end

    def _read(self, data: bytes) -> None:
        at = 0
        while at + _EVENT.size <= len(data):
            wd, mask, _cookie, size = _EVENT.unpack_from(data, at)
            raw = data[at + _EVENT.size:at + _EVENT.size + size].rstrip(b"\0")
            at += _EVENT.size + size
            if mask & IN_Q_OVERFLOW:
                self.found.setdefault("(the checkout)", "too many changes to watch while the tests ran")
                continue
            if mask & IN_IGNORED or wd not in self._names:
                continue
            where = self._names[wd]
            if not raw:  # the watched folder or file itself
                if mask & (_SELF | IN_MODIFY | IN_CLOSE_WRITE) and (wd not in self._dirs or mask & _SELF):
                    self.found.setdefault(where or ".", _what(mask))
                continue
            name = os.fsdecode(raw)
            names = self._dirs.get(wd)
            if names is None:
                continue
            if not names or name in names or name.endswith((".pyc", ".pyo")) or \
                    (wd in self._strict and name.endswith(_PYTHON)) or \
                    (mask & (IN_CREATE | IN_MOVED_TO) and self._shadows(wd, name)):
                self.found.setdefault(f"{where}/{name}".lstrip("/"), _what(mask))

    def _shadows(self, wd: int, name: str) -> bool:
        """Whether an entry `name` new in folder `wd` could be imported as a module that matters there: the
        bare name (a folder is a package, and a link may point at one) or the name with an import suffix."""
        stems = self._stems.get(wd, set())
        return name in stems or any(name.endswith(suffix) and name[:-len(suffix)] in stems for suffix in _IMPORTABLE)

    def stop(self) -> list[str]:
        """End the watch (after the run) and say what was done: "path: what" per path."""
        if self._thread is not None:
            os.write(self._stop_w, b"x")
            self._thread.join()
            self._thread = None
        self.close()
        return [f"{path}: {what}" for path, what in sorted(self.found.items())]

    def close(self) -> None:
        for fd in (self._fd, self._stop_r, self._stop_w):
            if fd >= 0:
                os.close(fd)
        self._fd = self._stop_r = self._stop_w = -1
