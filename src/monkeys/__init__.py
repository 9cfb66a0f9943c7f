"""monkeys: scale inference compute by repeated sampling with verification."""

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
from monkeys.registry import register_sampler, register_scorer, register_task, register_verifier

__version__ = "0.1.0"

__all__ = [
    "Completion", "ConfigError", "DataError", "MonkeysError", "Outcome", "PluginError", "Problem", "Prompt",
    "Sample", "SampleRequest", "Sampler", "SamplerError", "SandboxError", "StoreError", "Task", "Verdict",
    "Verifier", "__version__", "derive_seed", "register_sampler", "register_scorer", "register_task",
    "register_verifier",
]
