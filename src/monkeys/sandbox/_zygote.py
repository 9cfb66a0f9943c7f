"""Fork-server worker: started once under the system Python, forks one confined child per execution.

Run as ``python3 -I -S _zygote.py <uid> <request fd> <reply fd>``; talks to the pool over those pipes.
Everything that does not depend on the program is set up once here (`_confine.setup_worker`): cgroup,
pid namespace and its init, the directory and its Landlock ruleset, the seccomp filter. Each execution
is then one fork: the child confines itself (`_confine.confine_child`) and only then runs the untrusted
program, in a fresh ``__main__``; nothing untrusted ever runs in this process.

Compiling is done here, before the fork (`precompile`), once per program: the child inherits the code
object. A compile in a freshly forked child costs ~650 us (its parser and compiler state are
copy-on-write pages, ~160 faults); here, warm, ~115 us, and once for all the tests of a `run_many`.
Compiling is not executing: the source is parsed and turned into bytecode, none of it runs (no
``__future__`` import or decorator or default value runs at compile time; constant folding is bounded
by CPython's own size limits). What a hostile source can still do to a compiler is make it slow, big
or deep, so it is bounded here:
- only sources up to `PRECOMPILE_MAX_BYTES` (16 KB) are compiled here; larger ones are compiled by the
  child, confined, as before. Measured on the worst shapes found (deep nesting of unary/binary operators,
  attribute/call/subscript chains, lambdas, nested tuples, long and/elif chains, huge int literals):
  every one ends in at most ~20 ms, with an exception (RecursionError, MemoryError from the parser's own
  limits, SyntaxError) or a code object; no crash;
- the compile's CPU time is charged to the execution (added to its CPU use and taken off its CPU
  budget), as it was when the child compiled;
- if compiling fails (any exception) or emits a warning, nothing of it is kept: the child compiles the
  source itself and reports exactly as before (exit code 1, the traceback or warning on the program's
  stderr). Failures are rare (syntax errors), so they pay the old price.
The code is compiled as ``python main.py`` would: ``dont_inherit=True`` (no ``__future__`` flags of this
file leak into the program), filename ``main.py``.
"""

from __future__ import annotations

import builtins
import gc
import io
import os
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback
import types
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _confine  # noqa: E402
import _wire  # noqa: E402

# Preloaded for the programs (an import in the child would cost milliseconds). Not `threading`: its
# after-fork hook would run in every child (~130 page faults); a program that wants it imports it.
PRELOAD = ("bisect", "collections", "copy", "decimal", "fractions", "functools", "heapq", "itertools", "math",
           "operator", "random", "re", "statistics", "string", "typing")
for _name in PRELOAD:
    __import__(_name)

_TICK = os.sysconf("SC_CLK_TCK")
_HERE = os.path.dirname(os.path.abspath(__file__))
_PROGRAM_PATH = [p for p in sys.path if p != _HERE]
# The program's stdio, built once: they name fds 0-2, which each child points at its own pipes.
_STDIN = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
_STDOUT = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False), 1 << 16), encoding="utf-8")
_STDERR = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace",
                           write_through=True)
# Trusted code compiled and run once here, so each child does not initialise the compiler on its own:
# the first compile() in a process builds the AST types and parser state (measured: 1.1-1.4 ms and ~150
# copy-on-write page faults per child without this, 70 us and ~25 faults with it).
_WARMUP = """
import sys
def f(a, *b, k=1, **c):
    try:
        return [x * k for x in a if x] + list(map(int, b)) + [y for y in {1: 2}.values()]
    except (ValueError, KeyError) as exc:
        raise RuntimeError(str(exc)) from None
class C:
    n: int = 0
s = f"{f([1, 2], '3')!r:>5}"
"""
exec(compile(_WARMUP, "warmup.py", "exec"), {"__name__": "warmup"})
PRECOMPILE_MAX_BYTES = 16 << 10


def precompile(source: bytes) -> tuple[types.CodeType | None, float]:
    """The program's code object and the CPU seconds it took, or (None, 0) when the child must compile
    it itself (too big, a syntax error or any other failure, a warning to show). See the docstring."""
    if len(source) > PRECOMPILE_MAX_BYTES:
        return None, 0.0
    start = time.thread_time()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = compile(source, "main.py", "exec", dont_inherit=True)
    except BaseException:  # SyntaxError, ValueError, RecursionError, MemoryError...: the child reports it
        return None, 0.0
    return (None if caught else code), time.thread_time() - start


def run_child(source: bytes | types.CodeType, fds: tuple[int, int, int, int], prot: dict, state: dict, limits: dict) -> None:
    """In the forked child: wire fds, confine, then run the program. Never returns.

    fd 3 tells the worker that confinement succeeded; it is closed before the program starts, so a
    program cannot fake a "sandbox failure" (or hide a real one).
    """
    code = 1
    try:
        for i, fd in enumerate(fds):
            os.dup2(fd, i)
        landlock = None
        if state["landlock_fd"] is not None:
            landlock = os.dup2(state["landlock_fd"], 4)
        os.closerange(5 if landlock else 4, 1 << 16)  # the pool's pipes, the init's, everything
        if os.environ:  # the worker cleared its own; clear() of an empty one costs an exception
            os.environ.clear()
        _confine.confine_child(prot, state, limits, landlock)
        os.write(3, b"k")
        os.close(3)
        # sys.path, sys.modules, stdio and argv are already the program's (`program_view`, in the worker)
        main = types.ModuleType("__main__")
        main.__file__, main.__builtins__ = "main.py", builtins
        sys.modules["__main__"] = main
        gc.enable()
        try:
            # UNTRUSTED: runs only here, in the confined child (no privileges, own ns/uid/dir).
            if not isinstance(source, types.CodeType):  # not precompiled: compile it here, confined
                source = compile(source, "main.py", "exec", dont_inherit=True)
            exec(source, main.__dict__)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if not isinstance(exc.code, (int, type(None))):
                print(exc.code, file=sys.stderr)
        except BaseException as exc:
            traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)  # hide this frame
            code = 1
        try:
            if "threading" in sys.modules:  # as the interpreter does: wait for non-daemon threads
                sys.modules["threading"]._shutdown()
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


def program_view() -> None:
    """Once in the worker, after its own imports: what a program sees of `sys` (the path without our
    directory, none of our modules importable by name, stdio on fds 0-2, argv). Children inherit it,
    instead of each writing it anew (copy-on-write faults). The worker itself never prints or imports
    its own modules again (it holds them by name); fds 0-2 are /dev/null in it and nothing is written."""
    sys.path[:] = _PROGRAM_PATH
    for name in ("_confine", "_wire", "_landlock", "_seccomp"):
        sys.modules.pop(name, None)
    sys.stdin, sys.stdout, sys.stderr = _STDIN, _STDOUT, _STDERR
    sys.argv = ["main.py"]


def kill_all(pid: int, state: dict) -> None:
    """Kill the execution's whole tree: everything in the pid namespace, else its group and its uid."""
    if state["pidns"] is not None:
        state["pidns"].kill_all()
        return
    for fn, target in ((os.kill, pid), (os.killpg, pid)):
        try:
            fn(target, signal.SIGKILL)
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


def cpu_time(pid: int) -> float:
    """CPU seconds of a live process (all its threads, and children it reaped), from /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / _TICK


def execute(source: bytes | types.CodeType, stdin: bytes, limits: dict, prot: dict, state: dict,
            charged_cpu: float = 0.0) -> tuple:
    """Run `source` (or its precompiled code) once. `limits` holds the effective (already scaled) `cpu_s`
    and `timeout_s`; `charged_cpu` is CPU already spent for it here (its compile), counted as its own."""
    _confine.reset_workdir(state)
    if state["pidns"] is not None:
        state["pidns"].ensure()
    cg = state["cgroup"]
    if cg is not None:
        cg.prepare(limits["memory_mb"], limits["max_processes"])
    stdin_fd = os.memfd_create("stdin", os.MFD_CLOEXEC)
    os.write(stdin_fd, stdin)
    os.lseek(stdin_fd, 0, os.SEEK_SET)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        run_child(source, (stdin_fd, out_w, err_w, ready_w), prot, state, limits)
    for fd in (stdin_fd, out_w, err_w, ready_w):
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    cap, deadline = limits["max_output_bytes"], start + limits["timeout_s"]
    cpu_limit = limits["cpu_s"] - charged_cpu
    next_cpu_check = start + cpu_limit / 2  # two busy threads on two cores could get there by then
    bufs = {out_r: bytearray(), err_r: bytearray()}
    poller, watched = select.poll(), 3  # poll, not selectors: less Python per run (fewer COW faults here)
    for fd in (out_r, err_r, pidfd):
        poller.register(fd, select.POLLIN)
    hit = None  # which limit ended the run: "cpu" or "wall"
    truncated = exited = False
    drain_until = float("inf")
    while True:
        now = time.monotonic()
        if exited and (watched == 0 or now >= drain_until):
            break  # all pipes closed, or a descendant that escaped the kill still holds one
        if not exited and hit is None:
            if now >= deadline:
                hit = "wall"
            elif now >= next_cpu_check:
                used = cpu_time(pid)
                if used >= cpu_limit:
                    hit = "cpu"
                next_cpu_check = now + max((cpu_limit - used) / 2, 0.01)
            if hit is not None:
                kill_all(pid, state)
        wait = 0.2 if exited or hit else max(min(deadline, next_cpu_check) - now, 0)
        for fd, _ in poller.poll(wait * 1000 + 1):  # ms, rounded up: never spin on a 0 ms wait
            if fd == pidfd:
                poller.unregister(pidfd)
                watched -= 1
                exited, drain_until = True, time.monotonic() + 1.0
                kill_all(pid, state)  # leftovers: daemons, threads of forks
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                poller.unregister(fd)
                watched -= 1
            elif len(bufs[fd]) <= cap:
                bufs[fd] += chunk
                if len(bufs[fd]) > cap and not truncated:
                    truncated = True
                    kill_all(pid, state)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - start
    cpu = usage.ru_utime + usage.ru_stime + charged_cpu
    cpu_limit += charged_cpu
    if hit is None and cpu > cpu_limit:
        hit = "cpu"  # finished, but over its CPU budget (between two checks)
    try:
        confined = os.read(ready_r, 16)[:1] == b"k"
    except BlockingIOError:
        confined = False
    for fd in (out_r, err_r, pidfd, ready_r):
        os.close(fd)
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    oom = cg is not None and code != 0 and cg.oom_kills() > state.setdefault("ooms", 0)
    if oom:
        state["ooms"] = cg.oom_kills()
    err = bytes(bufs[err_r][:cap])
    if not confined and hit is None:
        raise RuntimeError(f"child could not confine itself: {err[-500:].decode(errors='replace')}")
    return ({"exit_code": code, "signal": sig, "timed_out": hit is not None, "output_truncated": truncated,
             "wall_s": wall, "cpu_s": cpu, "memory_exceeded": oom or b"MemoryError" in err[-400:],
             "time_limit": hit, "max_rss_kb": usage.ru_maxrss}, [bytes(bufs[out_r][:cap]), err])


def main() -> None:
    uid, req_fd, rep_fd = (int(a) for a in sys.argv[1:4])
    # The pool starts us with an empty environment, but the interpreter adds LC_CTYPE (locale coercion);
    # cleared here once, not in every child (measured: 130 us and ~50 page faults per child).
    os.environ.clear()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    base = tempfile.mkdtemp(prefix="monkeys-sbx-")
    os.chmod(base, 0o711)
    prot, state = _confine.setup_worker(uid, base)
    if state["cgroup"] is not None:
        state["ooms"] = state["cgroup"].oom_kills()
    program_view()
    gc.collect()
    gc.freeze()  # children share these pages instead of copying them on the first collection
    _wire.send(rep_fd, {"op": "hello", "protections": prot, "pid": os.getpid()})
    code, compile_cpu = b"", 0.0
    try:
        while True:
            try:
                header, blobs = _wire.recv(req_fd)
            except EOFError:
                break
            if header["op"] == "exec":
                if len(blobs) > 1:  # else: the same program as the last execution (run_many)
                    code = None  # the last program's code object goes before the new one is built
                    code, compile_cpu = precompile(blobs[1])
                    if code is None:
                        code = blobs[1]
                try:
                    result, out = execute(code, blobs[0], header["limits"], prot, state, compile_cpu)
                except Exception:  # our bug or a broken host: say so instead of dying silently
                    _wire.send(rep_fd, {"op": "error", "message": traceback.format_exc(limit=-3)})
                    continue
                _wire.send(rep_fd, {"op": "result", **result}, out)
    finally:
        if state["pidns"] is not None:
            state["pidns"].stop()
        shutil.rmtree(base, ignore_errors=True)
        if state["cgroup"] is not None:
            state["cgroup"].remove()


if __name__ == "__main__":
    main()
