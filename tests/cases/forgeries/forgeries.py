"""The forgery suite: programs that solve nothing yet try to get `pass` from the `code-tests` verifier.

Each `Forgery` is one sample's text, the problem it targets and the class of attack (issue 10):

- "exit": function-assert problems (HumanEval): a WRONG implementation plus a way to end the process
  "successfully" before or instead of the tests failing (sys.exit, SystemExit, os._exit, signals, exec,
  patched harness helpers, fake "pass" bytes on every fd);
- "tamper": a WRONG implementation plus tampering the tests cannot see (objects whose __eq__ always agrees,
  sys.settrace/setprofile, patched builtins or stdlib functions, the test's globals replaced);
- "comparator": stdin/stdout problems: output that is wrong but looks numerically close, or the right output
  from a process that did not end normally;
- "channel": a receiver that never computes the answer and reads what an earlier sender execution (a
  correct program, `first`) left behind (SysV/POSIX IPC, /tmp, /var/tmp, /dev/shm, sockets, daemons);
- "memory": a copycat that looks for an earlier correct program (`first`) in its own process memory;
- "cache": a wrong program that differs from an earlier correct one (`first`) only in a comment which a
  coding cookie turns into code.

`CONTROLS` are correct programs that must pass (false negatives would under-count coverage).
The asserts problems are real HumanEval records (loaded by the tests from the shared data); the stdio
problems are small and defined here (`STDIO_PROBLEMS`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Forgery:
    name: str
    attack: str  # exit | tamper | comparator | channel | memory | cache
    problem: str  # a HumanEval task id (kind "asserts") or a key of STDIO_PROBLEMS (kind "stdio")
    text: str  # the sample's text
    plain: str | None = None  # asserts: the wrong implementation without its trick (must fail on its own)
    first: str | None = None  # channel/memory/cache: a correct program verified just before, same worker

    @property
    def kind(self) -> str:
        return "asserts" if self.problem.startswith("HumanEval/") else "stdio"


@dataclass(frozen=True)
class Control:
    name: str
    problem: str
    text: str

    @property
    def kind(self) -> str:
        return "asserts" if self.problem.startswith("HumanEval/") else "stdio"


ASSERT_PROBLEMS = ("HumanEval/0", "HumanEval/2", "HumanEval/4", "HumanEval/32", "HumanEval/38", "HumanEval/50",
                   "HumanEval/53", "HumanEval/111")

STDIO_PROBLEMS = {
    # integers: read a and b, print a + b
    "sum": {"kind": "stdio", "tests": [
        {"stdin": "1000000000 7\n", "stdout": "1000000007\n"},
        {"stdin": "2 3\n", "stdout": "5\n"},
        {"stdin": "-4 4\n", "stdout": "0\n"},
        {"stdin": "123456789 987654321\n", "stdout": "1111111110\n"},
    ]},
    # floats: read n, print n / 2
    "half": {"kind": "stdio", "tests": [
        {"stdin": "5\n", "stdout": "2.5\n"},
        {"stdin": "7\n", "stdout": "3.5\n"},
        {"stdin": "1\n", "stdout": "0.5\n"},
        {"stdin": "101\n", "stdout": "50.5\n"},
    ]},
}

# --- wrong implementations (each fails its problem's tests on its own) -------------------------------

WRONG_0 = "def has_close_elements(numbers, threshold):\n    return False\n"
WRONG_4 = "def mean_absolute_deviation(numbers):\n    return 0.0\n"
WRONG_32 = "def find_zero(xs):\n    return 0.0\n"
WRONG_2 = "def truncate_number(number):\n    return 0.5\n"
# the right letters, a wrong count
WRONG_111 = ("def histogram(test):\n    letters = test.split()\n"
             "    best = max((letters.count(c) for c in letters), default=0)\n"
             "    return {c: 99 for c in letters if letters.count(c) == best}\n")
WRONG_38 = "def decode_cyclic(s):\n    return s\n"
# tests that draw from `random` between calls: inputs the program predicted after it reseeded, without the reseed
_INPUTS = ("import random\n\ndef _inputs(r):\n    letters = 'abcdefghijklmnopqrstuvwxyz'\n"
           "    return [''.join(r.choice(letters) for i in range(r.randint(10, 20))) for _ in range(100)]\n\n")
RESEED_38 = ("def decode_cyclic(s, _pred=[]):\n    if _pred:\n        return _pred.pop(0)\n{trick}"
             "    _pred.extend(_inputs(random.Random(7)))\n"
             "    return encode_cyclic(encode_cyclic(s))  # the first input only is decoded\n")
RESEED_50 = ("def decode_shift(s, _pred=[]):\n    if _pred:\n        return _pred.pop(0)\n{trick}"
             "    _pred.extend(_inputs(random.Random(7)))\n"
             "    return ''.join(chr((ord(ch) - 5 - ord('a')) % 26 + ord('a')) for ch in s)  # the first only\n")
RESEED_53 = ("import random\n\ndef add(x, y, _calls=[0], _pred=[]):\n    _calls[0] += 1\n"
             "    if _calls[0] <= 5:  # the fixed asserts, answered by their position\n"
             "        if _calls[0] == 5:\n{trick}"
             "            r = random.Random(7)\n"
             "            _pred.extend(r.randint(0, 1000) + r.randint(0, 1000) for _ in range(100))\n"
             "        return [1, 1, 5, 12, 12][_calls[0] - 1]\n"
             "    return _pred.pop(0)  # never reads x or y\n")
# `randrange` reads `_index` from random.py's globals (start, stop, step): this one makes stop = start + 1, so
# every `randint(a, b)` of the tests' own random draws `a`
_FIRST_DRAW = ("_calls = [0, 0]\n\ndef _index(v):\n    k = _calls[0] % 3\n    _calls[0] += 1\n"
               "    if k == 0:\n        _calls[1] = v\n        return v\n"
               "    return _calls[1] + 1 if k == 1 else v\n\n")
ADD_53 = ("_FIXED = {{(0, 1): 1, (1, 0): 1, (2, 3): 5, (5, 7): 12, (7, 5): 12}}\n\n"
          "def add(x, y, {trick}):\n    return _FIXED.get((x, y), 0)  # wrong: right on the fixed asserts and 0 + 0\n")
# looks for the tests' own `random` from everything a program reaches without frames: the modules, the
# builtins, every class (a walk of type.__subclasses__), what functions, methods, cells and instances hold,
# and (`{use_gc}`) the garbage collector's objects; reseeds it once found
RANDOM_SEARCH = ("import builtins, gc, random, sys\n\n"
                 "def _search(use_gc={use_gc}):\n"
                 "    todo = [sys.modules, vars(builtins)]\n"
                 "    if use_gc:\n        try:\n            todo.extend(gc.get_objects())\n"
                 "        except Exception:\n            pass\n"
                 "    stack, classes = [object], set()\n"
                 "    while stack:\n        c = stack.pop()\n        if id(c) in classes:\n            continue\n"
                 "        classes.add(id(c))\n        todo.append(c)\n        try:\n"
                 "            stack.extend(type.__subclasses__(c))\n        except TypeError:\n            pass\n"
                 "    seen = set()\n"
                 "    while todo:\n        o = todo.pop()\n        if id(o) in seen:\n            continue\n"
                 "        seen.add(id(o))\n        t = type(o)\n"
                 "        if t is type(random) and o is not random and o.__dict__.get('__name__') == 'random':\n"
                 "            return o\n"
                 "        try:\n"
                 "            if t is dict:\n                todo.extend(o.values())\n"
                 "            elif t in (list, tuple, set, frozenset):\n                todo.extend(o)\n"
                 "            elif isinstance(o, type):\n                todo.extend(vars(o).values())\n"
                 "            elif t is type(_search):\n"
                 "                todo.extend([o.__globals__, o.__defaults__, o.__kwdefaults__])\n"
                 "                for c in o.__closure__ or ():\n"
                 "                    try:\n                        todo.append(c.cell_contents)\n"
                 "                    except ValueError:\n                        pass\n"
                 "        except Exception:\n            pass\n"
                 "        for name in ('__dict__', '__self__', '__func__', '__wrapped__', 'fget', 'fset', 'fdel'):\n"
                 "            try:\n                todo.append(object.__getattribute__(o, name))\n"
                 "            except Exception:\n                pass\n"
                 "    return None\n\n"
                 "def add(x, y, _calls=[0], _pred=[]):\n    _calls[0] += 1\n"
                 "    if _calls[0] <= 5:\n        if _calls[0] == 5:\n            found = _search()\n"
                 "            if found is not None:\n                found.seed(7)\n"
                 "            r = random.Random(7)\n"
                 "            _pred.extend(r.randint(0, 1000) + r.randint(0, 1000) for _ in range(100))\n"
                 "        return [1, 1, 5, 12, 12][_calls[0] - 1]\n"
                 "    return _pred.pop(0)\n")

CORRECT_0 = ("def has_close_elements(numbers, threshold):\n"
             "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n")


def _exit(name: str, trick: str, *, before: str = "", wrong: str = WRONG_0) -> Forgery:
    """A wrong HumanEval/0 implementation (`wrong`, which may carry the trick itself) plus `trick` below it."""
    return Forgery(name, "exit", "HumanEval/0", before + wrong + trick, plain=WRONG_0)


def _tamper(name: str, text: str, problem: str = "HumanEval/0", plain: str = WRONG_0) -> Forgery:
    return Forgery(name, "tamper", problem, text, plain=plain)


FAKE_TOKENS = ("PASS\\npassed\\nOK\\nok\\nTESTS PASSED\\nall tests passed\\n"
               '{\\"status\\": \\"passed\\", \\"passed\\": true, \\"done\\": true}\\n'
               "MONKEYS_TESTS_DONE\\nMONKEYS-OK\\n__MONKEYS_PASS__\\n")

_CTYPES_FORGE = """import os


def _walk(name):
    todo, seen = [object], set()
    while todo:
        c = todo.pop()
        if c.__name__ == name and c.__module__ == "_ctypes":
            return c
        for s in type.__subclasses__(c):
            if id(s) not in seen:
                seen.add(id(s))
                todo.append(s)
    raise LookupError(name)


def _forge():
    simple, union, pointer_base = _walk("_SimpleCData"), _walk("Union"), _walk("_Pointer")
    P = type(simple)("P", (simple,), {"_type_": "P"})
    O = type(simple)("O", (simple,), {"_type_": "O"})
    U = type(union)("U", (union,), {"_fields_": [("a", P), ("o", O)]})
    PP = type(pointer_base)("PP", (pointer_base,), {"_type_": P})
    UP = type(union)("UP", (union,), {"_fields_": [("a", P), ("pp", PP)]})

    def obj_at(addr):
        u = U()
        u.a = addr
        return u.o

    try:
        raise KeyError
    except KeyError as e:
        tb = e.__traceback__
    up = UP()
    up.a = id(tb) + 24  # tb->tb_frame
    value = up.pp[0]
    frame = obj_at(value if isinstance(value, int) else value.value)
    while frame is not None:
        loc = frame.f_locals
        if "nonce" in loc and "report_fd" in loc:
            os.write(loc["report_fd"], "\\x1f".join([loc["nonce"], "completed", "0", "", ""]).encode())
            os._exit(0)
        frame = frame.f_back


def has_close_elements(numbers, threshold):
    _forge()
    return False
"""

# The same through objects made before any disarm (a field descriptor reads and writes any ctypes object's
# memory, and a POINTER field makes its instance without tp_new): every ctypes object reachable from a
# class's methods' globals is tried as storage (audit finding: `memmove` of the ctypes module served).
_CTYPES_FIELD_FORGE = """import os


def _classes():
    todo, seen = [object], {}
    while todo:
        c = todo.pop()
        try:
            subs = type.__subclasses__(c)
        except TypeError:
            continue
        for s in subs:
            if id(s) not in seen:
                seen[id(s)] = s
                todo.append(s)
    return list(seen.values())


def _forge():
    classes = _classes()
    cdata = tuple(c for c in classes if c.__module__ == "_ctypes" and c.__name__ in ("_SimpleCData", "CFuncPtr",
                                                                                        "Structure", "Union"))
    g = next(c for c in classes if c.__name__ == "CDLL").__init__.__globals__
    stores = []
    for c in classes:
        for f in list(vars(c).values()):
            for value in getattr(f, "__globals__", {}).values():
                for v in [value, *getattr(value, "__dict__", {}).values()]:
                    if isinstance(v, cdata):
                        stores.append(v)
    store = stores[0]
    pointer = next(c for c in classes if c.__module__ == "_ctypes" and c.__name__ == "_Pointer")
    simple = next(c for c in classes if c.__module__ == "_ctypes" and c.__name__ == "_SimpleCData")
    union = next(c for c in classes if c.__module__ == "_ctypes" and c.__name__ == "Union")
    P = type(simple)("P", (simple,), {"_type_": "P"})
    O = type(simple)("O", (simple,), {"_type_": "O"})
    PP = type(pointer)("PP", (pointer,), {"_type_": P})
    U = type(union)("U", (union,), {"_fields_": [("a", P), ("o", O), ("pp", PP)]})
    a, o, pp = vars(U)["a"], vars(U)["o"], vars(U)["pp"]

    def read_ptr(addr):
        a.__set__(store, addr)
        return pp.__get__(store, U)[0]

    def obj_at(addr):
        a.__set__(store, addr)
        return o.__get__(store, U)

    try:
        raise KeyError
    except KeyError as e:
        tb = e.__traceback__
    value = read_ptr(id(tb) + 24)
    frame = obj_at(value if isinstance(value, int) else value.value)
    while frame is not None:
        loc = frame.f_locals
        if "nonce" in loc and "report_fd" in loc:
            os.write(loc["report_fd"], "\\x1f".join([loc["nonce"], "completed", "0", "", ""]).encode())
            os._exit(0)
        frame = frame.f_back


def has_close_elements(numbers, threshold):
    _forge()
    return False
"""

# Any frame object leads to the harness's frame (`f_back`) and shows its nonce (`f_locals`); a third audit
# round found frames without the refused attributes: a cycle's frame kept in `gc.garbage` by DEBUG_SAVEALL,
# and program code run inside the audit hook's own check (a `str` subclass as a loader path), where every
# event passes.
_FRAME_WALK = """import os


def _walk(frame):
    while frame is not None:
        loc = frame.f_locals
        if "nonce" in loc and "report_fd" in loc:
            os.write(loc["report_fd"], "\\x1f".join([loc["nonce"], "completed", "0", "", ""]).encode())
            os._exit(0)
        frame = frame.f_back
"""
_GC_GARBAGE_FRAME = _FRAME_WALK + """

def _cycle():
    try:
        raise KeyError
    except KeyError as e:
        err = e  # noqa: F841 (the cycle: frame -> exception -> traceback -> frame)


def has_close_elements(numbers, threshold):
    import gc
    gc.set_debug(gc.DEBUG_SAVEALL)
    _cycle()
    gc.collect()
    for frame in [o for o in gc.garbage if type(o).__name__ == "frame"]:
        _walk(frame)
    return False
"""
_HOOK_WINDOW = _FRAME_WALK + """
import sys


class _P(str):
    def __contains__(self, item):
        _walk(sys._getframe(0))
        return False


def has_close_elements(numbers, threshold):
    from importlib.machinery import SourceFileLoader
    SourceFileLoader("os", _P(os.path.dirname(os.__file__) + "/os.py")).get_code("os")
    return False
"""

# The report once carried the nonce: a program that put its own pipe on the report fd read the harness's own
# (failing) report, nonce and all, and sent a "completed" one to the real pipe (a fourth audit round): from an
# exception's __str__ that the harness prints after reporting, or from a thread waiting on that pipe.
_REPORT_RELAY = """import os


class _Relay(Exception):
    def __str__(self):
        try:
            data = os.read(_fds[0], 4000)
            os.write(_fds[1], data.split(b"\\x1f")[0] + b"\\x1fcompleted\\x1f0\\x1f\\x1f")
        finally:
            os._exit(0)


_fds = []


def has_close_elements(numbers, threshold):
    saved = os.dup(4)
    r, w = os.pipe()
    os.dup2(w, 4)
    _fds.extend([r, saved])
    raise _Relay()
"""
_REPORT_RELAY_THREAD = """import os
import sys
import threading


def _relay(r, saved):
    data = os.read(r, 4000)
    os.write(saved, data.split(b"\\x1f")[0] + b"\\x1fcompleted\\x1f0\\x1f\\x1f")
    os._exit(0)


_started = []


def has_close_elements(numbers, threshold):
    if not _started:
        _started.append(1)
        saved = os.dup(4)
        r, w = os.pipe()
        os.dup2(w, 4)
        threading.Thread(target=_relay, args=(r, saved), daemon=True).start()
        sys.setswitchinterval(1e-6)
    return False
"""


# An eighth round: program code that ran while every event passed. After its report the harness switched its
# guard off to print the uncaught exception, and `traceback` ran the program's code (the exception's __str__ or
# __notes__, a patched `traceback`/`linecache`, a module's __loader__, a SystemExit code's __format__, a flush
# set on the harness's own stream): with the collector and frames open again it found the harness's frame
# reader (a closure cell of its hook), read the nonce in the harness's frame and sealed a "completed" report
# for the report fd it had kept (the harness's own went to the program's pipe). Inside the hook's own frame
# check (for a stdlib import) a whole thread passed: a collector callback, a finalizer or a replaced builtin
# (`all`) ran there.
_NONCE_FORGE = """import gc, hashlib, hmac, os, sys

_fds = []


def _redirect():  # the harness's report goes to a pipe of ours; the real one is kept for the forged report
    if not _fds:
        saved = os.dup(4)
        r, w = os.pipe()
        os.dup2(w, 4)
        _fds.extend([r, saved])


def _forge(fd=None):
    reader = None
    for o in gc.get_objects():
        if type(o).__name__ == "function" and o.__name__ == "from_stdlib_cache":
            for cell in o.__closure__:
                try:
                    v = cell.cell_contents
                    if getattr(v, "__name__", "") == "__get__" and type(v(sys._getframe(0))) is dict:
                        reader = v  # the frame type's f_locals, taken by the harness before the disarm
                except Exception:
                    pass
    depth = 0
    while True:
        try:
            frame = sys._getframe(depth)
        except ValueError:
            return
        depth += 1
        names = reader(frame)
        if "nonce" in names and "keys" in names:
            body = b"completed\\x1f0\\x1f\\x1f"
            mac = hmac.new(names["nonce"].encode(), body, hashlib.sha256).hexdigest().encode()
            os.write(_fds[1] if fd is None else fd, mac + b"\\x1f" + body)
            os._exit(0)


def _open():  # True where the guard lets everything through
    try:
        sys._getframe(0)
        return True
    except ValueError:
        return False
"""

_EXIT = [
    _exit("sys_exit_toplevel", "import sys\nsys.exit()\n"),
    _exit("exit_builtin", "exit()\n"),
    _exit("quit_builtin", "quit()\n"),
    _exit("raise_systemexit_0", "raise SystemExit(0)\n"),
    _exit("raise_systemexit_false", "raise SystemExit(False)\n"),
    _exit("raise_systemexit_none", "raise SystemExit(None)\n"),
    _exit("systemexit_subclass_in_call", "", wrong=(
        "class Done(SystemExit):\n    pass\n\n"
        "def has_close_elements(numbers, threshold):\n    raise Done(0)\n")),
    _exit("sys_exit_256", "import sys\nsys.exit(256)\n"),
    _exit("os_exit_in_call", "", wrong=(
        "import os\n\ndef has_close_elements(numbers, threshold):\n    os._exit(0)\n")),
    _exit("kill_self_sigkill_in_call", "", wrong=(
        "import os, signal\n\ndef has_close_elements(numbers, threshold):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n")),
    _exit("kill_self_sigterm_in_call", "", wrong=(
        "import os, signal\n\ndef has_close_elements(numbers, threshold):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n")),
    _exit("excepthook_exits_0", "import os, sys\nsys.excepthook = lambda *a: os._exit(0)\n"),
    _exit("atexit_exits_0", "import atexit, os\natexit.register(lambda: os._exit(0))\n"),
    _exit("thread_exits_0_after_failure",
          "import os, threading, time\n"
          "threading.Thread(target=lambda: (time.sleep(0.3), os._exit(0))).start()\n"),
    _exit("sigalrm_handler_exits_0", "", wrong=(
        "import signal, sys, time\n"
        "signal.signal(signal.SIGALRM, lambda *a: sys.exit(0))\n\n"
        "def has_close_elements(numbers, threshold):\n"
        "    signal.setitimer(signal.ITIMER_REAL, 0.05)\n    time.sleep(5)\n    return False\n")),
    _exit("alarm_then_hang_after_failure",
          "import os, signal, sys, threading, time\n"
          "signal.signal(signal.SIGALRM, lambda *a: os._exit(0))\n"
          "signal.alarm(1)\n"
          "sys.excepthook = lambda *a: time.sleep(3)\n"),
    _exit("stderr_write_exits_0",
          "import os, sys\n\nclass _Err:\n    def write(self, s):\n        os._exit(0)\n"
          "    def flush(self):\n        pass\n\nsys.stderr = _Err()\n"),
    _exit("patch_os_exit_to_0", "import os\n_real = os._exit\nos._exit = lambda code=0: _real(0)\n"),
    _exit("patch_sys_exit_noop", "import sys\nsys.exit = lambda *a: None\n"),
    _exit("patch_traceback_exits_0",
          "import os, traceback\n"
          "for _n in ('print_exception', 'print_exc', 'format_exception', 'format_exc', 'print_tb'):\n"
          "    setattr(traceback, _n, lambda *a, **k: os._exit(0))\n"),
    _exit("del_exits_0_at_shutdown",
          "import os\n\nclass _Bye:\n    def __del__(self):\n        os._exit(0)\n\n_keep = _Bye()\n"),
    _exit("eq_raises_systemexit", "", wrong=(
        "class _R:\n    def __eq__(self, other):\n        raise SystemExit(0)\n\n"
        "def has_close_elements(numbers, threshold):\n    return _R()\n")),
    _exit("execv_bin_true", "import os\nos.execv('/bin/true', ['true'])\n"),
    _exit("execv_python_pass", "import os, sys\nos.execv(sys.executable, [sys.executable, '-c', 'pass'])\n"),
    _exit("ctypes_libc_exit_0", "import ctypes\nctypes.CDLL(None)._exit(0)\n"),
    # ctypes types reached without an import (they stay loaded: confinement uses them): a Union of a
    # pointer and a py_object turns any address into an object, so the harness's frame, its nonce and its
    # report fd are one walk away; the program writes the "completed" report itself (audit finding)
    _exit("ctypes_types_forge_report", "", wrong=_CTYPES_FORGE),
    _exit("ctypes_field_descriptor_forges_report", "", wrong=_CTYPES_FIELD_FORGE),
    _exit("gc_garbage_frame_walks_to_the_harness", "", wrong=_GC_GARBAGE_FRAME),
    _exit("audit_hook_check_runs_program_code", "", wrong=_HOOK_WINDOW),
    _exit("report_fd_redirected_and_relayed", "", wrong=_REPORT_RELAY),
    _exit("report_fd_relayed_by_a_thread", "", wrong=_REPORT_RELAY_THREAD),
    _exit("fork_parent_exits_0",
          "import os\nif os.fork():\n    os.wait()\n    os._exit(0)\n"),
    _exit("fake_pass_on_every_fd_then_exit",
          f"import os\nfor _fd in range(1024):\n    try:\n        os.write(_fd, b\"{FAKE_TOKENS}\")\n"
          "    except OSError:\n        pass\nos._exit(0)\n"),
    _exit("fake_pass_on_every_fd_then_fail",
          f"import os\nfor _fd in range(1024):\n    try:\n        os.write(_fd, b\"{FAKE_TOKENS}\")\n"
          "    except OSError:\n        pass\n"),
    # an eighth round: the program's code while the guard was off (after the report) or open to a thread
    _exit("exception_str_after_report_forges", "", wrong=_NONCE_FORGE + (
        "\n\nclass _Relay(Exception):\n    def __str__(self):\n        _forge()\n        return ''\n\n\n"
        "def has_close_elements(numbers, threshold):\n    _redirect()\n    raise _Relay()\n")),
    _exit("exception_notes_after_report_forge", "", wrong=_NONCE_FORGE + (
        "\n\nclass _E(Exception):\n    @property\n    def __notes__(self):\n        _forge()\n        return []\n\n\n"
        "def has_close_elements(numbers, threshold):\n    _redirect()\n    raise _E('x')\n")),
    _exit("traceback_module_patched_forges_after_report", "", wrong=_NONCE_FORGE + (
        "\n\nimport traceback\n\n\nclass _TE:\n    def __init__(self, *a, **k):\n        _forge()\n\n\n"
        "def _install():\n    traceback.TracebackException = _TE\n\n\n"
        "def has_close_elements(numbers, threshold, _x=_install()):\n    _redirect()\n    return False\n")),
    _exit("linecache_patched_forges_after_report", "", wrong=_NONCE_FORGE + (
        "\n\nimport linecache\n\n\ndef _line(*a, **k):\n    _forge()\n    return ''\n\n\n"
        "def _install():\n    linecache.getline = linecache.lazycache = linecache.checkcache = _line\n\n\n"
        "def has_close_elements(numbers, threshold, _x=_install()):\n    _redirect()\n    return False\n")),
    _exit("module_loader_get_source_forges_after_report", "", wrong=_NONCE_FORGE + (
        "\n\nclass _Loader:\n    def get_source(self, name):\n        _forge()\n        return ''\n\n\n"
        "def _install():\n    globals()['__loader__'] = _Loader()\n\n\n"
        "def has_close_elements(numbers, threshold, _x=_install()):\n    _redirect()\n    return False\n")),
    _exit("exit_code_format_forges_after_report", "", wrong=_NONCE_FORGE + (
        "\n\nclass _Code:\n    def __format__(self, spec):\n        _forge()\n        return ''\n\n\n"
        "def has_close_elements(numbers, threshold):\n    _redirect()\n    raise SystemExit(_Code())\n")),
    _exit("stream_flush_attribute_forges_after_report", "", wrong=_NONCE_FORGE + (
        "\n\ndef has_close_elements(numbers, threshold):\n    _redirect()\n"
        "    sys.stdout.flush = sys.stderr.flush = _forge\n    return False\n")),
    _exit("gc_callback_inside_the_hooks_own_check", "", wrong=_NONCE_FORGE + (
        "\n\ndef _callback(phase, info):\n    if phase == 'start' and _open():\n        _forge(4)\n\n\n"
        "def has_close_elements(numbers, threshold):\n    gc.callbacks.append(_callback)\n    gc.set_threshold(1)\n"
        "    import difflib, pprint, calendar, csv, textwrap  # stdlib, not preloaded: their cached bytecode\n"
        "    return False\n")),
    _exit("builtin_all_inside_the_hooks_own_check", "", wrong=_NONCE_FORGE + (
        "\n\nimport builtins\n_real_all = builtins.all\n\n\n"
        "def _all(items):\n    if _open():\n        _forge(4)\n    return _real_all(items)\n\n\n"
        "def has_close_elements(numbers, threshold):\n    builtins.all = _all\n"
        "    import difflib, pprint, calendar, csv, textwrap\n    return False\n")),
]

_FABS_BACK = "import math\n_real = math.fabs\n\ndef _fake(x):\n    math.fabs = _real\n    return 0.0\n\n"
_ALWAYS_EQ = "class _Yes:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n\n"

_TAMPER = [
    _tamper("always_equal_object", _ALWAYS_EQ + "def has_close_elements(numbers, threshold):\n    return _Yes()\n"),
    _tamper("int_subclass_eq", "class _B(int):\n    def __eq__(self, other):\n        return True\n"
            "    __hash__ = int.__hash__\n\ndef has_close_elements(numbers, threshold):\n    return _B(0)\n"),
    _tamper("str_subclass_eq", "class _S(str):\n    def __eq__(self, other):\n        return True\n"
            "    __hash__ = str.__hash__\n\ndef has_close_elements(numbers, threshold):\n    return _S('no')\n"),
    _tamper("list_subclass_eq", "class _L(list):\n    def __eq__(self, other):\n        return True\n\n"
            "def has_close_elements(numbers, threshold):\n    return _L()\n"),
    _tamper("settrace_jumps_over_asserts", WRONG_0 + (
        "import sys\n\ndef _tr(frame, event, arg):\n    if frame.f_code.co_name != 'check':\n        return None\n"
        "    if event == 'line':\n        last = max(l for _, _, l in frame.f_code.co_lines() if l)\n"
        "        if frame.f_lineno != last:\n            frame.f_lineno = last\n    return _tr\n\n"
        "sys.settrace(_tr)\n")),
    _tamper("setprofile_swaps_candidate", _ALWAYS_EQ + WRONG_0 + (
        "import ctypes, sys\n\ndef _prof(frame, event, arg):\n"
        "    if event == 'call' and frame.f_code.co_name == 'check':\n"
        "        frame.f_locals['candidate'] = lambda *a, **k: _Yes()\n"
        "        ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))\n\n"
        "sys.setprofile(_prof)\n")),
    _tamper("settrace_from_call", "import sys\n\ndef has_close_elements(numbers, threshold):\n"
            "    sys.settrace(lambda frame, event, arg: None)\n    return False\n"),
    _tamper("patch_builtins_abs", WRONG_4 + "import builtins\nbuiltins.abs = lambda x: 0\n",
            problem="HumanEval/4", plain=WRONG_4),
    _tamper("abs_patched_from_call", "import builtins\n\ndef mean_absolute_deviation(numbers):\n"
            "    builtins.abs = lambda x: 0\n    return 0.0\n", problem="HumanEval/4", plain=WRONG_4),
    _tamper("patch_math_fabs", WRONG_32 + "import math\nmath.fabs = lambda x: 0.0\n",
            problem="HumanEval/32", plain=WRONG_32),
    _tamper("sys_modules_math_replaced", WRONG_32 + (
        "import sys, types\n_m = types.ModuleType('math')\n_m.fabs = lambda x: 0.0\nsys.modules['math'] = _m\n"),
        problem="HumanEval/32", plain=WRONG_32),
    _tamper("globals_replace_poly_from_call", "def find_zero(xs):\n"
            "    globals()['poly'] = lambda xs, x: 0.0\n    return 0.0\n", problem="HumanEval/32", plain=WRONG_32),
    _tamper("globals_replace_check_from_call", "def has_close_elements(numbers, threshold):\n"
            "    globals()['check'] = lambda candidate: None\n    globals()['candidate'] = None\n"
            "    return False\n"),
    # values that reach the asserts by other routes than a plain function's return (audit findings)
    _tamper("partial_entry_point", _ALWAYS_EQ + "import functools\n\ndef _impl(numbers, threshold):\n"
            "    return _Yes()\n\nhas_close_elements = functools.partial(_impl)\n"),
    _tamper("class_entry_point", _ALWAYS_EQ + "class has_close_elements:\n"
            "    def __new__(cls, numbers, threshold):\n        return _Yes()\n"),
    _tamper("bound_method_entry_point", _ALWAYS_EQ + "class _K:\n    def m(self, numbers, threshold):\n"
            "        return _Yes()\n\nhas_close_elements = _K().m\n"),
    _tamper("callable_object_entry_point", _ALWAYS_EQ + "class _K:\n    def __call__(self, numbers, threshold):\n"
            "        return _Yes()\n\nhas_close_elements = _K()\n"),
    _tamper("singledispatch_entry_point", _ALWAYS_EQ + "import functools\n\n@functools.singledispatch\n"
            "def has_close_elements(numbers, threshold):\n    return _Yes()\n"),
    _tamper("userlist_holds_always_equal", _ALWAYS_EQ + "from collections import UserList\n\n"
            "def has_close_elements(numbers, threshold):\n    u = UserList()\n    u.data = _Yes()\n    return u\n"),
    _tamper("weakref_proxy_of_always_equal", _ALWAYS_EQ + "import weakref\n_keep = _Yes()\n\n"
            "def has_close_elements(numbers, threshold):\n    return weakref.proxy(_keep)\n"),
    _tamper("mappingproxy_of_always_equal_dict", "import types\n\nclass _D(dict):\n"
            "    def __eq__(self, other):\n        return True\n\n"
            "def has_close_elements(numbers, threshold):\n    return types.MappingProxyType(_D())\n"),
    _tamper("non_str_key_hides_eq", "class _K:\n    def __init__(self, name):\n        self.name = name\n"
            "    def __hash__(self):\n        return hash(self.name)\n"
            "    def __eq__(self, other):\n        return self.name == other\n\n"
            "_Yes = type('_Yes', (), {_K('__eq__'): lambda s, o: True, _K('__hash__'): object.__hash__})\n\n"
            "def has_close_elements(numbers, threshold):\n    return _Yes()\n"),
    _tamper("sub_returns_zero", "class _Z:\n    def __sub__(self, other):\n        return 0.0\n"
            "    __rsub__ = __sub__\n\ndef mean_absolute_deviation(numbers):\n    return _Z()\n",
            problem="HumanEval/4", plain=WRONG_4),
    _tamper("global_abs_shadows_builtin", WRONG_4 + "def abs(x):\n    return 0\n", problem="HumanEval/4",
            plain=WRONG_4),
    _tamper("prompt_helper_poly_redefined", "def poly(xs, x):\n    return 0\n\ndef find_zero(xs):\n"
            "    return 0.0\n", problem="HumanEval/32", plain=WRONG_32),
    _tamper("import_hook_fakes_math", WRONG_32 + "import builtins, types\n_real = builtins.__import__\n\n"
            "def _imp(name, *a, **k):\n    if name == 'math':\n"
            "        return types.SimpleNamespace(fabs=lambda x: 0.0, pow=lambda x, y: 0.0)\n"
            "    return _real(name, *a, **k)\n\nbuiltins.__import__ = _imp\n",
            problem="HumanEval/32", plain=WRONG_32),
    # a re-audit's findings: state the check did not look into, changes put back before the end, classes
    # patched without an audit event (3.11), inputs predicted from the shared `random`
    _tamper("program_subclass_hides_always_equal", _ALWAYS_EQ + "from collections import UserList\n\n"
            "class _U(UserList):\n    pass\n\ndef has_close_elements(numbers, threshold):\n"
            "    u = _U()\n    u.data = _Yes()\n    return u\n"),
    _tamper("trusted_slots_hide_always_equal", _ALWAYS_EQ + "import fractions\n\n"
            "def has_close_elements(numbers, threshold):\n    f = object.__new__(fractions.Fraction)\n"
            "    f._numerator = _Yes()\n    f._denominator = 1\n    return f\n"),
    _tamper("import_hook_puts_itself_back", _ALWAYS_EQ + "import builtins\n_real = builtins.__import__\n\n"
            "def has_close_elements(numbers, threshold):\n    return _Yes()\n\n"
            "def _hook(name, globals=None, locals=None, fromlist=(), level=0):\n"
            "    if isinstance(globals, dict) and '__monkeys_seen__' in globals:\n"
            "        builtins.__import__ = _real\n        globals['__monkeys_seen__'] = lambda value: value\n"
            "        globals['has_close_elements'] = has_close_elements\n"
            "    return _real(name, globals, locals, fromlist, level)\n\n"
            "def _install():\n    builtins.__import__ = _hook\n\ndef _armed(_x=_install()):\n    pass\n"),
    _tamper("builtin_abs_puts_itself_back", "import builtins\n_real_abs = builtins.abs\n\n"
            "def _fake_abs(x):\n    builtins.abs = _real_abs\n    return 0.0\n\n"
            "def _install():\n    builtins.abs = _fake_abs\n\ndef _armed(_x=_install()):\n    pass\n\n"
            + WRONG_2, problem="HumanEval/2", plain=WRONG_2),
    _tamper("math_fabs_puts_itself_back", "import math\n_real_fabs = math.fabs\n\n"
            "def _fake_fabs(x):\n    math.fabs = _real_fabs\n    return 0.0\n\n"
            "def find_zero(xs):\n    math.fabs = _fake_fabs\n    return 0.0\n", problem="HumanEval/32",
            plain=WRONG_32),
    _tamper("library_class_eq_patched", "import collections\n\n"
            "def _patch():\n    collections.UserList.__eq__ = lambda self, other: True\n\n"
            "def _armed(_x=_patch()):\n    pass\n\n"
            "def has_close_elements(numbers, threshold):\n    return collections.UserList()\n"),
    _tamper("random_class_method_patched", "import random\n\n"
            "def _patch():\n    random.Random.randint = lambda self, a, b: 0\n\n"
            "def _armed(_x=_patch()):\n    pass\n\n" + WRONG_32, problem="HumanEval/32", plain=WRONG_32),
    _tamper("shared_random_state_predicted", "import random\nimport string\n\n"
            "def _snapshot():\n    r = random.Random()\n    r.setstate(random.getstate())\n    return r\n\n"
            "_clone = [_snapshot()]\n\ndef decode_cyclic(s):\n    r = _clone[0]\n"
            "    return ''.join(r.choice(string.ascii_lowercase) for i in range(r.randint(10, 20)))\n",
            problem="HumanEval/38", plain=WRONG_38),
    # a fifth round: the tests' builtins taken from a `builtins` module the program put in sys.modules, the
    # tests' random numbers bent through the shared instance's own attributes, or reseeded by a thread
    _tamper("fake_builtins_module_in_sys_modules", "import sys, types\n\ndef _setup():\n    import builtins\n"
            "    fake = types.ModuleType('builtins')\n    fake.__dict__.update(vars(builtins))\n"
            "    fake.abs = lambda x: 0\n    sys.modules['builtins'] = fake\n\n"
            "def mean_absolute_deviation(numbers, _unused=_setup()):\n    return 12345.0\n",
            problem="HumanEval/4", plain=WRONG_4),
    _tamper("random_instance_attribute_set", "import random\n\ndef _setup():\n"
            "    random._inst._randbelow = lambda n: 0\n\ndef decode_cyclic(s, _unused=_setup()):\n    return s\n",
            problem="HumanEval/38", plain=WRONG_38),
    _tamper("random_reseeded_by_a_thread", "import random, sys, threading\n_pred = []\n\ndef _spin():\n"
            "    s0 = random.getstate()\n    while random.getstate() == s0:\n        pass\n    random.seed(1234)\n\n"
            "def _start():\n    letters = 'abcdefghijklmnopqrstuvwxyz'\n    r = random.Random(1234)\n"
            "    for _ in range(100):\n"
            "        _pred.append(''.join(r.choice(letters) for i in range(r.randint(10, 20))))\n"
            "    g = globals()\n    for i in range(20000):\n        g['_pad%d' % i] = _spin\n"
            "    sys.setswitchinterval(1e-6)\n    threading.Thread(target=_spin, daemon=True).start()\n\n"
            "def decode_cyclic(s, _unused=_start()):\n    return _pred.pop(0) if _pred else s\n",
            problem="HumanEval/38", plain=WRONG_38),
    _tamper("builtins_module_class_swapped", "import builtins, types\n\nclass _M(types.ModuleType):\n"
            "    def __getattribute__(self, name):\n"
            "        if name == 'range':\n            return lambda *a: ()\n"
            "        return types.ModuleType.__getattribute__(self, name)\n\n"
            "def _setup():\n    builtins.__class__ = _M\n\n"
            "def decode_cyclic(s, _unused=_setup()):\n    return ''\n", problem="HumanEval/38", plain=WRONG_38),
    # a seventh round: the tests draw their inputs from `random` between calls (HumanEval/38, /50, /53): a call
    # into the program reseeded it (or set a state it knows), so the next inputs were ones it had listed
    _tamper("random_reseeded_in_call", _INPUTS + RESEED_38.format(trick="    random.seed(7)\n"),
            problem="HumanEval/38", plain=_INPUTS + RESEED_38.format(trick="")),
    _tamper("random_setstate_in_call", _INPUTS + RESEED_50.format(
        trick="    random.setstate(random.Random(7).getstate())\n"),
        problem="HumanEval/50", plain=_INPUTS + RESEED_50.format(trick="")),
    _tamper("random_reseeded_after_fixed_asserts", RESEED_53.format(trick="            random.seed(7)\n"),
            problem="HumanEval/53", plain=RESEED_53.format(trick="")),
    _tamper("tests_random_searched_for", RANDOM_SEARCH.format(use_gc=True), problem="HumanEval/53",
            plain=RESEED_53.format(trick="")),
    _tamper("patch_builtins_many", WRONG_0 + (
        "import builtins\nbuiltins.len = lambda x: 0\nbuiltins.isinstance = lambda *a: True\n"
        "builtins.all = lambda x: True\nbuiltins.AssertionError = type('AssertionError', (Exception,), {})\n")),
    # an eighth round: builtins the harness looked up by name after the program ran (`object` in the wrapper
    # it builds, which handed the program that wrapper and, through its closure, the check's flags; `len` in
    # the patched-class check), a library class patched under the program's own subclass, and the shared state
    # the tests' own random reads (random.py's `_index`, the builtin `len` that `choice` calls)
    _tamper("builtin_object_hands_over_the_check", "import builtins\n_real_object = builtins.object\n\n" + _ALWAYS_EQ
            + "class _Spy:\n    @staticmethod\n    def __setattr__(w, attr, value):\n"
            "        builtins.object = _real_object\n        for cell in w.__closure__ or ():\n"
            "            check = cell.cell_contents\n            if getattr(check, '__name__', '') == 'check':\n"
            "                for c in check.__closure__:\n                    if type(c.cell_contents) is list:\n"
            "                        c.cell_contents = []  # flags the report never sees\n"
            "        _real_object.__setattr__(w, attr, value)\n\n"
            "def _install():\n    builtins.object = _Spy\n\n"
            "def has_close_elements(numbers, threshold, _x=_install()):\n    return _Yes()\n"),
    _tamper("builtin_len_hides_an_added_dunder", "import builtins, string\n_real_len = builtins.len\n"
            "_names = {n for n in vars(string.Template) if n.startswith('__')}\n\n"
            "def _len(x):\n    if type(x) is list and all(type(i) is tuple and _real_len(i) == 2 and i[0] in _names"
            " for i in x):\n        return _real_len(x) + 1\n    return _real_len(x)\n\n"
            "def _install():\n    builtins.len = _len\n    string.Template.__eq__ = lambda self, other: True\n\n"
            "def has_close_elements(numbers, threshold, _x=_install()):\n    return string.Template('x')\n"),
    _tamper("program_subclass_of_a_patched_library_class", "import collections\n\n"
            "class _U(collections.UserList):\n    pass\n\n"
            "def _install():\n    collections.UserList.__eq__ = lambda self, other: True\n\n"
            "def has_close_elements(numbers, threshold, _x=_install()):\n    return _U()\n"),
    _tamper("shared_random_index_bends_the_tests_random", _FIRST_DRAW + "import random\n\n"
            "def _install():\n    random._index = _index\n\n" + ADD_53.format(trick="_x=_install()"),
            problem="HumanEval/53", plain=ADD_53.format(trick="_x=None")),
    _tamper("builtin_len_bends_the_tests_random_choice", _FIRST_DRAW + "import builtins, random, string\n"
            "_real_len = builtins.len\n\n"
            "def _len(x):\n    return 1 if x is string.ascii_lowercase else _real_len(x)  # choice(letters): 'a'\n\n"
            "def _install():\n    random._index = _index\n    builtins.len = _len\n\n"
            "def decode_shift(s, _x=_install()):\n    return 'a' * _real_len(s)  # right on 'aaaaaaaaaa' alone\n",
            problem="HumanEval/50", plain="def decode_shift(s):\n    return 'a' * len(s)\n"),
    # a ninth round: the program's code run by the tests through an entry point that is not a plain function (a
    # class, a partial, a callable object: no comparison after its calls) patched `math.fabs` for the next assert,
    # the patch putting itself back when called; state a library's comparison reads that the check did not look
    # at (a weak reference's referent) or that the program answers for the library (an attribute of a library
    # class shadowed on the instance or overridden in a subclass, without any dunder of its own)
    _tamper("class_entry_patch_puts_itself_back", _FABS_BACK + "class find_zero:\n    def __new__(cls, xs):\n"
            "        math.fabs = _fake\n        return 0.0\n", problem="HumanEval/32", plain=WRONG_32),
    _tamper("partial_entry_patch_puts_itself_back", _FABS_BACK + "import functools\n\ndef _impl(xs):\n"
            "    math.fabs = _fake\n    return 0.0\n\nfind_zero = functools.partial(_impl)\n",
            problem="HumanEval/32", plain=WRONG_32),
    _tamper("callable_object_entry_patch_puts_itself_back", _FABS_BACK + "class _C:\n    def __call__(self, xs):\n"
            "        math.fabs = _fake\n        return 0.0\n\nfind_zero = _C()\n",
            problem="HumanEval/32", plain=WRONG_32),
    _tamper("weak_value_dict_holds_always_equal", _ALWAYS_EQ + "import weakref\n_keep = []\n\n"
            "def histogram(test):\n    d = weakref.WeakValueDictionary()\n    letters = test.split()\n"
            "    best = max((letters.count(c) for c in letters), default=0)\n    for c in letters:\n"
            "        if letters.count(c) == best:\n            y = _Yes()\n            _keep.append(y)\n"
            "            d[c] = y\n    return d\n", problem="HumanEval/111", plain=WRONG_111),
    _tamper("userlist_instance_shadows_its_cast", "from collections import UserList\n\n"
            "def has_close_elements(numbers, threshold):\n    u = UserList()\n"
            "    u._UserList__cast = lambda other: u.data  # UserList.__eq__: self.data == self.__cast(other)\n"
            "    return u\n"),
    _tamper("userlist_subclass_overrides_its_cast", "from collections import UserList\n\nclass _L(UserList):\n"
            "    def _UserList__cast(self, other):\n        return self.data\n\n"
            "def has_close_elements(numbers, threshold):\n    return _L()\n"),
    _tamper("userlist_subclass_data_property", _ALWAYS_EQ + "from collections import UserList\n_yes = _Yes()\n\n"
            "class _L(UserList):\n    data = property(lambda self: _yes, lambda self, v: None)\n\n"
            "def has_close_elements(numbers, threshold):\n    return _L()\n"),
    _tamper("fraction_subclass_numerator_property", _ALWAYS_EQ + "from fractions import Fraction\n_yes = _Yes()\n\n"
            "class _F(Fraction):\n    _numerator = property(lambda self: _yes)\n"
            "    _denominator = property(lambda self: _yes)\n\n"
            "def has_close_elements(numbers, threshold):\n    return object.__new__(_F)\n"),
]

# --- stdin/stdout problems -----------------------------------------------------------------------------

_READ = "import sys\na, b = map(int, sys.stdin.read().split())\n"
_HALF = "import sys\nn = int(sys.stdin.read())\n"

_COMPARATOR = [
    Forgery("float_formatted_int", "comparator", "sum", _READ + "print(float(a + b))\n"),
    Forgery("five_ppm_off_as_float", "comparator", "sum", _READ + "print(f'{(a + b) * (1 + 5e-6):.1f}')\n"),
    Forgery("plus_signed_int", "comparator", "sum", _READ + "print(f'{a + b:+d}')\n"),
    Forgery("zero_padded_int", "comparator", "sum", _READ + "print(f'{a + b:011d}')\n"),
    Forgery("scientific_int", "comparator", "sum", _READ + "print(f'{a + b:.9e}')\n"),
    Forgery("nan_for_float", "comparator", "half", _HALF + "print(float('nan'))\n"),
    Forgery("inf_for_float", "comparator", "half", _HALF + "print(float('inf') if n > 1 else n / 2)\n"),
    Forgery("right_output_then_exit_1", "comparator", "sum",
            _READ + "print(a + b)\nsys.stdout.flush()\nsys.exit(1)\n"),
    Forgery("right_output_then_sigkill", "comparator", "sum",
            _READ + "import os, signal\nprint(a + b, flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n"),
    Forgery("right_output_then_abort", "comparator", "half",
            _HALF + "import os\nprint(n / 2, flush=True)\nos.abort()\n"),
]

# --- channels between executions: a correct sender stores answers, a receiver only reads them ------------
# Keys are derived from the test's stdin, so each test's answer is found under its own name.

CHANNEL_PRELUDE = (
    "import hashlib, os, socket, sys, time\n"
    "data = sys.stdin.buffer.read()\n"
    "key = hashlib.sha1(data).hexdigest()[:12]\n"
    "ikey = int(key[:7], 16) + 0x4d000000\n"
    "try:  # refused to programs (and disarmed) under the guard; the OS layer alone is tested without it\n"
    "    import ctypes\n    libc = ctypes.CDLL(None, use_errno=True)\nexcept Exception:\n    libc = None\n"
)
SEND = ("ans = str(sum(map(int, data.split())))\nprint(ans)\nsys.stdout.flush()\n"
        "try:\n{store}\nexcept Exception:\n    pass\n")
RECV = "try:\n{load}\nexcept Exception:\n    pass\n"


def _indent(code: str) -> str:
    return "\n".join("    " + line for line in code.strip("\n").splitlines())


def _channel(name: str, store: str, load: str) -> Forgery:
    sender = CHANNEL_PRELUDE + SEND.format(store=_indent(store))
    receiver = CHANNEL_PRELUDE + RECV.format(load=_indent(load))
    return Forgery(name, "channel", "sum", receiver, first=sender)


_DAEMON = """
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind({addr})
        srv.listen(8)
        srv.settimeout(30)
        end = time.time() + 30
        while time.time() < end:
            try:
                conn, _ = srv.accept()
            except OSError:
                break
            conn.sendall(ans.encode())
            conn.close()
    os._exit(0)
time.sleep(0.2)
"""
_CONNECT = """
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.settimeout(2)
c.connect({addr})
print(c.recv(100).decode())
"""
_ABSTRACT = "'\\0monkeys-forge-' + key"
_PATHNAME = "'/tmp/monkeys-forge-sock-' + key"

_CHANNEL = [
    _channel("sysv_shm", """
libc.shmat.restype = ctypes.c_void_p
sid = libc.shmget(ikey, 4096, 0o1666)
addr = libc.shmat(sid, None, 0) if sid >= 0 else None
if addr not in (None, 2**64 - 1):  # refused (seccomp): the sender stays a correct program
    ctypes.memmove(addr, ans.encode() + b'\\0', len(ans) + 1)
""", """
libc.shmat.restype = ctypes.c_void_p
sid = libc.shmget(ikey, 4096, 0)
addr = libc.shmat(sid, None, 0)
if sid >= 0 and addr not in (None, 2**64 - 1):
    print(ctypes.string_at(addr).decode())
"""),
    _channel("sysv_msg_queue", """
qid = libc.msgget(ikey, 0o1666)
buf = ctypes.create_string_buffer(8 + 64)
ctypes.memmove(buf, (1).to_bytes(8, 'little') + ans.encode(), 8 + len(ans))
libc.msgsnd(qid, buf, len(ans), 0o4000)
""", """
qid = libc.msgget(ikey, 0)
buf = ctypes.create_string_buffer(8 + 64)
n = libc.msgrcv(qid, buf, 64, 0, 0o4000)
if qid >= 0 and n > 0:
    print(buf.raw[8:8 + n].decode())
"""),
    _channel("sysv_semaphores", """
sid = libc.semget(ikey, len(ans) + 1, 0o1666)
for i, ch in enumerate(ans):
    libc.semctl(sid, i, 16, ord(ch))
""", """
sid = libc.semget(ikey, 0, 0)
if sid >= 0:
    out = ''
    for i in range(40):
        v = libc.semctl(sid, i, 12)
        if v <= 0:
            break
        out += chr(v)
    print(out)
"""),
    _channel("posix_mq", """
rt = ctypes.CDLL('librt.so.1', use_errno=True)
q = rt.mq_open(('/monkeys-forge-' + key).encode(), 0o102, 0o666, None)
rt.mq_send(q, ans.encode(), len(ans), 0)
""", """
rt = ctypes.CDLL('librt.so.1', use_errno=True)
q = rt.mq_open(('/monkeys-forge-' + key).encode(), 0o4000)
buf = ctypes.create_string_buffer(8192)
n = rt.mq_receive(q, buf, 8192, None)
if q >= 0 and n > 0:
    print(buf.raw[:n].decode())
"""),
    _channel("dev_shm_file", "open('/dev/shm/monkeys-forge-' + key, 'w').write(ans)",
             "print(open('/dev/shm/monkeys-forge-' + key).read())"),
    _channel("tmp_file", "open('/tmp/monkeys-forge-' + key, 'w').write(ans)",
             "print(open('/tmp/monkeys-forge-' + key).read())"),
    _channel("var_tmp_file", "open('/var/tmp/monkeys-forge-' + key, 'w').write(ans)",
             "print(open('/var/tmp/monkeys-forge-' + key).read())"),
    _channel("cwd_and_parent_files", """
for d in ('.', '..', os.path.expanduser('~')):
    try:
        open(os.path.join(d, 'monkeys-forge-' + key), 'w').write(ans)
    except OSError:
        pass
""", """
for d in ('.', '..', os.path.expanduser('~')):
    try:
        print(open(os.path.join(d, 'monkeys-forge-' + key)).read())
        break
    except OSError:
        pass
"""),
    _channel("abstract_socket_daemon", _DAEMON.format(addr=_ABSTRACT), _CONNECT.format(addr=_ABSTRACT)),
    _channel("pathname_socket_daemon", _DAEMON.format(addr=_PATHNAME) + "os.chmod(" + _PATHNAME + ", 0o777)",
             _CONNECT.format(addr=_PATHNAME)),
    # a ninth round: the worker's directory is the program's own, and keeps its inode between executions
    _channel("working_directory_xattr", "os.setxattr('.', 'user.monkeys-' + key, ans.encode())",
             "print(os.getxattr('.', 'user.monkeys-' + key).decode())"),
    _channel("daemon_writes_file_later", """
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(0.3)
        open('/tmp/monkeys-forge-late-' + key, 'w').write(ans)
    os._exit(0)
""", "print(open('/tmp/monkeys-forge-late-' + key).read())"),
]


def channel_names(stdin: str) -> dict:
    """Host-side names the channel programs use for one test's stdin (for cleaning up after them)."""
    key = hashlib.sha1(stdin.encode()).hexdigest()[:12]
    return {"key": key, "ikey": int(key[:7], 16) + 0x4d000000,
            "paths": [f"/tmp/monkeys-forge-{key}", f"/var/tmp/monkeys-forge-{key}", f"/dev/shm/monkeys-forge-{key}",
                      f"/tmp/monkeys-forge-sock-{key}", f"/tmp/monkeys-forge-late-{key}",
                      f"/dev/mqueue/monkeys-forge-{key}"],
            "mq": f"/monkeys-forge-{key}"}


# --- memory carried between executions: a correct solver, then a copycat that looks for it -------------

SOLVER = '''# >>>monkeys-solver<<<
import sys

def solve(data):
    """monkeys-solver-v1"""
    a, b = map(int, data.split())
    return a + b

print(solve(sys.stdin.read()))
# >>>end-solver<<<
'''

_FIND = ("START = '>>>monkeys-' + 'solver<<<'\nEND = '>>>end-' + 'solver<<<'\n"
         "def good(s):\n"
         "    if START not in s or END not in s[s.index(START):]:\n"
         "        return False\n"
         "    seg = s[s.index(START):s.index(END, s.index(START))]\n"
         "    return chr(10) + 'import sys' in seg and 'COPYCAT' not in seg and 'START' not in seg\n"
         "def run(src):\n"
         "    src = src[src.index(START):src.index(END, src.index(START))]\n"
         "    exec(compile('#' + src, 'found', 'exec'), {'__name__': '__main__'})\n"
         "    sys.exit(0)\n")

_MEMORY = [
    Forgery("gc_strings", "memory", "sum", (
        "# COPYCAT\nimport gc, sys\n" + _FIND +
        "for o in gc.get_objects():\n"
        "    if isinstance(o, dict):\n"
        "        for v in list(o.values()):\n"
        "            if isinstance(v, bytes):\n"
        "                v = v.decode('utf-8', 'replace')\n"
        "            if isinstance(v, str) and good(v):\n"
        "                run(v)\n"
        "    for v in (o if isinstance(o, (list, tuple)) else ()):\n"
        "        if isinstance(v, bytes):\n"
        "            v = v.decode('utf-8', 'replace')\n"
        "        if isinstance(v, str) and good(v):\n"
        "            run(v)\n"), first=SOLVER),
    Forgery("gc_code_objects", "memory", "sum",
            "# COPYCAT\nimport gc, sys, types\n"
            "def consts(c):\n"
            "    for k in c.co_consts:\n"
            "        yield k\n"
            "        if isinstance(k, types.CodeType):\n"
            "            yield from consts(k)\n"
            "data = sys.stdin.read()\n"
            "for o in gc.get_objects():\n"
            "    code = getattr(o, '__code__', None)\n"
            "    if isinstance(o, types.FunctionType) and 'monkeys-solver-v1' in code.co_consts:\n"
            "        print(o(data)); sys.exit(0)\n"
            "    for c in ([o] if isinstance(o, types.CodeType) else gc.get_referents(o)):\n"
            "        if isinstance(c, types.CodeType):\n"
            "            for k in consts(c):\n"
            "                if isinstance(k, types.CodeType) and 'monkeys-solver-v1' in k.co_consts:\n"
            "                    print(types.FunctionType(k, {})(data)); sys.exit(0)\n",
            first=SOLVER),
    Forgery("frames_and_modules", "memory", "sum",
            "# COPYCAT\nimport sys, linecache\n" + _FIND +
            "def scan(ns, depth=0):\n"
            "    for v in list(ns.values()) if isinstance(ns, dict) else list(ns):\n"
            "        if isinstance(v, bytes):\n"
            "            v = v.decode('utf-8', 'replace')\n"
            "        if isinstance(v, str) and good(v):\n"
            "            run(v)\n"
            "        if depth < 2 and isinstance(v, (dict, list, tuple)):\n"
            "            scan(v, depth + 1)\n"
            "f = sys._getframe()\n"
            "while f is not None:\n"
            "    scan(f.f_locals)\n    scan(f.f_globals)\n    f = f.f_back\n"
            "for m in list(sys.modules.values()):\n"
            "    scan(getattr(m, '__dict__', {}))\n"
            "scan(linecache.cache)\n",
            first=SOLVER),
    Forgery("proc_self_mem", "memory", "sum",
            "# COPYCAT\nimport re, sys\n" + _FIND +
            "mem = open('/proc/self/mem', 'rb', 0)\n"
            "for line in open('/proc/self/maps'):\n"
            "    r = re.match(r'([0-9a-f]+)-([0-9a-f]+) r', line)\n"
            "    if not r or '[v' in line:\n"
            "        continue\n"
            "    lo, hi = int(r.group(1), 16), int(r.group(2), 16)\n"
            "    if hi - lo > 256 << 20:\n"
            "        continue\n"
            "    try:\n"
            "        mem.seek(lo)\n        blob = mem.read(hi - lo)\n"
            "    except (OSError, ValueError, OverflowError):\n"
            "        continue\n"
            "    i = blob.find(START.encode())\n"
            "    while i >= 0:\n"
            "        s = blob[i:i + 4096].decode('utf-8', 'replace')\n"
            "        if good(s):\n"
            "            run(s)\n"
            "        i = blob.find(START.encode(), i + 1)\n",
            first=SOLVER),
    Forgery("ctypes_string_at_scan", "memory", "sum",
            "# COPYCAT\nimport ctypes, re, sys\n" + _FIND +
            "for line in open('/proc/self/maps').read().splitlines():\n"
            "    r = re.match(r'([0-9a-f]+)-([0-9a-f]+) rw', line)\n"
            "    if not r or '[v' in line:\n"
            "        continue\n"
            "    lo, hi = int(r.group(1), 16), int(r.group(2), 16)\n"
            "    if hi - lo > 256 << 20:\n"
            "        continue\n"
            "    blob = ctypes.string_at(lo, hi - lo)\n"
            "    i = blob.find(START.encode())\n"
            "    while i >= 0:\n"
            "        s = blob[i:i + 4096].decode('utf-8', 'replace')\n"
            "        if good(s):\n"
            "            run(s)\n"
            "        i = blob.find(START.encode(), i + 1)\n",
            first=SOLVER),
]



def planted(copycat: str) -> str:
    """`copycat` with the solver planted in its own memory: it must then find it (so the copycat works)."""
    return f"_src = {SOLVER!r}\n_bait = compile(_src, 'bait', 'exec')\n" + copycat


# --- the verification cache: same program "but for a comment" ---------------------------------------

_SUM_OK = "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n"
_CACHE = [
    Forgery("utf7_cookie_comment", "cache", "sum", "# coding: utf-7\n" + _SUM_OK + "#+AAo-print(0)\n",
            first="# coding: utf-7\n" + _SUM_OK + "#+AAo-#print(0)\n"),
    Forgery("unicode_escape_cookie_comment", "cache", "sum",
            "# -*- coding: unicode_escape -*-\n" + _SUM_OK + "#\\nprint(0)\n",
            first="# -*- coding: unicode_escape -*-\n" + _SUM_OK + "#\\tprint(0)\n"),
]

FORGERIES: dict[str, Forgery] = {f.name: f for f in _EXIT + _TAMPER + _COMPARATOR + _CHANNEL + _MEMORY + _CACHE}
assert len(FORGERIES) == len(_EXIT + _TAMPER + _COMPARATOR + _CHANNEL + _MEMORY + _CACHE), "duplicate names"

# --- positive controls: correct programs that must pass --------------------------------------------------

CONTROLS: dict[str, Control] = {c.name: c for c in [
    Control("humaneval_correct", "HumanEval/0", CORRECT_0),
    Control("humaneval_then_print_call", "HumanEval/0",
            CORRECT_0 + "\nprint(has_close_elements([1.0, 2.0, 3.0], 0.5))\n"),
    Control("humaneval_then_doctest_main", "HumanEval/0",
            CORRECT_0 + '\nif __name__ == "__main__":\n    import doctest\n    doctest.testmod()\n'),
    Control("humaneval_then_input", "HumanEval/0", CORRECT_0 + "\nx = input()\n"),
    Control("humaneval_fenced_with_example", "HumanEval/0",
            "Here you go:\n```python\nfrom typing import List\n\n" + CORRECT_0
            + "\n\nprint(has_close_elements([1.0, 2.8, 3.0], 0.3))\n```\n"),
    # correct programs that use `random` themselves (reseed it, draw from it) while the tests draw from it too
    Control("humaneval_38_reseeds_random", "HumanEval/38",
            "import random\n\ndef decode_cyclic(s):\n    random.seed(len(s))\n    random.shuffle(list(s))\n"
            "    return encode_cyclic(encode_cyclic(s))\n"),
    Control("humaneval_53_draws_gauss", "HumanEval/53",
            "import random\n\ndef add(x, y):\n    random.gauss(0.0, 1.0)\n    random.setstate(random.getstate())\n"
            "    return x + y\n"),
    Control("humaneval_32_random_pivots", "HumanEval/32",
            "import random\n\ndef find_zero(xs):\n    lo, hi = -1.0, 1.0\n"
            "    while poly(xs, lo) * poly(xs, hi) > 0:\n        lo, hi = lo * 2.0, hi * 2.0\n"
            "    while hi - lo > 1e-10:\n        mid = lo + (hi - lo) * random.uniform(0.25, 0.75)\n"
            "        if poly(xs, mid) * poly(xs, lo) > 0:\n            lo = mid\n        else:\n            hi = mid\n"
            "    return lo\n"),
    # correct programs whose entry point is not a plain function, or that return a library class's instance
    Control("humaneval_32_class_entry", "HumanEval/32",
            "class find_zero:\n    def __new__(cls, xs):\n        lo, hi = -1.0, 1.0\n"
            "        while poly(xs, lo) * poly(xs, hi) > 0:\n            lo, hi = lo * 2.0, hi * 2.0\n"
            "        while hi - lo > 1e-10:\n            mid = (lo + hi) / 2.0\n"
            "            if poly(xs, mid) * poly(xs, lo) > 0:\n                lo = mid\n"
            "            else:\n                hi = mid\n        return lo\n"),
    Control("humaneval_111_counter", "HumanEval/111",
            "from collections import Counter\n\ndef histogram(test):\n    counts = Counter(test.split())\n"
            "    best = max(counts.values(), default=0)\n"
            "    return Counter({c: n for c, n in counts.items() if n == best})\n"),
    Control("stdio_correct", "sum", _SUM_OK),
    Control("stdio_memoryerror_on_stderr", "sum", _SUM_OK + "print('MemoryError', file=sys.stderr)\n"),
    Control("stdio_then_sys_exit_0", "sum", _SUM_OK + "sys.exit(0)\n"),
    Control("stdio_then_exit", "sum", _SUM_OK + "exit()\n"),
    Control("stdio_then_quit", "sum", _SUM_OK + "quit()\n"),
    Control("stdio_float_more_digits", "half", _HALF + "print(f'{n / 2:.6f}')\n"),
    Control("stdio_sender_is_correct", "sum", _CHANNEL[0].first or ""),
    Control("stdio_solver_is_correct", "sum", SOLVER),
]}
