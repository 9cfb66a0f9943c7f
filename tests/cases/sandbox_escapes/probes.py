"""Hostile programs: each prints ESCAPED, and nothing else on stdout, when its attack worked (so a verdict never
depends on what a probe prints first); daemons, kills and IPC objects are judged by the host-side checks
instead (marker files, leftover processes, /proc/sysvipc, the pool still working). Params arrive as JSON on
stdin, every path unique to the test: port (a TCP server of the test on 127.0.0.1), pid (the test process),
marker (a path in a world-writable per-test directory that must stay absent), secret (a 0644 host file),
store (a run-store file), tmp_marker / var_tmp_marker / shm_marker (unique names in the real /tmp, /var/tmp,
/dev/shm), unix_socket (a 0777 pathname UNIX socket the test listens on), abstract_socket (an abstract UNIX
socket name the test listens on), canary (a string in the argv of a host process), ipc_key (a SysV key)."""

PRELUDE = """
import json, os, sys, time, signal, ctypes, socket, threading, subprocess
P = json.loads(sys.stdin.read())
def esc(): print("ESCAPED"); sys.stdout.flush()
def touch(path=None):
    open(path or P["marker"], "w").write("x")
libc = ctypes.CDLL(None, use_errno=True)
"""

PROBES = {
    "fork_bomb": "while True:\n    try: os.fork()\n    except OSError: pass",
    "memory_bomb": "x = []\nwhile True: x.append(bytearray(50 << 20))",
    "memory_bomb_mmap": "import mmap\nm = mmap.mmap(-1, 8 << 30)\nm[::4096] = b'x' * (len(m) // 4096)\nesc()",
    "disk_fill": "f = open('big', 'wb')\nfor _ in range(1000): f.write(b'x' * (1 << 20))\nesc()",
    "huge_stdout": "while True: sys.stdout.write('y' * 65536)",
    "huge_stderr": "while True: sys.stderr.write('y' * 65536)",
    "infinite_loop": "while True: pass",
    "sleep_ignoring_sigterm": "signal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)",
    "setsid_daemon": "if os.fork() == 0:\n    os.setsid(); time.sleep(1.5); touch()",
    "double_fork_daemon": "if os.fork() == 0:\n    if os.fork() == 0:\n        time.sleep(1.5); touch()\n    os._exit(0)",
    "daemon_thread_after_exit": "threading.Thread(target=lambda: (time.sleep(1.0), touch()), daemon=True).start()",
    "nondaemon_thread_forever": "threading.Thread(target=lambda: (time.sleep(60), touch())).start()",
    "kill_parent": "os.kill(os.getppid() or 1, signal.SIGKILL)",
    "kill_test_process": "os.kill(P['pid'], signal.SIGTERM)\nesc()",
    "kill_minus_one": "os.kill(-1, signal.SIGKILL)\ntime.sleep(0.2)",
    "kill_every_pid": "n = 0\nfor d in os.listdir('/proc'):\n    if d.isdigit():\n        try: os.kill(int(d), signal.SIGKILL); n += 1\n        except OSError: pass\nif n: esc()",
    "read_etc_shadow": "if open('/etc/shadow').read(): esc()",
    "read_proc_environ": "for d in os.listdir('/proc'):\n    try:\n        if b'MONKEYS_CANARY' in open(f'/proc/{d}/environ', 'rb').read(): esc(); break\n    except OSError: pass",
    "read_host_secret": "if 'host secret' in open(P['secret']).read(): esc()",
    "read_other_sample_dirs": "import glob\nfor d in glob.glob('/tmp/monkeys-sbx-*/*') + glob.glob('/tmp/*'):\n    try: os.listdir(d); esc(); break\n    except OSError: pass",
    "write_outside_marker": "touch(); esc()",
    "write_tmp": "touch(P['tmp_marker']); esc()",
    "write_var_tmp": "touch(P['var_tmp_marker']); esc()",
    "write_dev_shm": "touch(P['shm_marker']); esc()",
    "write_run_store": "f = open(P['store'], 'r+b'); f.write(b'PWNED'); f.close(); esc()",
    "delete_system_file": "os.remove('/etc/hostname'); esc()",
    "socket_to_localhost": "s = socket.create_connection(('127.0.0.1', P['port']), timeout=1)\ns.sendall(b'hello'); esc()",
    "udp_out": "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.sendto(b'x', ('8.8.8.8', 53)); esc()",
    "ptrace_parent": "r = libc.ptrace(16, os.getppid() or P['pid'], 0, 0)\nif r == 0: esc()",
    "ctypes_unshare_user": "if libc.unshare(0x10000000) == 0: esc()",
    "ctypes_mount": "if libc.mount(b'none', b'/mnt', b'tmpfs', 0, None) == 0: esc()",
    "ctypes_bpf_syscall": "if libc.syscall(321, 0, 0, 0) >= 0: esc()",
    "setuid_back_to_root": "os.setuid(0); esc()",
    "subclass_walk_system": "w = [c for c in ().__class__.__bases__[0].__subclasses__() if c.__name__ == '_wrap_close'][0]\nw.__init__.__globals__['system']('echo x > ' + P['marker'])\nif os.path.exists(P['marker']): esc()",
    "shell_out_write": "subprocess.run(['/bin/sh', '-c', 'echo x > ' + P['marker']])\nif os.path.exists(P['marker']): esc()",
    "open_many_files": "fs = [open('/dev/null') for _ in range(100000)]\nesc()",
    "cgroup_escape": "open('/sys/fs/cgroup/memory/cgroup.procs', 'w').write(str(os.getpid())); esc()",
    "busy_children_cpu": "for _ in range(8):\n    if os.fork() == 0:\n        while True: pass\ntime.sleep(60)",
    "deep_recursion_segv": "sys.setrecursionlimit(10**8)\ndef f(n): return f(n + 1)\nf(0)",
    "mknod_device": "os.mknod('dev', 0o20666, os.makedev(1, 3)); esc()",
    "unix_socket_pathname": "s = socket.socket(socket.AF_UNIX)\ns.settimeout(1)\ns.connect(P['unix_socket'])\n"
                            "s.sendall(b'hello'); esc()",
    "unix_socket_abstract": "s = socket.socket(socket.AF_UNIX)\ns.settimeout(1)\n"
                            "s.connect('\\0' + P['abstract_socket'])\ns.sendall(b'hello'); esc()",
    "read_proc_cmdlines_canary": "for d in ['1'] + os.listdir('/proc'):\n    try:\n"
                                 "        if P['canary'].encode() in open(f'/proc/{d}/cmdline', 'rb').read():\n"
                                 "            esc(); break\n"
                                 "    except OSError: pass",
    "read_test_process_cmdline": "if open(f\"/proc/{P['pid']}/cmdline\", 'rb').read(): esc()",
    "sysv_shm_outlives": "libc.shmget(P['ipc_key'], 1 << 20, 0o1666)",
    "sysv_msg_outlives": "q = libc.msgget(P['ipc_key'], 0o1666)\n"
                         "b = ctypes.create_string_buffer(b'\\1' + b'\\0' * 7 + b'x' * 64)\n"
                         "libc.msgsnd(q, b, 64, 0o4000)",
    "sysv_sem_outlives": "libc.semget(P['ipc_key'], 4, 0o1666)",
    "io_uring_setup": "if libc.syscall(425, 1, ctypes.create_string_buffer(120)) >= 0: esc()",
}
