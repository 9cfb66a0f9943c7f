"""The hostile probes on the non-root path: a runner as `nobody` (via `setpriv`, under the system Python)
verifies them through the real `code-tests` verifier, with user namespaces allowed and refused.

"Refused" is simulated as Docker's default profile and Ubuntu 24.04 do it: a seccomp filter (installed
with no_new_privs before the runner starts) makes unshare/clone with CLONE_NEWUSER fail with EPERM and
clone3 with ENOSYS. Each variant runs the sandbox `get_sandbox()` picks, and the fallback
(`SubprocessSandbox`) forced. Either every probe is contained (no PASS; no marker written; nothing of
`nobody` left running; a canary process of `nobody` the test started outside is still alive), or the
sandbox refuses with the one line saying what is missing. Untrusted code never runs uncontained.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import pwd
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SITE = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
SYSTEM_PYTHON = "/usr/bin/python3"
PROBES_DIR = REPO / "tests" / "cases" / "sandbox_escapes"
# The probes that matter for the non-root path (pid/uid containment, daemons, limits, files, network).
CHOSEN = ["kill_minus_one", "kill_every_pid", "kill_parent", "kill_test_process", "setsid_daemon",
          "double_fork_daemon", "daemon_thread_after_exit", "fork_bomb", "memory_bomb", "huge_stdout",
          "read_host_secret", "write_outside_marker", "write_tmp", "socket_to_localhost", "read_proc_environ",
          "ptrace_parent", "ctypes_unshare_user"]
REFUSAL = "cannot contain untrusted code here: "

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start a runner as nobody"),
    pytest.mark.skipif(not (shutil.which("setpriv") and os.path.exists(SYSTEM_PYTHON)),
                       reason="needs setpriv and /usr/bin/python3"),
    pytest.mark.skipif(sys.version_info[:2] != (3, 11) and not os.environ.get("MONKEYS_FORCE_UNPRIV"),
                       reason="the runner imports this venv's packages under the system Python 3.11"),
]

# Runs as nobody under the system Python. argv[1]: JSON config. Prints one JSON line.
RUNNER = r'''
import json, os, socket, sys, threading, time
cfg = json.loads(sys.argv[1])
sys.path[:0] = cfg["path"]
from monkeys.core import Outcome, Problem, Prompt, Sample
from monkeys.errors import SandboxError
import monkeys.sandbox as sb
from monkeys.verifiers.code_tests import CodeTests
from probes import PRELUDE, PROBES

server = socket.create_server(("127.0.0.1", 0))
accepted = []
def serve():
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        accepted.append(1); conn.close()
threading.Thread(target=serve, daemon=True).start()
os.environ["MONKEYS_CANARY"] = "canary-value"
try:
    if cfg["mode"] == "fallback":
        sb._sandbox = sb.SubprocessSandbox(reason="forced by the test")
    prot = sb.detect_protections()
    sb.get_sandbox()
except SandboxError as exc:
    print(json.dumps({"refused": str(exc)})); sys.exit(0)
try:  # the OS layer alone: the harness's audit hook would stop the probes' prelude (ctypes) first
    verifier = CodeTests(timeout_s=1.0, memory_mb=256, cache=False, retry_timeouts=False, guard=False)
except TypeError:  # a verifier without the guard option
    verifier = CodeTests(timeout_s=1.0, memory_mb=256, cache=False, retry_timeouts=False)
verdicts = {}
for name in cfg["probes"]:
    params = {"port": server.getsockname()[1], "pid": os.getpid(), "marker": f"{cfg['shared']}/{name}.marker",
              "secret": cfg["secret"], "store": cfg["store"], "canary": cfg["canary"], "ipc_key": cfg["ipc_key"],
              "tmp_marker": f"/tmp/{cfg['tag']}-{name}", "var_tmp_marker": f"/var/tmp/{cfg['tag']}-{name}",
              "shm_marker": f"/dev/shm/{cfg['tag']}-{name}", "unix_socket": f"{cfg['shared']}/absent.sock",
              "abstract_socket": cfg["tag"]}
    problem = Problem(name, Prompt(), {"kind": "stdio", "tests": [{"stdin": json.dumps(params), "stdout": "ESCAPED"}]})
    try:
        v = verifier.verify(problem, Sample(name, 0, 0, PRELUDE + PROBES[name]))
        verdicts[name] = [v.outcome.value, v.reason]
    except SandboxError as exc:
        verdicts[name] = ["sandbox-error", str(exc)]
time.sleep(2.0)  # let daemons act (they sleep 1.5 s before writing their marker)
ok = verifier.verify(Problem("sum", Prompt(), {"kind": "stdio", "tests": [{"stdin": "2 3", "stdout": "5"}]}),
                     Sample("sum", 0, 0, "print(sum(map(int, input().split())))"))
print(json.dumps({"verdicts": verdicts, "protections": prot, "accepted": len(accepted),
                  "correct_passes": ok.outcome is Outcome.PASS,
                  "backend": prot.get("backend", "")}))
'''

# Installs the "no user namespaces" seccomp filter, then execs argv[1:]. x86_64 only.
NO_USERNS = r'''
import ctypes, os, struct, sys
def ins(code, jt, jf, k): return struct.pack("HBBI", code, jt, jf, k)
LD, JEQ, JSET, RET = 0x20, 0x15, 0x45, 0x06
ALLOW, EPERM, ENOSYS, NEWUSER = 0x7FFF0000, 0x00050001, 0x00050026, 0x10000000
prog = [ins(LD, 0, 0, 4), ins(JEQ, 1, 0, 0xC000003E), ins(RET, 0, 0, ALLOW), ins(LD, 0, 0, 0),
        ins(JEQ, 0, 1, 435), ins(RET, 0, 0, ENOSYS),                        # clone3: ENOSYS (glibc falls back)
        ins(JEQ, 1, 0, 272), ins(JEQ, 0, 3, 56),                            # unshare or clone:
        ins(LD, 0, 0, 16), ins(JSET, 0, 1, NEWUSER), ins(RET, 0, 0, EPERM),  # CLONE_NEWUSER in arg 0: EPERM
        ins(RET, 0, 0, ALLOW)]
code = b"".join(prog)
buf = ctypes.create_string_buffer(code, len(code))
fprog = ctypes.create_string_buffer(struct.pack("HxxxxxxQ", len(prog), ctypes.addressof(buf)), 16)
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(38, 1, 0, 0, 0) == 0, "no_new_privs"
assert libc.prctl(22, 2, fprog, 0, 0) == 0, os.strerror(ctypes.get_errno())
os.execv(sys.argv[1], sys.argv[1:])
'''


def _nobody_pids(exclude: set[int]) -> list[int]:
    uid = pwd.getpwnam("nobody").pw_uid
    pids = []
    for d in os.listdir("/proc"):
        try:
            if d.isdigit() and int(d) not in exclude and os.stat(f"/proc/{d}").st_uid == uid:
                with open(f"/proc/{d}/stat", "rb") as f:
                    if f.read().rsplit(b")", 1)[1].split()[0] != b"Z":
                        pids.append(int(d))
        except OSError:
            pass
    return pids


@pytest.fixture(scope="module")
def host() -> Iterator[dict]:
    nobody = pwd.getpwnam("nobody")
    base = Path(tempfile.mkdtemp(prefix="monkeys-unpriv-"))
    os.chmod(base, 0o755)
    shared = base / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # only the sandbox, not file permissions, may stop writes here
    secret, store = base / "secret.txt", base / "run.sqlite"
    secret.write_text("host secret")
    with sqlite3.connect(store) as db:
        db.execute("create table t (x)")
    for path in (secret, store):  # nobody's own files: only the sandbox can keep the program out
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
        os.chmod(path, 0o600)
    (base / "runner.py").write_text(RUNNER)
    (base / "no_userns.py").write_text(NO_USERNS)
    unreadable = [p for p in (REPO / "src", SITE, PROBES_DIR) if subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "test", "-r", str(p), "-a", "-x",
         str(p)]).returncode]
    if unreadable:
        shutil.rmtree(base)
        pytest.skip(f"not readable by nobody: {unreadable}")
    yield {"base": base, "shared": shared, "secret": secret, "store": store, "store_bytes": store.read_bytes()}
    shutil.rmtree(base, ignore_errors=True)


def _userns_works(refused: bool, base: Path) -> bool:
    cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    if refused:
        cmd += [SYSTEM_PYTHON, str(base / "no_userns.py")]
    cmd += ["/usr/bin/unshare", "--user", "--map-root-user", "true"]
    return subprocess.run(cmd, capture_output=True).returncode == 0


@pytest.mark.parametrize("mode", ["auto", "fallback"])
@pytest.mark.parametrize("userns", ["allowed", "refused"])
def test_probes_as_nobody(host: dict, userns: str, mode: str) -> None:
    if userns == "refused" and platform.machine() != "x86_64":
        pytest.skip("the no-user-namespace filter is written for x86_64")
    refused = userns == "refused"
    works = _userns_works(refused, host["base"])
    if refused:
        assert not works, "the seccomp filter did not refuse user namespaces"
    elif not works:
        pytest.skip("this host refuses unprivileged user namespaces already (covered by the 'refused' variant)")
    for marker in host["shared"].iterdir():
        marker.unlink()
    before = set(_nobody_pids(set()))
    tag = f"monkeys-escape-{uuid.uuid4().hex}"
    canary = subprocess.Popen(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", SYSTEM_PYTHON,
                               "-c", "import time; time.sleep(300)", f"{tag}-canary"])
    try:
        config = {"mode": mode, "probes": CHOSEN, "tag": tag, "canary": f"{tag}-canary",
                  "ipc_key": random.randrange(0x5B000000, 0x5BFFFFFF), "shared": str(host["shared"]),
                  "secret": str(host["secret"]),
                  "store": str(host["store"]), "path": [str(REPO / "src"), str(SITE), str(PROBES_DIR)]}
        cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        if refused:
            cmd += [SYSTEM_PYTHON, str(host["base"] / "no_userns.py")]
        cmd += [SYSTEM_PYTHON, "-I", str(host["base"] / "runner.py"), json.dumps(config)]
        proc = subprocess.run(cmd, capture_output=True, timeout=300, cwd="/", env={"PATH": "/usr/bin:/bin"})
        assert proc.returncode == 0, proc.stderr.decode()[-3000:]
        report = json.loads(proc.stdout.decode().strip().splitlines()[-1])
        assert canary.poll() is None, "a process of nobody outside the sandbox was killed"
    finally:
        canary.send_signal(signal.SIGKILL)
        canary.wait()
    print(f"[{userns}/{mode}]", report.get("refused") or (report["backend"], report["verdicts"]))  # shown with -s
    if "refused" in report:
        message = report["refused"]
        assert "\n" not in message and message.startswith(REFUSAL), message
        assert "not root" in message
        if refused:
            assert "user namespaces are refused" in message
        return
    escaped = {name: v for name, v in report["verdicts"].items() if v[0] == "pass"}
    assert not escaped, f"escaped as nobody ({userns}, {mode}, {report['backend']}): {escaped}"
    errors = {name: v for name, v in report["verdicts"].items() if v[0] in ("error", "sandbox-error")}
    assert not errors, errors
    assert sorted(p.name for p in host["shared"].iterdir()) == [], "a probe wrote outside its directory"
    written = [p for d in ("/tmp", "/var/tmp", "/dev/shm") for p in Path(d).glob(f"{tag}-*")]
    for path in written:
        path.unlink()
    assert written == [], "a probe wrote to the real /tmp, /var/tmp or /dev/shm"
    assert report["accepted"] == 0, "a probe reached 127.0.0.1"
    assert host["store"].read_bytes() == host["store_bytes"]
    assert report["correct_passes"]
    left = _nobody_pids(before | {canary.pid})
    for _ in range(100):  # the runner's sandbox shuts down at its exit: give its workers a moment to go
        if not left:
            break
        time.sleep(0.05)
        left = _nobody_pids(before | {canary.pid})
    assert left == [], f"processes of nobody left behind: {left}"


def test_no_userns_filter_is_what_it_claims() -> None:
    """The simulation itself: under the filter, unshare(CLONE_NEWUSER) is EPERM, other syscalls work."""
    if platform.machine() != "x86_64":
        pytest.skip("x86_64 only")
    code = ("import ctypes, os; libc = ctypes.CDLL(None, use_errno=True)\n"
            "r = libc.unshare(0x10000000); print(r, ctypes.get_errno(), os.getpid() > 0)")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(NO_USERNS)
    try:
        out = subprocess.run([SYSTEM_PYTHON, f.name, SYSTEM_PYTHON, "-c", code], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    assert out.stdout.split()[:2] == ["-1", str(ctypes.c_int(1).value)], out.stderr
