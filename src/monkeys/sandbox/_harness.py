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
dropped uid still contain. The hook stays on until the child exits, report written or not: code of the
program's still runs after the report (a thread, a stream's flush), and with the hook off it had walked
frames and the collector to the nonce and sealed a "completed" report for a report fd it had kept. The
harness's own frame reads (the hook's check of a stdlib import, the printout of an uncaught exception) are let
through one object and one attribute at a time, never for a whole thread: a collector callback, a finalizer
or a builtin the program replaced, run in between, had every event of its own let through.

Function-assert tests run in their own namespace: a shallow copy of the program's globals (so they see its
functions and helpers), with the builtins as they were before any program ran (a copy of the harness's
snapshot, whose `__import__` gives the tests a `random` of their own: below), every function the program
defined wrapped so that what it returns is checked (and the problem's entry point, whatever it is: the tests
call `check(__monkeys_watch__(entry))`), and `__monkeys_seen__`, which the verifier's rewrite
of the tests (`monkeys.verifiers._assert_values`) calls on every value an assert reads, however it was
made. The tests cannot see some tampering, so the report carries flags instead:
- a checked value (or anything inside it: containers, a dict's views, what a weak reference refers to, what
  any instance holds in its `__dict__` or `__slots__`, e.g. `UserList.data`, `Fraction._numerator`, a
  slice's bounds) of a class the program made that overrides behaviour (`__eq__`, `__bool__`, `__sub__`,
  ..., a `__dict__` property, or a class attribute whose name is not a plain `str`): an object that agrees
  with every expected value; a weak proxy or mapping proxy, which compares as an object it does not show; a
  value of a library class whose dunders the program replaced, added or removed (Python 3.11 raises no
  audit event for `UserList.__eq__ = ...`), or of the program's own subclass of one; the program's subclass
  of a library class whose behaviour is Python code, defining a name that code reads (`UserList.__eq__` is
  `self.data == self.__cast(other)`: a `data` property or a `_UserList__cast` method answers the
  comparison without any dunder), or such an instance with an attribute of its own hiding one of its
  class's (`u._UserList__cast = ...`);
- `sys.settrace`/`setprofile` attempted; a builtin the tests name (`abs`, `sorted`, and always
  `__import__`) replaced; for the modules the tests name (`import math`, `math.isclose`), an attribute or
  an attribute of one of its classes (`random.Random.randint`, shared with the tests' own `random`)
  replaced, the module replaced in `sys.modules` or its class changed. These are compared before the
  tests, after every call into the program, after every value an assert reads (a class, a partial or a
  callable object the tests call runs the program's code with no wrapper around it) and at the end, so a
  change put back before the end is seen too. (What the tests reach only through other modules is not
  compared: reading every value costs a copy-on-write fault each.)
A value checked clean can still change before the tests compare it: its class gains an `__eq__` (Python 3.11
audits no class attribute set) or its object is given another class, from the program's next call in the same
assert (which then undoes it while the comparison runs) or from the program's collector callback or finalizer,
which a garbage collection runs wherever the tests allocate. So the tests run with the automatic collector off
(what the program's calls leave is collected in `watched`, before the check; turning it back on is flagged),
every class of a value checked so far is looked at again at each check (`changed the class of a value checked
before`), and giving an object a class that overrides behaviour is flagged where it happens (`__class__`
assignment is audited).
A function of the tests' own handed to a program's function as an argument (`candidate(lambda x: x * 2, 3)`)
reaches it as a `relay`, whose globals are not the tests' namespace; what the tests' function changes there
(a global it counts calls in) is theirs: the tests' names are marked again after it, and compared before it
and after the call into the program.
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
nothing: that only its reach prevents.) Its functions are still the library's, so they read the shared
module's globals (`randrange` calls `_index`) and the builtins (`choice` calls `len`): when the tests name
`random`, those are compared too (`replaced random._index (the tests' own random reads it)`, `replaced
builtins.len`). (Not covered: tests that take `random` through `importlib.import_module` or `sys.modules`,
which is the shared one; the tests' numbers from other modules, e.g. `numpy.random`, which programs cannot
import here anyway (no installed package is on their path); what `shuffle`/`sample` reach through
`collections.abc`. No benchmark's tests do these.) The verifier's policy decides whether a flagged pass
counts.

After the report the harness prints the program's uncaught exception as `python main.py` would (`describe`:
the chain, the frames, a library file's lines, a syntax error's caret), from exact `str`s and `int`s read
through the exception and traceback types' own descriptors, never through `traceback` (its module,
`linecache`, the exception's `__str__`/`__notes__` and a module's `__loader__` are the program's to replace;
an exception of the program's class shows its builtin base's message), flushes through the streams' class,
and `os._exit`s. Everything the harness uses after the program started was captured before it started, and
no closure of the runner (nor `watch`, `seen`, `relay`, `importer`) looks up a builtin by name: the program may have
replaced any name in `builtins`, `os`, `sys`, `json`, `traceback`.

Standard library only (runs under the system Python); `make_runner` runs once in the template process.
"""

from __future__ import annotations

import builtins
import gc
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
# own, so their __globals__ lead nowhere near the sandbox's modules. What runs after a program started names
# no builtin (the program may have replaced any: a replaced `object` was handed `watched`, whose closure holds
# the check and, through it, the flags).
_VISIBLE = '''
class Quitter:
    """exit() / quit() as the site module makes them (the sandbox runs python -S)."""
    def __init__(self, name):
        self.name = name
    def __repr__(self):
        return f"Use {self.name}() or Ctrl-D (i.e. EOF) to exit"
    def __call__(self, code=None):
        raise SystemExit(code)

# What these functions hold is in their keyword-only defaults, not in closure cells: a program can be handed
# one of the tests' own functions (a test passing a lambda into the candidate), whose globals are the tests'
# namespace, where these are; a cell's contents can be read without an audit event, `__kwdefaults__` cannot
# (the guard refuses it on this namespace's functions).
def seen(check):
    def __monkeys_seen__(value, *, __monkeys_state__=check):
        __monkeys_state__(value, None, None)
        return value
    return __monkeys_seen__

# A StopIteration out of the program's function is an error, as PEP 479 makes it out of a generator: raised
# where the tests iterate (`all(map(candidate, cases))`), it ended their iteration early, every case unchecked.
def watch(fn, check, mark, relay_args, stops, error):
    def watched(*args, __monkeys_state__=(fn, check, mark, relay_args, stops, error), **kwargs):
        fn, check, mark, relay_args, stops, error = __monkeys_state__
        current = [mark()]
        args, kwargs = relay_args(args, kwargs, current)
        try:
            result = fn(*args, **kwargs)
        except stops as exc:
            raise error("a function of the program raised StopIteration") from exc
        check(result, fn, current[0])
        return result
    return watched

# A function of the tests' handed to the program as an argument (`candidate(lambda x: x * 2, 3)`): the program
# gets this instead, which leads nowhere near the tests' namespace; what the tests' function changes there
# (a global it counts calls in) is theirs, so the mark is taken again after it; what changed before it, the
# program changed.
def relay(fn, compare, mark, current):
    def relayed(*args, __monkeys_state__=(fn, compare, mark, current), **kwargs):
        fn, compare, mark, current = __monkeys_state__
        compare(current[0])
        try:
            return fn(*args, **kwargs)
        finally:
            current[0] = mark()
    return relayed

# The problem's entry point as the tests get it (`check(__monkeys_watch__(candidate))`, see code_tests): watched
# whatever it is (a class, a partial, a callable object run the program's code as a function does).
def entry(wrap):
    def __monkeys_watch__(value, *, __monkeys_state__=wrap):
        return __monkeys_state__(value)
    return __monkeys_watch__

def importer(real, own):
    def __import__(name, globals=None, locals=None, fromlist=(), level=0, *, __monkeys_state__=(real, own)):
        real, own = __monkeys_state__
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


def _library_reads(cls: type) -> frozenset[str]:
    """The names a library class defines and the names its functions (methods, properties, static and class
    methods, and the code nested in them) read: what its own code may look up on an instance."""
    names = {name for name in vars(cls) if isinstance(name, str)}
    codes: list[types.CodeType] = []
    for value in vars(cls).values():
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        held = [value.fget, value.fset, value.fdel] if isinstance(value, property) else [value]
        codes += [f.__code__ for f in held if isinstance(f, types.FunctionType)]
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes += [k for k in code.co_consts if isinstance(k, types.CodeType)]
    return frozenset(names)


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

    trusted = _all_classes()
    modules = _module_snapshot()
    builtin_values = dict(vars(builtins))
    visible: dict[str, Any] = {"__builtins__": builtins, "__name__": "builtins"}
    exec(compile(_VISIBLE, "<sandbox>", "exec"), visible)
    watch, seen, relay, entry = visible["watch"], visible["seen"], visible["relay"], visible["entry"]

    # Captured: after the program started, nothing below is looked up by name (it may have replaced any
    # name in builtins or in a module); closures read these cells, never globals.
    frame_attrs, refused_events, flagged_events = _FRAME_ATTRS, _REFUSED, _FLAGGED
    state_attrs = frozenset({"__defaults__", "__kwdefaults__", "__code__"})  # of `visible`'s functions
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
    _addaudithook = sys.addaudithook
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
    # What the tests' own random still shares with the program's: its functions are the library's, so they
    # read random.py's globals (`randrange` calls `_index`) and the builtins (`choice` calls `len`); a program
    # that replaced those bent the tests' numbers without touching their instance (`randint` always its
    # lower bound). Compared, with the module, whenever the tests name `random`.
    shared_random: list[tuple[str, object]] = []
    random_builtins: set[str] = set()
    if tests_module is not None:
        tests_builtins["__import__"] = visible["importer"](builtin_values["__import__"], tests_module)
        module_attrs["random"] = (tests_module, _mdict(tests_module), list(_mdict(tests_module).items()))
        shared_random = list(modules["random"][1].items())
        codes = [v.__code__ for v in vars(random_module).values() if isinstance(v, types.FunctionType)]
        codes += [f.__code__ for c in vars(random_module).values() if type(c) is type
                  for f in vars(c).values() if isinstance(f, types.FunctionType)]
        while codes:
            c = codes.pop()
            random_builtins.update(n for n in c.co_names if n in builtin_values and not n.startswith("__"))
            codes.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    random_dict: dict[str, Any] = _mdict(random_module) if random_module is not None else {}
    _int, _set, _bool, _LookupError = int, set, bool, LookupError
    _range, _tuple = range, tuple
    stops = (StopIteration, StopAsyncIteration)
    _heap_type = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class whose attributes can be set
    _tflags: Any = type.__dict__["__flags__"].__get__
    _gc_disable, _gc_isenabled, _gc_collect, _gc_count = gc.disable, gc.isenabled, gc.collect, gc.get_count
    _proxy_get = types.MappingProxyType.get
    _setattr = object.__setattr__
    function_attrs = [(a, vars(types.FunctionType)[a].__get__) for a in ("__module__", "__name__", "__qualname__",
                                                                         "__doc__")]
    # a frame's links, taken before the template (or the fallback's child) removes them from the frame type
    # (`_ctypes_off.hide_frame_links`)
    frame_type = types.FrameType
    frame_back, frame_locals = vars(frame_type)["f_back"].__get__, vars(frame_type)["f_locals"].__get__
    frame_code = vars(frame_type)["f_code"].__get__
    _bytes, _memoryview, _str_contains, _bytes_eq = bytes, memoryview, str.__contains__, bytes.__eq__
    # what the uncaught exception's printout reads (`describe`), through the types' own descriptors
    traceback_type = types.TracebackType
    tb_frame, tb_next = vars(traceback_type)["tb_frame"].__get__, vars(traceback_type)["tb_next"].__get__
    tb_lineno = vars(traceback_type)["tb_lineno"].__get__
    exc_dict = vars(BaseException)
    _exc_tb, _exc_args = exc_dict["__traceback__"].__get__, exc_dict["args"].__get__
    _exc_cause, _exc_context = exc_dict["__cause__"].__get__, exc_dict["__context__"].__get__
    _exc_suppress = exc_dict["__suppress_context__"].__get__
    _tqualname: Any = type.__dict__["__qualname__"].__get__
    _tmodule: Any = type.__dict__["__module__"].__get__
    _SyntaxError = SyntaxError
    syntax_fields = [vars(SyntaxError)[n].__get__ for n in ("filename", "lineno", "text", "offset", "end_offset",
                                                           "msg")]
    plain_scalars = {int, float, bool, type(None), bytes}
    # per builtin (static, so unpatchable) exception class: its own `__str__`
    static_exceptions = [c for c in trusted.values() if isinstance(c, type) and issubclass(c, BaseException)
                         and not c.__flags__ & (1 << 9)]
    exc_strs = {c: vars(c)["__str__"] for c in static_exceptions if "__str__" in vars(c)}
    # the classes whose `__str__` reads more than `args`: their fields (OSError's filename, a UnicodeError's
    # object, ...), read by that `__str__` with `str()`/`repr()`
    exc_members = {c: [d.__get__ for d in vars(c).values() if type(d) is types.MemberDescriptorType]
                   for c in (OSError, SyntaxError, ImportError, UnicodeError, BaseExceptionGroup)}
    flush_out, flush_err = type(stdout).flush, type(stderr).flush  # the class's: not an attribute set on the object
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
    # per trusted heap class whose behaviour is Python code (`class_dunders`): every name its own functions
    # read or it defines. `UserList.__eq__` is `self.data == self.__cast(other)`, `Fraction.__eq__` reads
    # `self._numerator`: a program's subclass (or instance attribute) answering one of those names decides
    # what the library's comparison sees without overriding any dunder itself (`overrides`, `shadowed`)
    library_reads: dict[type, frozenset[str]] = {cls: _library_reads(cls) for cls, dunders in class_dunders.items()
                                                 if dunders}
    _getset, _member, _sum = types.GetSetDescriptorType, types.MemberDescriptorType, sum
    # (`slice` holds any three objects and compares them: looked into through its members, as any class)
    scalars = {int, float, str, bytes, bool, type(None), complex, bytearray, range}
    proxies = {weakref.ProxyType, weakref.CallableProxyType, types.MappingProxyType}
    # compared by identity, or not values at all: nothing inside them decides an assert
    opaque = {types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
              types.BuiltinMethodType, types.MethodWrapperType, types.WrapperDescriptorType}
    _getattribute, _dict_values = object.__getattribute__, dict.values
    iterated: tuple[tuple[type, Any], ...] = ((list, list.__iter__), (tuple, tuple.__iter__), (set, set.__iter__),
                (frozenset, frozenset.__iter__), (deque, deque.__iter__),  # unbound: no override runs
                # a dict's views compare as sets of what the dict holds, which the views do not show otherwise
                (type({}.keys()), type({}.keys()).__iter__), (type({}.values()), type({}.values()).__iter__),
                (type({}.items()), type({}.items()).__iter__))
    # a weak reference compares (and a WeakValueDictionary's items are) what it refers to, held nowhere else
    _weakref, _weakref_target = weakref.ReferenceType, vars(weakref.ReferenceType)["__call__"]
    _set_update = set.update

    def safe_text(value: Any) -> str:
        """`str(value)` for the scalars whose `str` runs no program code; "" for anything else."""
        if _type(value) is _str:
            return value  # type: ignore[no-any-return]
        if _type(value) in plain_scalars:
            try:
                return _str(value)
            except _BaseException:  # an int past the digit limit
                return ""
        return ""

    def exc_name(cls: type) -> str:
        """The name `traceback` prints for an exception class (`module.qualname`; no module for builtins and
        `__main__`), read without any lookup a program's class could answer (exact `str`s only)."""
        name: Any = _tqualname(cls)
        if _type(name) is not _str:
            name = _tname(cls)
        if _type(name) is not _str:
            return "<exception>"
        if cls in trusted_classes:  # a program's class: its `__module__` is a lookup in its own dict
            module = _tmodule(cls)
            if _type(module) is _str and module != "__main__" and module != "builtins":
                return module + "." + name  # type: ignore[no-any-return]
        return name  # type: ignore[no-any-return]

    def exc_message(exc: BaseException) -> str:
        """What `str(exc)` gives with the `__str__` of the first builtin class of its MRO, only when every
        field that `__str__` reads is a plain scalar (a program's object there would run its own `__str__`
        or `__repr__`); a placeholder otherwise. A program's own `__str__` is not called: its exception
        shows its builtin base's message."""
        method: Any = None
        owner: Any = None
        for klass in _mro(_type(exc)):
            method = _dict_get(exc_strs, klass)
            if method is not None:
                owner = klass
                break
        if method is None:
            return ""
        values: list[Any] = _list(_exc_args(exc))
        for klass in _mro(owner):  # the fields of the class whose `__str__` runs, and of its bases
            for getter in _dict_get(exc_members, klass, ()):
                try:
                    _append(values, getter(exc))
                except _BaseException:
                    pass
        for value in values:
            if not (_type(value) is _str or _type(value) in plain_scalars):
                return "<exception str() not shown: it holds an object of the program's>"
        try:
            text: Any = method(exc)
        except _BaseException:
            return "<exception str() failed>"
        return text if _type(text) is _str else ""  # type: ignore[no-any-return]

    def source_line(filename: str, lineno: int, cache: dict[str, list[str]]) -> str:
        """A line of a system library file (never a path a program made: it could be a FIFO)."""
        if not (_startswith(filename, stdlib) and not _str_contains(filename, "..")) or lineno < 1:
            return ""
        lines = _dict_get(cache, filename)
        if lines is None:
            lines = []
            try:
                fd = _os_open(filename, _O_RDONLY)
                try:
                    lines = _os_read(fd, 1 << 22).decode("utf-8", "replace").splitlines()
                finally:
                    _os_close(fd)
            except _BaseException:
                pass
            cache[filename] = lines
        return lines[lineno - 1].strip() if lineno <= _len(lines) else ""

    def read_as_harness(allowed: list[Any], getter: Any, obj: object, name: str) -> Any:
        """`getter(obj)`, a read the guard refuses to programs (`tb_frame`, `f_code`), let through for this
        object and this attribute alone: not for a thread, so code of the program's that runs meanwhile (a
        collector's callback or finalizer, a thread) gains nothing; it holds no frame or traceback of ours."""
        allowed[0], allowed[1] = obj, name
        try:
            return getter(obj)
        finally:
            allowed[0] = allowed[1] = None

    def code_of(tb: Any, allowed: list[Any]) -> Any:
        """The code object a traceback entry ran."""
        return read_as_harness(allowed, frame_code, read_as_harness(allowed, tb_frame, tb, "tb_frame"), "f_code")

    def describe_one(exc: BaseException, tb: Any, allowed: list[Any], cache: dict[str, list[str]]) -> list[str]:
        out: list[str] = []
        if tb is not None:
            _append(out, "Traceback (most recent call last):\n")
        last: Any = None
        count = 0
        while tb is not None:
            code = code_of(tb, allowed)
            filename, name, lineno = code.co_filename, code.co_name, tb_lineno(tb)
            here = (filename if _type(filename) is _str else "<unknown>", lineno if _type(lineno) is _int else 0,
                    name if _type(name) is _str else "<unknown>")
            tb = tb_next(tb)
            if here != last:  # as `traceback`: a recursion's repeated line is counted, not printed
                if count > 3:
                    _append(out, f"  [Previous line repeated {count - 3} more time{'s' if count > 4 else ''}]\n")
                last, count = here, 0
            count += 1
            if count > 3:
                continue
            _append(out, f'  File "{here[0]}", line {here[1]}, in {here[2]}\n')
            line = source_line(here[0], here[1], cache)
            if line:
                _append(out, f"    {line}\n")
        if count > 3:
            _append(out, f"  [Previous line repeated {count - 3} more time{'s' if count > 4 else ''}]\n")
        name = exc_name(_type(exc))
        if _SyntaxError in _mro(_type(exc)):  # as `traceback` prints one: where, the line, a caret, the message
            where, lineno, text, offset, end, msg = (getter(exc) for getter in syntax_fields)
            suffix = ""
            if _type(lineno) is _int:
                _append(out, f'  File "{where if _type(where) is _str and where else "<string>"}", line {lineno}\n')
            elif _type(where) is _str:
                suffix = f" ({where})"
            if _type(text) is _str:
                rtext = text.rstrip("\n")
                ltext = rtext.lstrip(" \n\f")
                spaces = _len(rtext) - _len(ltext)
                _append(out, f"    {ltext}\n")
                if _type(offset) is _int:
                    end = end if _type(end) is _int and end != 0 else offset
                    if offset == end or end == -1:
                        end = offset + 1
                    col, end_col = offset - 1 - spaces, end - 1 - spaces
                    if col >= 0:
                        space = _join("", [c if c.isspace() else " " for c in ltext[:col]])
                        _append(out, f"    {space}{'^' * (end_col - col)}\n")
            message = msg if _type(msg) is _str and msg else "<no detail available>"
            _append(out, f"{name}: {message}{suffix}\n")
            return out
        message = exc_message(exc)
        _append(out, f"{name}: {message}\n" if message else f"{name}\n")
        return out

    def describe(error: BaseException, allowed: list[Any]) -> str:
        """The uncaught exception as `python main.py` prints it (chained ones first), built from exact
        `str`s and `int`s read through the exception and traceback types' own descriptors: no method,
        module or attribute a program could replace is looked up (nor its `__str__` called)."""
        cache: dict[str, list[str]] = {}
        parts: list[tuple[list[str], str]] = []
        seen: list[BaseException] = []
        exc: Any = error
        while exc is not None and _len(seen) < 64:
            _append(seen, exc)
            tb = _exc_tb(exc)
            if exc is error and tb is not None:
                tb = tb_next(tb)  # the harness's own frame
            lines = describe_one(exc, tb, allowed, cache)
            cause, context = _exc_cause(exc), _exc_context(exc)
            following = None
            if cause is not None:
                following, joint = cause, "\nThe above exception was the direct cause of the following exception:\n\n"
            elif context is not None and not _exc_suppress(exc):
                following, joint = context, "\nDuring handling of the above exception, another exception occurred:\n\n"
            else:
                joint = ""
            for earlier in seen:
                if earlier is following:
                    following, joint = None, ""
            _append(parts, (lines, joint))
            exc = following
        out: list[str] = []
        for lines, joint in parts[::-1]:
            if joint:
                _append(out, joint)
            _extend(out, lines)
        return _join("", out)

    def make_hook(active: list[bool], flags: list[str], allowed: list[Any]) -> Callable[[str, tuple], None]:
        """`allowed`: the one (object, attribute) read of the harness's own in progress (`read_as_harness`)."""

        def from_stdlib_cache(data: Any) -> bool:
            """marshal.loads called by importlib loading a cached .pyc of a .py in the system library, on
            exactly that file's bytes (no other caller, no other bytes: a program could hand it any, through
            a loader whose `get_data` it replaced, and bytecode is not checked before it runs). Nothing of the
            program's gets any event through meanwhile: the frames are reached from a traceback of this
            function's own, each refused read let through for that one object (`read_as_harness`), not for
            this thread (a collector's callback, a finalizer or a builtin the program replaced could run
            in between: every event of theirs is refused as usual); the paths must be plain `str`."""
            tb: Any = None
            try:
                raise _LookupError
            except _LookupError as exc:
                tb = _exc_tb(exc)
            own = read_as_harness(allowed, tb_frame, tb, "tb_frame")
            caller = frame_back(frame_back(own))  # this function, the hook, then who called marshal.loads
            loader = frame_back(caller) if caller is not None else None
            if caller is None or loader is None or \
                    read_as_harness(allowed, frame_code, caller, "f_code") is not compile_bytecode or \
                    read_as_harness(allowed, frame_code, loader, "f_code") is not source_get_code:
                return False
            names = frame_locals(loader)
            source: Any = _dict_get(names, "source_path")
            cached: Any = _dict_get(names, "bytecode_path")
            if not (_type(_dict_get(names, "self")) is source_loader and _type(source) is _str
                    and _type(cached) is _str and (_type(data) is _bytes or _type(data) is _memoryview)):
                return False
            for path in (source, cached):
                if not _startswith(path, stdlib) or _str_contains(path, ".."):
                    return False
            fd = _os_open(cached, _O_RDONLY)
            try:
                on_disk = _os_read(fd, 1 << 26)
            finally:
                _os_close(fd)
            return _bytes_eq(on_disk[16:], _bytes(data))  # importlib passes a memoryview of the file

        def check_path(path: Any) -> None:
            if not _isinstance(path, (_str, _bytes, _int)) and _id(_type(path)) in trusted:
                path = _fspath(path)  # a path-like object of a class the program did not make (pathlib)
            if _isinstance(path, _str):
                bad = _startswith(path, "/proc")
            elif _isinstance(path, _bytes):
                bad = _bstartswith(path, b"/proc")
            else:
                bad = not _isinstance(path, _int)  # the program's own path-like could answer differently later
            if bad:
                raise _PermissionError("this path is not available to programs in the sandbox")

        def hook(event: str, args: tuple) -> None:
            if not active[0]:
                return
            if event == "object.__getattr__":
                if args[1] in frame_attrs and not (args[0] is allowed[0] and args[1] == allowed[1]):
                    raise _AttributeError(f"{args[1]} is not available to programs in the sandbox")
                if args[1] in state_attrs and _type(args[0]) is _FunctionType and args[0].__globals__ is visible:
                    raise _AttributeError(f"{args[1]} is not available to programs in the sandbox")
            elif event == "open" or event == "os.chdir":
                check_path(args[0])
            elif event == "import":
                if args[0] in refused_modules:
                    raise _ImportError(f"module {args[0]} is not available to programs in the sandbox")
            elif event == "object.__setattr__" or event == "object.__delattr__":
                if _type(args[0]) is _FunctionType and args[0].__globals__ is visible:  # a wrapper's code, state
                    raise _AttributeError(f"{args[1]} cannot be changed by programs in the sandbox")
                if _isinstance(args[0], _typecls) and _id(args[0]) in trusted:
                    _append(flags, f"patched class {_tname(args[0])}.{args[1]}")
                elif _type(args[1]) is _str and args[1] == "__class__" and _type(args[2]) is _typecls \
                        and not is_trusted(args[2]):
                    why = overrides(args[2])  # a value checked clean, given a class that answers comparisons
                    if why is not None:
                        _append(flags, f"gave an object a class that overrides {why}")
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
        reads: set[str] = _set()  # (the metaclass is trusted, so are the bases': hashing them runs no program code)
        for klass in _mro(cls):
            names = _dict_get(library_reads, klass)
            if names is not None:
                _set_update(reads, names)
        if reads:
            for klass in _mro(cls):
                if is_trusted(klass):
                    continue
                for name in _cdict(klass):
                    if name in reads and name not in inert:  # (all `str`: checked above)
                        return f"{_tname(klass)}.{name}, which a library class it derives from reads"
        return None

    def shadowed(cls: type, state: dict) -> str | None:
        """An instance attribute that hides an attribute of a library class the instance's class derives
        from (`UserList()._UserList__cast = ...`): the library's own code then reads the program's value."""
        for klass in _mro(cls):
            if _dict_get(library_reads, klass) is None:
                continue
            attrs = _cdict(klass)
            for key in state:
                if _type(key) is _str and key in attrs:
                    return f"{_tname(klass)}.{key}"
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
            if _len(before) != _sum(1 for name in now if _type(name) is not _str or
                                   (_startswith(name, "__") and name not in inert)):
                return f"{_tname(klass)} (a dunder added)"
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

    def items_changed(space: dict, items: list[tuple[Any, Any]]) -> bool:
        """Whether `space` holds other keys or values (by identity) than `items`, taken from it before."""
        now = _list(_dict_items(space))
        if _len(now) != _len(items):
            return True
        for (key, item), (key0, item0) in _zip(now, items):
            if key is not key0 or item is not item0:
                return True
        return False

    def make_mark(namespace: dict, tests_builtins: dict, inner: Callable[[], Any] | None) -> Callable[[], Any]:
        """What a call into the program must leave as it was: the tests' namespace and builtins (a program
        handed a function of the tests' reaches them through its `__globals__` and `__builtins__`, which no
        audit event guards) and, where the tests use it, their own random numbers (`random_mark`)."""
        def mark() -> tuple[Any, ...]:
            return (inner() if inner is not None else None, namespace, _list(_dict_items(namespace)),
                    tests_builtins, _list(_dict_items(tests_builtins)))
        return mark

    def make_check(flags: list[str], tamper_args: tuple = ()) -> Callable[[object, object, Any], None]:
        # the classes of values checked so far whose attributes can still be set (3.11 audits no class attribute
        # set): a class checked clean could gain an `__eq__` before the comparison (from the program's next
        # call in the same assert, which then removes it again), so each check looks at them all again
        tracked: list[type] = []  # (compared by identity: no metaclass's `__hash__` or `__eq__` runs)

        def check(result: object, fn: object, before: Any) -> None:
            value: Any
            # The tests run with the automatic garbage collector off (`run`): a collection runs the program's
            # collector callbacks and finalizers wherever the tests allocate, between a value's check and its
            # comparison. What the program's calls leave is collected here, at a known point, before the checks.
            if _gc_isenabled():
                _append(flags, "turned the garbage collector back on during the tests")
            elif fn is not None and _gc_count()[0] > 10_000:
                _gc_collect(0)
            for klass in tracked:
                why = patched(klass) if is_trusted(klass) else overrides(klass)
                if why is not None:
                    _append(flags, f"changed the class of a value checked before: {why}")
                    return
            todo: list[object] = [result]
            # each object is looked at once: a value holding itself (a node's parent or `self` link, a doubly
            # linked list) was walked round its cycle until `max_checked` and flagged "too large" after seconds.
            # What is visited is held here, so no id is reused by a temporary (a dict view's pairs) during the walk.
            visited: dict[int, object] = {}
            seen = 0
            while todo and seen < max_checked:
                value = _pop(todo)
                seen += 1
                cls = _type(value)
                if _type(cls) is _typecls and cls in scalars:
                    continue
                key = _id(value)
                if key in visited:
                    continue
                visited[key] = value
                if not is_trusted(cls):
                    why = overrides(cls)
                    if why is not None:
                        _append(flags, f"returned an object whose class overrides {why}")
                        return
                why = patched(cls)  # a library class in its MRO, the program's subclass of one too
                if why is not None:
                    _append(flags, f"returned an object of a patched class: {why}")
                    return
                if _tflags(cls) & _heap_type:
                    known = False
                    for klass in tracked:
                        if klass is cls:
                            known = True
                            break
                    if not known:
                        if _len(tracked) >= 1000:
                            _append(flags, "returned values of too many classes to check")
                            return
                        _append(tracked, cls)
                if cls in proxies:  # compares as what it stands for, which cannot be read without running it
                    _append(flags, f"returned a {_tname(cls)}, which stands for an object it does not show")
                    return
                for base in _mro(cls):  # a trusted container: look inside, through its base's own iterator
                    if base is _weakref:  # (and then into its slots, below: a KeyedRef's key)
                        target = _weakref_target(value)
                        if target is not None:
                            _append(todo, target)
                        continue
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
                        why = shadowed(cls, state)
                        if why is not None:
                            _append(flags, f"returned an object whose own attribute hides {why}")
                            return
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
            # After each call into the program and each value an assert reads: what the program changed and may
            # put back before the tests end. Not only after the calls through `watched`: a class, a partial, a
            # callable object or a cache wrapper the tests call runs the program's code too (it had patched
            # `math.fabs` for the next assert, the patch putting itself back when called).
            if tamper_args:
                tampering(flags, *tamper_args)
                if before is not None:
                    changed_since(flags, before)

        return check

    def changed_since(flags: list[str], before: Any) -> None:
        """What a call into the program changed since `before` (a `mark()`) that only the tests may change."""
        random_before, namespace, names, tests_builtins, builtin_items = before
        if random_before is not None and random_changed(random_before):
            _append(flags, "a call into the program changed the tests' own random numbers")
        if items_changed(namespace, names) or items_changed(tests_builtins, builtin_items):
            _append(flags, "a call into the program changed the tests' own names")

    def make_relay_args(flags: list[str], namespace: dict, mark: Callable[[], Any]) -> Callable[..., Any]:
        """For `watched`: the call's arguments with each function of the tests' own (its globals are the tests'
        namespace) replaced by a `relay` of it."""
        def compare(before: Any) -> None:
            changed_since(flags, before)

        def relay_args(args: tuple, kwargs: dict, current: list[Any]) -> tuple[tuple, dict]:
            found = False
            for arg in args:
                if _type(arg) is _FunctionType and arg.__globals__ is namespace:
                    found = True
            for arg in _dict_values(kwargs):
                if _type(arg) is _FunctionType and arg.__globals__ is namespace:
                    found = True
            if not found:
                return args, kwargs
            out = _list(args)
            for i in _range(_len(out)):
                if _type(out[i]) is _FunctionType and out[i].__globals__ is namespace:
                    out[i] = relayed(out[i], compare, mark, current)
            keywords = _dict(kwargs)
            for key, arg in _dict_items(kwargs):
                if _type(arg) is _FunctionType and arg.__globals__ is namespace:
                    keywords[key] = relayed(arg, compare, mark, current)
            return _tuple(out), keywords

        return relay_args

    def make_entry(check: Any, mark: Any, relay_args: Any) -> Callable[[Any], Any]:
        def wrap(value: Any) -> Any:
            """`value` watched, unless it is a wrapper already (a function of the program's: `run`)."""
            if _type(value) is _FunctionType and value.__globals__ is visible:
                return value
            watched = watch(value, check, mark, relay_args, stops, _RuntimeError)
            for attr, getter in function_attrs:
                try:
                    _setattr(watched, attr, getter(value))
                except _BaseException:
                    pass
            return watched

        return wrap

    def relayed(fn: Any, compare: Callable[[Any], None], mark: Callable[[], Any], current: list[Any]) -> Any:
        wrapper = relay(fn, compare, mark, current)
        for attr, getter in function_attrs:  # what the program may print or compare
            try:
                _setattr(wrapper, attr, getter(fn))
            except _BaseException:
                pass
        return wrapper

    def named(code: types.CodeType) -> tuple[list[str], list[tuple[str, object]]]:
        """The loaded modules and the builtins whose names the tests' code mentions (import math,
        math.fabs, abs, sorted, ...): what the tests can read that the program could have replaced."""
        names: set[str] = _set()
        todo = [code]
        while todo:
            c = _pop(todo)
            names.update(c.co_names)
            _extend(todo, [k for k in c.co_consts if _type(k) is _CodeType])
        names.update(("__import__", "__build_class__"))  # what `import` and `class` statements call unnamed
        if "random" in names:
            names.update(random_builtins)  # what the tests' own random calls by name
        return ([n for n in names if n in module_attrs],
                [(n, _dict_get(builtin_values, n)) for n in names if n in builtin_values])

    def tamper_plan(module_names: list[str]) -> list[tuple[Any, ...]]:
        """What `tampering` compares for the modules the tests name, resolved once per execution (it runs after
        every value an assert reads): per module its dict and attributes, the instances it holds whose state
        is compared (`random._inst`), and the classes it holds with their attributes (`random.Random`)."""
        plan: list[tuple[Any, ...]] = []
        for name in module_names:
            module, current, attrs = module_attrs[name]
            instances: list[tuple[str, Any, list[tuple[Any, Any]]]] = []
            classes: list[tuple[type, Any, list[tuple[Any, Any]]]] = []
            for attr, value in attrs:
                held = _dict_get(instance_attrs, _id(value))
                if held is not None and held[0] is value:
                    _append(instances, (attr, value, held[1]))
                elif _type(value) is _typecls and value in class_attrs:
                    _append(classes, (value, _cdict(value), class_attrs[value]))
            _append(plan, (name, module, current, attrs, instances, classes))
        return plan

    def tampering(flags: list[str], plan: list[tuple[Any, ...]], builtin_names: list[tuple[str, object]]) -> None:
        """What the program changed that the tests read without knowing: a builtin the tests name, or a module
        they name (replaced in sys.modules, its class changed, an attribute, the state of an instance or the
        attributes of a class it holds). `plan`: `tamper_plan` of the modules."""
        if _dict_get(_modules, "builtins") is not _real_builtins:
            _append(flags, "replaced module builtins in sys.modules")
        if _type(_real_builtins) is not _ModuleType:  # its attributes then answer through the program's class
            _append(flags, "changed the class of module builtins")
        if _thread_count():  # a thread of the program's beside the tests can change anything between checks
            _append(flags, "a thread of the program runs beside the tests")
        for name, value in builtin_names:
            if _dict_get(builtins_dict, name, missing) is not value:
                _append(flags, f"replaced builtins.{name}")
        for name, module, current, attrs, instances, classes in plan:
            if module is tests_module:  # the tests' own `random`: in no sys.modules (its attributes: below)
                for attr, value in shared_random:  # the shared module's globals, which its functions read
                    if _dict_get(random_dict, attr, missing) is not value:
                        _append(flags, f"replaced random.{attr} (the tests' own random reads it)")
            elif _dict_get(_modules, name) is not module:
                _append(flags, f"replaced module {name} in sys.modules")
            elif _type(module) is not _ModuleType:
                _append(flags, f"changed the class of module {name}")
            for attr, value in attrs:
                if _dict_get(current, attr, missing) is not value:
                    _append(flags, f"replaced {name}.{attr}")
            for attr, value, held in instances:  # random._inst._randbelow set on the instance
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
            for cls, now, held_attrs in classes:  # random.Random.randint patched
                for key, held_value in held_attrs:
                    if _proxy_get(now, key, missing) is not held_value:
                        _append(flags, f"patched class {name}.{_tname(cls)}.{key}")
                        break

    def run(job: dict, program: bytes, tests: bytes | None, report_fd: int) -> NoReturn:
        nonce: str = job["nonce"]
        keys = seal_keys(nonce, _sha)  # the nonce itself is never written (see `read_report`)
        me = _getpid()  # a process the program forked runs the rest of this function too: it never reports
        active, flags = [_bool(job.get("guard", True))], _list()  # type: list[bool], list[str]
        main = _ModuleType("__main__")
        main.__file__, main.__builtins__ = "main.py", _real_builtins  # type: ignore[attr-defined]
        _modules["__main__"] = main
        main_dict = _mdict(main)
        ending, detail, code, exit_value = "exception", "", 1, None
        tests_code: Any = None
        module_names: list[str] = []
        plan: list[tuple[Any, ...]] = []
        builtin_names: list[tuple[str, object]] = []
        if tests is not None:
            try:
                tests_code = (_loads(tests) if job.get("tests_marshal")
                              else _compile(tests, "tests.py", "exec", dont_inherit=True))
                module_names, builtin_names = named(tests_code)
                plan = tamper_plan(module_names)
            except _BaseException as exc:
                _write(report_fd, _seal(keys, _encode(_join("\x1f", ["harness", "3", f"the tests do not compile: {exc}",
                                                                       ""]), "utf-8", "backslashreplace")[:max_report],
                                        _sha))
                _exit(3)
        # the worker's own compile of the program, made before anything untrusted runs (trusted bytes)
        program_code = _loads(program) if job.get("program_marshal") else None
        allowed: list[Any] = [None, None]  # the one frame read of the harness's own in progress
        if active[0]:
            _addaudithook(make_hook(active, flags, allowed))
        error: BaseException | None = None
        try:
            # UNTRUSTED from here: the sample's program (and the tests, which call into it)
            if program_code is None:  # not precompiled (too big, a syntax error, a warning): compile here
                program_code = _compile(program, "main.py", "exec", dont_inherit=True)
            _exec(program_code, main_dict)
            if tests_code is not None:
                namespace = _dict_copy(main_dict)
                tampering(flags, plan, builtin_names)  # what the program changed while loading
                check = make_check(flags, (plan, builtin_names))
                if random_seed is not None:  # as `python main.py` would, the program's `random` differs per run
                    random_seed(random_inst, None)
                inner: Any = None
                if own_random is not None and "random" in module_names:  # the tests' own: fresh from urandom
                    random_seed(own_random, None)
                    inner = random_mark
                # the builtins before any program (with the tests' own `random` to import), a copy per child
                own_builtins = _dict_copy(tests_builtins)
                mark = make_mark(namespace, own_builtins, inner)
                relay_args = make_relay_args(flags, namespace, mark)
                for name, value in _dict_items(main_dict):
                    if _type(value) is _FunctionType and value.__globals__ is main_dict:
                        watched = namespace[name] = watch(value, check, mark, relay_args, stops, _RuntimeError)
                        for attr, getter in function_attrs:  # what the tests may print or compare
                            try:
                                _setattr(watched, attr, getter(value))
                            except _BaseException:
                                pass
                namespace["__monkeys_seen__"] = seen(check)  # every value an assert reads (`_assert_values`)
                namespace["__monkeys_watch__"] = entry(make_entry(check, mark, relay_args))
                namespace["__builtins__"] = namespace["__monkeys_builtins__"] = own_builtins
                _gc_disable()  # no collection (the program's callbacks, finalizers) between the tests' own steps
                _exec(tests_code, namespace)
                tampering(flags, plan, builtin_names)
            elif "threading" in _modules:  # as the interpreter does: wait for non-daemon threads
                _modules["threading"]._shutdown()
            ending, code = "completed", 0
        except _SystemExit as exc:
            exit_value = _exit_code(exc)
            ending = "exit"
            integer = _isinstance(exit_value, _int)  # bool too: sys.exit(False) is status 0, as in CPython
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
        # The guard stays on to the end: what follows may run the program's code (a flush through its
        # stream's buffer, a thread of its own), and with the hook off that code could walk frames and the
        # collector to the nonce, seal a "completed" report and send it where the harness's report did not
        # go (its own pipe moved onto the report fd). So the uncaught exception is printed by `describe`,
        # which runs nothing of the program's (not `traceback`, whose module, `linecache`, the exception's
        # `__str__`, `__notes__` and a module's `__loader__` are all the program's to replace).
        text = ""
        try:
            if error is not None:
                text = describe(error, allowed)
            elif detail:
                text = safe_text(exit_value) + "\n"
        except _BaseException:
            text = ""
        for stream, flush in ((stdout, flush_out), (stderr, flush_err)):
            try:
                flush(stream)
            except _BaseException:
                pass
        if text:
            try:
                data = _encode(text, "utf-8", "backslashreplace")
                while data:
                    data = data[_write(2, data):]
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
