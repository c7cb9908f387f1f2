"""The models package's own errors, in a module of their own: model selection and the
local model loader both raise them, and neither imports the other for it."""

from __future__ import annotations


class ConfigError(RuntimeError):
    """A missing or wrong setting, with the variable's name in the message."""
