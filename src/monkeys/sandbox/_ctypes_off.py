"""After confinement and before any program: ctypes can no longer make an object.

Confinement needs ctypes (prctl, Landlock, capset), so `_ctypes` is loaded in every process that runs a
program, and its types stay reachable without an import (`object.__subclasses__()` lists them). A ctypes
object reads and writes any address without one audited call (a Union of a pointer and a `py_object`),
and with that a program can reach the harness's frame, read its nonce and forge its report. So once the
child is confined, every ctypes type's constructor slot is set to NoneType's (which makes nothing, and
raises on arguments); a type made later inherits it from its base. `ctypes` modules leave `sys.modules`,
so an import goes through the harness's audit hook again (and is refused).

Standard library only: imported by the pool's template and pasted into the fallback's launcher.
"""

import ctypes
import sys

_WORD = ctypes.sizeof(ctypes.c_void_p)
# PyTypeObject fields, in words from the object's start (CPython 3.8-3.13 release builds): checked on every
# type before it is written, so another layout refuses to run programs rather than writes a wrong word.
_BASICSIZE, _FLAGS, _BASE, _NEW = 4, 21, 32, 39


def _word(obj: object, index: int) -> "ctypes.c_void_p":
    return ctypes.c_void_p.from_address(id(obj) + index * _WORD)


def _check_layout(t: type) -> None:
    base = t.__base__
    if (ctypes.c_ssize_t.from_address(id(t) + _BASICSIZE * _WORD).value != t.__basicsize__
            or ctypes.c_ulong.from_address(id(t) + _FLAGS * _WORD).value != t.__flags__
            or (_word(t, _BASE).value or 0) != (id(base) if base is not None else 0)):
        raise RuntimeError(f"unknown type object layout (Python {sys.version.split()[0]}): cannot disarm ctypes")


def disarm_ctypes() -> None:
    """Make every ctypes type (and every one derived later) unable to create an instance."""
    import _ctypes

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
    for name in [m for m in sys.modules if m in ("ctypes", "_ctypes") or m.startswith("ctypes.")]:
        del sys.modules[name]
