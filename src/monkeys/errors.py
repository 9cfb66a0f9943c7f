"""Errors the user can fix. The CLI prints their message as one line and exits 2; anything else is a bug."""


class MonkeysError(Exception):
    """Base of every user-facing error: the message says which file/field/name and what was expected."""


class ConfigError(MonkeysError):
    """A run configuration or CLI flag is invalid."""


class DataError(MonkeysError):
    """A dataset file is missing, unreadable or malformed."""


class PluginError(MonkeysError):
    """A task, sampler, verifier or scorer name is unknown or its plug-in failed to load."""


class StoreError(MonkeysError):
    """The run store cannot be opened, is from a newer version, or conflicts with the requested run."""


class SamplerError(MonkeysError):
    """A model backend cannot be reached or refused the request for good (not a retryable hiccup)."""


class SandboxError(MonkeysError):
    """The sandbox itself could not run a program. Never stored as the sample failing."""


class InputWarning(UserWarning):
    """Input that is read, but maybe not as the user meant (a column no import reads: `correctt`). The CLI
    prints its message as one `warning:` line on stderr and goes on."""
