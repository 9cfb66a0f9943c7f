"""Fork-server worker: started once under the system Python; runs executions through its template.

Run as ``python3 -I -S _zygote.py <uid> <request fd> <reply fd> <hidden dirs, JSON>``; talks to the pool
over those pipes.
Everything that does not depend on the program is set up once: here (`_confine.setup_worker`: user and
network namespaces, cgroup, the directory and its Landlock ruleset, the pid namespace) and in the template
this process forks before it handles anything (`_template`: mount and IPC namespaces, the seccomp filter,
the harness, ctypes disarmed). Each execution is then one fork of the template: the child confines itself
(`_confine.confine_child`), reads its program from a memfd and runs it under the harness (`_harness`),
which writes one report, opened by a nonce this worker chose, to a pipe only this worker reads. Nothing
untrusted ever runs in this process, and no execution is forked from it: its heap holds the programs and
outputs it handled.

Here, per execution: empty the directory, write the job (nonce, program, tests) and stdin to memfds, make
the pipes, ask the template for a child, then watch it: the wall clock, CPU time (polled from /proc), the
output cap (read as it comes, never more than the cap kept), and finally the report.
"""

from __future__ import annotations

import io
import json
import marshal
import os
import select
import shutil
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _confine  # noqa: E402
import _harness  # noqa: E402
import _template  # noqa: E402
import _tmpdirs  # noqa: E402
import _wire  # noqa: E402

# Preloaded for the programs (an import in the child would cost milliseconds). Not `threading`: its
# after-fork hook would run in every child (~130 page faults); a program that wants it imports it.
PRELOAD = ("bisect", "collections", "copy", "decimal", "fractions", "functools", "heapq", "itertools", "math",
           "operator", "random", "re", "statistics", "string", "typing", "datetime")
for _name in PRELOAD:
    __import__(_name)

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


def program_view() -> None:
    """Once in the worker, after its own imports: what a program sees of `sys` (the path without our
    directory, none of our modules importable by name, stdio on fds 0-2, argv). Children inherit it,
    instead of each writing it anew (copy-on-write faults). The worker itself never prints or imports
    its own modules again (it holds them by name); fds 0-2 are /dev/null in it and nothing is written."""
    sys.path[:] = _PROGRAM_PATH
    for name in ("_confine", "_ctypes_off", "_wire", "_landlock", "_readable", "_seccomp", "_harness", "_template"):
        sys.modules.pop(name, None)
    sys.stdin, sys.stdout, sys.stderr = _STDIN, _STDOUT, _STDERR
    sys.argv = ["main.py"]


PRECOMPILE_MAX_BYTES = 16 << 10


def precompile(source: bytes) -> bytes | None:
    """The code object of `source`, marshalled, or None when the child must compile it itself.

    Compiling in each child costs a compile in a freshly forked process (its parser and compiler state
    are copy-on-write pages) for every test of a program; here it is done once per program, warm, and
    the child unmarshals it before anything untrusted runs. Compiling is not executing: the source is
    parsed and turned into bytecode, none of it runs (no `__future__` import, decorator or default value
    runs at compile time; constant folding is bounded by CPython's own size limits). Sources over 16 KB,
    failures (a syntax error) and warnings are left to the child, which reports them as before, confined.
    The code is compiled as ``python main.py`` would: ``dont_inherit=True``, filename ``main.py``.
    """
    if len(source) > PRECOMPILE_MAX_BYTES:
        return None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = compile(source, "main.py", "exec", dont_inherit=True)
    except BaseException:  # SyntaxError, ValueError, RecursionError, MemoryError...: the child reports it
        return None
    return None if caught else marshal.dumps(code)


def precompile_job(guard: bool, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
    """The job a child gets: its program (and tests), each as marshalled code where that worked."""
    header: dict = {"guard": guard}
    out = []
    for name, blob in zip(("program", "tests"), blobs, strict=False):
        code = precompile(blob) if name == "program" else _compile_tests(blob)
        header[name + "_marshal"] = code is not None
        out.append(blob if code is None else code)
    return header, out


def _compile_tests(tests: bytes) -> bytes | None:
    try:
        return marshal.dumps(compile(tests, "tests.py", "exec", dont_inherit=True))
    except BaseException:  # the child reports it ("the tests do not compile")
        return None


def execute(template: _template.Template, job: tuple[dict, list[bytes]], stdin: bytes, limits: dict,
            state: dict) -> tuple[dict, list[bytes]]:
    """Run one execution. `limits` holds the effective (already scaled) `cpu_s` and `timeout_s`; the
    template enforces both; here the output cap is enforced while reading, and the report is checked."""
    _confine.reset_workdir(state)
    cg = state["cgroup"]
    if cg is not None:
        cg.prepare(limits["memory_mb"], limits["max_processes"])
    header, blobs = job
    nonce = os.urandom(16).hex()
    flags = ((_template.GUARD if header["guard"] else 0) | (_template.HAS_TESTS if len(blobs) > 1 else 0)
             | (_template.PROGRAM_MARSHAL if header.get("program_marshal") else 0)
             | (_template.TESTS_MARSHAL if header.get("tests_marshal") else 0))
    tests = blobs[1] if len(blobs) > 1 else b""
    head = _template.JOB_HEAD.pack(nonce.encode(), flags, len(blobs[0]), len(tests))
    start = time.monotonic()
    template.spawn(limits, b"".join((head, blobs[0], tests)), stdin)
    cap = limits["max_output_bytes"]
    backstop = start + limits["timeout_s"] + 10.0  # the template enforces the limits; this, a dead template
    bufs = {template.out: bytearray(), template.err: bytearray()}
    poller = select.poll()
    for fd in (template.out, template.err, template.reply):
        poller.register(fd, select.POLLIN)
    truncated = killed = False
    ended = None
    while ended is None:
        if time.monotonic() > backstop:
            raise RuntimeError("the template did not end an execution past its limits")
        for fd, _ in poller.poll(1000):
            if fd == template.reply:
                ended = template.exited()
            elif _read_into(fd, bufs[fd], cap) and not truncated:
                truncated = True
                if not killed:
                    template.kill()
                    killed = True
    for fd, buf in bufs.items():  # everything the execution started is gone: what is left is all there is
        while _read_into(fd, buf, cap) is not None:
            pass
    status, user, system, maxrss, hit = ended
    truncated = truncated or any(len(b) > cap for b in bufs.values())
    wall = time.monotonic() - start
    confined = _drain(template.ready)[:1] == b"k"
    report = _drain(template.report)
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    oom = cg is not None and code != 0 and cg.oom_kills() > state.setdefault("ooms", 0)
    if oom:
        state["ooms"] = cg.oom_kills()
    err = bytes(bufs[template.err][:cap])
    if not confined and hit is None:
        raise RuntimeError(f"child could not confine itself: {err[-500:].decode(errors='replace')}")
    ending = _harness.read_report(report, nonce)
    memory = oom or (ending.get("ending") == "exception" and ending.get("detail") == "MemoryError")
    return ({"exit_code": code, "signal": sig, "timed_out": hit is not None, "output_truncated": truncated,
             "wall_s": wall, "cpu_s": user + system, "memory_exceeded": memory, "time_limit": hit,
             "max_rss_kb": maxrss, **ending}, [bytes(bufs[template.out][:cap]), err])


def _read_into(fd: int, buf: bytearray, cap: int) -> bool | None:
    """Read what is there into `buf` (keeping at most cap + 1 bytes). None when nothing was there; else
    whether the cap is now exceeded."""
    try:
        chunk = os.read(fd, 1 << 16)
    except BlockingIOError:
        return None
    if not chunk:
        return None
    if len(buf) <= cap:
        buf += chunk[: cap + 1 - len(buf)]
    return len(buf) > cap


def _drain(fd: int) -> bytes:
    out = b""
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return out
        if not chunk:
            return out
        out += chunk


def main() -> None:
    uid, req_fd, rep_fd = (int(a) for a in sys.argv[1:4])
    hidden = json.loads(sys.argv[4]) if len(sys.argv) > 4 else []
    # The pool starts us with an empty environment, but the interpreter adds LC_CTYPE (locale coercion);
    # cleared here once, not in every child (measured: 130 us and ~50 page faults per child).
    os.environ.clear()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    base = _tmpdirs.make()
    os.chmod(base, 0o711)
    prot, state = _confine.setup_worker(uid, base, hidden)
    if state["cgroup"] is not None:
        state["ooms"] = state["cgroup"].oom_kills()
    workdir_size = os.stat(state["workdir"]).st_size
    program_view()
    _harness.install_exit_quit()
    template = _template.Template(state, lambda: _harness.make_runner(_STDOUT, _STDERR))
    prot.update(template.protections)
    prot["pass_evidence"] = ("active (a pass needs the harness's one report, opened by a per-execution nonce, "
                             "on a pipe of its own; no exit status counts)")
    prot["integrity_guard"] = ("active (audit hook: programs get no frames, gc walks, ctypes, code objects, "
                               "tracers or /proc; flags patched builtins/modules/classes and results that "
                               "override comparisons)")
    _wire.send(rep_fd, {"op": "hello", "protections": prot, "pid": os.getpid(), "template": template.pid})
    job: tuple[dict, list[bytes]] = ({}, [b""])
    try:
        while True:
            try:
                header, blobs = _wire.recv(req_fd)
            except EOFError:
                break
            if header["op"] == "exec":
                if len(blobs) > 1 and os.stat(state["workdir"]).st_size > workdir_size:
                    # A directory that grew stays grown once emptied (ext4 never shrinks one): its size told
                    # the next program how many files the last one made, a number of its choosing (ninth
                    # audit round). The directory must keep its inode (the Landlock rule names it), so this
                    # worker retires before another program sees it; the pool runs the job on a fresh one.
                    break
                if len(blobs) > 1:  # else: the same program as the last execution (run_many)
                    job = precompile_job(header.get("guard", True), blobs[1:])
                try:
                    result, out = execute(template, job, blobs[0], header["limits"], state)
                except Exception as exc:  # our bug or a broken host: say so (one line) instead of dying
                    _wire.send(rep_fd, {"op": "error", "message": " ".join(f"{type(exc).__name__}: {exc}".split())})
                    continue
                _wire.send(rep_fd, {"op": "result", **result}, out)
    finally:
        template.close()
        shutil.rmtree(base, ignore_errors=True)
        if state["cgroup"] is not None:
            state["cgroup"].remove()


if __name__ == "__main__":
    main()
