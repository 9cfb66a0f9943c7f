"""Confinement steps used by the fork-server worker and its template: namespaces, mounts, cgroups,
rlimits, seccomp, uid drop.

Each step is probed once when the worker starts (`setup_worker`, in the worker; `private_mounts` and
`install_seccomp`, in the template it forks), and the result is what `detect_protections` reports;
per-execution steps (`confine_child`) then apply only what is active.
Standard library only (runs under the system Python).
"""

from __future__ import annotations

import ctypes
import fcntl
import math
import os
import resource
import shutil
import struct

import _landlock
import _seccomp

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x10000000, 0x20000000, 0x40000000
_FS_IOC_GETFLAGS, _FS_IOC_SETFLAGS = 0x80086601, 0x40086602
libc = ctypes.CDLL(None, use_errno=True)
for _name in ("prctl", "syscall", "capset", "unshare", "mount"):
    getattr(libc, _name)  # resolve once here: a lookup in each child would build the function anew
# capset's arguments, made here: the template disarms ctypes (`_ctypes_off`) before it forks any child, so
# a child can call the functions above but make no ctypes object. `forget_ctypes` drops them all.
_CAPSET: tuple | None = (
    ctypes.create_string_buffer(struct.pack("Ii", 0x20080522, 0), 8),  # header: _LINUX_CAPABILITY_VERSION_3
    ctypes.create_string_buffer(24))  # data: effective, permitted, inheritable x 2, all zero


def _err(what: str) -> str:
    return f"unavailable: {what}: {os.strerror(ctypes.get_errno())}"


class Cgroup:
    """A v1 memory + pids cgroup (or a v2 one) for this worker's executions, under our own cgroup."""

    def __init__(self, name: str) -> None:
        self.dirs: dict[str, str] = {}
        own = {}
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                for c in ctrls.split(","):
                    own[c] = path
        v2 = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified") else "/sys/fs/cgroup"
        v2_ctrls = _read(os.path.join(v2, own.get("", "/").lstrip("/"), "cgroup.subtree_control")).split()
        for ctrl in ("memory", "pids"):
            if ctrl in v2_ctrls:
                base = os.path.join(v2, own[""].lstrip("/"))
            elif ctrl in own and os.path.isdir(f"/sys/fs/cgroup/{ctrl}"):
                base = os.path.join(f"/sys/fs/cgroup/{ctrl}", own[ctrl].lstrip("/"))
            else:
                continue
            path = os.path.join(base, name)
            self.sweep(base)
            os.makedirs(path, exist_ok=True)
            self.dirs[ctrl] = path
        self.v1 = os.path.exists(os.path.join(self.dirs.get("memory", ""), "memory.limit_in_bytes"))
        if "memory" in self.dirs and self.v1:
            _write(os.path.join(self.dirs["memory"], "memory.swappiness"), "0", missing_ok=True)

        self.limits: tuple[int, int] | None = None
        self.oom_exempt = False

    def prepare(self, memory_mb: int, max_processes: int) -> None:
        """Write the limit files, only when they differ from the last execution's (usually never)."""
        if self.limits == (memory_mb, max_processes):
            return
        mem = self.dirs.get("memory")
        if mem:
            limit = str((memory_mb + 64) << 20)  # slack over RLIMIT_AS, which usually trips first
            _write(os.path.join(mem, "memory.limit_in_bytes" if self.v1 else "memory.max"), limit)
        if "pids" in self.dirs:  # the worker and the pid-namespace init live here too
            _write(os.path.join(self.dirs["pids"], "pids.max"), str(max_processes + 2))
        self.limits = (memory_mb, max_processes)

    def oom_kills(self) -> int:
        mem = self.dirs.get("memory")
        text = _read(os.path.join(mem, "memory.oom_control" if self.v1 else "memory.events")) if mem else ""
        for line in text.splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    def enter(self) -> None:
        """Move the calling process (the worker, once) here: its children are then born inside, which
        spares each execution a cgroup migration (milliseconds on v1). Where allowed (CAP_SYS_RESOURCE)
        the worker is exempt from the OOM killer and each child resets its own score; elsewhere the
        OOM killer still picks the largest process, the program (pids.max keeps many small ones out)."""
        for path in self.dirs.values():
            _write(os.path.join(path, "cgroup.procs"), "0")
        try:
            _write("/proc/self/oom_score_adj", "-1000")
            self.oom_exempt = True
        except OSError:
            self.oom_exempt = False

    def remove(self) -> None:
        """Leave (back to the parent cgroup) and delete; the caller's children must be gone."""
        for path in self.dirs.values():
            try:
                _write(os.path.join(os.path.dirname(path), "cgroup.procs"), "0")
                os.rmdir(path)
            except OSError:
                pass

    @staticmethod
    def sweep(parent: str) -> None:
        """Delete the empty cgroups of workers that died without cleaning up (SIGKILL)."""
        for name in os.listdir(parent):
            pid = name.removeprefix("monkeys-sbx-")
            if pid != name and pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                try:
                    os.rmdir(os.path.join(parent, name))
                except OSError:
                    pass


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _write(path: str, value: str, missing_ok: bool = False) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except FileNotFoundError:
        if not missing_ok:
            raise


def setup_worker(uid: int, base: str, hidden: list[str]) -> tuple[dict[str, str], dict]:
    """Probe and enter what the worker itself needs: user/net namespaces, cgroup, pid namespace, its
    directory and Landlock ruleset (the system directories but `hidden`, the installed packages: see
    `_readable`). Everything per-worker is built here once, not per execution."""
    prot: dict[str, str] = {}
    state: dict = {"uid": None, "pidns": None, "cgroup": None, "landlock_fd": None,
                   "userns": False, "hidden": list(hidden)}
    root = os.geteuid() == 0
    if not root:
        if libc.unshare(CLONE_NEWUSER) == 0:
            outer = os.getuid(), os.getgid()
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"0 {outer[0]} 1")
            _write("/proc/self/gid_map", f"0 {outer[1]} 1")
            prot["user_namespace"] = "active (programs keep no capabilities in it)"
            state["userns"] = True
        else:
            prot["user_namespace"] = _err("unshare(CLONE_NEWUSER)")
    prot["network_namespace"] = "active (no interfaces up)" if libc.unshare(CLONE_NEWNET) == 0 \
        else _err("unshare(CLONE_NEWNET)")
    if root:
        state["uid"] = uid
        prot["drop_uid"] = f"active (uid/gid {uid}, unique to this worker)"
        try:
            state["cgroup"] = cg = Cgroup(f"monkeys-sbx-{os.getpid()}")
            if cg.dirs:
                cg.enter()
            prot["cgroup"] = ("active: " + ", ".join(f"{k} ({'v1' if cg.v1 else 'v2'})" for k in cg.dirs)
                              + ", one per worker, entered once" if cg.dirs
                              else "unavailable: no memory/pids controller")
        except OSError as exc:
            prot["cgroup"] = f"unavailable: {exc}"
    else:
        prot["drop_uid"] = "unavailable: not root (runs as the caller's uid)"
        prot["cgroup"] = "unavailable: not root"
    workdir = os.path.join(base, "w")
    os.mkdir(workdir, 0o700)
    state["workdir"] = workdir
    prot["rlimits"] = "active (address space, CPU, processes, file size, open files, no core)"
    prot["landlock"] = _landlock.available(libc)
    if prot["landlock"].startswith("active"):
        try:
            state["landlock_fd"] = _landlock.ruleset(libc, workdir, hidden)
            abi = _landlock.abi_version(libc)
            prot["landlock"] += ", no /proc" + (", signals and abstract sockets scoped" if abi >= 6 else "") \
                + (f", no installed packages ({len(hidden)} directories)" if hidden else "")
        except OSError as exc:
            prot["landlock"] = f"unavailable: {exc}"
    if libc.unshare(CLONE_NEWPID) == 0:  # the worker's next child, the template, is the namespace's init
        state["pidns"] = True
        prot["pid_namespace"] = ("active (one per worker; its init, the template, kills every process in it "
                                 "after each run)")
    else:
        prot["pid_namespace"] = _err("unshare(CLONE_NEWPID)")
    os.chdir(workdir)  # inherited by each child; the directory is emptied in place, never replaced
    prot["empty_environment"] = prot["private_directory"] = prot["session_and_group_kill"] = "active"
    prot["cpu_time_limit"] = "active (polled from /proc, RLIMIT_CPU as a backstop)"
    return prot, state


MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 0x4000, 1 << 18
MS_REMOUNT, MS_NOATIME, MS_BIND = 32, 1024, 4096
CLONE_NEWIPC = 0x08000000
EMPTY_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run", "/sys")


def _no_atime() -> bool:
    """Every mount of the template's namespace remounted `noatime` (its other flags kept): a program's read of
    a file set its access time (relatime: once a day per file), which later programs, on any worker, read with
    `os.stat` (ninth audit round: whether it had read each of a list of system files, one bit per file). False
    where the mounts' atime flags are locked (a user namespace's mounts) or mountinfo cannot be read."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            mounts = [line.split() for line in f]
    except OSError:
        return False
    done = 0
    for fields in mounts:
        if len(fields) < 6:
            continue
        point = fields[4].encode("utf-8", "surrogateescape").decode("unicode_escape").encode("latin-1")
        flags = MS_REMOUNT | MS_BIND | MS_NOATIME
        options = fields[5].split(",")
        for name, bit in (("ro", MS_RDONLY), ("nosuid", MS_NOSUID), ("nodev", MS_NODEV), ("noexec", MS_NOEXEC)):
            if name in options:
                flags |= bit
        if libc.mount(None, point, None, flags, None) == 0:
            done += 1
    return done > 0


def private_mounts(in_pidns: bool, hidden: tuple[str, ...] | list[str] = ()) -> dict[str, str]:
    """In the template, once: an IPC namespace and a mount namespace of its own, with a /proc of the
    worker's pid namespace (hidepid: a program sees its own processes only) and empty read-only tmpfs over
    the directories where a program could leave something for a later one or find the host's (/tmp,
    /var/tmp, /dev/shm, /run, /sys). The working directory (under the host's /tmp) stays reachable as the
    current directory, entered before the mounts."""
    prot: dict[str, str] = {}
    prot["ipc_namespace"] = ("active (and SysV/POSIX IPC calls refused by seccomp)"
                             if libc.unshare(CLONE_NEWIPC) == 0 else _err("unshare(CLONE_NEWIPC)"))
    if libc.unshare(CLONE_NEWNS) != 0:
        prot["private_mounts"] = _err("unshare(CLONE_NEWNS)")
        return prot
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        prot["private_mounts"] = _err("mount --make-rprivate /")
        return prot
    done, failed = [], []
    if _no_atime():
        done.append("no access times")
    if in_pidns:
        if libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, b"hidepid=2") == 0:
            done.append("/proc of its own (hidepid)")
        else:
            failed.append(f"/proc: {os.strerror(ctypes.get_errno())}")
    covered = 0
    for path in (*EMPTY_DIRS, *hidden):
        if not os.path.isdir(path):
            continue
        flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
        if libc.mount(b"tmpfs", path.encode(), b"tmpfs", flags, b"size=4k,mode=755") == 0:
            if path in EMPTY_DIRS:
                done.append(path + " empty and read-only")
            else:
                covered += 1
        else:
            failed.append(f"{path}: {os.strerror(ctypes.get_errno())}")
    if covered:
        done.append(f"{covered} directories of installed packages covered by an empty one")
    prot["private_mounts"] = ("active: " + ", ".join(done) if done else "unavailable") + (
        f"; not mounted: {', '.join(failed)}" if failed else "")
    return prot


def install_seccomp(prot: dict[str, str], state: dict) -> None:
    """In the template, last: the filter every execution inherits at fork (installing it per child costs
    ~100 us). The template needs none of the refused calls afterwards."""
    prot["seccomp"] = _seccomp.available()
    if prot["seccomp"] != "active":
        return
    try:
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS, as the filter requires
            raise OSError(ctypes.get_errno(), "no_new_privs")
        state["no_new_privs"] = True  # inherited by every execution: they need not set it again
        _seccomp.Filter().install(libc)
        prot["seccomp"] = ("active (no ptrace, namespaces, mounts, sockets, SysV/POSIX IPC, signal handlers, "
                           "io_uring, bpf, ...; installed on the template, inherited by every execution)")
    except OSError as exc:
        prot["seccomp"] = f"unavailable: {exc}"


def drop_capabilities() -> None:
    """Without root there is no uid to drop to; inside our user namespace the child is uid 0 with every
    capability there. Lock root semantics off (no capabilities regained on execve) and clear them all."""
    if libc.prctl(28, 0x2F, 0, 0, 0) != 0:  # PR_SET_SECUREBITS: NOROOT, NO_SETUID_FIXUP, both locked
        raise OSError(ctypes.get_errno(), "PR_SET_SECUREBITS")
    if _CAPSET is None:
        raise OSError("capset: its buffers were dropped (forget_ctypes)")
    if libc.capset(*_CAPSET) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def forget_ctypes() -> None:
    """In a child with the guard, once confined: drop the last ctypes objects made before the disarm (the C
    functions confinement called, capset's buffers): reachable from this module's functions' globals, they
    would still call C or serve as memory a program reads and writes through."""
    global libc, _CAPSET
    libc = None  # type: ignore[assignment]
    _CAPSET = None


def _reset_inode(path: str, state: dict) -> None:
    """What the directory's inode keeps besides its entries, put back as the first execution found it: a program
    (its owner) set extended attributes (`user.*`, an ACL) and inode flags (nodump, noatime, sync, dirsync) on it
    that the next program read (a ninth audit round: a `user.` attribute carried any bytes to the next sample)."""
    for name in os.listxattr(path):
        try:
            os.removexattr(path, name)
        except OSError:
            pass
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        now = fcntl.ioctl(fd, _FS_IOC_GETFLAGS, bytes(4))
        first = state.setdefault("workdir_flags", now)
        if now != first:
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS, first)
    except OSError:  # a file system without inode flags
        pass
    finally:
        os.close(fd)


def reset_workdir(state: dict) -> None:
    """Empty the worker's directory between executions, keeping its inode (the Landlock rule names it)."""
    path = state["workdir"]
    with os.scandir(path) as it:
        names = [e.name for e in it]
    for name in names:
        full = os.path.join(path, name)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full, ignore_errors=True)
        else:
            try:
                os.unlink(full)
            except OSError:
                pass
    if names and os.listdir(path):
        raise OSError(f"cannot empty {path}")
    _reset_inode(path, state)
    os.chmod(path, 0o700)
    if state["uid"] is not None:
        os.chown(path, state["uid"], state["uid"])


def confine_child(prot: dict[str, str], state: dict, limits: dict, landlock_fd: int | None) -> None:
    """In the forked child, before any untrusted code: session, rlimits, OOM score, Landlock, uid (the
    seccomp filter, the namespaces and the working directory are the template's, inherited)."""
    os.setsid()
    mem = limits["memory_mb"] << 20
    cpu = math.ceil(limits["cpu_s"]) + 1  # backstop; the worker enforces the exact limit
    for res, value in ((resource.RLIMIT_AS, mem), (resource.RLIMIT_CPU, cpu),
                       (resource.RLIMIT_FSIZE, limits["max_file_mb"] << 20),
                       (resource.RLIMIT_NOFILE, limits["max_open_files"]),
                       (resource.RLIMIT_NPROC, limits["max_processes"]), (resource.RLIMIT_CORE, 0)):
        hard = resource.getrlimit(res)[1]  # a caller's lower hard limit stays: it cannot be raised, only kept
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard - 1 if res == resource.RLIMIT_CPU else hard)
        resource.setrlimit(res, (value, value + 1 if res == resource.RLIMIT_CPU else value))
    if state["cgroup"] is not None and state["cgroup"].oom_exempt:
        # the worker's -1000 is inherited; the program gets none. os.open, not open(): a Python file object
        # touches the io machinery, a few dozen copy-on-write faults in every child
        fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)
    if not state.get("no_new_privs") and libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "no_new_privs")
    if landlock_fd is not None:
        _landlock.restrict_self(libc, landlock_fd)
        os.close(landlock_fd)
    if state["uid"] is not None:
        uid = state["uid"]
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    elif state["userns"]:
        drop_capabilities()
