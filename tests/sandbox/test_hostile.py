"""The hostile-program suite: each probe runs as a sample through the real code-tests verifier path.

A probe prints ESCAPED (and nothing else) when its attack worked and the test expects exactly that output,
so a PASS verdict means an escape; each probe also runs once directly in the sandbox and its stdout must not
hold ESCAPED. Host-side checks then look for marker files (in a per-test directory and under unique names in
the real /tmp, /var/tmp, /dev/shm), SysV IPC objects that outlived the probe, leftover sandbox processes,
connections to our TCP and UNIX-socket servers and a damaged run store; finally the pool must still verify a
correct program.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from monkeys.core import Outcome, Problem, Prompt, Sample
from monkeys.sandbox import Limits, detect_protections, get_sandbox
from monkeys.sandbox._pool import _UID_BASE
from monkeys.verifiers.code_tests import CodeTests

sys.path.insert(0, str(Path(__file__).parents[1] / "cases/sandbox_escapes"))
from probes import PRELUDE, PROBES  # noqa: E402

# This process's workers get uids from its own block (see `_pool._Worker`): processes of sandboxes run
# by other test sessions on the same machine are not ours to count.
OUR_UIDS = range(_UID_BASE + (os.getpid() % 100_000) * 64, _UID_BASE + (os.getpid() % 100_000 + 1) * 64)


class _Server:
    """A server (TCP on 127.0.0.1, or a UNIX socket) that counts every connection it accepts."""

    def __init__(self, family: int = socket.AF_INET, address: str | None = None) -> None:
        if family == socket.AF_INET:
            self.sock = socket.create_server(("127.0.0.1", 0))
            self.port = self.sock.getsockname()[1]
        else:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.bind(address)
            self.sock.listen(16)
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


@pytest.fixture(scope="module")
def host() -> dict:
    # Not under pytest's tmp_path: its parents are 0700, so a dropped uid could not even reach a marker
    # there and the checks would prove nothing. A fresh directory per module, removed at the end.
    base = Path(tempfile.mkdtemp(prefix="monkeys-hostile-"))
    os.chmod(base, 0o755)
    unix_path = base / "host.sock"
    unix = _Server(socket.AF_UNIX, str(unix_path))
    os.chmod(unix_path, 0o777)
    abstract_name = f"monkeys-hostile-{uuid.uuid4().hex}"
    abstract = _Server(socket.AF_UNIX, "\0" + abstract_name)
    canary = f"canary-{uuid.uuid4().hex}"
    sleeper = subprocess.Popen([canary, "60"], executable="/bin/sleep")  # a host process with the canary in argv
    os.environ["MONKEYS_CANARY"] = "canary-value"
    try:
        yield {"server": _Server(), "unix": unix, "unix_path": unix_path, "abstract": abstract,
               "abstract_name": abstract_name, "canary": canary, "base": base}
    finally:
        sleeper.kill()
        sleeper.wait()
        for server in (unix, abstract):
            server.sock.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def probe_dir(host: dict) -> dict:
    """Per-test paths: a world-writable directory for the marker, a 0644 secret, a 0666 store, unique names
    in the real /tmp, /var/tmp and /dev/shm, and a fresh SysV key."""
    d = Path(tempfile.mkdtemp(prefix="t-", dir=host["base"]))
    os.chmod(d, 0o755)
    shared = d / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # only the sandbox, not file permissions, may stop writes here
    secret = d / "secret.txt"
    secret.write_text("host secret")
    os.chmod(secret, 0o644)
    store = d / "run.sqlite"
    with sqlite3.connect(store) as db:
        db.execute("create table t (x)")
    os.chmod(store, 0o666)
    tag = uuid.uuid4().hex
    paths = {"tmp_marker": f"/tmp/monkeys-escape-{tag}", "var_tmp_marker": f"/var/tmp/monkeys-escape-{tag}",
             "shm_marker": f"/dev/shm/monkeys-escape-{tag}"}
    ipc_key = random.randrange(0x5a000000, 0x5affffff)
    try:
        yield {"shared": shared, "secret": secret, "store": store, "store_bytes": store.read_bytes(),
               "ipc_key": ipc_key, **paths}
    finally:
        for path in paths.values():
            try:
                os.unlink(path)
            except OSError:
                pass
        _remove_ipc(ipc_key)
        shutil.rmtree(d, ignore_errors=True)


def _ipc_keys() -> dict[str, set[int]]:
    """SysV IPC keys visible on the host: /proc/sysvipc/{shm,msg,sem}, first column."""
    keys: dict[str, set[int]] = {}
    for kind in ("shm", "msg", "sem"):
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        except OSError:
            lines = []
        keys[kind] = {int(line.split()[0]) for line in lines if line.split()}
    return keys


def _remove_ipc(key: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for get, ctl in ((libc.shmget, libc.shmctl), (libc.msgget, libc.msgctl)):
        ident = get(key, 0, 0)
        if ident >= 0:
            ctl(ident, 0, None)  # IPC_RMID
    ident = libc.semget(key, 0, 0)
    if ident >= 0:
        libc.semctl(ident, 0, 0)


def _sandbox_pids() -> list[int]:
    pids = []
    for d in os.listdir("/proc"):
        try:
            if d.isdigit() and os.stat(f"/proc/{d}").st_uid in OUR_UIDS:
                pids.append(int(d))
        except OSError:
            pass
    return pids


def _correct_still_passes(verifier: CodeTests) -> bool:
    problem = Problem("sum", Prompt(), {"kind": "stdio", "tests": [{"stdin": "2 3", "stdout": "5"}]})
    return verifier.verify(problem, Sample("sum", 0, 0, "print(sum(map(int, input().split())))")).passed


@pytest.mark.parametrize("name", sorted(PROBES))
def test_probe_is_contained(host: dict, probe_dir: dict, name: str) -> None:
    # guard=False: the operating-system layer alone must contain every probe (the in-process guard would
    # stop the ctypes ones before they reach the kernel)
    verifier = CodeTests(timeout_s=1.0, memory_mb=256, cache=False, retry_timeouts=False, guard=False)
    marker = probe_dir["shared"] / f"{name}.marker"
    params = {"port": host["server"].port, "pid": os.getpid(), "marker": str(marker),
              "secret": str(probe_dir["secret"]), "store": str(probe_dir["store"]),
              "tmp_marker": probe_dir["tmp_marker"], "var_tmp_marker": probe_dir["var_tmp_marker"],
              "shm_marker": probe_dir["shm_marker"], "unix_socket": str(host["unix_path"]),
              "abstract_socket": host["abstract_name"], "canary": host["canary"], "ipc_key": probe_dir["ipc_key"]}
    problem = Problem(name, Prompt(), {"kind": "stdio", "tests": [
        {"stdin": json.dumps(params), "stdout": "ESCAPED"}]})
    ipc_before = _ipc_keys()
    start = time.monotonic()
    verdict = verifier.verify(problem, Sample(name, 0, 0, PRELUDE + PROBES[name]))
    assert time.monotonic() - start < 10, "the probe outlived its limits"
    assert verdict.outcome is not Outcome.PASS, f"{name} escaped: {verdict}"
    assert verdict.outcome is not Outcome.ERROR, verdict
    if "esc()" in PROBES[name]:  # the verdict must not depend on what else the probe printed: look at stdout
        result = get_sandbox().run(PRELUDE + PROBES[name], stdin=json.dumps(params).encode(),
                                   limits=Limits(timeout_s=1.0, memory_mb=256), guard=False)
        assert b"ESCAPED" not in result.stdout, f"{name} escaped (stdout {result.stdout[:200]!r})"
    time.sleep(0.3 if "daemon" not in name and "thread" not in name else 2.0)  # let daemons act
    assert not marker.exists(), f"{name} wrote outside its directory"
    for key in ("tmp_marker", "var_tmp_marker", "shm_marker"):
        assert not Path(probe_dir[key]).exists(), f"{name} wrote {probe_dir[key]}"
    ipc_after = _ipc_keys()
    for kind in ipc_after:
        assert probe_dir["ipc_key"] not in ipc_after[kind] - ipc_before[kind], f"{name}: a SysV {kind} outlived it"
    assert _sandbox_pids() == [], f"{name} left processes behind"
    assert host["server"].accepted == 0, f"{name} reached 127.0.0.1"
    assert host["unix"].accepted == 0, f"{name} reached a pathname UNIX socket"
    assert host["abstract"].accepted == 0, f"{name} reached an abstract UNIX socket"
    assert probe_dir["store"].read_bytes() == probe_dir["store_bytes"]
    assert _correct_still_passes(verifier)


def test_there_are_at_least_40_probes() -> None:
    assert len(PROBES) >= 40


def test_protections_are_reported() -> None:
    prot = detect_protections()
    for key in ("backend", "rlimits", "landlock", "seccomp", "pid_namespace", "network_namespace",
                "drop_uid", "cgroup"):
        assert key in prot
        assert prot[key].startswith(("active", "unavailable", "fork-server", "subprocess")), prot[key]
    if os.geteuid() == 0:
        assert prot["drop_uid"].startswith("active") and prot["backend"].startswith("fork-server")
