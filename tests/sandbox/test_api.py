"""The sandbox interface itself: run, run_many, limits, output cap, environment, directory, time limits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from monkeys.sandbox import ForkServerPool, Limits
from monkeys.sandbox._pool import SCALE_RANGE
from monkeys.sandbox._simple import PYTHON

SRC = Path(__file__).parents[2] / "src"
SITE = [p for p in sys.path if p.endswith("site-packages")]  # monkeys' dependencies, for the system Python
BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass\nprint('done')\n"


@pytest.fixture(scope="module")
def pool() -> ForkServerPool:
    pool = ForkServerPool(size=2, time_scale=1.0)  # unscaled: these tests state exact limits
    yield pool
    pool.close()


def test_run_returns_output_and_status(pool: ForkServerPool) -> None:
    ok = pool.run("import sys\nprint(sys.stdin.read().upper())\nprint('e', file=sys.stderr)", stdin=b"hi")
    assert ok.ok and ok.exit_code == 0 and ok.stdout == b"HI\n" and ok.stderr == b"e\n"
    assert ok.cpu_s > 0 and ok.wall_s > 0 and ok.extra["time_scale"] == 1.0
    bad = pool.run("raise SystemExit(3)")
    assert bad.exit_code == 3 and not bad.ok
    syntax = pool.run("def f(:\n")
    assert syntax.exit_code == 1 and b"SyntaxError" in syntax.stderr


CTYPES_PROBE = """
def walk(name):
    todo, seen = [object], set()
    while todo:
        c = todo.pop()
        if c.__name__ == name and c.__module__ == "_ctypes":
            return c
        for s in type.__subclasses__(c):
            if id(s) not in seen:
                seen.add(id(s))
                todo.append(s)
found = []
simple, union = walk("_SimpleCData"), walk("Union")
P = type(simple)("P", (simple,), {"_type_": "P"})
U = type(union)("U", (union,), {"_fields_": [("a", P)]})
found.append(("instance", repr(P()), repr(U())))
field = vars(U)["a"]
found.append(("field get", hasattr(type(field), "__get__"), "set", hasattr(type(field), "__set__")))
cdll = next((c for c in type.__subclasses__(object) if c.__name__ == "CDLL"), None)
names = cdll.__init__.__globals__ if cdll else {}
found.append(("ready-made", sorted(n for n in ("memmove", "memset", "_cast", "_string_at", "pythonapi") if n in names)))
print(found)
"""


@pytest.mark.parametrize("guard", [True, False])
def test_ctypes_makes_and_reads_nothing_under_the_guard(pool: ForkServerPool, guard: bool) -> None:
    """Confinement loads ctypes, so its types are one subclass walk away: under the guard no instance can be
    made, a field descriptor neither reads nor writes, and the module's ready-made objects are gone (an
    audit forged the harness's report through each). Without the guard (the OS layer alone) ctypes works."""
    result = pool.run(CTYPES_PROBE, limits=Limits(timeout_s=10), guard=guard)
    out = result.stdout.decode()
    assert result.exit_code == 0, result
    if guard:
        assert out.strip() == "[('instance', 'None', 'None'), ('field get', False, 'set', False), ('ready-made', [])]"
    else:
        assert "'field get', True, 'set', True" in out and "memmove" in out


LOADER_PROBE = """
import importlib.util, marshal, os
from importlib.machinery import SourceFileLoader
source = os.path.dirname(os.__file__) + "/os.py"
crafted = SourceFileLoader("os", source)
body = importlib.util.MAGIC_NUMBER + bytes(12) + marshal.dumps(compile("x = 1", "os.py", "exec"))
crafted.path_stats = lambda p: {"mtime": 0, "size": 0}
crafted.get_data = lambda p: body
try:
    crafted.get_code("os")
    print("crafted bytes loaded")
except ValueError as exc:
    print("refused:", exc)
import calendar, fnmatch, textwrap  # the system library's own cached bytecode still loads
print("stdlib", calendar.isleap(2024))
"""


def test_marshal_loads_only_the_system_librarys_own_bytecode(pool: ForkServerPool) -> None:
    """importlib's loader with a replaced `get_data` hands marshal the program's bytes (a third audit round
    ran crafted bytecode that way): under the guard only the cached file's own bytes load."""
    result = pool.run(LOADER_PROBE, limits=Limits(timeout_s=20), guard=True)
    out = result.stdout.decode()
    assert result.exit_code == 0, result
    assert "refused: marshal is not available to programs in the sandbox" in out, out
    assert "stdlib True" in out and "crafted bytes loaded" not in out, out


def test_run_many_stops_at_first_failure(pool: ForkServerPool) -> None:
    src = "n = int(input())\nassert n != 2\nprint(n * n)"
    stdins = [b"1", b"3", b"2", b"4"]
    results = pool.run_many(src, stdins, stop=lambda i, r: not r.ok)
    assert [r.stdout for r in results] == [b"1\n", b"9\n", b""] and results[-1].exit_code == 1
    assert len(pool.run_many(src, [b"1", b"3", b"4"], stop=lambda i, r: not r.ok)) == 3


def test_memory_process_and_file_limits(pool: ForkServerPool) -> None:
    mem = pool.run("x = bytearray(600 << 20)", limits=Limits(memory_mb=256))
    assert mem.memory_exceeded and mem.exit_code == 1
    procs = pool.run("import os\nn = 0\ntry:\n    for _ in range(50):\n        if os.fork() == 0:\n"
                     "            import time; time.sleep(5)\n        n += 1\nexcept OSError:\n    pass\nprint(n)",
                     limits=Limits(max_processes=8, timeout_s=2))
    assert procs.ok and int(procs.stdout) < 8
    big = pool.run("open('f', 'wb').write(b'x' * (3 << 20))", limits=Limits(max_file_mb=1))
    assert not big.ok
    files = pool.run("fs = [open('/dev/null') for _ in range(100)]", limits=Limits(max_open_files=32))
    assert files.exit_code == 1 and b"Too many open files" in files.stderr


def test_output_is_capped(pool: ForkServerPool) -> None:
    result = pool.run("while True: print('y' * 1000)", limits=Limits(max_output_bytes=10_000, timeout_s=5))
    assert result.output_truncated and not result.ok and len(result.stdout) <= 10_000
    assert result.wall_s < 4


def test_environment_is_empty(pool: ForkServerPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONKEYS_SECRET_TOKEN", "x")
    result = pool.run("import os, json\nprint(json.dumps(dict(os.environ)))")
    assert json.loads(result.stdout) == {}


def test_private_directory_is_fresh_and_own(pool: ForkServerPool) -> None:
    first = pool.run_many("import os\nprint(sorted(os.listdir('.')))\nopen('left', 'w').write('x')\n"
                          "os.mkdir('d'); os.chmod('d', 0)", [b"", b""])
    assert [r.stdout for r in first] == [b"[]\n", b"[]\n"]  # nothing left by the run before
    again = pool.run("import os\nprint(sorted(os.listdir('.')), os.getcwd() != '/')")
    assert again.stdout == b"[] True\n"
    outside = pool.run("open('/tmp/monkeys-api-probe', 'w')")
    assert outside.exit_code == 1 and not Path("/tmp/monkeys-api-probe").exists()


def test_cpu_limit_is_cpu_time_and_wall_limit_catches_sleepers(pool: ForkServerPool) -> None:
    busy = pool.run(BURN.format(s=5), limits=Limits(timeout_s=5, cpu_s=0.3))
    assert busy.timed_out and busy.extra["time_limit"] == "cpu" and busy.wall_s < 3
    assert 0.25 < busy.cpu_s < 1.5
    sleeper = pool.run("import time\ntime.sleep(30)", limits=Limits(timeout_s=0.5, cpu_s=5))
    assert sleeper.timed_out and sleeper.extra["time_limit"] == "wall" and sleeper.cpu_s < 0.3
    fits = pool.run(BURN.format(s=0.1), limits=Limits(timeout_s=5, cpu_s=1))
    assert fits.ok and fits.extra["time_limit"] is None


def test_only_timeout_means_cpu_limit_with_twice_the_wall_clock(pool: ForkServerPool) -> None:
    limits = pool.effective(Limits(timeout_s=2))
    assert limits["cpu_s"] == 2 and limits["timeout_s"] == 4
    both = pool.effective(Limits(timeout_s=3, cpu_s=1))
    assert both["cpu_s"] == 1 and both["timeout_s"] == 3


def test_calibration_scales_every_time_limit() -> None:
    calibrated = ForkServerPool(size=1)
    try:
        assert SCALE_RANGE[0] <= calibrated.time_scale <= SCALE_RANGE[1]
        assert calibrated.calibration_cpu_s > 0
        assert "calibrated" in calibrated.protections()["time_limits"]
    finally:
        calibrated.close()
    slow = ForkServerPool(size=1, time_scale=4.0)  # as on a machine 4x slower than the reference
    try:
        assert slow.effective(Limits(timeout_s=1, cpu_s=0.25))["cpu_s"] == 1.0
        result = slow.run(BURN.format(s=0.4), limits=Limits(timeout_s=1, cpu_s=0.25))
        assert result.ok and result.extra["cpu_limit_s"] == 1.0  # 0.4 s CPU fits 0.25 reference s x 4
    finally:
        slow.close()


def test_protections_report_each_step(pool: ForkServerPool) -> None:
    prot = pool.protections()
    for key in ("rlimits", "landlock", "seccomp", "pid_namespace", "network_namespace", "drop_uid", "cgroup",
                "time_limits", "empty_environment", "private_directory"):
        assert prot[key].startswith(("active", "unavailable:")), (key, prot[key])


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv to start a pool as an unprivileged user")
def test_pool_works_without_root(tmp_path: Path) -> None:
    """A fresh pool started as `nobody` (system Python, our sources) runs programs and says what it lacks."""
    script = textwrap.dedent(f"""
        import json, sys
        sys.path[:0] = [{str(SRC)!r}, *{SITE!r}]
        from monkeys.sandbox import ForkServerPool, Limits
        pool = ForkServerPool(size=1)
        caps = ("import os, ctypes, struct\\nlibc = ctypes.CDLL(None)\\n"
                "hdr = ctypes.create_string_buffer(struct.pack('Ii', 0x20080522, 0), 8)\\n"
                "data = ctypes.create_string_buffer(24)\\nlibc.capget(hdr, data)\\n"
                "print(os.getuid(), len(os.environ), libc.prctl(39, 0, 0, 0, 0), *struct.unpack('6I', data.raw))")
        ok = pool.run(caps, guard=False)  # ctypes: the OS layer is what is checked here
        proc = pool.run("print(open('/proc/self/status').read())", guard=False)
        busy = pool.run("while True: pass", limits=Limits(timeout_s=1, cpu_s=0.2))
        esc = pool.run("open('/tmp/monkeys-nonroot-probe', 'w')")
        print(json.dumps({{"prot": pool.protections(), "out": ok.stdout.decode(), "ok": ok.ok,
                          "proc": proc.exit_code,
                          "busy": [busy.timed_out, busy.extra["time_limit"]], "esc": esc.exit_code}}))
        pool.close()
    """)
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    proc = subprocess.run([*nobody, PYTHON, "-I", "-c", script],
                          capture_output=True, text=True, timeout=60, cwd="/")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.splitlines()[-1])
    prot, status = report["prot"], report["out"]
    assert report["ok"] and status.startswith(("0 0 ", "65534 0 "))  # uid 0 only inside its user namespace
    fields = status.split()
    assert fields[2] == "1" and fields[3] == fields[6] == "0", status  # no_new_privs; no effective capability
    assert report["proc"] == 1  # /proc is not readable
    assert report["busy"] == [True, "cpu"] and report["esc"] == 1
    assert not Path("/tmp/monkeys-nonroot-probe").exists()
    assert prot["drop_uid"].startswith("unavailable: not root") and prot["cgroup"].startswith("unavailable")
    for key in ("landlock", "seccomp", "rlimits", "time_limits"):
        assert prot[key].startswith("active"), (key, prot[key])


def test_a_worker_that_dies_under_a_program_twice_is_that_programs_fail_not_a_sandbox_error() -> None:
    """A program that takes its worker down (on hosts where it can) must not abort the run: the pool
    retries once on a fresh worker, and a second death is the program's verdict ("killed the sandbox").
    Here the test plays the program's part, killing whichever worker runs it; a worker that dies only
    once (a host hiccup) gives the retry's ordinary result."""
    import threading
    import time

    from monkeys.core import Outcome
    from monkeys.verifiers.code_tests import _limits_hit

    pool = ForkServerPool(size=1, time_scale=1.0)
    try:
        deaths = {"left": 2}

        def assassin() -> None:
            while deaths["left"]:
                for worker in list(pool._live):
                    if worker.busy:
                        os.kill(worker.proc.pid, 9)
                        deaths["left"] -= 1
                        time.sleep(0.3)  # the retry starts a new worker
                        break
                time.sleep(0.01)

        killer = threading.Thread(target=assassin, daemon=True)
        killer.start()
        result = pool.run("import time\ntime.sleep(3)\nprint('survived')", limits=Limits(timeout_s=5))
        killer.join(5)
        assert result.sandbox_killed and result.stdout == b"", result
        assert _limits_hit(result) == (Outcome.FAIL, "killed the sandbox")
        # once only: the retry's own result
        deaths["left"] = 1
        killer = threading.Thread(target=assassin, daemon=True)
        killer.start()
        again = pool.run("import time\ntime.sleep(1)\nprint('survived')", limits=Limits(timeout_s=5))
        killer.join(5)
        assert not again.sandbox_killed and again.stdout == b"survived\n", again
        assert pool.run("print(1)").stdout == b"1\n"  # and the pool goes on
    finally:
        pool.close()


def test_a_killed_workers_directory_is_deleted_by_the_next_sandbox_that_starts(tmp_path: Path) -> None:
    """A worker a program brings down cannot clean up after itself; its directory must not pile up."""
    import glob
    import tempfile

    from monkeys.sandbox import _tmpdirs

    pool = ForkServerPool(size=1, time_scale=1.0)
    try:
        worker = next(iter(pool._live))
        left = glob.glob(os.path.join(tempfile.gettempdir(), f"{_tmpdirs._owner_prefix(worker.proc.pid)}*"))
        assert len(left) == 1
        os.kill(worker.proc.pid, 9)
        worker.proc.wait()
        assert os.path.isdir(left[0])  # it died holding it
        ForkServerPool(size=1, time_scale=1.0).close()
        assert not os.path.exists(left[0])
    finally:
        pool.close()

    # only dead owners' directories go (a zombie is dead; a live owner keeps its own; another pid
    # namespace's are not ours to judge)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    for owner in (gone.pid, os.getpid()):
        (tmp_path / f"{_tmpdirs._owner_prefix(owner)}x" / "w").mkdir(parents=True)
    (tmp_path / "monkeys-sbx-notapid").mkdir()
    elsewhere = f"monkeys-sbx-1-{gone.pid}-x"  # pid namespace inode 1: not this one
    (tmp_path / elsewhere).mkdir()
    assert _tmpdirs.sweep(str(tmp_path)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{_tmpdirs._owner_prefix(os.getpid())}x", "monkeys-sbx-notapid", elsewhere])
