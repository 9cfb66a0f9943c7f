"""Landlock through raw syscalls: read-only system paths, full access to the execution's own directory.

With ABI >= 4 TCP bind/connect are denied too, and with ABI >= 6 signals and abstract UNIX sockets are
scoped to the sandboxed process tree. Needs no privileges (only no_new_privs, set by the caller).
`/proc` is not among the readable paths: through it a program could read its own memory
(`/proc/self/mem`, where the harness keeps what decides the verdict) and other processes' command lines.
"""

from __future__ import annotations

import ctypes
import os
import struct

import _readable

_CREATE, _ADD_RULE, _RESTRICT = 444, 445, 446  # same numbers on every architecture
_VERSION_FLAG, _RULE_PATH_BENEATH = 1, 1
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_TRUNCATE, _IOCTL_DEV = 1 << 14, 1 << 15
READ_ONLY_FILES = ("/dev/urandom", "/dev/random", "/dev/zero")  # and the system directories (`_readable`)
READ_WRITE_FILES = ("/dev/null",)


def _all_fs(abi: int) -> int:
    bits = (1 << 13) - 1  # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        bits |= 1 << 13  # REFER
    if abi >= 3:
        bits |= _TRUNCATE
    if abi >= 5:
        bits |= _IOCTL_DEV
    return bits


def abi_version(libc: ctypes.CDLL) -> int:
    """Landlock ABI of the running kernel, 0 when absent or disabled."""
    version = libc.syscall(_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(_VERSION_FLAG))
    return max(version, 0)


def available(libc: ctypes.CDLL) -> str:
    abi = abi_version(libc)
    return f"active (ABI {abi})" if abi > 0 else "unavailable: kernel without Landlock (or disabled)"


def ruleset(libc: ctypes.CDLL, workdir: str, hidden: tuple[str, ...] | list[str] = ()) -> int:
    """A ruleset fd allowing `workdir` plus the read-only system directories except `hidden` (installed
    packages, see `_readable`). Built once per worker (the rules name inodes, so `workdir` is emptied
    between executions, never replaced); `restrict_self` applies it."""
    abi = abi_version(libc)
    if abi <= 0:
        raise OSError("Landlock unavailable")
    handled = _all_fs(abi)
    attr = struct.pack("Q", handled)
    if abi >= 4:
        attr += struct.pack("Q", 0b11)  # handled_access_net: BIND_TCP | CONNECT_TCP, no rule allows them
    if abi >= 6:
        attr += struct.pack("Q", 0b11)  # scoped: abstract UNIX sockets and signals stay inside
    buf = ctypes.create_string_buffer(attr, len(attr))
    ruleset = libc.syscall(_CREATE, buf, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        file_bits = _EXECUTE | _WRITE_FILE | _READ_FILE | (_TRUNCATE if abi >= 3 else 0)
        readable = [*_readable.allowlist(_readable.SYSTEM_DIRS, hidden), *READ_ONLY_FILES]
        rules = [(p, _EXECUTE | _READ_FILE | _READ_DIR) for p in readable]
        rules += [(p, (_WRITE_FILE | _READ_FILE | (_TRUNCATE if abi >= 3 else 0)) & file_bits)
                  for p in READ_WRITE_FILES]
        rules.append((workdir, handled))
        for path, access in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # e.g. no /lib32 here
            try:
                if not os.path.isdir(path):
                    access &= file_bits
                rule = ctypes.create_string_buffer(struct.pack("=Qi", access & handled, fd), 12)
                if libc.syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, rule, 0) != 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule {path} failed")
            finally:
                os.close(fd)
    except BaseException:
        os.close(ruleset)
        raise
    return ruleset


def restrict_self(libc: ctypes.CDLL, ruleset_fd: int) -> None:
    """Confine the calling process (and its future children) by the ruleset (no_new_privs must be set)."""
    if libc.syscall(_RESTRICT, ruleset_fd, 0) != 0:
        raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
