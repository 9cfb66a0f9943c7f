"""Before any program: ctypes can no longer make an object, and no frame leads to its caller.

Confinement needs ctypes (prctl, Landlock, capset), so `_ctypes` is loaded in every process that runs a
program, and its types stay reachable without an import (`object.__subclasses__()` lists them). A ctypes
object reads and writes any address without one audited call (a Union of a pointer and a `py_object`),
and with that a program can reach the harness's frame, read its nonce and forge its report. So every
ctypes type's constructor slot is set to NoneType's (which makes nothing, and raises on arguments); a type
made later inherits it from its base. `ctypes` modules leave `sys.modules`, so an import goes through the
harness's audit hook again (and is refused).

Objects made before that (the module's own `memmove`, `memset`, `_cast`, `_string_at`, `_wstring_at`, the
`pythonapi` and loader caches) would still serve as storage that a new Union type's field descriptors read
and write at any offset; so the field descriptor type (`CField`) loses its `__get__`/`__set__` (in its
type dict and its slots: a field is then a plain class attribute), and the module's own objects are dropped.
Whoever holds a frame could walk `f_back` up to the harness's frame and read its nonce from `f_locals`
(Python audits neither), so the frame type loses both.

Where: the pool's template disarms itself once, before it serves, so every execution is forked already
disarmed and pays nothing for it (done in each child, it cost ~1.1 ms CPU and ~280 copy-on-write faults).
Objects made before the disarm keep working, so a child still confines itself with the C functions (and
buffers) `_confine` made when it was imported, then drops them from `_confine`'s globals before its program
runs. An execution without the guard (`guard=False`: the OS layer alone, as the tests and the hostile
probes run it) puts everything back in its own child (the function `disarm_ctypes` returns), before its
program. The fallback launcher (`_simple`, a fresh interpreter per execution) disarms in the child, after
confinement, and drops that function at once. Every type's layout is checked before the first word is
written (`LayoutError`: nothing written then), so another layout refuses to run guarded programs rather
than writes a wrong word.

Standard library only: imported by the pool's template and pasted into the fallback's launcher.
"""

import ctypes
import sys
import types
from collections.abc import Callable
from typing import cast

_WORD = ctypes.sizeof(ctypes.c_void_p)
# PyTypeObject fields, in words from the object's start (CPython 3.8-3.13 release builds): checked on every
# type before it is written, so another layout refuses to run programs rather than writes a wrong word.
_BASICSIZE, _FLAGS, _BASE, _DICT, _DESCR_GET, _DESCR_SET, _NEW = 4, 21, 32, 33, 34, 35, 39


class LayoutError(RuntimeError):
    """A type object's layout is not the one `_ctypes_off` writes to; raised before anything is written."""


def _word(obj: object, index: int) -> "ctypes.c_void_p":
    return ctypes.c_void_p.from_address(id(obj) + index * _WORD)


def _check_layout(t: type) -> None:
    base = t.__base__
    if (ctypes.c_ssize_t.from_address(id(t) + _BASICSIZE * _WORD).value != t.__basicsize__
            or ctypes.c_ulong.from_address(id(t) + _FLAGS * _WORD).value != t.__flags__
            or (_word(t, _BASE).value or 0) != (id(base) if base is not None else 0)):
        raise LayoutError(f"unknown type object layout (Python {sys.version.split()[0]}): cannot disarm ctypes")


def disarm_ctypes() -> "Callable[[], None]":
    """Make every ctypes type (and every one derived later) unable to create an instance, every field
    descriptor inert, drop the ctypes modules' own objects, and take `f_back`/`f_locals` off the frame type.

    Returns what undoes it all (for an execution without the guard, in its own child); it holds what was
    taken out (the field type's slot wrappers, which would still read memory, the frame links, the modules'
    objects) and every type written to (so none is freed and its memory reused before it is written back).
    Raises `LayoutError`, with nothing written, when a type object's layout is unknown."""
    import _ctypes

    # Everything made or looked up before any write: after it no ctypes object can be made (from_address,
    # which the writes use, allocates without the constructor; the audit hook refuses it to programs)
    modified = ctypes.PYFUNCTYPE(None, ctypes.py_object)(("PyType_Modified", ctypes.pythonapi))

    class _Probe(ctypes.Structure):
        _fields_ = [("a", ctypes.c_int)]

    frame_type, field_type, none_type = type(sys._getframe()), type(vars(_Probe)["a"]), type(None)
    todo: list[type] = [_ctypes._SimpleCData, _ctypes.Structure, _ctypes.Union, _ctypes._Pointer,
                          _ctypes.Array, _ctypes.CFuncPtr]
    seen: dict[int, type] = {}
    while todo:
        t = todo.pop()
        if id(t) not in seen:
            seen[id(t)] = t
            todo.extend(type.__subclasses__(t))
    for t in (frame_type, field_type, none_type, *seen.values()):
        _check_layout(t)  # all of them before the first write
    none_new = _word(none_type, _NEW).value
    # (type, word, value to write): every type's constructor, the field type's descriptor slots
    writes = [(t, _NEW, none_new) for t in seen.values()]
    writes += [(field_type, _DESCR_GET, None), (field_type, _DESCR_SET, None)]
    old = [(t, index, _word(t, index).value) for t, index, _ in writes]
    # the type dicts' entries: the frame links, the field descriptor's methods (`vars()` is a read-only proxy)
    taken: list[tuple[dict[str, object], str, object]] = []
    for t, keys in ((frame_type, ("f_back", "f_locals")), (field_type, ("__get__", "__set__", "__delete__"))):
        tp_dict = cast("dict[str, object]", ctypes.py_object.from_address(id(t) + _DICT * _WORD).value)
        taken += [(tp_dict, key, tp_dict.pop(key)) for key in keys if key in tp_dict]
    for t in (frame_type, field_type):
        modified(t)  # the attribute cache forgets them
    for t, index, value in writes:
        _word(t, index).value = value
    kinds = (_ctypes._SimpleCData, _ctypes.CFuncPtr, _ctypes.Structure, _ctypes.Union, _ctypes.Array, _ctypes._Pointer)
    modules: list[tuple[str, types.ModuleType, dict[str, object]]] = []
    for name in [m for m in sys.modules if m in ("ctypes", "_ctypes") or m.startswith("ctypes.")]:
        module = sys.modules.pop(name)
        names = vars(module)  # its ready-made objects (`ctypes._endian` re-exports them too)
        dropped = {k: v for k, v in names.items()
                   if isinstance(v, kinds) or type(v).__name__ in ("CDLL", "PyDLL", "LibraryLoader")}
        for key in dropped:
            del names[key]
        modules.append((name, module, dropped))

    def rearm() -> None:
        """Undo `disarm_ctypes` (for an execution without the guard, in its own child)."""
        for t, index, value in old:
            _word(t, index).value = value
        for tp_dict, key, entry in taken:
            tp_dict[key] = entry
        for t in (frame_type, field_type):
            modified(t)
        for name, module, dropped in modules:
            sys.modules[name] = module
            vars(module).update(dropped)

    return rearm
