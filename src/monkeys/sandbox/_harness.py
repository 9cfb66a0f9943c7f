"""What runs inside each sandboxed child: the program, then (for function-assert problems) its tests, then
one report of how it ended, written to the worker through its own pipe and sealed with a per-execution nonce
(an HMAC of the report's fields under it; the nonce itself is never written).

Why a report and not the exit status: a program controls its exit status (`os._exit(0)`, `sys.exit()`,
a `SystemExit` subclass, `sys.exit(256)`, a thread or signal that exits after an assert failed). The worker
counts the tests as passed only when it reads exactly one report, its seal matches, and it says
"completed"; any exit before the harness writes it leaves no report, and any bytes a program writes to the
pipe (it may try every fd) break the "exactly one sealed report" rule. A program that moved its own pipe onto
the report's fd reads the harness's report (once it carried the nonce) but can only pass it on unchanged.

The nonce lives only in the harness's frame. A program could reach it only by walking frames or the
garbage collector, reading its own memory, or building code objects, so the child runs with an audit hook
(`sys.addaudithook`, which no Python code can remove) that refuses exactly those: frame attributes
(`tb_frame`, `gi_frame`, `cr_frame`, `ag_frame`, `f_code`), `sys._getframe` and friends, `gc.get_objects`
and friends, `sys.settrace`/`setprofile`, ctypes, `code.__new__`/`function.__new__`, marshal, new audit
hooks, and opening `/proc`; `marshal` only for importlib loading the system library's own cached bytecode
(crafted bytecode can read any memory). The ctypes types confinement loaded stay reachable without an
import, so they are disarmed before the program runs (`_ctypes_off`). The one frame source Python does
not audit, a signal handler's frame argument, is closed below it: the seccomp filter refuses installing
signal handlers. What remains is a CPython memory-safety bug, which Landlock (no `/proc`), seccomp and the
dropped uid still contain.

Function-assert tests run in their own namespace: a shallow copy of the program's globals (so they see its
functions and helpers), with the builtins as they were before any program ran (a copy of the harness's
snapshot, whose `__import__` gives the tests a `random` of their own: below), every function the program
defined wrapped so that what it returns is checked, and `__monkeys_seen__`, which the verifier's rewrite
of the tests (`monkeys.verifiers._assert_values`) calls on every value an assert reads, however it was
made. The tests cannot see some tampering, so the report carries flags instead:
- a checked value (or anything inside it: containers, what any instance holds in its `__dict__` or
  `__slots__`, e.g. `UserList.data`, `Fraction._numerator`) of a class the program made that overrides
  behaviour (`__eq__`, `__bool__`, `__sub__`, ..., a `__dict__` property, or a class attribute whose name
  is not a plain `str`): an object that agrees with every expected value; a weak proxy or mapping proxy,
  which compares as an object it does not show; a value of a library class whose dunders the program
  replaced, added or removed (Python 3.11 raises no audit event for `UserList.__eq__ = ...`);
- `sys.settrace`/`setprofile` attempted; a builtin the tests name (`abs`, `sorted`, and always
  `__import__`) replaced; for the modules the tests name (`import math`, `math.isclose`), an attribute or
  an attribute of one of its classes (`random.Random.randint`, shared with the tests' own `random`)
  replaced, the module replaced in `sys.modules` or its class changed. These are compared before the
  tests, after every call into the program and at the end, so a change put back before the end is seen
  too. (What the tests reach only through other modules is not compared: reading every value costs a
  copy-on-write fault each.)
The tests' `random` is their own (HumanEval/38, /50 and /53 draw their inputs from it between calls into the
program): `import random` and `from random import randint` in the tests give a copy of the module whose
functions are bound to a private `random.Random` instance, seeded from the OS just before the tests. The
program's `random` is the shared one, free to use, reseed or set (a program that reseeded it inside a call
had made the tests' next inputs ones it had listed). The private instance is made in the template and held
only by the harness's closures and the tests' builtins and namespace: the same reach as the nonce plus what
the tests themselves hold (a plain instance of the library's class, so no class walk finds it; no module
table lists it; frames and the garbage collector are refused as above). In case a program reached it
anyway, its state (the generator's, its class and attributes) is compared before and after each call into
the program: `a call into the program changed the tests' own random numbers`. (Reading it changes
nothing: that only its reach prevents. The tests' numbers from other modules, e.g. `numpy.random`, are not
covered: no benchmark's tests use them.) The verifier's policy decides whether a flagged pass counts.

After the report the harness prints the program's uncaught exception (as `python main.py` would), flushes
and `os._exit`s. Everything the harness uses after the program started was captured before it started:
the program may have replaced any name in `builtins`, `os`, `sys`, `json`, `traceback`.

Standard library only (runs under the system Python); `make_runner` runs once in the template process.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import marshal
import os
import sys
import types
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, NoReturn

# Objects a program can reach (exit/quit, the wrappers the tests call) are made in a namespace of their
# own, so their __globals__ lead nowhere near the sandbox's modules.
_VISIBLE = '''
class Quitter:
    """exit() / quit() as the site module makes them (the sandbox runs python -S)."""
    def __init__(self, name):
        self.name = name
    def __repr__(self):
        return f"Use {self.name}() or Ctrl-D (i.e. EOF) to exit"
    def __call__(self, code=None):
        raise SystemExit(code)

def seen(check):
    def __monkeys_seen__(value):
        check(value, None, None)
        return value
    return __monkeys_seen__

def watch(fn, check, mark):
    def watched(*args, **kwargs):
        before = mark()
        result = fn(*args, **kwargs)
        check(result, fn, before)
        return result
    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        try:
            object.__setattr__(watched, attr, getattr(fn, attr))
        except Exception:
            pass
    return watched

def importer(real, own):
    def __import__(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name == "random":
            return own
        return real(name, globals, locals, fromlist, level)
    return __import__
'''
# Dunders that cannot change what a comparison, truth test or arithmetic in a test sees.
_INERT_DUNDERS = frozenset({
    "__new__", "__init__", "__repr__", "__str__", "__module__", "__qualname__", "__doc__", "__dict__",
    "__weakref__", "__slots__", "__match_args__", "__getnewargs__", "__annotations__", "__orig_bases__",
    "__parameters__", "__init_subclass__", "__class_getitem__", "__firstlineno__", "__static_attributes__",
    "__dataclass_fields__", "__dataclass_params__", "__reduce__", "__reduce_ex__", "__getstate__",
    "__setstate__", "__copy__", "__deepcopy__", "__sizeof__", "__format__", "__del__", "__set_name__",
    "__abstractmethods__", "_abc_impl", "__enter__", "__exit__", "__call__", "__getnewargs_ex__",
})
_FRAME_ATTRS = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_code", "gi_code", "cr_code",
                          "ag_code"})
_REFUSED = {
    "sys._getframe": ValueError, "sys._current_frames": RuntimeError, "sys._current_exceptions": RuntimeError,
    "gc.get_objects": RuntimeError, "gc.get_referrers": RuntimeError, "gc.get_referents": RuntimeError,
    "sys.settrace": RuntimeError, "sys.setprofile": RuntimeError, "code.__new__": RuntimeError,
    "function.__new__": RuntimeError, "sys.addaudithook": RuntimeError,
}
_FLAGGED = frozenset({"sys.settrace", "sys.setprofile"})
_REFUSED_MODULES = frozenset({"_ctypes", "ctypes", "_testcapi", "_testinternalcapi", "_xxsubinterpreters",
                              "_testmultiphase", "_testbuffer", "_xxtestfuzz"})
_MAX_REPORT = 2900  # bytes of fields; with the seal still below PIPE_BUF, so the one write is atomic
_MAX_CHECKED = 1_000_000  # values looked at in one result


def _all_classes() -> dict[int, type]:
    """Every class that exists now (before any program), by id: trusted, whatever they override. The
    classes themselves are kept alive with it, so no class made later can reuse one of these ids."""
    seen: dict[int, type] = {}
    todo: list[type] = [object, type]
    while todo:
        cls = todo.pop()
        if id(cls) in seen:
            continue
        seen[id(cls)] = cls
        try:
            todo.extend(type.__subclasses__(cls))
        except TypeError:
            pass
    return seen


def _module_snapshot() -> dict[str, tuple[types.ModuleType, dict[str, Any]]]:
    """Each loaded module's attributes (the objects, kept alive: compared by identity later)."""
    return {name: (mod, dict(vars(mod))) for name, mod in list(sys.modules.items())
            if isinstance(mod, types.ModuleType) and name not in ("__main__", "builtins")}


def _private_random(module: Any) -> tuple[types.ModuleType, Any] | None:
    """A copy of the `random` module for the tests alone: the same classes and constants, its functions
    bound to an instance of its own (`seed = _inst.seed`, `randint = _inst.randint`, ... as random.py binds
    them to its `_inst`). A plain instance of the library's `Random`: no class of its own for a walk of
    `type.__subclasses__` to find. None when `random` is not loaded or not as random.py makes it."""
    shared: Any = getattr(module, "_inst", None)
    cls: Any = getattr(module, "Random", None)
    if module is None or cls is None or type(shared) is not cls:
        return None
    own = cls()
    private = types.ModuleType(module.__name__, module.__doc__)
    names = vars(private)
    for name, value in vars(module).items():
        if getattr(value, "__self__", None) is shared:
            value = getattr(own, value.__name__)
        names[name] = value
    names["_inst"] = own
    return private, own


def install_exit_quit() -> None:
    """`exit()` and `quit()` as under a normal interpreter (models end programs with them)."""
    ns: dict[str, Any] = {"__builtins__": builtins, "__name__": "builtins"}
    exec(compile(_VISIBLE, "<sandbox>", "exec"), ns)
    builtins.exit = ns["Quitter"]("exit")  # type: ignore[attr-defined]
    builtins.quit = ns["Quitter"]("quit")  # type: ignore[attr-defined]


def make_runner(stdout: Any, stderr: Any) -> Callable[[dict, bytes, bytes | None, int], NoReturn]:
    """Build, once per template, the function each child calls to run its program. It captures
    everything it will need after the program started, and the snapshots flags are measured against."""
    import _thread
    import importlib._bootstrap_external as bootstrap_external
    import traceback

    trusted = _all_classes()
    modules = _module_snapshot()
    builtin_values = dict(vars(builtins))
    visible: dict[str, Any] = {"__builtins__": builtins, "__name__": "builtins"}
    exec(compile(_VISIBLE, "<sandbox>", "exec"), visible)
    watch, seen = visible["watch"], visible["seen"]

    # Captured: after the program started, nothing below is looked up by name (it may have replaced any
    # name in builtins or in a module); closures read these cells, never globals.
    frame_attrs, refused_events, flagged_events = _FRAME_ATTRS, _REFUSED, _FLAGGED
    refused_modules, inert, max_checked, max_report = _REFUSED_MODULES, _INERT_DUNDERS, _MAX_CHECKED, _MAX_REPORT
    unwatched_sys = frozenset({"stdin", "stdout", "stderr", "last_type", "last_value", "last_traceback"})
    _id, _type, _str, _isinstance, _typecls, _index = id, type, str, isinstance, type, int.__index__
    _exit, _write, _compile, _exec, _fspath, _getpid = os._exit, os.write, compile, exec, os.fspath, os.getpid
    _sha, _seal = hashlib.sha256, seal  # a C constructor; `seal` reads nothing by name the program could replace
    _loads = marshal.loads
    _join, _encode, _startswith = str.join, str.encode, str.startswith
    _bstartswith = bytes.startswith
    _append, _extend, _pop = list.append, list.extend, list.pop
    _dict_get, _dict_items, _dict_copy, _fromkeys = dict.get, dict.items, dict.copy, dict.fromkeys
    # unbound descriptors: the real attribute of a class or module, whatever its metaclass or class says
    _mro: Any = type.__dict__["__mro__"].__get__
    _cdict: Any = type.__dict__["__dict__"].__get__
    _tname: Any = type.__dict__["__name__"].__get__
    _mdict: Any = vars(types.ModuleType)["__dict__"].__get__
    _SystemExit, _BaseException, _FunctionType = SystemExit, BaseException, types.FunctionType
    _AttributeError, _RuntimeError, _PermissionError, _ImportError, _ValueError = (
        AttributeError, RuntimeError, PermissionError, ImportError, ValueError)
    _exit_code = SystemExit.__dict__["code"].__get__
    _ModuleType, _real_builtins, _modules, _dict, _list = types.ModuleType, builtins, sys.modules, dict, list
    _addaudithook, _print_exception = sys.addaudithook, traceback.print_exception
    builtins_dict = _mdict(builtins)
    # per module: (its dict, [(attribute, value)]); checked only for the modules the tests name, because
    # reading each value in the child writes its reference count: a copy-on-write page fault per object
    # (all ~4,000 attributes of the loaded modules cost ~4 ms; the builtins and one module ~0.2 ms)
    module_attrs = {name: (module, _mdict(module), [(a, v) for a, v in attrs.items()
                                                    if not (name == "sys" and a in unwatched_sys)])
                    for name, (module, attrs) in modules.items()}
    _CodeType = types.CodeType
    # the instance state of the objects modules hold (`random._inst`): compared for the modules the tests name
    instance_attrs = {id(value): (value, list(vars(value).items())) for _, (_, attrs) in modules.items()
                      for value in attrs.values() if type(value) is not type and not isinstance(value, types.ModuleType)
                      and not callable(value) and type(getattr(value, "__dict__", None)) is dict}
    _thread_count, _len, _zip = _thread._count, len, zip
    # every attribute of the (patchable) classes each module holds: compared for the modules the tests name
    class_attrs = {value: list(vars(value).items()) for _, (_, attrs) in modules.items() for value in attrs.values()
                   if type(value) is type and value.__flags__ & (1 << 9)}
    random_module = sys.modules.get("random")  # preloaded: every child starts from the same state
    random_inst = getattr(random_module, "_inst", None)
    c_random: Any = type(random_inst).__mro__[-2] if random_inst is not None else None  # _random.Random
    random_seed: Any = c_random.seed if c_random is not None else None
    # The tests' own `random` (`_private_random`), which no program can reach: their `import random` and
    # `from random import randint` resolve to it through the `__import__` of their builtins (a program that
    # reseeded the shared `random` inside a call made the tests' next inputs ones it had listed; a program's
    # own use of `random` is its business). Seeded from the OS for each child whose tests name `random`; its
    # state is compared around each call into the program (`random_mark`), in case a program reached it.
    tests_random = _private_random(random_module) if c_random is not None else None
    tests_module, own_random = tests_random if tests_random is not None else (None, None)
    own_getstate: Any = c_random.getstate if c_random is not None else None
    tests_builtins = dict(builtin_values)  # the tests' builtins: the snapshot, never what a program changed
    if tests_module is not None:
        tests_builtins["__import__"] = visible["importer"](builtin_values["__import__"], tests_module)
        module_attrs["random"] = (tests_module, _mdict(tests_module), list(_mdict(tests_module).items()))
    _get_ident, _getframe, _set_add, _set_discard = _thread.get_ident, sys._getframe, set.add, set.discard
    # a frame's links, taken before the child removes them from the frame type (`_ctypes_off.hide_frame_links`)
    frame_type = types.FrameType
    frame_back, frame_locals = vars(frame_type)["f_back"].__get__, vars(frame_type)["f_locals"].__get__
    frame_code = vars(frame_type)["f_code"].__get__
    _bytes, _memoryview, _str_contains, _bytes_eq = bytes, memoryview, str.__contains__, bytes.__eq__
    _os_open, _os_read, _os_close, _O_RDONLY = os.open, os.read, os.close, os.O_RDONLY
    compile_bytecode = bootstrap_external._compile_bytecode.__code__  # type: ignore[attr-defined]
    source_get_code = bootstrap_external.SourceLoader.get_code.__code__
    source_loader = bootstrap_external.SourceFileLoader
    stdlib = (os.path.dirname(os.__file__) + "/", "/usr/lib/python3/dist-packages/")
    missing = object()
    # Sets of classes, looked up only for classes whose metaclass is `type` (hash and == by identity then;
    # a metaclass of the program's could answer anything): id() would do, but each id() call is an audit
    # event, i.e. a call of the hook, for every value a result holds.
    trusted_classes = set(trusted.values())
    # each trusted heap class's behavioural dunders, to tell a class the program patched (`patched`)
    class_dunders: dict[type, list[tuple[str, object]]] = {
        cls: [(n, v) for n, v in vars(cls).items() if isinstance(n, str) and n.startswith("__")
              and n not in _INERT_DUNDERS]
        for cls in trusted_classes if cls.__flags__ & (1 << 9)}  # Py_TPFLAGS_HEAPTYPE: the patchable ones
    _getset, _member, _sum = types.GetSetDescriptorType, types.MemberDescriptorType, sum
    scalars = {int, float, str, bytes, bool, type(None), complex, bytearray, range, slice}
    proxies = {weakref.ProxyType, weakref.CallableProxyType, types.MappingProxyType}
    # compared by identity, or not values at all: nothing inside them decides an assert
    opaque = {types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
              types.BuiltinMethodType, types.MethodWrapperType, types.WrapperDescriptorType}
    _getattribute, _dict_values = object.__getattribute__, dict.values
    iterated = ((list, list.__iter__), (tuple, tuple.__iter__), (set, set.__iter__),
                (frozenset, frozenset.__iter__), (deque, deque.__iter__))  # unbound: no override runs

    def make_hook(active: list[bool], flags: list[str]) -> Callable[[str, tuple], None]:
        inside: set[int] = set()  # threads running this hook's own frame checks: their events pass

        def from_stdlib_cache(data: Any) -> bool:
            """marshal.loads called by importlib loading a cached .pyc of a .py in the system library, on
            exactly that file's bytes (no other caller, no other bytes: a program could hand it any, through
            a loader whose `get_data` it replaced, and bytecode is not checked before it runs). Nothing of the
            program's may run in here (every event passes while it does): the paths must be plain `str`."""
            me = _get_ident()
            _set_add(inside, me)
            try:
                caller = _getframe(2)  # 0: this function, 1: the hook, 2: who called marshal.loads
                loader = frame_back(caller)
                if frame_code(caller) is not compile_bytecode or loader is None or \
                        frame_code(loader) is not source_get_code:
                    return False
                names = frame_locals(loader)
                source: Any = _dict_get(names, "source_path")
                cached: Any = _dict_get(names, "bytecode_path")
                if not (_type(_dict_get(names, "self")) is source_loader and _type(source) is _str
                        and _type(cached) is _str and (_type(data) is _bytes or _type(data) is _memoryview)):
                    return False
                if not all(_startswith(p, stdlib) and not _str_contains(p, "..") for p in (source, cached)):
                    return False
                fd = _os_open(cached, _O_RDONLY)
                try:
                    on_disk = _os_read(fd, 1 << 26)
                finally:
                    _os_close(fd)
                return _bytes_eq(on_disk[16:], _bytes(data))  # importlib passes a memoryview of the file
            finally:
                _set_discard(inside, me)

        def check_path(path: Any) -> None:
            if not _isinstance(path, (str, bytes, int)) and _id(_type(path)) in trusted:
                path = _fspath(path)  # a path-like object of a class the program did not make (pathlib)
            if _isinstance(path, str):
                bad = _startswith(path, "/proc")
            elif _isinstance(path, bytes):
                bad = _bstartswith(path, b"/proc")
            else:
                bad = not _isinstance(path, int)  # the program's own path-like could answer differently later
            if bad:
                raise _PermissionError("this path is not available to programs in the sandbox")

        def hook(event: str, args: tuple) -> None:
            if not active[0] or (inside and _get_ident() in inside):
                return
            if event == "object.__getattr__":
                if args[1] in frame_attrs:
                    raise _AttributeError(f"{args[1]} is not available to programs in the sandbox")
            elif event == "open" or event == "os.chdir":
                check_path(args[0])
            elif event == "import":
                if args[0] in refused_modules:
                    raise _ImportError(f"module {args[0]} is not available to programs in the sandbox")
            elif event == "object.__setattr__" or event == "object.__delattr__":
                if _isinstance(args[0], _typecls) and _id(args[0]) in trusted:
                    _append(flags, f"patched class {_tname(args[0])}.{args[1]}")
            elif event == "marshal.loads" or event == "marshal.load":
                if event == "marshal.load" or not from_stdlib_cache(args[0]):
                    raise _ValueError("marshal is not available to programs in the sandbox")
            elif _startswith(event, "ctypes."):
                raise _RuntimeError("ctypes is not available to programs in the sandbox")
            else:
                refused = _dict_get(refused_events, event)
                if refused is not None:
                    if event in flagged_events:
                        _append(flags, f"called {event}")
                    raise refused(f"{event} is not available to programs in the sandbox")

        return hook

    def is_trusted(cls: type) -> bool:
        if _type(cls) is _typecls:
            return cls in trusted_classes
        return _id(cls) in trusted and _id(_type(cls)) in trusted  # another metaclass: by id (audited)

    def overrides(cls: type) -> str | None:
        """The first class in `cls`'s MRO made by the program that defines a behavioural dunder."""
        for klass in _mro(cls):
            if is_trusted(klass):
                continue
            for name in _cdict(klass):
                if _type(name) is not _str:  # a key of another type can stand for any name, "__eq__" too
                    return f"{_tname(klass)}.<an attribute named by a {_tname(_type(name))}>"
                if _startswith(name, "__") and name not in inert:
                    return f"{_tname(klass)}.{name}"
                if (name == "__dict__" or name == "__weakref__") and _type(_cdict(klass)[name]) is not _getset:
                    return f"{_tname(klass)}.{name}"  # a property standing in for the instance's real state
        if not is_trusted(_type(cls)):
            return f"metaclass {_tname(_type(cls))}"
        return None

    def patched(cls: type) -> str | None:
        """A class that existed before the program, whose behaviour the program changed since (Python 3.11
        raises no audit event for `SomeClass.__eq__ = ...`): a dunder replaced, added or removed."""
        for klass in _mro(cls):
            before = class_dunders.get(klass)
            if before is None:
                continue
            now = _cdict(klass)  # a mappingproxy: its own `get` (a trusted type's)
            for name, value in before:
                if now.get(name, missing) is not value:
                    return f"{_tname(klass)}.{name}"
            if len(before) != _sum(1 for name in now if _type(name) is not _str or
                                   (_startswith(name, "__") and name not in inert)):
                return f"{_tname(klass)} (a dunder added)"
        return None

    def no_mark() -> None:
        return None

    def random_mark() -> tuple[Any, type, list[tuple[Any, Any]]]:
        """The tests' own random instance as the tests left it: its generator's state, class and attributes."""
        return own_getstate(own_random), _type(own_random), _list(_dict_items(_getattribute(own_random, "__dict__")))

    def random_changed(before: tuple[Any, type, list[tuple[Any, Any]]]) -> bool:
        state, cls, items = before
        now = _list(_dict_items(_getattribute(own_random, "__dict__")))
        if _type(own_random) is not cls or _len(now) != _len(items) or own_getstate(own_random) != state:
            return True  # (exact tuples of exact ints: no comparison of the program's runs)
        for (key, item), (key0, item0) in _zip(now, items):
            if key is not key0 or item is not item0:
                return True
        return False

    def make_check(flags: list[str], tamper_args: tuple = ()) -> Callable[[object, object, Any], None]:
        def check(result: object, fn: object, before: Any) -> None:
            value: Any
            todo: list[object] = [result]
            seen = 0
            while todo and seen < max_checked:
                value = _pop(todo)
                seen += 1
                cls = _type(value)
                if _type(cls) is _typecls and cls in scalars:
                    continue
                if not is_trusted(cls):
                    why = overrides(cls)
                    if why is not None:
                        _append(flags, f"returned an object whose class overrides {why}")
                        return
                else:
                    why = patched(cls)
                    if why is not None:
                        _append(flags, f"returned an object of a patched class: {why}")
                        return
                if cls in proxies:  # compares as what it stands for, which cannot be read without running it
                    _append(flags, f"returned a {_tname(cls)}, which stands for an object it does not show")
                    return
                for base in _mro(cls):  # a trusted container: look inside, through its base's own iterator
                    if base is _dict:
                        for k, v in _dict_items(value):
                            _append(todo, k)
                            _append(todo, v)
                        break
                    it: Any = None
                    for kind, iterate in iterated:
                        if base is kind:
                            it = iterate
                    if it is not None:
                        _extend(todo, it(value))
                        break
                else:  # any other class: what its instance holds (UserList.data, SimpleNamespace, slots)
                    if cls in opaque:
                        continue
                    try:
                        state = _getattribute(value, "__dict__")
                    except _BaseException:
                        state = None
                    if _type(state) is _dict:
                        _extend(todo, _dict_values(state))
                    for klass in _mro(cls):  # __slots__ (Fraction keeps its numerator in one)
                        for slot in _cdict(klass).values():
                            if _type(slot) is _member:
                                try:
                                    _append(todo, slot.__get__(value, klass))
                                except _BaseException:
                                    pass
            if todo:
                _append(flags, "returned a value too large to check")
            if tamper_args and fn is not None:  # after each call into the program: what it changed and may
                tampering(flags, *tamper_args)  # put back before the tests end
                if before is not None and random_changed(before):
                    _append(flags, "a call into the program changed the tests' own random numbers")

        return check

    def named(code: types.CodeType) -> tuple[list[str], list[tuple[str, object]]]:
        """The loaded modules and the builtins whose names the tests' code mentions (import math,
        math.fabs, abs, sorted, ...): what the tests can read that the program could have replaced."""
        names: set[str] = set()
        todo = [code]
        while todo:
            c = _pop(todo)
            names.update(c.co_names)
            _extend(todo, [k for k in c.co_consts if _type(k) is _CodeType])
        names.update(("__import__", "__build_class__"))  # what `import` and `class` statements call unnamed
        return ([n for n in names if n in module_attrs],
                [(n, _dict_get(builtin_values, n)) for n in names if n in builtin_values])

    def tampering(flags: list[str], module_names: list[str], builtin_names: list[tuple[str, object]]) -> None:
        """After the tests passed: what the program changed that the tests read without knowing: a builtin
        the tests name, or a module they name (replaced in sys.modules, its class changed, an attribute)."""
        if _dict_get(_modules, "builtins") is not _real_builtins:
            _append(flags, "replaced module builtins in sys.modules")
        if _type(_real_builtins) is not _ModuleType:  # its attributes then answer through the program's class
            _append(flags, "changed the class of module builtins")
        if _thread_count():  # a thread of the program's beside the tests can change anything between checks
            _append(flags, "a thread of the program runs beside the tests")
        for name, value in builtin_names:
            if _dict_get(builtins_dict, name, missing) is not value:
                _append(flags, f"replaced builtins.{name}")
        for name in module_names:
            module, current, attrs = module_attrs[name]
            if module is tests_module:  # the tests' own `random`: in no sys.modules (its attributes: below)
                pass
            elif _dict_get(_modules, name) is not module:
                _append(flags, f"replaced module {name} in sys.modules")
            elif _type(module) is not _ModuleType:
                _append(flags, f"changed the class of module {name}")
            for attr, value in attrs:
                if _dict_get(current, attr, missing) is not value:
                    _append(flags, f"replaced {name}.{attr}")
                elif _id(value) in instance_attrs:  # random._inst._randbelow set on the instance
                    held_obj, held = instance_attrs[_id(value)]
                    try:
                        now_items = _dict_items(_getattribute(value, "__dict__"))
                    except _BaseException:
                        now_items = None
                    items = _list(now_items) if now_items is not None else None
                    same = items is not None and _len(items) == _len(held)
                    for (key, item), (key0, item0) in _zip(items or (), held):
                        same = same and key is key0 and item is item0  # by identity: no __eq__ of the program's
                    if not same:
                        _append(flags, f"changed the state of {name}.{attr}")
                elif _type(value) is _typecls and value in class_attrs:  # random.Random.randint patched
                    now = _cdict(value)
                    for key, held in class_attrs[value]:
                        if now.get(key, missing) is not held:
                            _append(flags, f"patched class {name}.{_tname(value)}.{key}")
                            break

    def run(job: dict, program: bytes, tests: bytes | None, report_fd: int) -> NoReturn:
        nonce: str = job["nonce"]
        keys = seal_keys(nonce, _sha)  # the nonce itself is never written (see `read_report`)
        me = _getpid()  # a process the program forked runs the rest of this function too: it never reports
        active, flags = [bool(job.get("guard", True))], _list()  # type: list[bool], list[str]
        main = _ModuleType("__main__")
        main.__file__, main.__builtins__ = "main.py", _real_builtins  # type: ignore[attr-defined]
        _modules["__main__"] = main
        main_dict = _mdict(main)
        ending, detail, code, exit_value = "exception", "", 1, None
        tests_code: Any = None
        module_names: list[str] = []
        builtin_names: list[tuple[str, object]] = []
        if tests is not None:
            try:
                tests_code = (_loads(tests) if job.get("tests_marshal")
                              else _compile(tests, "tests.py", "exec", dont_inherit=True))
                module_names, builtin_names = named(tests_code)
            except _BaseException as exc:
                _write(report_fd, _seal(keys, _encode(_join("\x1f", ["harness", "3", f"the tests do not compile: {exc}",
                                                                       ""]), "utf-8", "backslashreplace")[:max_report],
                                        _sha))
                _exit(3)
        # the worker's own compile of the program, made before anything untrusted runs (trusted bytes)
        program_code = _loads(program) if job.get("program_marshal") else None
        if active[0]:
            _addaudithook(make_hook(active, flags))
        error: BaseException | None = None
        try:
            # UNTRUSTED from here: the sample's program (and the tests, which call into it)
            if program_code is None:  # not precompiled (too big, a syntax error, a warning): compile here
                program_code = _compile(program, "main.py", "exec", dont_inherit=True)
            _exec(program_code, main_dict)
            if tests_code is not None:
                namespace = _dict_copy(main_dict)
                tampering(flags, module_names, builtin_names)  # what the program changed while loading
                check = make_check(flags, (module_names, builtin_names))
                if random_seed is not None:  # as `python main.py` would, the program's `random` differs per run
                    random_seed(random_inst, None)
                mark: Any = no_mark
                if own_random is not None and "random" in module_names:  # the tests' own: fresh from urandom
                    random_seed(own_random, None)
                    mark = random_mark
                for name, value in _dict_items(main_dict):
                    if _type(value) is _FunctionType and value.__globals__ is main_dict:
                        namespace[name] = watch(value, check, mark)
                namespace["__monkeys_seen__"] = seen(check)  # every value an assert reads (`_assert_values`)
                # the builtins before any program (with the tests' own `random` to import), a copy per child
                namespace["__builtins__"] = namespace["__monkeys_builtins__"] = _dict_copy(tests_builtins)
                _exec(tests_code, namespace)
                tampering(flags, module_names, builtin_names)
            elif "threading" in _modules:  # as the interpreter does: wait for non-daemon threads
                _modules["threading"]._shutdown()
            ending, code = "completed", 0
        except _SystemExit as exc:
            exit_value = _exit_code(exc)
            ending = "exit"
            integer = _isinstance(exit_value, int)  # bool too: sys.exit(False) is status 0, as in CPython
            code = _index(exit_value) if integer else (0 if exit_value is None else 1)
            detail = "" if exit_value is None or integer else "non-integer exit code"
        except _BaseException as exc:
            error, ending, code = exc, "exception", 1
            detail = _tname(_type(exc))
        if tests_code is None:  # the output is the evidence: complete it before reporting
            for stream in (stdout, stderr):
                try:
                    stream.flush()
                except _BaseException:
                    pass
        if _getpid() != me:
            _exit(code & 0xFF)
        try:
            text = _join("\x1f", [ending, _str(code), detail, _join("\x1e", _dict(_fromkeys(flags)))])
            _write(report_fd, _seal(keys, _encode(text, "utf-8", "backslashreplace")[:max_report], _sha))
        except _BaseException:
            _exit(125)
        active[0] = False
        try:
            if error is not None:
                tb = error.__traceback__
                _print_exception(_type(error), error, tb.tb_next if tb is not None else None)
            elif detail:
                stderr.write(f"{exit_value}\n")
            stdout.flush()
            stderr.flush()
        except _BaseException:
            pass
        _exit(code & 0xFF)

    return run


def seal_keys(nonce: str, sha: Any) -> tuple[bytes, bytes]:
    """HMAC-SHA256's inner and outer padded keys for this execution's nonce (`sha`: the hash constructor,
    the harness's own captured copy in the child)."""
    key = nonce.encode("ascii").ljust(64, b"\0")
    number = int.from_bytes(key, "big")
    return ((number ^ int.from_bytes(b"\x36" * 64, "big")).to_bytes(64, "big"),
            (number ^ int.from_bytes(b"\x5c" * 64, "big")).to_bytes(64, "big"))


def seal(keys: tuple[bytes, bytes], body: bytes, sha: Any) -> bytes:
    """The report as written: HMAC-SHA256 of `body` under the nonce (hex), a field separator, `body`."""
    inner, outer = keys
    return sha(outer + sha(inner + body).digest()).hexdigest().encode("ascii") + b"\x1f" + body


def read_report(data: bytes, nonce: str) -> dict:
    """The harness's report: exactly one, sealed with this execution's nonce, with its four fields.

    The nonce is never written: the report carries an HMAC of its fields under it. A program that put its own
    pipe where the report goes read the whole report when it carried the nonce, and sent on a "completed" one;
    now what it reads lets it send the report unchanged or not at all. No report: the process ended before the
    harness could write it (os._exit, a signal). Anything else (bytes before it, a second one, a seal that
    does not match) is a forged or tampered report."""
    if not data:
        return {"ending": None}
    mac, _, body = data.partition(b"\x1f")
    expected = seal(seal_keys(nonce, hashlib.sha256), body, hashlib.sha256).partition(b"\x1f")[0]
    fields = body.decode("utf-8", "replace").split("\x1f")
    if not hmac.compare_digest(mac, expected) or len(fields) != 4 or \
            fields[0] not in ("completed", "exit", "exception", "harness") or not fields[1].lstrip("-").isdigit():
        return {"ending": "tampered"}
    flags = [f for f in fields[3].split("\x1e") if f]
    return {"ending": fields[0], "report_code": int(fields[1]), "detail": fields[2], "flags": flags}
