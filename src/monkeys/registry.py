"""Plug-ins by name: one dict per kind, filled by decorators.

Built-ins register with exactly the decorator an outside package uses. Built-in modules are found by
walking the kind's subpackage (`monkeys.tasks`, ...), so adding a module is enough; outside packages
declare an entry point in the group ``monkeys.<kind>s`` whose name is the registered name, so looking up
one name imports one plug-in. Constructor arguments are plain data kept in the run config.
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, TypeVar

from monkeys.errors import PluginError

KINDS = ("task", "sampler", "verifier", "scorer")
_PACKAGES = {"task": "monkeys.tasks", "sampler": "monkeys.samplers", "verifier": "monkeys.verifiers",
             "scorer": "monkeys.scorers"}

T = TypeVar("T")


@dataclass(frozen=True)
class PluginInfo:
    kind: str
    name: str
    factory: Callable[..., Any]
    origin: str  # module that registered it

    @property
    def summary(self) -> str:
        doc = (self.factory.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


_registry: dict[str, dict[str, PluginInfo]] = {kind: {} for kind in KINDS}
_builtins_loaded: set[str] = set()


def _register(kind: str, name: str) -> Callable[[T], T]:
    def decorator(factory: T) -> T:
        origin = getattr(factory, "__module__", "?")
        existing = _registry[kind].get(name)
        if existing is not None and existing.origin != origin:
            raise PluginError(f"{kind} {name!r} is registered twice: by {existing.origin} and by {origin}")
        _registry[kind][name] = PluginInfo(kind, name, factory, origin)  # type: ignore[arg-type]
        return factory

    return decorator


def register_task(name: str) -> Callable[[T], T]:
    """Register a task class under `name` (the same string in CLI, config and store)."""
    return _register("task", name)


def register_sampler(name: str) -> Callable[[T], T]:
    """Register a sampler factory (class or function returning a `Sampler`)."""
    return _register("sampler", name)


def register_verifier(name: str) -> Callable[[T], T]:
    """Register a verifier factory."""
    return _register("verifier", name)


def register_scorer(name: str) -> Callable[[T], T]:
    """Register a per-sample scorer factory (reward models, log-probabilities)."""
    return _register("scorer", name)


def _load_builtins(kind: str) -> None:
    if kind in _builtins_loaded:
        return
    _builtins_loaded.add(kind)
    try:
        package = importlib.import_module(_PACKAGES[kind])
    except ModuleNotFoundError:
        return
    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{module.name}")


def _load_entry_point(kind: str, name: str) -> None:
    for ep in entry_points(group=f"monkeys.{kind}s", name=name):
        try:
            ep.load()
        except Exception as exc:  # a broken third-party plug-in must not take the CLI down
            raise PluginError(f"{kind} {name!r} from package {ep.value!r} failed to import: {exc}") from exc


def get_plugin(kind: str, name: str) -> PluginInfo:
    """Look `name` up, importing built-ins and then the matching entry point. Raises `PluginError`."""
    if name not in _registry[kind]:
        _load_builtins(kind)
    if name not in _registry[kind]:
        _load_entry_point(kind, name)
    if name not in _registry[kind]:
        known = ", ".join(sorted(list_plugins(kind))) or "none"
        raise PluginError(f"unknown {kind} {name!r}; expected one of: {known}")
    return _registry[kind][name]


def create(kind: str, name: str, **options: Any) -> Any:
    """Build the plug-in `name` with `options`; a bad option is a `PluginError` naming it."""
    info = get_plugin(kind, name)
    try:
        return info.factory(**options)
    except TypeError as exc:
        raise PluginError(f"{kind} {name!r}: bad options {sorted(options)}: {exc}") from exc


def list_plugins(kind: str) -> dict[str, PluginInfo]:
    """Every plug-in of `kind`: built-ins and installed entry points (a broken one is a warning)."""
    _load_builtins(kind)
    for ep in entry_points(group=f"monkeys.{kind}s"):
        if ep.name not in _registry[kind]:
            try:
                ep.load()
            except Exception as exc:
                warnings.warn(f"{kind} plug-in {ep.name!r} from {ep.value!r} failed to import: {exc}",
                              stacklevel=2)
    return dict(sorted(_registry[kind].items()))
