"""Model selection and the offline banking model."""

from .offline import OFFLINE_MODEL_NAME, OfflineBankLLM
from .selection import ConfigError, Mode, Models, build_models, choose_mode

__all__ = [
    "OFFLINE_MODEL_NAME",
    "ConfigError",
    "Mode",
    "Models",
    "OfflineBankLLM",
    "build_models",
    "choose_mode",
]
