"""After confinement and before any program: ctypes can no longer make an object.

Confinement needs ctypes (prctl, Landlock, capset), so `_ctypes` is loaded in every process that runs a
program, and its types stay reachable without an import (`object.__subclasses__()` lists them). A ctypes
object reads and writes any address without one audited call (a Union of a pointer and a `py_object`),
and with that a program can reach the harness's frame, read its nonce and forge its report. So once the
child is confined, every ctypes type's constructor slot is set to NoneType's (which makes nothing, and
raises on arguments); a type made later inherits it from its base. `ctypes` modules leave `sys.modules`,
so an import goes through the harness's audit hook again (and is refused).

Objects made before that (the module's own `memmove`, `memset`, `_cast`, `_string_at`, `_wstring_at`, the
`pythonapi` and loader caches) would still serve as storage that a new Union type's field descriptors read
and write at any offset; so the field descriptor type (`CField`) loses its `__get__`/`__set__` (in its
type dict and its slots: a field is then a plain class attribute), and the module's own objects are dropped.

Standard library only: imported by the pool's template and pasted into the fallback's launcher.
"""

import ctypes
import sys
from typing import cast

_WORD = ctypes.sizeof(ctypes.c_void_p)
# PyTypeObject fields, in words from the object's start (CPython 3.8-3.13 release builds): checked on every
# type before it is written, so another layout refuses to run programs rather than writes a wrong word.
_BASICSIZE, _FLAGS, _BASE, _DICT, _DESCR_GET, _DESCR_SET, _NEW = 4, 21, 32, 33, 34, 35, 39


def _word(obj: object, index: int) -> "ctypes.c_void_p":
    return ctypes.c_void_p.from_address(id(obj) + index * _WORD)


def _check_layout(t: type) -> None:
    base = t.__base__
    if (ctypes.c_ssize_t.from_address(id(t) + _BASICSIZE * _WORD).value != t.__basicsize__
            or ctypes.c_ulong.from_address(id(t) + _FLAGS * _WORD).value != t.__flags__
            or (_word(t, _BASE).value or 0) != (id(base) if base is not None else 0)):
        raise RuntimeError(f"unknown type object layout (Python {sys.version.split()[0]}): cannot disarm ctypes")


def hide_frame_links() -> None:
    """Whoever holds any frame object (its own, found in `gc.garbage` with `DEBUG_SAVEALL`, or made by a
    crafted loader) could walk `f_back` up to the harness's frame and read its nonce from `f_locals`, and
    Python audits neither. The frame type loses both; the harness took its own copies beforehand, and
    tracebacks need neither (they walk `tb_next` and read `f_code`/`f_globals`)."""
    frame_type = type(sys._getframe())
    _check_layout(frame_type)
    tp_dict = cast("dict[str, object]", ctypes.py_object.from_address(id(frame_type) + _DICT * _WORD).value)
    for name in ("f_back", "f_locals"):
        tp_dict.pop(name, None)
    ctypes.pythonapi.PyType_Modified(ctypes.py_object(frame_type))


def disarm_ctypes() -> None:
    """Make every ctypes type (and every one derived later) unable to create an instance, every field
    descriptor inert, and drop the ctypes module's own objects."""
    import _ctypes

    hide_frame_links()  # first: they still make ctypes objects (a pointer to pass PyType_Modified)
    _disarm_fields()
    _check_layout(type(None))
    none_new = _word(type(None), _NEW).value
    todo: list[type] = [_ctypes._SimpleCData, _ctypes.Structure, _ctypes.Union, _ctypes._Pointer,
                        _ctypes.Array, _ctypes.CFuncPtr]
    seen: set[int] = set()
    while todo:
        t = todo.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        _check_layout(t)
        _word(t, _NEW).value = none_new
        todo.extend(type.__subclasses__(t))
    kinds = (_ctypes._SimpleCData, _ctypes.CFuncPtr, _ctypes.Structure, _ctypes.Union, _ctypes.Array, _ctypes._Pointer)
    for name in [m for m in sys.modules if m in ("ctypes", "_ctypes") or m.startswith("ctypes.")]:
        names = vars(sys.modules.pop(name))  # its ready-made objects (`ctypes._endian` re-exports them too)
        for key in [k for k, v in names.items()
                    if isinstance(v, kinds) or type(v).__name__ in ("CDLL", "PyDLL", "LibraryLoader")]:
            del names[key]


def _disarm_fields() -> None:
    """A ctypes field descriptor reads and writes any ctypes object's memory at its offset, no type check:
    remove its `__get__`/`__set__`/`__delete__` (type dict and slots), so a field is an inert attribute."""
    class _Probe(ctypes.Structure):
        _fields_ = [("a", ctypes.c_int)]

    field_type = type(vars(_Probe)["a"])
    _check_layout(field_type)
    tp_dict = cast("dict[str, object]", ctypes.py_object.from_address(id(field_type) + _DICT * _WORD).value)
    for name in ("__get__", "__set__", "__delete__"):
        tp_dict.pop(name, None)
    _word(field_type, _DESCR_GET).value = None
    _word(field_type, _DESCR_SET).value = None
    ctypes.pythonapi.PyType_Modified(ctypes.py_object(field_type))
