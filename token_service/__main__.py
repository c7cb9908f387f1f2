"""`python -m token_service`: serve the app channel's login on TOKEN_SERVICE_HOST:PORT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import warnings

from jwt.warnings import InsecureKeyLengthWarning

from tools.db import DatabaseUnavailable, database_url

from .app import run
from .settings import DEV_API_SECRET, SettingsError, TokenSettings


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = TokenSettings.from_env()
    except SettingsError as exc:
        print(f"token_service: configuration error: {exc}", file=sys.stderr)
        return 2
    if settings.api_secret == DEV_API_SECRET:
        # The `livekit-server --dev` secret is short by design; PyJWT would warn per token.
        warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
    elif len(settings.api_secret.encode()) < 32:
        logging.getLogger("bank.token_service").warning(
            "LIVEKIT_API_SECRET is shorter than 32 bytes; use a longer secret in production"
        )
    dsn = database_url()  # DATABASE_URL, or the embedded dev Postgres
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run(settings, dsn))
    except DatabaseUnavailable as exc:
        print(f"token_service: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
