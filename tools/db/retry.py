"""Which database errors are worth retrying, and the bounded, jittered back-off used."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from .errors import DatabaseUnavailable

T = TypeVar("T")

# SQLSTATE classes that mean "the server went away or is (re)starting", not "your query is bad".
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "57P01", "57P02", "57P03", "53300")


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, OSError, TimeoutError)):
        return True
    if isinstance(
        exc,
        (
            asyncpg.exceptions.ConnectionDoesNotExistError,
            asyncpg.exceptions.InterfaceError,
            asyncpg.exceptions.CannotConnectNowError,
        ),
    ):
        # InterfaceError also covers "connection is closed"/"pool is closing" style faults.
        return not isinstance(exc, asyncpg.exceptions.InterfaceWarning)
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", "") or ""
        return state.startswith(_TRANSIENT_SQLSTATE_PREFIXES)
    return False


async def with_retry(
    operation: Callable[[], Awaitable[T]], *, budget_s: float, max_attempts: int = 6
) -> T:
    """Run `operation`, retrying transient failures with jittered exponential back-off.

    Only idempotent reads and writes that carry an idempotency key may be wrapped."""
    retrying = AsyncRetrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(max_attempts) | stop_after_delay(budget_s),
        wait=wait_random_exponential(multiplier=0.05, max=1.0),
        reraise=False,
    )
    try:
        async for attempt in retrying:
            with attempt:
                return await operation()
    except RetryError as exc:
        raise DatabaseUnavailable(
            "the bank database is unreachable"
        ) from exc.last_attempt.exception()
    raise AssertionError("unreachable")  # pragma: no cover
