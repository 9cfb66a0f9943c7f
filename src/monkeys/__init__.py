"""monkeys: scale inference compute by repeated sampling with verification."""

from typing import TYPE_CHECKING, Any

from monkeys.core import (
    Completion,
    Outcome,
    Problem,
    Prompt,
    Sample,
    Sampler,
    SampleRequest,
    Task,
    Verdict,
    Verifier,
    derive_seed,
)
from monkeys.errors import ConfigError, DataError, MonkeysError, PluginError, SamplerError, SandboxError, StoreError

if TYPE_CHECKING:
    from monkeys.registry import register_sampler, register_scorer, register_task, register_verifier

_REGISTRY = ("register_sampler", "register_scorer", "register_task", "register_verifier")


def __getattr__(name: str) -> Any:
    """The registry (pydantic, entry points: ~150 ms) loads on first use, not with every `monkeys` command."""
    if name in _REGISTRY:
        from monkeys import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'monkeys' has no attribute {name!r}")

__version__ = "0.1.0"

__all__ = [
    "Completion", "ConfigError", "DataError", "MonkeysError", "Outcome", "PluginError", "Problem", "Prompt",
    "Sample", "SampleRequest", "Sampler", "SamplerError", "SandboxError", "StoreError", "Task", "Verdict",
    "Verifier", "__version__", "derive_seed", "register_sampler", "register_scorer", "register_task",
    "register_verifier",
]
