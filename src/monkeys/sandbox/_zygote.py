"""Fork-server worker: started once under the system Python, forks one confined child per execution.

Run as ``python3 -I -S _zygote.py <uid> <request fd> <reply fd>``; talks to the pool over those pipes.
The child confines itself (`_confine.confine_child`) and only then compiles and runs the untrusted
program, in a fresh ``__main__``; nothing untrusted ever runs in this process.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import collections, itertools, functools, math, heapq, bisect, re, string, fractions, decimal  # noqa: E401,F401,E402
import random, statistics, copy, operator, typing, types, io, traceback, threading, gc  # noqa: E401,F401,E402
import selectors, shutil, signal, time, builtins, tempfile  # noqa: E401,E402

import _confine  # noqa: E402, I001
import _wire  # noqa: E402


def run_child(source: bytes, fds: tuple[int, int, int, int], prot: dict, state: dict,
              workdir: str, limits: dict) -> None:
    """In the forked child: wire fds, confine, then run the program. Never returns.

    fd 3 tells the worker that confinement succeeded; it is closed before the program starts, so a
    program cannot fake a "sandbox failure" (or hide a real one).
    """
    code = 1
    try:
        for i, fd in enumerate(fds):
            os.dup2(fd, i)
        os.closerange(4, 1 << 16)  # the pool's pipes, the pid-ns handle, everything
        os.environ.clear()
        _confine.confine_child(prot, state, workdir, limits)
        if state["pidns_fd"] is not None:
            serve_as_init()  # returns only in the program's own process
        os.write(3, b"k")
        os.close(3)
        sys.path[:] = [p for p in sys.path if p != os.path.dirname(os.path.abspath(__file__))]
        for name in ("_confine", "_wire", "_landlock", "_seccomp"):
            sys.modules.pop(name, None)
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False), 1 << 16),
                                      encoding="utf-8")
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                      errors="backslashreplace", write_through=True)
        sys.argv = ["main.py"]
        main = types.ModuleType("__main__")
        main.__file__, main.__builtins__ = "main.py", builtins
        sys.modules["__main__"] = main
        gc.enable()
        try:
            # UNTRUSTED: runs only here, in the confined child (no privileges, own ns/uid/dir).
            exec(compile(source, "main.py", "exec"), main.__dict__)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if not isinstance(exc.code, (int, type(None))):
                print(exc.code, file=sys.stderr)
        except BaseException as exc:
            traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)  # hide this frame
            code = 1
        try:
            threading._shutdown()  # as the interpreter does: wait for non-daemon threads
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
    except BaseException as exc:  # confinement failed: report, never run the program
        try:
            os.write(2, f"monkeys-sandbox: confinement failed: {exc!r}\n".encode())
        except OSError:
            pass
        code = 125
    os._exit(code & 0xFF)


def serve_as_init() -> None:
    """Fork the program off this pid-namespace init, so it gets ordinary signal semantics (an init
    ignores signals it has no handler for); reap it and report its wait status on fd 3."""
    pid = os.fork()
    if pid == 0:
        return
    os.close(0), os.close(1), os.close(2)
    while True:
        try:
            wpid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
        if wpid == pid:
            os.write(3, b"s" + status.to_bytes(4, "little"))
            os._exit(0)


def kill_all(pid: int, state: dict) -> None:
    """Kill the execution's whole tree: its pid namespace init, its group, and every process of its uid."""
    for fn, target in ((os.kill, pid), (os.killpg, pid)):
        try:
            fn(target, signal.SIGKILL)
        except OSError:
            pass
    uid = state["uid"]
    if uid is not None and state["pidns_fd"] is None:  # with a pid ns, the init's end already kills all
        sweeper = os.fork()
        if sweeper == 0:
            try:
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(sweeper, 0)


def execute(source: bytes, stdin: bytes, limits: dict, prot: dict, state: dict, base: str, n: int) -> tuple:
    workdir = os.path.join(base, f"e{n}")
    os.mkdir(workdir, 0o700)
    if state["uid"] is not None:
        os.chown(workdir, state["uid"], state["uid"])
    stdin_fd = os.memfd_create("stdin", os.MFD_CLOEXEC)
    os.write(stdin_fd, stdin)
    os.lseek(stdin_fd, 0, os.SEEK_SET)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    cg = state["cgroup"]
    if cg is not None:
        cg.prepare(limits["memory_mb"], limits["max_processes"])
        ooms = cg.oom_kills()
    _confine.new_pid_namespace(state)
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        run_child(source, (stdin_fd, out_w, err_w, ready_w), prot, state, workdir, limits)
    _confine.reset_pid_namespace(state)
    for fd in (stdin_fd, out_w, err_w, ready_w):
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    cap, deadline = limits["max_output_bytes"], start + limits["timeout_s"]
    bufs = {out_r: bytearray(), err_r: bytearray()}
    sel = selectors.DefaultSelector()
    for fd in (out_r, err_r, pidfd):
        sel.register(fd, selectors.EVENT_READ)
    timed_out = truncated = exited = False
    drain_until = float("inf")
    while True:
        now = time.monotonic()
        if exited and (len(sel.get_map()) == 0 or now >= drain_until):
            break  # all pipes closed, or a descendant that escaped the kill still holds one
        if not exited and now >= deadline and not timed_out:
            timed_out = True
            kill_all(pid, state)
        for key, _ in sel.select(0.2 if exited or timed_out else max(deadline - now, 0)):
            fd = key.fd
            if fd == pidfd:
                sel.unregister(pidfd)
                exited, drain_until = True, time.monotonic() + 1.0
                kill_all(pid, state)  # leftovers: daemons, threads of forks
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                sel.unregister(fd)
            elif len(bufs[fd]) <= cap:
                bufs[fd] += chunk
                if len(bufs[fd]) > cap and not truncated:
                    truncated = True
                    kill_all(pid, state)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - start
    try:
        report = os.read(ready_r, 16)
    except BlockingIOError:
        report = b""
    confined = report[:1] == b"k"
    if report[1:2] == b"s":  # the program's own status, reported by the pid-namespace init
        status = int.from_bytes(report[2:6], "little")
    for fd in (out_r, err_r, pidfd, ready_r):
        os.close(fd)
    sel.close()
    shutil.rmtree(workdir, ignore_errors=True)
    oom = cg is not None and cg.oom_kills() > ooms
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    err = bytes(bufs[err_r][:cap])
    if not confined and not timed_out:
        raise RuntimeError(f"child could not confine itself: {err[-500:].decode(errors='replace')}")
    return ({"exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None, "signal": sig,
             "timed_out": timed_out, "output_truncated": truncated, "wall_s": wall,
             "cpu_s": usage.ru_utime + usage.ru_stime, "memory_exceeded": oom or b"MemoryError" in err[-400:],
             "max_rss_kb": usage.ru_maxrss}, [bytes(bufs[out_r][:cap]), err])


def main() -> None:
    global REQ_FD, REP_FD
    uid, REQ_FD, REP_FD = (int(a) for a in sys.argv[1:4])
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    prot, state = _confine.setup_worker(uid)
    base = tempfile.mkdtemp(prefix="monkeys-sbx-")
    os.chmod(base, 0o711)
    gc.collect()
    gc.freeze()  # children share these pages instead of copying them on the first collection
    _wire.send(REP_FD, {"op": "hello", "protections": prot, "pid": os.getpid()})
    source, n = b"", 0
    try:
        while True:
            try:
                header, blobs = _wire.recv(REQ_FD)
            except EOFError:
                break
            if header["op"] == "load":
                source = blobs[0]
                _wire.send(REP_FD, {"op": "loaded"})
            elif header["op"] == "exec":
                n += 1
                try:
                    result, out = execute(source, blobs[0], header["limits"], prot, state, base, n)
                except Exception:  # our bug or a broken host: say so instead of dying silently
                    _wire.send(REP_FD, {"op": "error", "message": traceback.format_exc(limit=-3)})
                    continue
                _wire.send(REP_FD, {"op": "result", **result}, out)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        if state["cgroup"] is not None:
            state["cgroup"].remove()


if __name__ == "__main__":
    main()
