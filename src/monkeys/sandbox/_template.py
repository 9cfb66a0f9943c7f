"""The template: forked by the worker before it ever sees a program, it forks every execution.

Why not fork executions from the worker itself: the worker's heap holds what it handled, earlier programs,
their stdin and their output, and a fork inherits all of it (a "copycat" sample found an earlier correct
program in its own memory and ran it). The template never receives a program, an input or an output: the
worker hands it open file descriptors (`SCM_RIGHTS`) and limits, and the child reads its program from a
memfd the template never reads. So every execution starts from the same clean memory.

The template is also the init of the worker's pid namespace where one can be made: after each execution
it kills every process in the namespace and reaps them (daemons, double forks), and signals from inside
cannot reach it. Before serving it makes its own IPC and mount namespaces (`_confine.private_mounts`) and
installs the seccomp filter, so executions inherit all three. Without a pid namespace it is a child
subreaper instead: orphans of an execution become its children, and it kills them.

Protocol over a SOCK_SEQPACKET pair (one message per datagram, JSON plus fds):
  worker -> template: {"op": "spawn", "limits": {...}} + fds [stdin, stdout, stderr, ready, report, job]
  template -> worker: {"op": "spawned"} + [pidfd of the child]
  worker -> template: {"op": "kill"} (a limit was hit; may arrive after the child ended: ignored then)
  template -> worker: {"op": "exited", "status", "utime", "stime", "maxrss"} once everything is reaped
"""

from __future__ import annotations

import fcntl
import gc
import json
import os
import select
import signal
import socket
from collections.abc import Callable
from typing import NoReturn

import _confine
import _wire

_MAX_FDS = 8
_PR_SET_PDEATHSIG, _PR_SET_CHILD_SUBREAPER = 1, 36


def _send(sock: socket.socket, msg: dict, fds: list[int] | tuple[int, ...] = ()) -> None:
    data = json.dumps(msg).encode()
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.send(data)


def _recv(sock: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(sock, 1 << 16, _MAX_FDS)
    if not data:
        raise EOFError("the template closed its channel")
    return json.loads(data), fds


class Template:
    """Worker side: starts the template process and asks it for executions."""

    def __init__(self, state: dict, make_runner: Callable[[], Callable[..., NoReturn]]) -> None:
        here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:  # the template: never returns
            here.close()
            _serve(there, state, make_runner)
        there.close()
        self.sock, self.pid = here, pid
        self.fd = here.fileno()
        hello, _ = _recv(here)
        self.protections: dict[str, str] = hello["protections"]

    def spawn(self, limits: dict, fds: list[int]) -> int:
        """Start one execution; returns its pidfd (owned by the caller)."""
        _send(self.sock, {"op": "spawn", "limits": limits}, fds)
        reply, got = _recv(self.sock)
        if reply.get("op") != "spawned" or len(got) != 1:
            for fd in got:
                os.close(fd)
            raise OSError(f"the template could not start an execution: {reply}")
        return got[0]

    def kill(self) -> None:
        _send(self.sock, {"op": "kill"})

    def exited(self) -> dict:
        """The end of the current execution (blocks until it and everything it started are gone)."""
        while True:
            reply, fds = _recv(self.sock)
            for fd in fds:
                os.close(fd)
            if reply.get("op") == "exited":
                return reply

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass


def _serve(sock: socket.socket, state: dict, make_runner: Callable[[], Callable[..., NoReturn]]) -> NoReturn:
    """The template process. Sets itself up once, then forks one child per "spawn" request."""
    try:
        _confine.libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        in_pidns = bool(state["pidns"]) and os.getpid() == 1
        prot = _confine.private_mounts(in_pidns)
        if not in_pidns:
            _confine.libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        _confine.install_seccomp(prot)
        runner = make_runner()
        prot["clean_template"] = ("active (each execution is forked from a process that never held a program, "
                                  "an input or an output)")
        gc.collect()
        gc.freeze()  # children share these pages instead of copying them on the first collection
        _send(sock, {"op": "hello", "protections": prot})
        while True:
            msg, fds = _recv(sock)
            if msg["op"] != "spawn":
                for fd in fds:
                    os.close(fd)
                continue  # a "kill" for an execution that already ended
            pid = os.fork()
            if pid == 0:
                sock.close()
                _child(fds, msg["limits"], state, runner)
            for fd in fds:
                os.close(fd)
            pidfd = os.pidfd_open(pid)
            _send(sock, {"op": "spawned"}, [pidfd])
            poller = select.poll()
            poller.register(sock.fileno(), select.POLLIN)
            poller.register(pidfd, select.POLLIN)
            done = False
            while not done:
                for fd, _ in poller.poll():
                    if fd == pidfd:
                        done = True
                    else:
                        more, extra = _recv(sock)
                        for x in extra:
                            os.close(x)
                        if more["op"] == "kill":
                            _kill_everything(pid, state, in_pidns, reap=False)
            os.close(pidfd)
            _, status, usage = os.wait4(pid, 0)
            _kill_everything(pid, state, in_pidns, reap=True)
            _send(sock, {"op": "exited", "status": status, "utime": usage.ru_utime, "stime": usage.ru_stime,
                         "maxrss": usage.ru_maxrss})
    except BaseException:  # EOF from the worker (it is gone), or a broken host: end quietly
        pass
    os._exit(0)


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


def _child(fds: list[int], limits: dict, state: dict, runner: Callable[..., NoReturn]) -> NoReturn:
    """In the forked child: wire fds, confine, read the job, then hand over to the harness.

    fd 3 tells the worker that confinement succeeded; it is closed before the program starts, so a
    program cannot fake a "sandbox failure" (or hide a real one). fd 4 is the report pipe.
    """
    code = 125
    try:
        # fds arrive as [stdin, stdout, stderr, ready, report, job] and go to 0-5; first out of the way
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in fds]
        landlock = None
        if state["landlock_fd"] is not None:
            landlock = fcntl.fcntl(state["landlock_fd"], fcntl.F_DUPFD, 64)
        for target, fd in enumerate(high):
            os.dup2(fd, target)
        if landlock is not None:
            landlock = os.dup2(landlock, 6)
        os.closerange(7 if landlock is not None else 6, 1 << 16)
        if os.environ:
            os.environ.clear()
        _confine.confine_child({}, state, limits, landlock)
        header, blobs = _wire.recv(5)
        os.close(5)
        os.write(3, b"k")
        os.close(3)
        gc.enable()
        runner(header, blobs[0], blobs[1] if len(blobs) > 1 else None, 4)
    except BaseException as exc:  # confinement failed: report, never run the program
        try:
            os.write(2, f"monkeys-sandbox: confinement failed: {exc!r}\n".encode())
        except OSError:
            pass
    os._exit(code)


def outer_pid(pidfd: int) -> int:
    """The pid, as this process's /proc names it, of the process a pidfd refers to."""
    with open(f"/proc/self/fdinfo/{pidfd}") as f:
        for line in f:
            if line.startswith("Pid:"):
                return int(line.split()[1])
    return -1
