"""The template: forked by the worker before it ever sees a program, it forks every execution.

Why not fork executions from the worker itself: the worker's heap holds what it handled, earlier programs,
their stdin and their output, and a fork inherits all of it (a "copycat" sample found an earlier correct
program in its own memory and ran it). The template never reads a program, an input or an output: the
worker writes each execution's job (nonce, program, tests) and stdin into memfds and the child reads them;
the child's output goes to pipes the worker reads. So every execution starts from the same clean memory.

The template is also the init of the worker's pid namespace where one can be made: after each execution
it kills every process in the namespace and reaps them (daemons, double forks), and signals from inside
cannot reach it. Before serving it makes its own IPC and mount namespaces (`_confine.private_mounts`),
installs the seccomp filter, builds the harness's runner and then disarms ctypes and hides frame links
(`_ctypes_off`), so executions inherit all of it: a child with the guard starts disarmed (done in each
child, the disarm cost ~1.1 ms CPU and ~280 copy-on-write faults); one without it re-arms in its own
child. Without a pid namespace it is a child subreaper instead: orphans of an execution become its
children, and it kills them. It enforces the time limits (CPU time polled from /proc, and the wall clock)
since it is the one waiting for the child.

Everything an execution uses is made once, when the template starts, and inherited at fixed numbers
(`FD_BASE`...): the job and stdin memfds (read-only descriptions of the worker's), the stdout, stderr,
"confined" and report pipes. Per execution the worker only rewrites the memfds and sends one fixed-size
request; the template answers with one fixed-size reply once everything the execution started is gone
(so the worker can drain the pipes knowing nothing writes to them any more). Measured: a file-descriptor
handover and JSON per execution cost the template ~0.5 ms, mostly copy-on-write faults after each fork.
"""

from __future__ import annotations

import fcntl
import gc
import os
import select
import signal
import struct
import time
from collections.abc import Callable
from typing import NoReturn

import _confine
import _ctypes_off
import _wire

FD_BASE = 100  # in the template: stdin, stdout, stderr, confined, report, job, landlock ruleset
_LIMITS = struct.Struct("=ddIIII")  # cpu_s, timeout_s, memory_mb, max_file_mb, max_open_files, max_processes
_REPLY = struct.Struct("=iddqb")  # wait status, user s, system s, max rss KiB, limit hit (0, 1 cpu, 2 wall)
JOB_HEAD = struct.Struct("=32sBQQ")  # nonce (hex), flags, program length, tests length
GUARD, PROGRAM_MARSHAL, TESTS_MARSHAL, HAS_TESTS = 1, 2, 4, 8
_PR_SET_PDEATHSIG, _PR_SET_CHILD_SUBREAPER = 1, 36
_F_SETSIG, _F_GETPIPE_SZ, _F_SETPIPE_SZ = 10, 1032, 1031
_SHARED = (0, 1, 2, 4)  # stdin, stdout, stderr, report: the descriptions a program holds, shared by all executions
_TICK = os.sysconf("SC_CLK_TCK")


class Template:
    """Worker side: starts the template process and asks it for executions."""

    def __init__(self, state: dict, make_runner: Callable[[], Callable[..., NoReturn]]) -> None:
        self.job = os.memfd_create("job", os.MFD_CLOEXEC)
        self.stdin = os.memfd_create("stdin", os.MFD_CLOEXEC)
        # the child's descriptions are read-only and have their own offsets (reopened through /proc)
        job_ro = os.open(f"/proc/self/fd/{self.job}", os.O_RDONLY | os.O_CLOEXEC)
        stdin_ro = os.open(f"/proc/self/fd/{self.stdin}", os.O_RDONLY | os.O_CLOEXEC)
        self.out, out_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.err, err_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.ready, ready_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.report, report_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        # the program's stdout and stderr block when full, as a terminal's or a judge's do (the worker reads
        # them as they fill): non-blocking, a correct program printing more than a pipe holds (64 KiB) before
        # the worker's next read failed with BlockingIOError
        os.set_blocking(out_w, True)
        os.set_blocking(err_w, True)
        cmd_r, self.cmd = os.pipe2(os.O_CLOEXEC)
        self.reply, reply_w = os.pipe2(os.O_CLOEXEC)
        child_side = [stdin_ro, out_w, err_w, ready_w, report_w, job_ro]
        if state["landlock_fd"] is not None:
            child_side.append(state["landlock_fd"])
        pid = os.fork()
        if pid == 0:  # the template: never returns
            try:
                for fd in (self.job, self.stdin, self.out, self.err, self.ready, self.report, self.cmd, self.reply):
                    os.close(fd)
                for i, fd in enumerate(child_side):
                    os.dup2(fd, FD_BASE + i)  # inheritable, for the children
                state["fds"] = len(child_side)
                _serve(cmd_r, reply_w, state, make_runner)
            finally:
                os._exit(0)
        for fd in (*child_side[:6], cmd_r, reply_w):
            os.close(fd)
        self.pid = pid
        hello, _ = _wire.recv(self.reply)
        self.protections: dict[str, str] = hello["protections"]

    def spawn(self, limits: dict, job: bytes, stdin: bytes) -> None:
        """Start one execution of `job` (see `JOB_HEAD`) with `stdin`."""
        for fd, data in ((self.job, job), (self.stdin, stdin)):
            os.ftruncate(fd, 0)
            if data:
                os.pwrite(fd, data, 0)
        os.write(self.cmd, b"s" + _LIMITS.pack(limits["cpu_s"], limits["timeout_s"], limits["memory_mb"],
                                               limits["max_file_mb"], limits["max_open_files"],
                                               limits["max_processes"]))

    def kill(self) -> None:
        os.write(self.cmd, b"k")

    def exited(self) -> tuple[int, float, float, int, str | None]:
        """The end of the current execution: (wait status, user s, system s, max rss KiB, limit hit)."""
        data = _wire.read_exact(self.reply, _REPLY.size)
        status, user, system, rss, hit = _REPLY.unpack(data)
        return status, user, system, rss, (None, "cpu", "wall")[hit]

    def close(self) -> None:
        for fd in (self.cmd, self.reply, self.job, self.stdin, self.out, self.err, self.ready, self.report):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except OSError:
            pass


def _serve(cmd: int, reply: int, state: dict, make_runner: Callable[[], Callable[..., NoReturn]]) -> None:
    """The template process. Sets itself up once, then forks one child per request."""
    _confine.libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    in_pidns = bool(state["pidns"]) and os.getpid() == 1
    prot = _confine.private_mounts(in_pidns, state["hidden"])
    # /proc/<pid> names the child as this process sees it: true with our own /proc or no pid namespace
    own_proc = not in_pidns or "/proc of its own" in prot.get("private_mounts", "")
    if not in_pidns:
        _confine.libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    _confine.install_seccomp(prot, state)
    runner = make_runner()  # before the disarm: the harness takes the frame type's links first
    rearm: Callable[[], None] | None = None
    disarm_error = None
    try:
        rearm = _ctypes_off.disarm_ctypes()
    except _ctypes_off.LayoutError as exc:  # nothing written: executions with the guard refuse to run
        disarm_error = str(exc)
    # Held in this frame only, for as long as the template lives (programs get no frame, and no module's
    # globals lead here): what re-arms ctypes for an execution without the guard, and `_confine`'s ctypes
    # objects, so that a guarded child's `forget_ctypes` rebinds two names instead of freeing objects
    # (freeing all of these in each child cost ~140 us and ~65 copy-on-write faults).
    kept = (rearm, _confine.libc, _confine._CAPSET)
    prot["clean_template"] = ("active (each execution is forked from a process that never held a program, "
                              "an input or an output)")
    shared = _shared_state()
    last_pid = _last_pid(in_pidns, prot)
    gc.collect()
    gc.freeze()  # children share these pages instead of copying them on the first collection
    _wire.send(reply, {"op": "hello", "protections": prot})
    while True:
        op = os.read(cmd, 1)
        if not op:
            return  # the worker is gone
        if op != b"s":
            continue  # a "kill" for an execution that already ended
        cpu_s, timeout_s, *rest = _LIMITS.unpack(_wire.read_exact(cmd, _LIMITS.size))
        limits = {"cpu_s": cpu_s, "memory_mb": rest[0], "max_file_mb": rest[1], "max_open_files": rest[2],
                  "max_processes": rest[3]}
        _restore(shared)  # (the worker drained the last execution's pipes before asking for this one)
        if last_pid is not None:  # every child is pid 2, whatever the last one forked (see `_last_pid`)
            try:
                os.pwrite(last_pid, b"1", 0)
            except OSError:
                pass
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(limits, state, runner, kept, disarm_error)
        hit = _watch(pid, cmd, cpu_s, start + timeout_s, state, in_pidns, own_proc)
        _, status, usage = os.wait4(pid, 0)
        _kill_everything(pid, state, in_pidns, reap=True)
        if hit == 0 and usage.ru_utime + usage.ru_stime > cpu_s:
            hit = 1  # finished, but over its CPU budget (between two checks)
        os.write(reply, _REPLY.pack(status, usage.ru_utime, usage.ru_stime, usage.ru_maxrss, hit))


def _last_pid(in_pidns: bool, prot: dict[str, str]) -> int | None:
    """The pid namespace's `ns_last_pid`, open for writing, where the template may set it; else None.

    Pids in the worker's namespace were handed out in sequence across executions, so a program could leave
    the counter where the next one's pid told a number it chose (fork and reap until `(pid + 1) % 1000` is
    the value: ten bits per execution, guard on, pure Python). Set to 1 before each fork, every child is pid 2
    and its own children follow from 3 (all were killed and reaped before)."""
    if not in_pidns:
        return None
    try:
        fd = os.open("/proc/sys/kernel/ns_last_pid", os.O_WRONLY | os.O_CLOEXEC)
        os.pwrite(fd, b"1", 0)
    except OSError as exc:
        prot["pid_namespace"] = prot.get("pid_namespace", "active") + f" (pids not reset per execution: {exc.strerror})"
        return None
    return fd


def _shared_state() -> list[tuple[int, int, int]]:
    """The status flags and pipe sizes of the descriptions every execution inherits, as made (`_restore`)."""
    out = []
    for i in _SHARED:
        fd = FD_BASE + i
        try:
            size = fcntl.fcntl(fd, _F_GETPIPE_SZ)
        except OSError:
            size = 0  # not a pipe (the stdin memfd)
        out.append((fd, fcntl.fcntl(fd, fcntl.F_GETFL), size))
    return out


def _restore(shared: list[tuple[int, int, int]]) -> None:
    """Put the shared descriptions back as made. Their state outlives an execution (it belongs to the
    description the template holds, not to the process), so a program had left bits for the next one to
    read: O_NONBLOCK / O_APPEND / O_ASYNC set with F_SETFL, a signal number with F_SETSIG, an owner, a pipe
    size (and a non-blocking stdout made the next program's large output fail)."""
    for fd, flags, size in shared:
        for op, arg in ((fcntl.F_SETFL, flags), (_F_SETSIG, 0), (fcntl.F_SETOWN, 0), (_F_SETPIPE_SZ, size)):
            if arg or op != _F_SETPIPE_SZ:
                try:
                    fcntl.fcntl(fd, op, arg)
                except OSError:
                    pass


def _watch(pid: int, cmd: int, cpu_limit: float, deadline: float, state: dict, in_pidns: bool,
           own_proc: bool) -> int:
    """Wait for the child to end; kill everything at the wall clock, the CPU limit or the worker's
    request (output cap). Returns the limit hit: 0 none, 1 CPU, 2 wall."""
    pidfd = os.pidfd_open(pid)
    stat = f"/proc/{pid}/stat" if own_proc else None
    poller = select.poll()
    poller.register(cmd, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    now = time.monotonic()
    next_cpu_check = now + cpu_limit / 2  # two busy threads on two cores could get there by then
    hit, killed = 0, False
    try:
        while True:
            wait = 0.2 if killed else max(min(deadline, next_cpu_check) - now, 0)
            events = poller.poll(wait * 1000 + 1)  # ms, rounded up: never spin on a 0 ms wait
            for fd, _ in events:
                if fd == pidfd:
                    return hit
                if os.read(cmd, 1) == b"k" and not killed:
                    _kill_everything(pid, state, in_pidns, reap=False)
                    killed = True
            now = time.monotonic()
            if killed:
                continue
            if now >= deadline:
                hit = 2
            elif now >= next_cpu_check:
                if stat is None:
                    stat = f"/proc/{_outer_pid(pidfd)}/stat"
                used = _cpu_time(stat)
                if used >= cpu_limit:
                    hit = 1
                next_cpu_check = now + max((cpu_limit - used) / 2, 0.01)
            if hit:
                _kill_everything(pid, state, in_pidns, reap=False)
                killed = True
    finally:
        os.close(pidfd)


def _cpu_time(stat: str) -> float:
    """CPU seconds of a live process (all its threads, and children it reaped), from /proc."""
    try:
        with open(stat, "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / _TICK


def _outer_pid(pidfd: int) -> int:
    """The pid, as this process's /proc names it, of the process a pidfd refers to."""
    with open(f"/proc/self/fdinfo/{pidfd}") as f:
        for line in f:
            if line.startswith("Pid:"):
                return int(line.split()[1])
    return -1


def _kill_everything(pid: int, state: dict, in_pidns: bool, reap: bool) -> None:
    """Kill every process of the execution: all of the namespace as its init; else the child's session
    and group, the dropped uid's processes, and every orphan adopted as subreaper. With `reap` (once the
    child itself was waited for) also reap them all."""
    if in_pidns:
        try:
            os.kill(-1, signal.SIGKILL)  # everything in this namespace except its init
        except OSError:
            pass
    else:
        for fn in (os.kill, os.killpg):
            try:
                fn(pid, signal.SIGKILL)
            except OSError:
                pass
        uid = state["uid"]
        if uid is not None:
            sweeper = os.fork()
            if sweeper == 0:
                try:
                    os.setresuid(uid, uid, uid)
                    os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(sweeper, 0)
        _kill_children()
    while reap:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if not in_pidns:
            _kill_children()


def _kill_children() -> None:
    """SIGKILL every child of ours (as subreaper, orphaned descendants are children too)."""
    me = os.getpid()
    try:
        with open(f"/proc/{me}/task/{me}/children") as f:
            pids = [int(p) for p in f.read().split()]
    except OSError:
        return
    for child in pids:
        for fn in (os.killpg, os.kill):
            try:
                fn(child, signal.SIGKILL)
            except OSError:
                pass


def _child(limits: dict, state: dict, runner: Callable[..., NoReturn], kept: tuple, disarm_error: str | None
           ) -> NoReturn:
    """In the forked child: fds into place, confine, read the job, then hand over to the harness.

    ctypes is already disarmed (the template's `_ctypes_off.disarm_ctypes`): confinement calls only C
    functions made before it. Then, with the guard, `_confine` drops them (the last ctypes objects a program
    could reach, through its functions' globals); without it, `kept[0]` re-arms ctypes and the frame links.
    fd 3 tells the worker that confinement succeeded; it is closed before the program starts, so a
    program cannot fake a "sandbox failure" (or hide a real one). fd 4 is the report pipe.
    """
    try:
        n = state["fds"]
        for i in range(n):
            os.dup2(FD_BASE + i, i)
        os.closerange(n, 1 << 16)
        os.set_inheritable(4, False)  # the report pipe: a program that execs another one does not pass it on
        os.lseek(0, 0, os.SEEK_SET)  # the stdin description is shared by every execution: rewind it
        if os.environ:
            os.environ.clear()
        _confine.confine_child({}, state, limits, 6 if n > 6 else None)
        nonce, flags, n_program, n_tests = JOB_HEAD.unpack(os.pread(5, JOB_HEAD.size, 0))
        body = os.pread(5, n_program + n_tests, JOB_HEAD.size)
        os.close(5)
        if flags & GUARD:  # part of the in-process guard: no ctypes object can be made or used from here on
            if disarm_error is not None:
                raise RuntimeError(disarm_error)
            _confine.forget_ctypes()  # the last ready-made ctypes objects: what confinement called and passed
        elif kept[0] is not None:
            kept[0]()  # the OS layer alone: ctypes and frames as the interpreter made them
        os.write(3, b"k")
        os.close(3)
        gc.enable()
        job = {"nonce": nonce.decode(), "guard": bool(flags & GUARD), "program_marshal": bool(flags & PROGRAM_MARSHAL),
               "tests_marshal": bool(flags & TESTS_MARSHAL)}
        runner(job, body[:n_program], body[n_program:] if flags & HAS_TESTS else None, 4)
    except BaseException as exc:  # confinement failed: report, never run the program
        try:
            os.write(2, f"monkeys-sandbox: confinement failed: {exc!r}\n".encode())
        except OSError:
            pass
    os._exit(125)
