"""Which optional install (`pip install 'monkeys[EXTRA]'`) a feature needs, checked before it is used.

The base install analyses, verifies, imports and reports runs; the embedded model (`local`: torch, gguf,
tokenizers), the reward-model scorer (`reward`: transformers, torch) and llama.cpp (`llamacpp`) are extras.
A feature whose extra is missing fails with one line naming it, never with a traceback from an import.
"""

from __future__ import annotations

import importlib.util

from monkeys.errors import PluginError

# The module each distribution is imported as, where the two differ.
_MODULES = {"llama-cpp-python": "llama_cpp"}


class MissingExtra(PluginError):
    """An optional dependency is not installed; the message names the extra that installs it."""


def missing(*packages: str) -> list[str]:
    """The distributions among `packages` that cannot be imported here (found by spec, nothing imported)."""
    out = []
    for name in packages:
        module = _MODULES.get(name, name.replace("-", "_"))
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a parent package missing, or a module set to None in sys.modules
            found = False
        if not found:
            out.append(name)
    return out


def require(extra: str, *packages: str, what: str | None = None) -> None:
    """Raise `MissingExtra` ("error: the embedded model needs torch: pip install 'monkeys[local]'") unless
    every one of `packages` is importable; `what` names the feature (default: the extra)."""
    absent = missing(*packages)
    if absent:
        raise MissingExtra(f"{what or extra} needs {', '.join(absent)}: pip install 'monkeys[{extra}]'")
