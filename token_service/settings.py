"""Token-service configuration, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

MAX_TTL = timedelta(minutes=15)
DEFAULT_TTL = timedelta(minutes=10)
DEV_API_KEY = "devkey"
DEV_API_SECRET = "secret"  # the well-known `livekit-server --dev` credentials
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
# With the local dev defaults (and no TOKEN_SERVICE_ALLOWED_ORIGINS) only the Expo web dev
# server may call from a browser. Native apps send no Origin and need no CORS at all.
DEV_ALLOWED_ORIGINS = frozenset({"http://localhost:8081", "http://127.0.0.1:8081"})
_TRUTHY = {"1", "true", "yes", "on"}


class SettingsError(ValueError):
    """A required variable is missing or malformed. The message names the variable."""


@dataclass(frozen=True, slots=True)
class TokenSettings:
    livekit_url: str  # handed to clients: must be reachable from the phone or browser
    api_key: str
    api_secret: str
    api_url: str = ""  # where this service reaches LiveKit's API; default: livekit_url
    ttl: timedelta = DEFAULT_TTL
    host: str = "127.0.0.1"
    port: int = 8088
    agent_name: str = "bank-support"
    # Login throttling (sliding one-minute windows, see throttle.py).
    ip_limit: int = 10
    customer_limit: int = 5
    window_seconds: float = 60.0
    # Only behind a reverse proxy that sets X-Forwarded-For itself; otherwise a client
    # could pick its own throttle key.
    trust_forwarded_for: bool = False
    # Browser origins allowed to call cross-origin (exact `scheme://host[:port]`); none by
    # default, so no other web page can post logins from its visitors' browsers.
    allowed_origins: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not timedelta(0) < self.ttl <= MAX_TTL:
            raise SettingsError(
                f"TOKEN_TTL_SECONDS must be between 1 and {int(MAX_TTL.total_seconds())}"
            )

    @property
    def server_api_url(self) -> str:
        return self.api_url or self.livekit_url

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        return (
            f"TokenSettings(livekit_url={self.livekit_url!r}, api_key={self.api_key!r}, "
            f"api_secret='***', ttl={self.ttl}, host={self.host!r}, port={self.port})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TokenSettings:
        env = os.environ if env is None else env
        url = env.get("LIVEKIT_URL") or "ws://localhost:7880"
        dev_defaults = env.get("BANK_DEV", "").strip().lower() in _TRUTHY or _is_local(url)
        api_key = env.get("LIVEKIT_API_KEY") or (DEV_API_KEY if dev_defaults else "")
        api_secret = env.get("LIVEKIT_API_SECRET") or (DEV_API_SECRET if dev_defaults else "")
        missing = [
            name
            for name, value in (("LIVEKIT_API_KEY", api_key), ("LIVEKIT_API_SECRET", api_secret))
            if not value
        ]
        if missing:
            raise SettingsError(
                f"{' and '.join(missing)} must be set: LIVEKIT_URL={url} is not a local dev "
                "server (set BANK_DEV=1 to use the devkey/secret defaults)"
            )
        return cls(
            livekit_url=url,
            api_url=env.get("LIVEKIT_API_URL") or url,
            api_key=api_key,
            api_secret=api_secret,
            ttl=timedelta(seconds=_int(env, "TOKEN_TTL_SECONDS", int(DEFAULT_TTL.total_seconds()))),
            host=env.get("TOKEN_SERVICE_HOST") or "127.0.0.1",
            port=_int(env, "TOKEN_SERVICE_PORT", 8088),
            trust_forwarded_for=env.get("TOKEN_TRUST_FORWARDED_FOR", "").strip().lower() in _TRUTHY,
            allowed_origins=_origins(env, dev_defaults),
        )


def _origins(env: Mapping[str, str], dev_defaults: bool) -> frozenset[str]:
    """TOKEN_SERVICE_ALLOWED_ORIGINS: comma-separated exact origins. Unset: the Expo web dev
    server's origins with the local dev defaults, else none. `*` is refused."""
    raw = env.get("TOKEN_SERVICE_ALLOWED_ORIGINS")
    if raw is None:
        return DEV_ALLOWED_ORIGINS if dev_defaults else frozenset()
    origins = {o.strip().rstrip("/") for o in raw.split(",") if o.strip()}
    for origin in origins:
        parts = urlsplit(origin)
        if (
            origin == "*"
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or (parts.path or parts.query or parts.fragment)
        ):
            raise SettingsError(
                "TOKEN_SERVICE_ALLOWED_ORIGINS must list exact origins such as "
                f"https://app.example.com (no '*', no paths); got {origin!r}"
            )
    return frozenset(origins)


def _is_local(url: str) -> bool:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return host in _LOCAL_HOSTS


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
