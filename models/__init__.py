"""Model selection and the offline banking model."""

from .errors import ConfigError
from .offline import OFFLINE_MODEL_NAME, OfflineBankLLM
from .selection import Mode, Models, build_models, choose_mode

__all__ = [
    "OFFLINE_MODEL_NAME",
    "ConfigError",
    "Mode",
    "Models",
    "OfflineBankLLM",
    "build_models",
    "choose_mode",
]
