"""Plug-ins by name: one dict per kind, filled by decorators.

Built-ins register with exactly the decorator an outside package uses. Built-in modules are found by
walking the kind's subpackage (`monkeys.tasks`, ...), so adding a module is enough; outside packages
declare an entry point in the group ``monkeys.<kind>s`` whose name is the registered name, so looking up
one name imports one plug-in. Constructor arguments are plain data kept in the run config.

A plug-in declares its options by its constructor's signature: names, defaults, and types whose
`Annotated` metadata carries the ranges (`Annotated[float, Gt(0)]`) and `SPEED_ONLY` for an option that
changes how fast a run goes but never what a sample, verdict or score is (a resumed run may change it).
`check_options` validates options against that declaration without building anything, so a run can
refuse a bad option before it creates a file; `create` checks the same way before it builds.
"""

from __future__ import annotations

import collections.abc
import importlib
import inspect
import math
import pkgutil
import types
import typing
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import annotated_types
from pydantic import ConfigDict, TypeAdapter, ValidationError

from monkeys.errors import PluginError

if TYPE_CHECKING:
    from monkeys.store.revisions import Revision

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


def verifier_revision(name: str) -> Revision | None:
    """The installed verifier `name`'s revision (`store.revisions`); None when it declares none or is not
    installed (an import's "imported" verdicts)."""
    from monkeys.store.revisions import revision_of

    try:
        return revision_of(get_plugin("verifier", name).factory)
    except PluginError:
        return None


def create(kind: str, name: str, **options: Any) -> Any:
    """Build the plug-in `name` with `options`; a bad option is a `PluginError` naming it."""
    info = get_plugin(kind, name)
    check_options(kind, name, options)
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


# -- declared options ------------------------------------------------------------------------------------


class _SpeedOnly:
    """`Annotated` marker: the option changes speed only, never what a sample, verdict or score means."""

    def __repr__(self) -> str:
        return "SPEED_ONLY"


SPEED_ONLY = _SpeedOnly()
REQUIRED: Any = inspect.Parameter.empty
_STRICT = ConfigDict(strict=True, allow_inf_nan=False, arbitrary_types_allowed=True)


@dataclass(frozen=True)
class OptionSpec:
    """One constructor parameter of a plug-in: `annotation` is None when the plug-in declares no type."""

    name: str
    annotation: Any
    default: Any  # REQUIRED when the option must be given
    speed_only: bool = False

    @property
    def expected(self) -> str:
        return describe(self.annotation) if self.annotation is not None else "any value"

    def validate(self, value: Any) -> bool:
        if self.annotation is None:
            return True
        try:
            adapter = TypeAdapter(self.annotation, config=_STRICT)
        except Exception:  # a type pydantic cannot check (a class of the plug-in's own): the plug-in does
            return True
        try:
            adapter.validate_python(value)
        except ValidationError:
            return False
        return True


@dataclass(frozen=True)
class PluginOptions:
    """Every option a plug-in declares; `open` when it also takes any other name (`**kwargs`)."""

    kind: str
    name: str
    specs: dict[str, OptionSpec]
    open: bool = False

    def defaults(self) -> dict[str, Any]:
        return {k: s.default for k, s in self.specs.items() if s.default is not REQUIRED}

    def speed_only(self) -> frozenset[str]:
        return frozenset(k for k, s in self.specs.items() if s.speed_only)


class OptionError(PluginError):
    """An option a plug-in does not take (`reason` "unknown"; `expected` lists the options it takes),
    lacks ("required") or cannot use ("invalid"; `expected` in words, `shown` the value or `<redacted>`)."""

    def __init__(self, kind: str, name: str, option: str, reason: str, expected: str, value: Any = None) -> None:
        self.kind, self.plugin, self.option, self.reason, self.expected = kind, name, option, reason, expected
        self.shown = _shown(option, value)
        if reason == "unknown":
            message = f"{kind} {name!r}: unknown option {option!r}; expected one of: {expected}"
        elif reason == "required":
            message = f"{kind} {name!r}: option {option!r} is required; expected {expected}"
        else:
            message = f"{kind} {name!r}: {option} {self.shown}: expected {expected}"
        super().__init__(message)


def _shown(option: str, value: Any) -> str:
    """`value` for a message: its repr, or `<redacted>` when it is or holds a secret."""
    from monkeys.config import REDACTED, is_secret_name, redact

    if is_secret_name(option):
        return REDACTED
    text = repr(redact(value))
    return text if len(text) <= 80 else text[:77] + "..."


def plugin_options(kind: str, name: str) -> PluginOptions:
    """The options plug-in `name` declares (its factory's signature; `__init__`'s for a class)."""
    factory = get_plugin(kind, name).factory
    target = factory.__init__ if isinstance(factory, type) else factory  # type: ignore[misc]
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return PluginOptions(kind, name, {}, open=True)
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception:  # names a type only imported for type checking: check names, not types
        hints = {}
    if isinstance(factory, type) and params and params[0].name == "self":
        params = params[1:]
    specs: dict[str, OptionSpec] = {}
    open_ = False
    for p in params:
        if p.kind is p.VAR_KEYWORD:
            open_ = True
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            ann = hints.get(p.name)
            speed = get_origin(ann) is Annotated and any(m is SPEED_ONLY for m in get_args(ann)[1:])
            specs[p.name] = OptionSpec(p.name, ann, p.default, speed)
    return PluginOptions(kind, name, specs, open_)


def check_options(kind: str, name: str, options: Mapping[str, Any]) -> None:
    """Raise `OptionError` for the first option plug-in `name` does not take, lacks, or cannot use."""
    declared = plugin_options(kind, name)
    for key, value in options.items():
        spec = declared.specs.get(key)
        if spec is None:
            if declared.open:
                continue
            raise OptionError(kind, name, key, "unknown", ", ".join(sorted(declared.specs)) or "none")
        if not spec.validate(value):
            raise OptionError(kind, name, key, "invalid", spec.expected, value)
    for key, spec in declared.specs.items():
        if spec.default is REQUIRED and key not in options:
            raise OptionError(kind, name, key, "required", spec.expected)


_NOUNS = {str: "strings", int: "integers", float: "numbers", bool: "true/false values"}
_BOUNDS = ((annotated_types.Gt, "gt", ">"), (annotated_types.Ge, "ge", ">="), (annotated_types.Lt, "lt", "<"),
           (annotated_types.Le, "le", "<="))


def bounds(metadata: Any) -> list[str]:
    """`['> 0', '<= 16']` from `Annotated`/pydantic metadata (annotated-types bounds, `Interval`)."""
    out = []
    for meta in metadata:
        if isinstance(meta, annotated_types.Interval):
            out += bounds([b(getattr(meta, attr)) for b, attr, _ in _BOUNDS if getattr(meta, attr) is not None])
            continue
        for cls, attr, sign in _BOUNDS:
            if isinstance(meta, cls):
                bound = getattr(meta, attr)
                out.append(f"{sign} {bound:g}" if isinstance(bound, float) and math.isfinite(bound)
                           else f"{sign} {bound}")
    return out


def describe(annotation: Any, metadata: Any = ()) -> str:
    """What a value of `annotation` is, in words: `a number > 0`, `an integer >= 1, or null`, `one of 'a', 'b'`."""
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *meta = get_args(annotation)
        return describe(base, [*meta, *metadata])
    if origin in (Union, types.UnionType):
        args = get_args(annotation)
        parts = [describe(a, metadata) for a in args if a is not type(None)]
        text = " or ".join(parts)
        return f"{text}, or null" if type(None) in args else text
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(annotation))
    limits = bounds(metadata)
    words = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(annotation)
    if words is None:
        if origin in (list, tuple, set, frozenset, collections.abc.Sequence, collections.abc.Iterable) \
                or annotation in (list, tuple):
            args = get_args(annotation)
            noun = _NOUNS.get(args[0], "values") if args else "values"
            words = f"a list of {noun}"
        elif origin in (dict, collections.abc.Mapping) or annotation is dict:
            words = "a mapping"
        elif annotation is Any:
            words = "any value"
        else:
            words = f"a {getattr(annotation, '__name__', str(annotation))}"
    return " ".join([words, " and ".join(limits)]) if limits else words
