"""The fallback sandbox (`SubprocessSandbox`), run directly in each containment that works here.

Each backend either contains or is skipped (with the one line saying why it cannot run here). What is
checked: output and exit codes; a `setsid` daemon or double fork holding stdout neither stalls the call
nor survives it; the output cap holds while reading; memory, CPU and wall limits; `kill(-1)` and a kill of
every visible pid cannot reach a process the test started; nothing is left in `/tmp`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from monkeys.errors import SandboxError
from monkeys.sandbox import Limits, SubprocessSandbox
from monkeys.sandbox._simple import BACKENDS, UID_BASE

OUR_UIDS = range(UID_BASE + (os.getpid() % 100_000) * 64, UID_BASE + (os.getpid() % 100_000 + 1) * 64)


@pytest.fixture(scope="module", params=BACKENDS)
def sandbox(request: pytest.FixtureRequest) -> Iterator[SubprocessSandbox]:
    try:
        box = SubprocessSandbox(reason="tested directly", backend=request.param)
    except SandboxError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("cannot contain untrusted code here: ")
        pytest.skip(str(exc))
    yield box
    box.close()


def _processes_with(token: str) -> list[int]:
    """Pids (host view) of live processes whose command line contains `token`."""
    found = []
    for d in os.listdir("/proc"):
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if d.isdigit() and token.encode() in f.read():
                    found.append(int(d))
        except OSError:
            pass
    return found


def _sandbox_uid_pids() -> list[int]:
    pids = []
    for d in os.listdir("/proc"):
        try:
            if d.isdigit() and os.stat(f"/proc/{d}").st_uid in OUR_UIDS:
                pids.append(int(d))
        except OSError:
            pass
    return pids


def _tmp_entries() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("monkeys-")}


def test_output_stdin_and_exit_codes(sandbox: SubprocessSandbox) -> None:
    ok = sandbox.run("import sys\nprint(sys.stdin.read().upper())\nprint('e', file=sys.stderr)", stdin=b"hi")
    assert (ok.exit_code, ok.signal, ok.stdout, ok.stderr, ok.ok) == (0, None, b"HI\n", b"e\n", True)
    assert sandbox.run("import sys; sys.exit(3)").exit_code == 3
    assert sandbox.run("raise SystemExit('no')").exit_code == 1
    segv = sandbox.run("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    assert (segv.exit_code, segv.signal) == (None, signal.SIGSEGV)
    big = bytes(range(256)) * 8192  # 2 MiB of stdin, more than a pipe holds
    echo = sandbox.run("import sys, hashlib\nprint(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())",
                       stdin=big, limits=Limits(max_output_bytes=1 << 20))
    import hashlib
    assert echo.stdout.decode().strip() == hashlib.sha256(big).hexdigest()
    ignored = sandbox.run("print('did not read stdin')", stdin=big)  # the program never reads: no stall
    assert ignored.stdout == b"did not read stdin\n" and ignored.exit_code == 0
    env = sandbox.run("import os, json; print(json.dumps(dict(os.environ)))")
    assert json.loads(env.stdout) == {} or set(json.loads(env.stdout)) <= {"LC_CTYPE"}


def test_function_asserts_pass_only_on_the_harness_report(sandbox: SubprocessSandbox) -> None:
    tests = "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n"
    good = sandbox.run("def add(a, b):\n    return a + b\n", tests=tests)
    assert good.completed and good.ending == "completed" and good.exit_code == 0
    wrong = sandbox.run("def add(a, b):\n    return a - b\n", tests=tests)
    assert not wrong.completed and wrong.ending == "exception" and wrong.detail == "AssertionError"
    for escape in ("import os\nos._exit(0)", "import sys\nsys.exit(0)", "raise SystemExit(False)"):
        forged = sandbox.run(f"def add(a, b):\n    return 0\n{escape}\n", tests=tests)
        assert not forged.completed, escape
    fake = sandbox.run("import os\nfor fd in range(3, 64):\n    try: os.write(fd, b'0' * 32 + b'\\x1fcompleted"
                       "\\x1f0\\x1f\\x1f')\n    except OSError: pass\nos._exit(0)\n", tests=tests)
    assert not fake.completed and fake.ending in (None, "tampered")


def test_ctypes_cannot_reach_the_harness_report(sandbox: SubprocessSandbox) -> None:
    """ctypes types reached by a subclass walk (the launcher loaded them) can make no object, so the forgery
    that reads the harness's nonce from its frame and writes the report itself fails here as in the pool."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cases" / "forgeries"))
    from forgeries import FORGERIES
    program = FORGERIES["ctypes_types_forge_report"].text.replace("has_close_elements", "add")
    tests = "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n"
    forged = sandbox.run(program, tests=tests)
    assert not forged.completed and forged.ending == "exception", forged
    assert b"'NoneType' object has no attribute" in forged.stderr, forged


def test_run_many_stops_at_first_failure(sandbox: SubprocessSandbox) -> None:
    results = sandbox.run_many("import sys\nn = int(input())\nprint(n * 2)\nsys.exit(int(n == 2))",
                               [b"1", b"2", b"3"], stop=lambda i, r: r.exit_code != 0)
    assert [r.stdout for r in results] == [b"2\n", b"4\n"]


@pytest.mark.parametrize("shape", ["setsid", "double_fork"])
def test_daemon_holding_stdout_neither_stalls_nor_survives(sandbox: SubprocessSandbox, shape: str) -> None:
    token = f"monkeys-daemon-{uuid.uuid4().hex}"
    daemon = f"os.execv('/usr/bin/python3', ['python3', '-c', 'import time; time.sleep(60)', '{token}'])"
    body = {"setsid": f"    os.setsid()\n    {daemon}",
            "double_fork": f"    if os.fork() == 0:\n        os.setsid()\n        {daemon}\n    os._exit(0)"}[shape]
    program = f"import os, sys\nif os.fork() == 0:\n{body}\nprint('parent done')\nsys.stdout.flush()\n"
    result = sandbox.run(program, limits=Limits(timeout_s=30))
    # returned because the namespace ended with the program, not because the wall limit struck
    assert (result.exit_code, result.timed_out, result.stdout) == (0, False, b"parent done\n")
    assert _processes_with(token) == []


def test_daemon_is_killed_at_the_wall_limit(sandbox: SubprocessSandbox) -> None:
    token = f"monkeys-daemon-{uuid.uuid4().hex}"
    program = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n"
               f"    os.execv('/usr/bin/python3', ['python3', '-c', 'import time; time.sleep(60)', '{token}'])\n"
               "time.sleep(60)\n")
    result = sandbox.run(program, limits=Limits(timeout_s=1))
    assert result.timed_out and result.signal == signal.SIGKILL
    assert _processes_with(token) == []


def test_output_cap_is_enforced_while_reading(sandbox: SubprocessSandbox) -> None:
    cap = 100_000
    for stream in ("stdout", "stderr"):
        result = sandbox.run(f"import sys\nwhile True: sys.{stream}.write('y' * 65536)",
                             limits=Limits(timeout_s=30, max_output_bytes=cap))
        assert result.output_truncated and not result.timed_out and result.signal == signal.SIGKILL
        assert 0 < len(getattr(result, stream)) <= cap


def test_memory_limit(sandbox: SubprocessSandbox) -> None:
    result = sandbox.run("x = bytearray(600 << 20)\nprint('allocated')", limits=Limits(memory_mb=256))
    assert result.memory_exceeded and result.exit_code == 1 and result.stdout == b""
    fine = sandbox.run("x = bytearray(100 << 20)\nprint('allocated')", limits=Limits(memory_mb=256))
    assert fine.stdout == b"allocated\n"


def test_cpu_limit(sandbox: SubprocessSandbox) -> None:
    result = sandbox.run("while True: pass", limits=Limits(timeout_s=60, cpu_s=1))
    assert result.signal == signal.SIGXCPU and not result.timed_out
    assert result.extra["time_limit"] == "cpu"


def test_wall_limit(sandbox: SubprocessSandbox) -> None:
    result = sandbox.run("import time\ntime.sleep(60)", limits=Limits(timeout_s=1))
    assert result.timed_out and result.signal == signal.SIGKILL and result.extra["time_limit"] == "wall"


def test_process_limit(sandbox: SubprocessSandbox) -> None:
    program = ("import os, time\nn = 0\nfor _ in range(100):\n    try:\n        if os.fork() == 0:\n"
               "            time.sleep(5); os._exit(0)\n        n += 1\n    except OSError:\n        break\n"
               "print(n)\n")
    result = sandbox.run(program, limits=Limits(timeout_s=30, max_processes=8))
    assert result.exit_code == 0 and int(result.stdout) < 8


def test_kill_minus_one_cannot_reach_the_host(sandbox: SubprocessSandbox) -> None:
    canaries = [subprocess.Popen(["sleep", "30"])]  # the same uid as the test
    if os.geteuid() == 0:
        canaries.append(subprocess.Popen(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                          "sleep", "30"]))
    try:
        pids = [c.pid for c in canaries]
        program = ("import os, signal, sys\npids = [int(p) for p in sys.stdin.read().split()]\n"
                   "try: os.kill(-1, signal.SIGKILL)\nexcept OSError: pass\n"
                   "for p in pids + [int(d) for d in os.listdir('/proc') if d.isdigit()]:\n"
                   "    try: os.kill(p, signal.SIGKILL)\n    except OSError: pass\nprint('tried')\n")
        result = sandbox.run(program, stdin=" ".join(map(str, pids)).encode(), limits=Limits(timeout_s=10))
        assert result.signal in (None, signal.SIGKILL) and not result.timed_out  # may kill itself, nothing else
        assert all(c.poll() is None for c in canaries), "a process outside the sandbox was killed"
    finally:
        for c in canaries:
            c.kill()
            c.wait()


def test_nothing_outside_its_directory(sandbox: SubprocessSandbox, tmp_path: Path) -> None:
    shared = Path(tempfile.mkdtemp(prefix="fallback-shared-"))
    os.chmod(shared, 0o777)  # only the sandbox, not file permissions, may stop writes here
    name = f"monkeys-escape-{uuid.uuid4().hex}"
    before = _tmp_entries()
    try:
        program = (
            "import os\n"
            f"for path in ({str(shared / 'marker')!r}, '/tmp/{name}', '/dev/shm/{name}'):\n"
            "    try: open(path, 'w').write('x')\n    except OSError: pass\n"
            "open('mine.txt', 'w').write('own directory is writable')\nprint(open('mine.txt').read())\n"
            "print(os.path.basename(os.getcwd()))\n")
        result = sandbox.run(program)
        written, own = result.stdout.decode().splitlines()
        assert written == "own directory is writable"
        assert list(shared.iterdir()) == []
        assert not Path(f"/tmp/{name}").exists() and not Path(f"/dev/shm/{name}").exists()
        # the execution's directory is gone (other test workers' sandboxes may come and go in /tmp meanwhile)
        assert own not in _tmp_entries() and not (Path(tempfile.gettempdir()) / own).exists()
        assert not [e for e in _tmp_entries() - before if e.startswith("monkeys-escape")]
        assert _sandbox_uid_pids() == []
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_protections_name_the_containment(sandbox: SubprocessSandbox) -> None:
    prot = sandbox.protections()
    assert prot["containment"] == f"active: {sandbox.backend}"
    for key in ("backend", "rlimits", "landlock", "seccomp", "pid_namespace", "network_namespace",
                "drop_uid", "cgroup", "output_cap", "time_limits"):
        assert prot[key].startswith(("active", "unavailable", "subprocess")), (key, prot[key])
    assert prot["pid_namespace"].startswith("active") and prot["network_namespace"].startswith("active")


def test_refusal_is_one_line_when_nothing_contains(monkeypatch: pytest.MonkeyPatch) -> None:
    import monkeys.sandbox._simple as simple

    monkeypatch.setattr(simple.shutil, "which", lambda name: None)  # no bwrap, no unshare
    with pytest.raises(SandboxError) as info:
        SubprocessSandbox()
    message = str(info.value)
    assert "\n" not in message and message.startswith("cannot contain untrusted code here: ")
    assert "no bwrap" in message and "install bubblewrap" in message


def test_get_sandbox_never_returns_an_uncontained_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    import monkeys.sandbox as sandbox_module

    class Uncontained:
        closed = False

        def __init__(self) -> None:
            pass

        def containment(self) -> str:
            return "no uid drop, no pid namespace, no Landlock signal scoping"

        def close(self) -> None:
            Uncontained.closed = True

    monkeypatch.setattr(sandbox_module, "ForkServerPool", Uncontained)
    monkeypatch.setattr(sandbox_module, "_sandbox", None)
    monkeypatch.setattr(sandbox_module, "_refused", None)
    monkeypatch.setattr(sandbox_module.atexit, "register", lambda f: f)
    try:
        chosen = sandbox_module.get_sandbox()
    except SandboxError as exc:  # nothing here contains: refused, in one line
        assert "\n" not in str(exc) and str(exc).startswith("cannot contain untrusted code here: ")
        assert "no Landlock signal scoping" in str(exc)
        row = sandbox_module.detect_protections()["containment"]  # doctor gets a row, not a crash
        assert row.startswith("unavailable: cannot contain")
    else:
        assert isinstance(chosen, SubprocessSandbox)
        assert "cannot contain here: no uid drop" in chosen.protections()["backend"]
    assert Uncontained.closed


def test_the_os_layer_alone_refuses_namespaces_ptrace_and_sockets(sandbox: SubprocessSandbox) -> None:
    """Behind the harness's audit hook (off here: `guard=False`, so ctypes loads), the containment itself
    must refuse what the fork-server's seccomp list refuses: a new user namespace (where the program would
    hold every capability) or any other namespace, ptrace, sockets. Found open in the fallback, as root and
    as nobody, while the pool refused it."""
    program = (
        "import ctypes, os, socket\nlibc = ctypes.CDLL(None, use_errno=True)\nopen_ = []\n"
        "for name, flag in (('user', 0x10000000), ('mount', 0x20000), ('net', 0x40000000), ('pid', 0x20000000)):\n"
        "    if libc.unshare(flag) == 0: open_.append(name)\n"
        "if libc.ptrace(16, os.getppid() or 1, 0, 0) == 0: open_.append('ptrace')\n"
        "try:\n    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); open_.append('socket')\nexcept OSError: pass\n"
        "print('open:', ','.join(open_) or 'none')\n")
    result = sandbox.run(program, guard=False)
    assert result.stdout == b"open: none\n", (result.stdout, result.stderr[-2000:])
    assert sandbox.protections()["seccomp"].startswith("active")
