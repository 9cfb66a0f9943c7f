"""Fallback sandbox: one fresh interpreter per execution, inside real containment or not at all.

Used when the fork-server pool cannot start or cannot contain its executions. The containment is chosen
once, at construction, best first, and each candidate is tried with a real program before it is used:

- `bwrap`: bubblewrap with every namespace new (user, pid, net, ipc, uts, cgroup), no nested user
  namespaces, a read-only view of the system directories, a private `/tmp`, `/proc` and `/dev`, the
  execution's directory the only writable path, a new session, no environment; as root it runs under
  a dropped uid (`setpriv`), so nothing in it is root outside.
- `unshare-root` (root only): util-linux `unshare` into new pid, net, ipc, uts and mount namespaces with
  a private `/proc`; a private tmpfs over `/tmp` and `/dev/shm`; the program runs as a uid no account
  uses (one per execution, from a range apart from the pool's).
- `unshare-userns` (no root, user namespaces allowed): the same namespaces under a new user namespace;
  the program keeps no capability and cannot make a nested user namespace (the namespace's
  `user.max_user_namespaces` is set to 0 before it starts: in one of its own it would hold every capability).

Otherwise the constructor raises `SandboxError` with one line saying what is missing. In every mode a
small init (the "launcher", below) runs as pid 1 of the new pid namespace, forks the
program with rlimits, no_new_privs and, where the kernel has it, Landlock (read-only system paths, its own
directory read-write; signals and abstract sockets scoped), waits for it, reports its status on a pipe
only the launcher holds, and exits, which kills every process left in the namespace (daemons, double
forks). The host side reads stdout/stderr as they come, kills the whole namespace at the output cap or
the wall limit, and never holds more than `max_output_bytes` + 64 KiB per stream.
"""

from __future__ import annotations

import itertools
import json
import os
import pwd
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from monkeys.errors import SandboxError
from monkeys.sandbox import _harness, _launch, _readable, _seccomp, _tmpdirs
from monkeys.sandbox._types import ExecResult, Limits

PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else shutil.which("python3") or "python3"
BACKENDS = ("bwrap", "unshare-root", "unshare-userns")
# Program uids of the fallback: a block of 64 per owning process (its pid), apart from the pool's
# (`_pool._UID_BASE` = 1,000,000 + 64 per pid < 7,400,000) and from every real account.
UID_BASE = 8_000_000
_CHUNK = 1 << 16
_MAX_REPORT = 1 << 16
_HARNESS = (Path(__file__).with_name("_harness.py")).read_text(encoding="utf-8")
_SECCOMP = _seccomp.program().hex() if _seccomp.available() == "active" else ""

# The launcher: runs under the system Python inside the namespaces (stdlib only). argv[1] is a JSON
# config, argv[2:5] the status fd, the job memfd (nonce, guard, tests, the harness's source) and the
# report pipe. It reports "ok <exit code|-signal> <cpu seconds> <max rss kB>" or "error <why>" on the
# status fd, which the program never holds (closed before it starts, launcher not dumpable); the
# program runs in the forked child under `_harness` (as in the pool), which writes the report.
LAUNCHER = _launch.PRELUDE + Path(__file__).with_name("_ctypes_off.py").read_text() + r'''
job_fd, report_fd = int(sys.argv[3]), int(sys.argv[4])
for fd in (status, job_fd, report_fd):
    os.set_inheritable(fd, False)
check(libc.prctl(4, 0, 0, 0, 0) == 0, "PR_SET_DUMPABLE")
if C["mode"] == "unshare-userns":
    no_nested_user_namespaces()
if C["mode"] in ("unshare-root", "unshare-userns"):
    here, work = os.open(".", os.O_PATH), os.getcwd()
    for target in ("/tmp", "/dev/shm"):  # private, small, gone with the mount namespace
        if os.path.isdir(target):
            opts = ("size=%dm,mode=1777" % C["tmp_mb"]).encode()
            check(libc.mount(b"tmpfs", target.encode(), b"tmpfs", 2 | 4, opts) == 0, "mount " + target)
    if not os.path.samestat(os.fstat(here), os.stat(work) if os.path.exists(work) else os.stat("/")):
        os.makedirs(work)  # the directory was under the new /tmp: bind it back to the same path
        check(libc.mount(b"/proc/self/fd/%d" % here, work.encode(), None, 4096, None) == 0, "bind " + work)
    os.chdir(work); os.close(here)
    for hidden in C["hidden"]:  # installed packages: an empty read-only tmpfs over each (see `_readable`)
        if os.path.isdir(hidden):
            check(libc.mount(b"tmpfs", hidden.encode(), b"tmpfs", 1 | 2 | 4 | 8, b"size=4k,mode=755") == 0,
                  "mount " + hidden)
def run_program():
    """In the child, confined: the harness runs the program (and its tests) and writes its one report,
    opened by this execution's nonce, to the report pipe. The nonce lives only in this frame and the
    harness's (frames are refused to programs by the harness's audit hook)."""
    job = json.loads(os.pread(job_fd, os.fstat(job_fd).st_size, 0).decode("utf-8", "surrogatepass"))
    os.close(job_fd)
    program = open("main.py", "rb").read()
    harness = type(sys)("_harness")
    exec(compile(job.pop("harness"), "_harness.py", "exec"), vars(harness))
    tests = job.pop("tests")
    sys.argv = ["main.py"]
    harness.install_exit_quit()
    runner = harness.make_runner(sys.stdout, sys.stderr)  # takes what it needs before the disarm below
    del harness
    if job.get("guard", True):  # part of the in-process guard (`_ctypes_off`): no ctypes object from here on,
        disarm_ctypes()  # no frame leads to its caller or shows its variables
        globals().update(libc=None)  # the last ready-made ctypes objects: the C functions confinement called
    runner(job, program, None if tests is None else tests.encode("utf-8", "surrogatepass"), report_fd)
pid = os.fork()
if pid == 0:
    try:
        if C["mode"] == "unshare-root":
            drop_to(C["uid"])
        elif C["mode"] == "unshare-userns":
            drop_capabilities()
        check(libc.prctl(38, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS")
        check(libc.prctl(1, 9, 0, 0, 0) == 0, "PR_SET_PDEATHSIG")
        for res, value in C["rlimits"]:
            resource.setrlimit(getattr(resource, res), tuple(value))
        if C["landlock"] > 0:  # the system directories but the installed packages (`_readable`), /proc
            landlock(C["landlock"], C["read_only"], (".",))
        if C["seccomp"]:  # the pool's deny list (`_seccomp`): no namespaces, mounts, ptrace, sockets, ...
            seccomp(C["seccomp"])
        os.environ.clear()
    except BaseException as exc:  # confinement failed: say so on the status pipe, never run the program
        report("error confinement failed: %r" % (exc,))
    os.close(status)  # from here the program runs: it holds no fd that could fake our status
    run_program()
os.close(job_fd); os.close(report_fd)
os.closerange(0, 3)
while True:
    try:
        got, st, ru = os.wait4(-1, 0)
    except ChildProcessError:
        report("error the program vanished")
    if got == pid:
        break
code = os.waitstatus_to_exitcode(st)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
report("ok %d %.6f %d" % (code, kids.ru_utime + kids.ru_stime, max(ru.ru_maxrss, kids.ru_maxrss)))
'''


_counter = itertools.count(1)  # next() on it is atomic in CPython: thread-safe without a lock


def _uid_in_use(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


class SubprocessSandbox:
    """Runs each program in a new `/usr/bin/python3 -I -S` process inside the containment chosen at
    construction (`backend`: one of `BACKENDS`, or the best that works here). Thread-safe.

    Raises `SandboxError` (one line: what is missing) when nothing here can contain a program.
    """

    def __init__(self, reason: str = "", backend: str | None = None) -> None:
        self.reason = reason  # why the fork-server pool is not used
        self.landlock = _launch.landlock_abi()
        self.hidden = _readable.host_package_dirs()
        self.read_only = [*_readable.allowlist(_readable.SYSTEM_DIRS, self.hidden), "/proc", "/dev/urandom",
                          "/dev/random", "/dev/zero"]
        _tmpdirs.sweep()  # what killed runs left; each execution then only makes its own
        self.is_root = os.geteuid() == 0
        self.bwrap = shutil.which("bwrap")
        self.setpriv = shutil.which("setpriv")
        self.unshare = shutil.which("unshare")
        self.tried: dict[str, str] = {}  # backend -> why it is not used
        candidates = [backend] if backend else list(BACKENDS)
        for name in candidates:
            if name not in BACKENDS:
                raise SandboxError(f"unknown fallback sandbox backend {name!r} (one of {', '.join(BACKENDS)})")
            why = self._try(name)
            if why is None:
                self.backend = name
                return
            self.tried[name] = why
        raise SandboxError(self._refusal())

    # -- choosing the containment -------------------------------------------------------------------

    def _unavailable(self, name: str) -> str | None:
        if name == "bwrap" and not self.bwrap:
            return "not installed"
        if name == "bwrap" and self.is_root and not self.setpriv:
            return "setpriv (util-linux) not installed"
        if name.startswith("unshare") and not self.unshare:
            return "unshare (util-linux) not installed"
        if name == "unshare-root" and not self.is_root:
            return "not root"
        if name == "unshare-userns" and self.is_root:
            return "root: unshare-root is used instead (RLIMIT_NPROC does not bind the real uid 0)"
        return None

    def _try(self, name: str) -> str | None:
        why = self._unavailable(name)
        if why:
            return why
        self.backend = name
        try:
            result = self.run("print('contained')", limits=Limits(timeout_s=20))
        except (SandboxError, OSError) as exc:
            return str(exc)
        if result.exit_code == 0 and result.stdout == b"contained\n":
            return None
        tail = (result.stderr.decode(errors="replace").strip().splitlines() or [f"exit {result.exit_code}"])[-1]
        return f"does not work here ({tail[:200]})"

    def _refusal(self) -> str:
        missing = []
        for name, why in self.tried.items():
            if "(util-linux) not installed" in why:
                missing.append(f"no {why.split(' (')[0]} (util-linux)")
            elif name == "bwrap":
                missing.append("no bwrap" if why == "not installed" else f"bwrap fails: {why}")
            elif name == "unshare-root":
                missing.append("not root" if why == "not root" else f"unshare as root fails: {why}")
            elif "does not work" in why:
                missing.append(f"unprivileged user namespaces are refused ({why.split('(', 1)[-1].rstrip(')')})")
            else:
                missing.append(f"unshare: {why}")
        missing = list(dict.fromkeys(missing))
        return ("cannot contain untrusted code here: " + ", ".join(missing or ["no containment works"])
                + "; run as root, enable user namespaces (sysctl kernel.unprivileged_userns_clone=1 / "
                "kernel.apparmor_restrict_unprivileged_userns=0), or install bubblewrap")

    # -- running ------------------------------------------------------------------------------------

    def run(self, source: str, *, stdin: bytes = b"", limits: Limits | None = None, tests: str | None = None,
            guard: bool = True) -> ExecResult:
        """Run Python `source` with `stdin`; with `tests`, run them after it (function asserts): then
        `completed` is the only evidence that they passed. `guard=False` leaves out the harness's audit
        hook (to test what the operating system alone contains)."""
        limits = limits or Limits()
        workdir = _tmpdirs.make(swept=True)
        uid = UID_BASE + (os.getpid() % 100_000) * 64 + next(_counter) % 64
        try:
            with open(os.path.join(workdir, "main.py"), "w", encoding="utf-8", errors="surrogatepass") as f:
                f.write(source)
            if self.is_root and self.backend != "unshare-userns":  # the program runs as `uid`
                if _uid_in_use(uid):
                    raise SandboxError(f"uid {uid} of the fallback sandbox belongs to an account")
                os.chown(workdir, uid, uid)
                os.chown(os.path.join(workdir, "main.py"), uid, uid)
            return self._exec(workdir, uid, stdin, limits, tests, guard)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def run_many(self, source: str, stdins: Sequence[bytes], *, limits: Limits | None = None,
                 stop: Callable[[int, ExecResult], bool] | None = None, guard: bool = True) -> list[ExecResult]:
        """Run `source` once per stdin; stop after the first result for which `stop(i, result)` is true."""
        results = []
        for i, data in enumerate(stdins):
            results.append(self.run(source, stdin=data, limits=limits, guard=guard))
            if stop is not None and stop(i, results[-1]):
                break
        return results

    def _argv(self, workdir: str, uid: int, limits: Limits, fds: tuple[int, int, int]) -> list[str]:
        cpu = int(limits.cpu_s if limits.cpu_s is not None else limits.timeout_s) + 1
        rlimits = [("RLIMIT_AS", [limits.memory_mb << 20] * 2), ("RLIMIT_CPU", [cpu, cpu + 1]),
                   ("RLIMIT_FSIZE", [limits.max_file_mb << 20] * 2),
                   ("RLIMIT_NOFILE", [limits.max_open_files] * 2), ("RLIMIT_CORE", [0, 0]),
                   ("RLIMIT_NPROC", [limits.max_processes] * 2)]
        config = {"mode": self.backend, "uid": uid, "python": PYTHON, "rlimits": rlimits,
                  "landlock": self.landlock, "tmp_mb": max(limits.max_file_mb, 16), "seccomp": _SECCOMP,
                  "hidden": self.hidden, "read_only": self.read_only}
        launcher = [PYTHON, "-I", "-S", "-c", LAUNCHER, json.dumps(config), *map(str, fds)]
        if self.backend == "unshare-root":
            return [str(self.unshare), "--pid", "--fork", "--kill-child", "--net", "--ipc", "--uts", "--mount",
                    "--mount-proc", "--propagation", "private", "--", *launcher]
        if self.backend == "unshare-userns":
            return [str(self.unshare), "--user", "--map-root-user", "--pid", "--fork", "--kill-child", "--net",
                    "--ipc", "--uts", "--mount", "--mount-proc", "--propagation", "private", "--", *launcher]
        argv = [str(self.setpriv), f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs"] \
            if self.is_root else []
        argv += [str(self.bwrap), "--unshare-all", "--unshare-user", "--disable-userns", "--as-pid-1",
                 "--die-with-parent", "--new-session", "--clearenv", "--cap-drop", "ALL"]
        for path in _readable.SYSTEM_DIRS:
            if os.path.islink(path):
                argv += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                argv += ["--ro-bind", path, path]
        for path in self.hidden:  # installed packages: an empty read-only tmpfs over each (see `_readable`)
            argv += ["--tmpfs", path, "--remount-ro", path]
        argv += ["--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev", "--bind", workdir, workdir,
                 "--chdir", workdir, "--", *launcher]
        return argv

    def _exec(self, workdir: str, uid: int, stdin: bytes, limits: Limits, tests: str | None,
              guard: bool) -> ExecResult:
        nonce = os.urandom(16).hex()
        job_fd = os.memfd_create("monkeys-job", 0)
        os.write(job_fd, json.dumps({"nonce": nonce, "guard": guard, "tests": tests, "harness": _HARNESS},
                                    ensure_ascii=False).encode("utf-8", "surrogatepass"))
        status_r, status_w = os.pipe()
        report_r, report_w = os.pipe()
        start = time.monotonic()
        deadline = start + limits.timeout_s
        try:
            proc = subprocess.Popen(
                self._argv(workdir, uid, limits, (status_w, job_fd, report_w)), cwd=workdir, env={},
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                close_fds=True, pass_fds=(status_w, job_fd, report_w))
        except OSError as exc:
            os.close(status_r)
            os.close(report_r)
            raise SandboxError(f"cannot start the fallback sandbox ({self.backend}): {exc}") from exc
        finally:
            for fd in (status_w, job_fd, report_w):
                os.close(fd)
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        cap = limits.max_output_bytes
        out, err, status, report = bytearray(), bytearray(), bytearray(), bytearray()
        bufs = {proc.stdout.fileno(): out, proc.stderr.fileno(): err, status_r: status, report_r: report}
        sel = selectors.DefaultSelector()
        for fd in bufs:
            sel.register(fd, selectors.EVENT_READ)
        pending, stdin_fd = memoryview(stdin), proc.stdin.fileno()
        if pending:
            os.set_blocking(stdin_fd, False)
            sel.register(stdin_fd, selectors.EVENT_WRITE)
        else:
            proc.stdin.close()
        timed_out = truncated = finished = False
        try:
            while sel.get_map():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                for key, _ in sel.select(remaining):
                    fd = key.fd
                    if fd == stdin_fd:
                        try:
                            pending = pending[os.write(fd, pending[:_CHUNK]):]
                        except BlockingIOError:
                            continue
                        except OSError:  # the program closed its stdin
                            pending = pending[:0]
                        if not pending:
                            sel.unregister(fd)
                            proc.stdin.close()
                        continue
                    data = os.read(fd, _CHUNK)
                    if not data:
                        sel.unregister(fd)
                        continue
                    buf = bufs[fd]
                    buf += data
                    if fd in (status_r, report_r):
                        del buf[_MAX_REPORT:]  # more than a report holds: tampered anyway
                    elif len(buf) > cap:
                        del buf[cap:]
                        truncated = True
                if truncated:
                    break
            finished = not (timed_out or truncated)
        finally:
            sel.close()
            self._finish(proc, force=not finished)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                stream.close()
            os.close(status_r)
            os.close(report_r)
        wall = time.monotonic() - start
        words = bytes(status).decode(errors="replace").split(" ", 1)
        extra: dict = {"backend": self.backend, "wall_limit_s": limits.timeout_s, "time_scale": 1.0,
                       "cpu_limit_s": float(limits.cpu_s if limits.cpu_s is not None else limits.timeout_s),
                       "time_limit": "wall" if timed_out else None}
        if words[0] == "error" and not (timed_out or truncated):
            raise SandboxError(f"fallback sandbox ({self.backend}) failed to start the program: "
                               f"{words[1] if len(words) > 1 else ''}")
        exit_code, sig, cpu = None, None, 0.0
        ending = _harness.read_report(bytes(report), nonce)
        if words[0] == "ok" and not (timed_out or truncated):
            code, cpu_text, rss = words[1].split()
            exit_code, sig = (int(code), None) if int(code) >= 0 else (None, -int(code))
            cpu, extra["max_rss_kb"] = float(cpu_text), int(rss)
            if sig == signal.SIGXCPU:
                extra["time_limit"] = "cpu"
        else:
            sig = signal.SIGKILL  # ours (wall limit, output cap), or the program took its sandbox down
            if not (timed_out or truncated):
                extra["killed_sandbox"] = True
        return ExecResult(
            exit_code=exit_code, signal=sig, stdout=bytes(out), stderr=bytes(err), timed_out=timed_out,
            memory_exceeded=ending.get("detail") == "MemoryError" and ending.get("ending") == "exception",
            output_truncated=truncated, wall_s=wall, cpu_s=cpu, extra=extra, **ending,
            sandbox_killed=bool(extra.get("killed_sandbox")))

    @staticmethod
    def _finish(proc: subprocess.Popen, force: bool) -> None:
        """Make sure the whole execution tree is gone. Our child (unshare, or bwrap's monitor) exits only
        after it reaped the namespace's init, and an init's exit waits for every process of its
        namespace to be gone; so killing the init (at the wall limit or output cap) and reaping our
        child kills every daemon and double fork, wherever it moved in the session tree."""
        if not force:
            try:
                proc.wait(timeout=5)  # the launcher has reported: it and its namespace are ending
                return
            except subprocess.TimeoutExpired:
                pass
        for pid in _children(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            pass
        for kill in (os.kill, os.killpg):
            try:
                kill(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        proc.wait()

    def protections(self) -> dict[str, str]:
        backend = self.backend
        bwrap, root_ns = backend == "bwrap", backend == "unshare-root"
        landlock = (f"active (ABI {self.landlock})" if self.landlock
                    else "unavailable: kernel without Landlock (or disabled)")
        if bwrap:
            drop = f"active: uid {UID_BASE}+ (setpriv) under bwrap" if self.is_root else \
                "unavailable: not root (bwrap's user namespace maps the caller's uid)"
        elif root_ns:
            drop = f"active: a fresh uid from {UID_BASE} per execution"
        else:
            drop = "unavailable: not root (uid 0 of its own user namespace, no capabilities)"
        return {
            "backend": f"subprocess per execution in {backend} "
                       f"(fallback{': ' + self.reason if self.reason else ''})",
            "fork_server": f"unavailable: {self.reason or 'not selected'}",
            "containment": f"active: {backend}",
            "pid_namespace": "active: the program's end (or the wall limit) kills every process of it",
            "network_namespace": "active: no interfaces", "ipc_namespace": "active",
            "user_namespace": "unavailable: not needed as root" if root_ns else "active",
            "drop_uid": drop,
            "private_tmp": "active: private tmpfs /tmp" + ("" if bwrap else " and /dev/shm"),
            "private_proc": "active",
            "filesystem_view": "active: read-only system directories only (bwrap)" if bwrap else
                               "unavailable: host filesystem visible (Landlock restricts it where active)",
            "landlock": landlock,
            "installed_packages": f"hidden: {len(self.hidden)} directories, covered by an empty tmpfs"
                                  + (" and left out of Landlock's allowlist" if self.landlock else "")
                                  if self.hidden else "none under the system directories",
            "seccomp": "active: the fork-server's deny list" if _SECCOMP else f"{_seccomp.available()}",
            "cgroup": "unavailable: the fallback sandbox uses rlimits only",
            "rlimits": "active", "session": "active", "empty_env": "active", "private_dir": "active",
            "output_cap": "active: enforced while reading",
            "time_limits": "active: wall clock on the whole namespace and whole-second RLIMIT_CPU, "
                           "not calibrated (fallback)",
        }

    def close(self) -> None:
        pass


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


