"""Login for the app channel: customer number + PIN in, short-lived LiveKit token out.

`python -m token_service` serves `POST /api/token` and `GET /healthz`."""

from .app import create_app
from .settings import SettingsError, TokenSettings
from .throttle import SlidingWindowLimiter

__all__ = ["SettingsError", "SlidingWindowLimiter", "TokenSettings", "create_app"]
