"""Run one whole command (`python -m pytest ...`) contained: the sandbox's API for repository tests.

`run_command` is for programs that are not a Python snippet: a test runner over a checked-out repository,
with the repository's own interpreter. The containment is the fallback sandbox's (`_simple`), applied to
a command instead of the harness:

- util-linux `unshare` into new pid, net (no interfaces), ipc, uts and mount namespaces with a private
  `/proc`; without root also a user namespace (the command keeps no capability in it);
- empty private tmpfs over `/tmp` and `/dev/shm` (writable, small) and `/run` (read-only): nothing left
  there by one run reaches the next, and no host socket there is reachable;
- with `CommandLimits.disk_mb`, the writable folders are overlays whose changes live on a tmpfs of that
  size of the namespace's own: the host's folders are never written, and the total is capped;
- every other mount of the namespace read-only (Linux 5.12+), Landlock or not;
- as root the command runs as a uid no account uses (a fresh one per run); a directory it must read
  that such a uid could not enter (`/root`, mode 0700, holding a pyenv interpreter) is covered by an
  empty tmpfs into which only the paths the command needs are bound back, so the rest stays hidden;
- Landlock (where the kernel has it): the system directories and `readable` read-only, `writable`,
  `/tmp` and `/dev/shm` read-write, nothing else; TCP refused, signals and abstract sockets scoped;
- no new namespaces or mounts (a seccomp filter where the kernel has it; without root also
  `user.max_user_namespaces` = 0 in its user namespace);
- rlimits (address space, CPU, processes, file size, no core), no_new_privs, its own session, an empty
  environment plus `env`; the wall-clock limit kills the whole pid namespace, and output is capped.

Standard library only on the launcher side (it runs under the system Python with `-I -S`).
"""

from __future__ import annotations

import itertools
import json
import os
import selectors
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from monkeys.errors import SandboxError
from monkeys.sandbox import _launch, _seccomp
from monkeys.sandbox._readable import SYSTEM_DIRS  # whole: a repository's tests need its installed packages
from monkeys.sandbox._simple import PYTHON, _uid_in_use

_SECCOMP = _seccomp.namespaces_program().hex() if _seccomp.available() == "active" else ""

# Command uids: a block of 64 per owning process, apart from the pool's and the fallback's ranges.
UID_BASE = 16_000_000
_CHUNK = 1 << 16
_counter = itertools.count(1)

# argv[1]: JSON config; argv[2]: the status fd. Reports "ok <exit code|-signal>" or "error <why>".
LAUNCHER = _launch.PRELUDE + r'''
os.set_inheritable(status, False)
check(libc.prctl(4, 0, 0, 0, 0) == 0, "PR_SET_DUMPABLE")
if C["uid"] is None:  # our own user namespace
    no_nested_user_namespaces()
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND, MS_REC = 1, 2, 4, 4096, 0x4000
keep = {}
for path in C["bind_back"]:  # opened before anything is covered
    keep[path] = os.open(path, os.O_PATH | os.O_CLOEXEC)
for cover, mode, ro in C["covers"]:
    if os.path.isdir(cover):
        opts = ("size=%dm,mode=%s" % (C["tmp_mb"], mode)).encode()
        flags = MS_NOSUID | MS_NODEV | (MS_RDONLY if ro else 0)
        check(libc.mount(b"tmpfs", cover.encode(), b"tmpfs", flags, opts) == 0, "mount " + cover)
for path, fd in keep.items():
    if os.path.isdir("/proc/self/fd/%d" % fd):
        os.makedirs(path, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "a").close()
    check(libc.mount(b"/proc/self/fd/%d" % fd, path.encode(), None, MS_BIND | MS_REC, None) == 0,
          "bind " + path)
    os.close(fd)
for i, path in enumerate(C["overlays"]):  # writes to `path` land on a tmpfs of this namespace, capped
    top = "/tmp/.monkeys-layer-%d" % i
    os.mkdir(top, 0o700)
    opts = ("size=%dm,nr_inodes=%d,mode=700" % (C["disk_mb"], C["disk_inodes"])).encode()
    check(libc.mount(b"tmpfs", top.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts) == 0, "mount the disk limit")
    os.mkdir(top + "/upper")
    os.mkdir(top + "/work")
    st = os.stat(path)
    try:  # the merged folder takes the upper one's owner and mode: the lower one's
        os.chown(top + "/upper", st.st_uid, st.st_gid)
    except OSError:  # an owner our user namespace does not map: ours (we hold the folder), mode as below
        pass
    os.chmod(top + "/upper", st.st_mode & 0o7777)
    esc = lambda p: p.replace("\\", "\\\\").replace(",", "\\,").replace(":", "\\:")
    opts = "lowerdir=%s,upperdir=%s/upper,workdir=%s/work" % (esc(path), esc(top), esc(top))
    # a folder of the lower layer can be renamed (with root; in a user namespace such a rename is EXDEV,
    # which `mv` and `shutil.move` answer by copying)
    opts += ",userxattr" if C["uid"] is None else ",redirect_dir=on"
    check(libc.mount(b"overlay", path.encode(), b"overlay", MS_NOSUID | MS_NODEV, opts.encode()) == 0,
          "overlay " + path)
    check(libc.umount2(top.encode(), 2) == 0, "detach " + top)  # the overlay keeps it; nothing else reaches it
    os.rmdir(top)
def mount_attr(path, flags, attr_set, attr_clr):
    """mount_setattr(2) (Linux 5.12+): False where the kernel has none."""
    attr = ctypes.create_string_buffer(struct.pack("QQQQ", attr_set, attr_clr, 0, 0), 32)
    if libc.syscall(442, ctypes.c_int(-100), path.encode(), ctypes.c_uint(flags), attr, ctypes.c_size_t(32)) == 0:
        return True
    check(ctypes.get_errno() == 38, "mount_setattr " + path)  # ENOSYS: an older kernel
    return False
# every mount read-only but the writable folders (the overlays, or binds of themselves), /tmp and /dev/shm:
# without Landlock nothing else of the host could be written either (world-writable /var/tmp; the user's own
# files, where a user namespace maps the command to the user)
if mount_attr("/", 0x8000, 1, 0):  # AT_RECURSIVE, MOUNT_ATTR_RDONLY
    for path in [*C["read_write"]]:
        if os.path.isdir(path) and not os.path.islink(path):
            check(libc.mount(path.encode(), path.encode(), None, MS_BIND | MS_REC, None) == 0, "bind " + path)
            mount_attr(path, 0, 0, 1)
if C["go"] >= 0:  # the caller looks at the mounts (`on_ready`) before anything of the command runs
    os.set_inheritable(C["go"], False)
    os.write(status, b"ready\n")
    if os.read(C["go"], 1) != b"g":
        os._exit(0)
    os.close(C["go"])
def disk_full():
    for path in C["overlays"]:
        try:
            st = os.statvfs(path)
        except OSError:
            continue
        if st.f_bavail * st.f_frsize < (1 << 20) or st.f_favail < 64:
            return True
    return False
try:
    os.chdir(C["cwd"])
except OSError as exc:
    report("error cannot enter %s: %s" % (C["cwd"], exc))
pid = os.fork()
if pid == 0:
    try:
        os.setsid()
        check(libc.prctl(1, 9, 0, 0, 0) == 0, "PR_SET_PDEATHSIG")
        for res, value in C["rlimits"]:
            resource.setrlimit(getattr(resource, res), tuple(value))
        check(libc.prctl(38, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS")
        if C["landlock"] > 0:
            landlock(C["landlock"], C["read_only"], C["read_write"])
        if C["uid"] is not None:
            drop_to(C["uid"])
        else:
            drop_capabilities()
        if C["seccomp"]:  # no new namespaces or mounts (`_seccomp.namespaces_program`)
            seccomp(C["seccomp"])
    except BaseException as exc:
        report("error confinement failed: %r" % (exc,))
    os.close(status)
    try:
        os.execve(C["argv"][0], C["argv"], C["env"])
    except OSError as exc:
        os.write(2, ("cannot run %s: %s\n" % (C["argv"][0], exc)).encode())
        os._exit(127)
os.closerange(0, 3)
while True:
    try:
        got, st = os.waitpid(-1, 0)
    except ChildProcessError:
        report("error the command vanished")
    if got == pid:
        break
report("ok %d%s" % (os.waitstatus_to_exitcode(st), " disk-full" if disk_full() else ""))
'''


@dataclass(frozen=True)
class CommandLimits:
    """Limits of one command run: the wall clock ends the whole namespace; the rest are rlimits."""

    timeout_s: float = 1800.0
    memory_mb: int = 16384
    max_processes: int = 512
    max_file_mb: int = 1024
    max_output_bytes: int = 64 << 20
    tmp_mb: int = 1024
    disk_mb: int | None = None  # all that the command may write under `writable` (None: no total limit)
    disk_inodes: int = 200_000  # and how many files and folders it may make there


@dataclass
class CommandResult:
    """What a command did. `exit_code` is None when it died of a signal or was killed at a limit."""

    exit_code: int | None
    signal: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    output_truncated: bool = False
    wall_s: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)
    disk_full: bool = False  # it filled `CommandLimits.disk_mb` or `disk_inodes` (writes failed with ENOSPC)


def _closed_ancestor(path: str) -> str | None:
    """The highest directory above `path` that others cannot enter (a dropped uid could not reach it)."""
    parts = Path(path).parts
    for i in range(2, len(parts)):
        parent = os.path.join(*parts[:i])
        try:
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return parent
        except OSError:
            return None
    return None


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def unavailable() -> str | None:
    """Why `run_command` cannot contain a command here, or None when it can."""
    if not shutil.which("unshare"):
        return "unshare (util-linux) not installed"
    if not os.path.exists(PYTHON):
        return f"no system Python at {PYTHON} to run the launcher"
    return None


def run_command(argv: Sequence[str], *, cwd: str | os.PathLike[str], writable: Sequence[str | os.PathLike[str]] = (),
                readable: Sequence[str | os.PathLike[str]] = (), env: Mapping[str, str] | None = None,
                limits: CommandLimits | None = None, on_ready: Callable[[str], None] | None = None) -> CommandResult:
    """Run `argv` (an absolute program path first) in `cwd`, contained as the module docstring says.

    `writable` must include `cwd` if the command writes there; as root each of them is handed to the run's
    uid first (`chown -R`: the caller resets them afterwards). `readable` names what it reads beyond the
    system directories (its interpreter's prefix, a virtual environment). Raises `SandboxError` when the
    containment cannot start; a failing command is a result.

    With `limits.disk_mb`, each `writable` directory is covered, in the command's own mount namespace, by an
    overlay whose changes live on a tmpfs of `disk_mb` MiB and `disk_inodes` inodes: the command sees and
    writes the directory as usual, nothing it writes reaches the host's disk (the directory there is left
    as it was, but for the owner `chown` gave it), and past the limit its writes fail with ENOSPC
    (`CommandResult.disk_full`). `on_ready(root)`, where given, is called once those mounts are made and
    before anything of the command runs (the command waits for it): `root` + an absolute path is that path
    as the command sees it (`/proc/PID/root`), for a watch from outside. An exception from it ends the run."""
    why = unavailable()
    if why:
        raise SandboxError(f"cannot contain a command here: {why}")
    limits = limits or CommandLimits()
    is_root = os.geteuid() == 0
    rw = [os.path.realpath(p) for p in writable]
    ro = [os.path.realpath(p) for p in readable if os.path.exists(p)]
    if not any(_under(os.path.realpath(cwd), p) for p in rw):
        ro.append(os.path.realpath(cwd))
    uid = None
    if is_root:
        uid = UID_BASE + (os.getpid() % 100_000) * 64 + next(_counter) % 64
        if _uid_in_use(uid):
            raise SandboxError(f"uid {uid} of the command sandbox belongs to an account")
        for path in rw:
            _chown_tree(path, uid)
    covers: list[tuple[str, str, bool]] = [("/tmp", "1777", False), ("/dev/shm", "1777", False),
                                           ("/run", "755", True)]
    if is_root:
        for path in ro + rw:
            closed = _closed_ancestor(path)
            if closed and not any(_under(closed, c[0]) for c in covers):
                covers.append((closed, "755", False))
    # every allowed path under a covered directory is bound back at its own place (outermost first)
    bind_back = sorted({p for p in ro + rw if any(_under(p, c[0]) for c in covers)}, key=len)
    bind_back = [p for i, p in enumerate(bind_back) if not any(_under(p, q) for q in bind_back[:i])]
    cpu = int(limits.timeout_s) + 1
    rlimits = [("RLIMIT_AS", [limits.memory_mb << 20] * 2), ("RLIMIT_CPU", [cpu, cpu + 1]),
               ("RLIMIT_FSIZE", [limits.max_file_mb << 20] * 2), ("RLIMIT_CORE", [0, 0]),
               ("RLIMIT_NPROC", [limits.max_processes] * 2)]
    config = {"argv": list(argv), "cwd": os.path.realpath(cwd), "env": dict(env or {}), "uid": uid,
              "covers": covers, "bind_back": bind_back, "tmp_mb": limits.tmp_mb, "rlimits": rlimits,
              "landlock": _launch.landlock_abi(), "read_only": [*SYSTEM_DIRS, "/proc", "/dev/urandom", "/dev/random",
                                                          "/dev/zero", *ro],
              "read_write": [*rw, "/tmp", "/dev/shm"], "seccomp": _SECCOMP,
              "overlays": rw if limits.disk_mb else [], "disk_mb": limits.disk_mb or 0,
              "disk_inodes": limits.disk_inodes, "go": -1}
    unshare = str(shutil.which("unshare"))
    ns = ["--pid", "--fork", "--kill-child", "--net", "--ipc", "--uts", "--mount", "--mount-proc",
          "--propagation", "private"]
    if not is_root:
        ns = ["--user", "--map-root-user", *ns]
    status_r, status_w = os.pipe()
    go_r, go_w = os.pipe() if on_ready else (-1, -1)
    config["go"] = go_r
    start = time.monotonic()
    try:
        proc = subprocess.Popen([unshare, *ns, "--", PYTHON, "-I", "-S", "-c", LAUNCHER, json.dumps(config),
                                 str(status_w)], cwd="/", env={}, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                close_fds=True, pass_fds=(status_w,) if go_r < 0 else (status_w, go_r))
    except OSError as exc:
        os.close(status_r)
        if go_w >= 0:
            os.close(go_w)
        raise SandboxError(f"cannot start the command sandbox: {exc}") from exc
    finally:
        os.close(status_w)
        if go_r >= 0:
            os.close(go_r)
    ready = None
    if on_ready is not None:
        def ready(_pid: int = proc.pid, _go: int = go_w, _call: Callable[[str], None] = on_ready) -> None:
            _call(f"/proc/{_pid}/root")  # unshare itself is in the namespace's mounts (it forked the launcher)
            os.write(_go, b"g")
    try:
        out, err, status = _collect(proc, status_r, start + limits.timeout_s, limits.max_output_bytes, ready)
    finally:
        if go_w >= 0:
            os.close(go_w)
    timed_out, truncated = out is None, err is None
    wall = time.monotonic() - start
    words = status.decode(errors="replace").removeprefix("ready\n").split(" ")
    extra = {"containment": "unshare-root" if is_root else "unshare-userns",
             "landlock": str(config["landlock"]), "uid": str(uid)}
    result = CommandResult(None, signal.SIGKILL, bytes(out or b""), bytes(err or b""), timed_out,
                           truncated, wall, extra)
    if timed_out or truncated:
        return result
    if words[0] != "ok":
        why = " ".join(words[1:]) or (err or b"").decode(errors="replace").strip()[-300:]  # a launcher traceback
        if config["overlays"] and ("overlay" in why or "disk limit" in why):
            why += " (capping what the command writes needs overlayfs in its mount namespace: Linux 5.11+ as non-root)"
        raise SandboxError(f"the command sandbox failed to start the command: {why[:400]}")
    code = int(words[1])
    result.exit_code, result.signal = (code, None) if code >= 0 else (None, -code)
    result.disk_full = "disk-full" in words[2:]
    return result


def _collect(proc: subprocess.Popen[bytes], status_r: int, deadline: float, cap: int,
             ready: Callable[[], None] | None = None) -> tuple[bytearray | None, bytearray | None, bytes]:
    """Read stdout, stderr and the status pipe until all close; (None, err) at the deadline,
    (out, None) past the output cap; `ready()` once the status pipe says "ready" (an exception from it
    ends the run and is raised). The whole namespace is gone when this returns."""
    assert proc.stdout is not None and proc.stderr is not None
    out, err, status = bytearray(), bytearray(), bytearray()
    bufs = {proc.stdout.fileno(): out, proc.stderr.fileno(): err, status_r: status}
    sel = selectors.DefaultSelector()
    for fd in bufs:
        sel.register(fd, selectors.EVENT_READ)
    timed_out = truncated = False
    try:
        while sel.get_map() and not truncated:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, _ in sel.select(remaining):
                data = os.read(key.fd, _CHUNK)
                if not data:
                    sel.unregister(key.fd)
                    continue
                buf = bufs[key.fd]
                buf += data
                if ready is not None and buf is status and status.startswith(b"ready\n"):
                    call, ready = ready, None
                    call()
                if len(buf) > cap:
                    del buf[cap:]
                    truncated = True
    finally:
        sel.close()
        if timed_out or truncated or proc.poll() is None:
            try:  # unshare and the launcher share a process group; the launcher is the namespace's init
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        os.close(status_r)
    if timed_out:
        return None, err, bytes(status)
    if truncated:
        return out, None, bytes(status)
    return out, err, bytes(status)


def _chown_tree(top: str, uid: int) -> None:
    """Hand `top` and everything under it to `uid` (symbolic links themselves, never their targets)."""
    os.lchown(top, uid, uid)
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, uid)
