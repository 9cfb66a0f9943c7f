"""A program's stdout blocks when the pipe is full, as anywhere else (it was non-blocking: a correct program printing
more than 64 KiB faster than the worker read it failed with BlockingIOError).

Executions on one worker inherit the same open file descriptions (stdin's memfd, the stdout, stderr and
report pipes), made once by the template. What a program sets on a description outlives it: status flags
(F_SETFL: O_NONBLOCK, O_APPEND, O_ASYNC), the I/O signal (F_SETSIG), the owner (F_SETOWN), a pipe's size
(F_SETPIPE_SZ). A ninth audit round read them from the next execution, guard on, in pure Python: a channel
of a few bits per execution; a non-blocking stdout also broke the next program's large output. The
template puts them back before each execution."""

from __future__ import annotations

import json

import pytest

from monkeys.sandbox import ForkServerPool, Limits

STATE = r'''import fcntl, json, sys
out = {}
for fd in (0, 1, 2, 4):
    for name, op in (("flags", fcntl.F_GETFL), ("sig", 11), ("owner", fcntl.F_GETOWN), ("pipe", 1032)):
        try:
            out[f"{fd}.{name}"] = fcntl.fcntl(fd, op)
        except OSError as exc:
            out[f"{fd}.{name}"] = f"errno {exc.errno}"
print(json.dumps(out))
'''
LEAVE = r'''import fcntl, os, sys
for fd in (0, 1, 2, 4):
    for op, arg in ((fcntl.F_SETFL, os.O_NONBLOCK | os.O_APPEND | fcntl.FASYNC), (10, 42),  # F_SETSIG
                    (fcntl.F_SETOWN, os.getpid()), (1031, 4096 * 4)):  # F_SETPIPE_SZ
        try:
            fcntl.fcntl(fd, op, arg | (fcntl.fcntl(fd, fcntl.F_GETFL) if op == fcntl.F_SETFL else 0))
        except OSError:
            pass
print("left")
'''
FLOOD = "import sys\nsys.stdout.write('x' * 4_000_000)\nsys.stdout.flush()\nprint('y' * 100, file=sys.stderr)\n"


@pytest.fixture
def pool() -> ForkServerPool:
    """A fresh worker per test: the first program sees the descriptions as made."""
    pool = ForkServerPool(size=1)
    yield pool
    pool.close()


@pytest.mark.parametrize("guard", [True, False])
def test_a_program_leaves_nothing_on_the_shared_descriptions(pool: ForkServerPool, guard: bool) -> None:
    limits = Limits(timeout_s=10)
    before = pool.run(STATE, stdin=b"1 2\n", limits=limits, guard=guard)
    assert before.exit_code == 0, before.stderr
    left = pool.run(LEAVE, stdin=b"1 2\n", limits=limits, guard=guard)
    assert left.stdout == b"left\n", left.stderr
    after = pool.run(STATE, stdin=b"1 2\n", limits=limits, guard=guard)
    assert after.exit_code == 0, after.stderr
    assert json.loads(after.stdout) == json.loads(before.stdout)


@pytest.mark.parametrize("after_leave", [False, True])
def test_a_program_writes_all_its_output_at_once(pool: ForkServerPool, after_leave: bool) -> None:
    limits = Limits(timeout_s=10, max_output_bytes=8 << 20)
    if after_leave:  # after a program that set O_NONBLOCK on the shared stdout
        assert pool.run(LEAVE, limits=limits).stdout == b"left\n"
    flood = pool.run(FLOOD, limits=limits)
    assert flood.exit_code == 0, flood.stderr[-500:]
    assert flood.stdout == b"x" * 4_000_000
    assert flood.stderr == b"y" * 100 + b"\n"


PID_SENDER = r'''import os
value = int(input())
while True:  # leave the counter where the next execution's pid tells `value`
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    if (pid + 1) % 1000 == value:
        break
print("sent")
'''


def test_the_next_execution_pid_tells_nothing(pool: ForkServerPool) -> None:
    """Pids in a worker's namespace were handed out in sequence across executions: a program forked until the
    next execution's pid told a number of its choosing (ten bits per execution). Every child is pid 2 now."""
    if not pool.protections().get("pid_namespace", "").startswith("active"):
        pytest.skip("no pid namespace per worker here")
    limits = Limits(timeout_s=10)
    first = pool.run("import os\nprint(os.getpid())\n", limits=limits).stdout
    for value in (777, 123):
        assert pool.run(PID_SENDER, stdin=b"%d\n" % value, limits=limits).stdout == b"sent\n"
        assert pool.run("import os\nprint(os.getpid())\n", limits=limits).stdout == first


DIR_SENDER = "import os\nfor i in range(int(input())):\n    open('f%06d' % i, 'w').close()\nprint('sent')\n"
DIR_SIZE = "import os\nprint(os.stat('.').st_size)\n"


def test_the_working_directory_tells_nothing_of_the_last_program(pool: ForkServerPool) -> None:
    """A worker's directory is emptied between programs but keeps its inode (the Landlock rule names it), and
    ext4 never shrinks a directory: its size told the next program how many files the last one made. A worker
    whose directory grew retires before the next program; the pool runs that program on a fresh one."""
    limits = Limits(timeout_s=20)
    first = pool.run(DIR_SIZE, limits=limits).stdout
    for files in (500, 3000):
        assert pool.run(DIR_SENDER, stdin=b"%d\n" % files, limits=limits).stdout == b"sent\n"
        assert pool.run(DIR_SIZE, limits=limits).stdout == first


INODE_STATE = r'''import fcntl, os, struct
fd = os.open('.', os.O_RDONLY)
try:
    flags = struct.unpack('i', fcntl.ioctl(fd, 0x80086601, bytes(4)))[0]  # FS_IOC_GETFLAGS
except OSError:
    flags = None
print(sorted(os.listxattr('.')), flags)
'''
INODE_SENDER = r'''import fcntl, os, struct
os.setxattr('.', 'user.monkeys', b'1000000007')
fd = os.open('.', os.O_RDONLY)
flags = struct.unpack('i', fcntl.ioctl(fd, 0x80086601, bytes(4)))[0]
for bit in (0x8, 0x40, 0x80, 0x10000):  # sync, nodump, noatime, dirsync: the owner's to set
    try:
        fcntl.ioctl(fd, 0x40086602, struct.pack('i', flags | bit))  # FS_IOC_SETFLAGS
        flags |= bit
    except OSError:
        pass
print('sent')
'''


def test_the_working_directory_keeps_no_attributes_or_flags(pool: ForkServerPool) -> None:
    """The program owns its directory: it set a `user.` extended attribute on it (any bytes: the answers
    themselves) and inode flags, which outlived it (ninth audit round). Both are put back between executions."""
    limits = Limits(timeout_s=20)
    first = pool.run(INODE_STATE, limits=limits).stdout
    sent = pool.run(INODE_SENDER, limits=limits)
    if sent.stdout != b"sent\n":
        pytest.skip(f"no user extended attributes here: {sent.stderr[-200:]!r}")
    assert pool.run(INODE_STATE, limits=limits).stdout == first


def test_a_programs_reads_set_no_access_time(pool: ForkServerPool) -> None:
    """A read set a system file's access time (relatime: once a day per file), which any later program, on any
    worker, read with os.stat: whether an earlier one had read each of a list of files (ninth audit round)."""
    import os

    stdlib = pool.run("import os\nprint(os.path.dirname(os.__file__))\n", limits=Limits(timeout_s=10)).stdout
    path = os.path.join(stdlib.decode().strip(), "colorsys.py")  # the sandbox's Python's own library
    if pool.protections().get("private_mounts", "").find("no access times") < 0:
        pytest.skip("mounts' access-time flags are not ours to set here")
    try:
        st = os.stat(path)
        os.utime(path, ns=(st.st_mtime_ns - 10**10, st.st_mtime_ns))  # older than its mtime: relatime updates it
    except OSError as exc:
        pytest.skip(f"cannot set {path}'s access time: {exc}")
    before = os.stat(path).st_atime_ns
    read = pool.run(f"open({path!r}).read()\nprint('read')\n", limits=Limits(timeout_s=10))
    assert read.stdout == b"read\n", read.stderr
    assert os.stat(path).st_atime_ns == before
