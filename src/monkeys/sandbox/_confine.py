"""Confinement steps used by the fork-server worker: namespaces, cgroups, rlimits, uid drop.

Each step is probed once when the worker starts (`setup_worker`), and the result is what
`detect_protections` reports; per-execution steps (`confine_child`) then apply only what is active.
Standard library only (runs under the system Python).
"""

from __future__ import annotations

import ctypes
import os
import resource

import _landlock
import _seccomp

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x10000000, 0x20000000, 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


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
            os.makedirs(path, exist_ok=True)
            self.dirs[ctrl] = path
        self.v1 = os.path.exists(os.path.join(self.dirs.get("memory", ""), "memory.limit_in_bytes"))
        if "memory" in self.dirs and self.v1:
            _write(os.path.join(self.dirs["memory"], "memory.swappiness"), "0", missing_ok=True)

    def prepare(self, memory_mb: int, max_processes: int) -> None:
        mem = self.dirs.get("memory")
        if mem:
            limit = str((memory_mb + 64) << 20)  # slack over RLIMIT_AS, which usually trips first
            _write(os.path.join(mem, "memory.limit_in_bytes" if self.v1 else "memory.max"), limit)
        if "pids" in self.dirs:
            _write(os.path.join(self.dirs["pids"], "pids.max"), str(max_processes))

    def oom_kills(self) -> int:
        mem = self.dirs.get("memory")
        text = _read(os.path.join(mem, "memory.oom_control" if self.v1 else "memory.events")) if mem else ""
        for line in text.splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    def enter(self) -> None:
        for path in self.dirs.values():
            _write(os.path.join(path, "cgroup.procs"), "0")

    def remove(self) -> None:
        for path in self.dirs.values():
            try:
                os.rmdir(path)
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


def setup_worker(uid: int) -> tuple[dict[str, str], dict]:
    """Probe and enter what the worker itself needs: user/net namespaces, cgroups, pid-ns support."""
    prot: dict[str, str] = {}
    state: dict = {"uid": None, "pidns_fd": None, "cgroup": None}
    root = os.geteuid() == 0
    if not root:
        if libc.unshare(CLONE_NEWUSER) == 0:
            outer = os.getuid(), os.getgid()
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"0 {outer[0]} 1")
            _write("/proc/self/gid_map", f"0 {outer[1]} 1")
            prot["user_namespace"] = "active"
        else:
            prot["user_namespace"] = _err("unshare(CLONE_NEWUSER)")
    prot["network_namespace"] = "active (no interfaces up)" if libc.unshare(CLONE_NEWNET) == 0 \
        else _err("unshare(CLONE_NEWNET)")
    try:
        fd = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        if libc.setns(fd, CLONE_NEWPID) == 0 and libc.unshare(CLONE_NEWPID) == 0:
            libc.setns(fd, CLONE_NEWPID)
            state["pidns_fd"] = fd
            prot["pid_namespace"] = "active (one per execution; its end kills every descendant)"
        else:
            prot["pid_namespace"] = _err("unshare(CLONE_NEWPID)")
    except OSError as exc:
        prot["pid_namespace"] = f"unavailable: {exc}"
    if root:
        state["uid"] = uid
        prot["drop_uid"] = f"active (uid/gid {uid}, unique to this worker)"
        try:
            state["cgroup"] = cg = Cgroup(f"monkeys-sbx-{os.getpid()}")
            prot["cgroup"] = ("active: " + ", ".join(f"{k} ({'v1' if cg.v1 else 'v2'})" for k in cg.dirs)
                              if cg.dirs else "unavailable: no memory/pids controller")
        except OSError as exc:
            prot["cgroup"] = f"unavailable: {exc}"
    else:
        prot["drop_uid"] = "unavailable: not root (runs as the caller's uid)"
        prot["cgroup"] = "unavailable: not root"
    prot["rlimits"] = "active (address space, CPU, processes, file size, open files, no core)"
    prot["landlock"] = _landlock.available(libc)
    prot["seccomp"] = _seccomp.available()
    prot["empty_environment"] = prot["private_directory"] = prot["session_and_group_kill"] = "active"
    return prot, state


def new_pid_namespace(state: dict) -> None:
    """Make the next fork the init of a fresh pid namespace (reset, then unshare)."""
    if state["pidns_fd"] is not None:
        libc.setns(state["pidns_fd"], CLONE_NEWPID)
        if libc.unshare(CLONE_NEWPID) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWPID)")


def reset_pid_namespace(state: dict) -> None:
    """After the fork: later forks (the uid sweeper) go back to the worker's own pid namespace."""
    if state["pidns_fd"] is not None:
        libc.setns(state["pidns_fd"], CLONE_NEWPID)


def confine_child(prot: dict[str, str], state: dict, workdir: str, limits: dict) -> None:
    """In the forked child, before any untrusted code: rlimits, cgroup, Landlock, uid, seccomp."""
    os.setsid()
    if state["cgroup"] is not None:
        state["cgroup"].enter()
    os.chdir(workdir)
    mem = limits["memory_mb"] << 20
    cpu = int(limits["cpu_s"] if limits.get("cpu_s") is not None else limits["timeout_s"]) + 1
    for res, value in ((resource.RLIMIT_AS, mem), (resource.RLIMIT_CPU, cpu),
                       (resource.RLIMIT_FSIZE, limits["max_file_mb"] << 20),
                       (resource.RLIMIT_NOFILE, limits["max_open_files"]),
                       (resource.RLIMIT_NPROC, limits["max_processes"]), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(res, (value, value + 1 if res == resource.RLIMIT_CPU else value))
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "no_new_privs")
    if prot["landlock"].startswith("active"):
        _landlock.restrict(libc, workdir)
    if state["uid"] is not None:
        uid = state["uid"]
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    if prot["seccomp"] == "active":
        _seccomp.install(libc)
