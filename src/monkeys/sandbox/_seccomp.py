"""A seccomp-BPF deny list, built by hand (no libseccomp): kernel-attack and escape syscalls get EPERM.

Denied: ptrace and cross-process memory access, namespaces and mounts, module/kexec/bpf/perf/keyring,
io_uring (it bypasses seccomp per operation), clock and reboot knobs, clone with namespace flags, and:
- `socket()` of every family (no TCP/UDP, no connect to a pathname or abstract UNIX socket of the host;
  `socketpair()` stays, it reaches nothing outside the process tree);
- SysV shared memory, message queues and semaphores, and POSIX message queues: objects that outlive the
  process that made them are a channel from one execution to the next;
- installing a signal handler (`rt_sigaction` with a new action): a Python handler is called with the
  interrupted frame, from which the harness's own frames (and the tests) are reachable without any audited
  call. Reading the current action stays allowed.
x86_64 only; elsewhere `install` reports it unavailable.
"""

from __future__ import annotations

import ctypes
import platform
import struct

_AUDIT_ARCH_X86_64 = 0xC000003E
_DENY_X86_64 = {
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "mount": 165, "umount2": 166,
    "pivot_root": 155, "chroot": 161, "unshare": 272, "setns": 308, "kexec_load": 246,
    "kexec_file_load": 320, "init_module": 175, "finit_module": 313, "delete_module": 176, "bpf": 321,
    "perf_event_open": 298, "keyctl": 250, "add_key": 248, "request_key": 249, "userfaultfd": 323,
    "reboot": 169, "swapon": 167, "swapoff": 168, "acct": 163, "settimeofday": 164,
    "clock_settime": 227, "adjtimex": 159, "clock_adjtime": 305, "iopl": 172, "ioperm": 173,
    "open_by_handle_at": 304, "name_to_handle_at": 303, "quotactl": 179, "syslog": 103,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "fanotify_init": 300,
    "lookup_dcookie": 212, "vhangup": 153, "pidfd_getfd": 438, "fsopen": 430, "fsmount": 432,
    "open_tree": 428, "move_mount": 429, "mount_setattr": 442, "personality": 135, "socket": 41,
    "shmget": 29, "shmat": 30, "shmctl": 31, "shmdt": 67, "semget": 64, "semop": 65, "semctl": 66,
    "semtimedop": 220, "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "mq_open": 240,
    "mq_unlink": 241, "mq_timedsend": 242, "mq_timedreceive": 243, "mq_notify": 244, "mq_getsetattr": 245,
}
_CLONE, _CLONE3, _RT_SIGACTION = 56, 435, 13
_CLONE_NS_FLAGS = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET

_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _ERRNO_EPERM, _ERRNO_ENOSYS = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38


def _ins(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


_NAMESPACE_CALLS = ("unshare", "setns", "mount", "umount2", "pivot_root", "fsopen", "fsmount", "open_tree",
                    "move_mount", "mount_setattr")


def _program(deny: dict[str, int] = _DENY_X86_64, handlers: bool = False) -> list[bytes]:
    """The filter: `deny` gets EPERM, clone with namespace flags too, clone3 ENOSYS; with `handlers` False,
    installing a signal handler is refused as well."""
    deny_ret = _ins(_RET_K, 0, 0, _ERRNO_EPERM)
    prog = [_ins(_LD_W_ABS, 0, 0, 4), _ins(_JEQ_K, 1, 0, _AUDIT_ARCH_X86_64), deny_ret,
            _ins(_LD_W_ABS, 0, 0, 0), _ins(_JGE_K, 0, 1, 0x40000000), deny_ret]  # x32 ABI: deny all
    for nr in sorted(deny.values()):
        prog += [_ins(_JEQ_K, 0, 1, nr), deny_ret]
    # clone3 hides its flags in memory: ENOSYS makes glibc fall back to clone, whose flags we can see
    prog += [_ins(_JEQ_K, 0, 1, _CLONE3), _ins(_RET_K, 0, 0, _ERRNO_ENOSYS)]
    allow = _ins(_RET_K, 0, 0, _ALLOW)
    if not handlers:  # rt_sigaction(sig, act, old): allowed only with act == NULL (both halves of args[1] zero)
        prog += [_ins(_JEQ_K, 0, 6, _RT_SIGACTION), _ins(_LD_W_ABS, 0, 0, 24), _ins(_JEQ_K, 0, 2, 0),
                 _ins(_LD_W_ABS, 0, 0, 28), _ins(_JEQ_K, 1, 0, 0), deny_ret, allow]
    # clone(flags, ...): no new namespaces
    prog += [_ins(_JEQ_K, 0, 3, _CLONE), _ins(_LD_W_ABS, 0, 0, 16),
             _ins(_JSET_K, 0, 1, _CLONE_NS_FLAGS), deny_ret, allow]
    return prog


def namespaces_program() -> bytes:
    """A narrower filter for whole commands (a repository's test runner, `_command`): no new namespaces or
    mounts, nothing else taken away (tests may install signal handlers and open sockets)."""
    return b"".join(_program({name: _DENY_X86_64[name] for name in _NAMESPACE_CALLS}, handlers=True))


def program() -> bytes:
    """The filter's BPF instructions, for a confining process that builds its own `sock_fprog` (the
    fallback sandbox's launcher)."""
    return b"".join(_program())


def available() -> str:
    """"active" when a filter can be installed here, else "unavailable: why"."""
    if platform.machine() != "x86_64":
        return f"unavailable: deny list written for x86_64, not {platform.machine()}"
    try:
        with open("/proc/self/status") as f:
            if "Seccomp:" not in f.read():
                return "unavailable: kernel without seccomp"
    except OSError as exc:
        return f"unavailable: {exc}"
    return "active"


class Filter:
    """The compiled filter, built once per worker; `install` is then a single prctl in each child."""

    def __init__(self) -> None:
        code = program()
        self._buf = ctypes.create_string_buffer(code, len(code))
        fprog = struct.pack("HxxxxxxQ", len(code) // 8, ctypes.addressof(self._buf))
        self._fprog = ctypes.create_string_buffer(fprog, len(fprog))

    def install(self, libc: ctypes.CDLL) -> None:
        """Install on the calling thread (no_new_privs must already be set). Raises OSError."""
        if libc.prctl(22, 2, self._fprog, 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
            raise OSError(ctypes.get_errno(), "seccomp filter refused")
