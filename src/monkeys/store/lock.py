"""One writer per run directory: an OS lock (`flock`) on `monkeys.lock`, held for the whole of a writer.

`monkeys run`, `monkeys import` and the pipeline API take it before they write anything; readers (report,
export) never do. The kernel drops a `flock` when its holder's last descriptor closes, which includes
`kill -9` and a crash, so a lock can never go stale. The file's text (the holder's pid and command) only
words the refusal a second writer gets; it is never trusted to decide anything (a killed holder's file and
text stay behind, and are simply taken over by the next holder). A holder removes the file when it
releases the lock normally, so a finished run directory holds its store only; an acquirer that locked a
file removed meanwhile notices (the path names another inode) and takes the file now at the path.

The descriptor is close-on-exec, and every process monkeys starts is started with exec (sandbox workers,
servers), so no child outlives its parent holding the lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sys
import time
from pathlib import Path
from types import TracebackType

from monkeys.errors import StoreError

LOCK_NAME = "monkeys.lock"
_DIR_MODE = 0o700
_FILE_MODE = 0o600
_MAX_COMMAND = 300


def lock_path(run_dir: Path) -> Path:
    return Path(run_dir) / LOCK_NAME


def _command() -> str:
    """The holder's command line, one line, as a user would recognise it (`monkeys run --out ...`)."""
    argv = list(sys.argv) or ["python"]
    argv[0] = Path(argv[0]).name or "python"
    text = " ".join(argv).replace("\n", " ").replace("\r", " ")
    return text if len(text) <= _MAX_COMMAND else text[: _MAX_COMMAND - 3] + "..."


class RunLock:
    """The writer lock of `run_dir`. Use as a context manager, or `acquire()` / `release()`.

    `choose` ends the refusal: "wait for it to finish or choose {choose}" (`another --out` for a run,
    `another run directory` for an import).
    """

    def __init__(self, run_dir: Path, *, choose: str = "another --out") -> None:
        self.run_dir = Path(run_dir)
        self.choose = choose
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, *, create_dir: bool = False) -> RunLock:
        """Take the lock without waiting, or raise `StoreError` naming the holder. With `create_dir`, a missing
        run directory is created (mode 0700) first; otherwise it must exist."""
        if self._fd is not None:
            return self
        path = lock_path(self.run_dir)
        if create_dir and self.run_dir.exists() and not self.run_dir.is_dir():
            raise StoreError(f"{self.run_dir}: exists and is not a directory; expected a run directory")
        while True:
            try:
                if create_dir:
                    self.run_dir.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, _FILE_MODE)
            except OSError as exc:
                raise StoreError(f"{path}: cannot create the run directory's lock file: {exc.strerror or exc};"
                                 " a run directory must be writable") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                busy = exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
                holder = _holder(fd) if busy else ""
                os.close(fd)
                if not busy:
                    raise StoreError(f"{path}: cannot lock the run directory: {exc.strerror or exc}") from exc
                raise StoreError(f"{self.run_dir} is in use by another monkeys process ({holder}); wait for it"
                                 f" to finish or choose {self.choose}") from None
            if _same_file(fd, path):
                break
            os.close(fd)  # locked a file its holder removed on release: take the one now at `path`
        try:
            info = f"pid {os.getpid()}: {_command()}\n".encode(errors="replace")
            os.ftruncate(fd, 0)
            os.pwrite(fd, info, 0)
        except OSError:
            pass  # the text only words a refusal; the flock is what excludes
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(lock_path(self.run_dir))  # while still held; an acquirer checks it locked the file at the path
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        held, named = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)


def _holder(fd: int) -> str:
    """'pid N: command' from the lock file. The holder writes it just after taking the lock, so an empty file
    is read again for a moment before giving up."""
    for _ in range(20):
        try:
            text = os.pread(fd, 4096, 0).decode(errors="replace").strip()
        except OSError:
            break
        if text.startswith("pid "):
            return text.splitlines()[0]
        time.sleep(0.025)
    return "pid unknown"
