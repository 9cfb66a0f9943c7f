"""What the two launcher scripts share: the fallback sandbox's (`_simple`) and the repository-test command
sandbox's (`_command`). Each launcher is `PRELUDE` followed by its own steps, run as `python -I -S -c`
under the system Python inside its namespaces (stdlib only): argv[1] is its JSON config `C`, and it says
"ok …" or "error <why>" once on its status fd (`report`), which the confined program never holds. The
confinement steps live here once, so a fix to one (a Landlock right, a seccomp detail) reaches both."""

from __future__ import annotations

import ctypes

PRELUDE = r'''
import ctypes, json, os, resource, signal, struct, sys
C = json.loads(sys.argv[1]); status = int(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
def report(text):
    os.write(status, text.encode()); os._exit(0)
def check(ok, what):
    if not ok:
        report("error %s: %s" % (what, os.strerror(ctypes.get_errno())))
def no_nested_user_namespaces():
    """In our own user namespace: a limit of it and all below it, which the confined program, without
    CAP_SYS_RESOURCE, cannot raise (in a nested one it would hold every capability)."""
    try:
        limit = os.open("/proc/sys/user/max_user_namespaces", os.O_WRONLY)
        os.write(limit, b"0"); os.close(limit)
    except OSError as exc:
        report("error max_user_namespaces: %s" % exc.strerror)
def drop_to(uid):
    os.setgroups([]); os.setresgid(uid, uid, uid); os.setresuid(uid, uid, uid)
def drop_capabilities():
    """uid 0 of our own user namespace: keep no capability, and gain none back by exec."""
    check(libc.prctl(28, 0x2F, 0, 0, 0) == 0, "PR_SET_SECUREBITS")  # NOROOT, NO_SETUID_FIXUP, locked
    for cap in range(64):
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP (errors past the last cap)
    hdr = ctypes.create_string_buffer(struct.pack("Ii", 0x20080522, 0), 8)
    check(libc.capset(hdr, ctypes.create_string_buffer(24)) == 0, "capset")
def landlock(abi, read_only, read_write):
    """Only `read_only` readable and `read_write` writable (plus /dev/null); no TCP bind/connect (ABI 4+);
    no abstract sockets or signals outside (ABI 6+)."""
    bits = (1 << 13) - 1 | (1 << 13 if abi >= 2 else 0)  # fs rights of ABI 1 and 2
    bits |= (1 << 14 if abi >= 3 else 0) | (1 << 15 if abi >= 5 else 0)  # truncate, ioctl_dev
    attr = struct.pack("Q", bits)
    attr += struct.pack("Q", 3) if abi >= 4 else b""  # TCP bind/connect: handled, none allowed
    attr += struct.pack("Q", 3) if abi >= 6 else b""  # scoped: abstract sockets, signals
    buf = ctypes.create_string_buffer(attr, len(attr))
    rs = libc.syscall(444, buf, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
    check(rs >= 0, "landlock_create_ruleset")
    ro, rw_file = 1 | 4 | 8, 2 | 4 | (1 << 14 if abi >= 3 else 0)
    rules = [(p, ro) for p in read_only] + [("/dev/null", rw_file)] + [(p, bits) for p in read_write]
    for path, access in rules:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        if not os.path.isdir(path):
            access &= 1 | 2 | 4 | (1 << 14)
        rule = ctypes.create_string_buffer(struct.pack("=Qi", access & bits, fd), 12)
        check(libc.syscall(445, rs, 1, rule, 0) == 0, "landlock_add_rule " + path)
        os.close(fd)
    check(libc.syscall(446, rs, 0) == 0, "landlock_restrict_self")
    os.close(rs)
def seccomp(program_hex):
    """A seccomp filter (`_seccomp`'s bytes, hex), after no_new_privs."""
    code = bytes.fromhex(program_hex)
    bpf = ctypes.create_string_buffer(code, len(code))
    fprog = ctypes.create_string_buffer(struct.pack("HxxxxxxQ", len(code) // 8, ctypes.addressof(bpf)), 16)
    check(libc.prctl(22, 2, fprog, 0, 0) == 0, "seccomp")
'''


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where it has none (or it is disabled)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return max(int(libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))), 0)
    except (OSError, AttributeError):
        return 0
