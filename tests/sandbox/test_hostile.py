"""The hostile-program suite: each probe runs as a sample through the real code-tests verifier path.

A probe prints ESCAPED when its attack worked and the test expects exactly that output, so a PASS
verdict means an escape. Host-side checks then look for marker files, leftover sandbox processes,
connections to our server and a damaged run store; finally the pool must still verify a correct program.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest

from monkeys.core import Outcome, Problem, Prompt, Sample
from monkeys.sandbox import detect_protections
from monkeys.sandbox._pool import _UID_BASE
from monkeys.verifiers.code_tests import CodeTests

sys.path.insert(0, str(Path(__file__).parents[1] / "cases/sandbox_escapes"))
from probes import PRELUDE, PROBES  # noqa: E402

# This process's workers get uids from its own block (see `_pool._Worker`): processes of sandboxes run
# by other test sessions on the same machine are not ours to count.
OUR_UIDS = range(_UID_BASE + (os.getpid() % 100_000) * 64, _UID_BASE + (os.getpid() % 100_000 + 1) * 64)


class _Server:
    """A TCP server on 127.0.0.1 that counts every connection it accepts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port, self.accepted = self.sock.getsockname()[1], 0
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
def host(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("hostile")
    shared = base / "shared"
    shared.mkdir()
    os.chmod(base, 0o755)
    os.chmod(shared, 0o777)  # only the sandbox, not file permissions, may stop writes here
    secret = base / "secret.txt"
    secret.write_text("host secret")
    os.chmod(secret, 0o644)
    store = base / "run.sqlite"
    with sqlite3.connect(store) as db:
        db.execute("create table t (x)")
    os.chmod(store, 0o666)
    os.environ["MONKEYS_CANARY"] = "canary-value"
    return {"server": _Server(), "shared": shared, "secret": secret, "store": store,
            "store_bytes": store.read_bytes()}


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
def test_probe_is_contained(host: dict, name: str) -> None:
    verifier = CodeTests(timeout_s=1.0, memory_mb=256, cache=False, retry_timeouts=False)
    marker = host["shared"] / f"{name}.marker"
    params = {"port": host["server"].port, "pid": os.getpid(), "marker": str(marker),
              "secret": str(host["secret"]), "store": str(host["store"])}
    problem = Problem(name, Prompt(), {"kind": "stdio", "tests": [
        {"stdin": json.dumps(params), "stdout": "ESCAPED"}]})
    start = time.monotonic()
    verdict = verifier.verify(problem, Sample(name, 0, 0, PRELUDE + PROBES[name]))
    assert time.monotonic() - start < 10, "the probe outlived its limits"
    assert verdict.outcome is not Outcome.PASS, f"{name} escaped: {verdict}"
    assert verdict.outcome is not Outcome.ERROR, verdict
    time.sleep(0.3 if "daemon" not in name and "thread" not in name else 2.0)  # let daemons act
    assert not marker.exists(), f"{name} wrote outside its directory"
    assert not Path("/tmp/monkeys-escape-probe").exists() and not Path("/dev/shm/monkeys-escape-probe").exists()
    assert _sandbox_pids() == [], f"{name} left processes behind"
    assert host["server"].accepted == 0, f"{name} reached 127.0.0.1"
    assert host["store"].read_bytes() == host["store_bytes"]
    assert _correct_still_passes(verifier)


def test_there_are_at_least_30_probes() -> None:
    assert len(PROBES) >= 30


def test_protections_are_reported() -> None:
    prot = detect_protections()
    for key in ("backend", "rlimits", "landlock", "seccomp", "pid_namespace", "network_namespace",
                "drop_uid", "cgroup"):
        assert key in prot
        assert prot[key].startswith(("active", "unavailable", "fork-server", "subprocess")), prot[key]
    if os.geteuid() == 0:
        assert prot["drop_uid"].startswith("active") and prot["backend"].startswith("fork-server")
