"""Which database errors are worth retrying, and the bounded, jittered back-off used."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

from .errors import DatabaseUnavailable

T = TypeVar("T")

# SQLSTATE classes that mean "the server went away or is (re)starting", not "your query is bad".
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "57P01", "57P02", "57P03", "53300")


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ValueError):
        # asyncpg's client-side DataError ("invalid input for query argument", e.g. an int
        # past int64) is an InterfaceError *and* a ValueError: a bad argument, which no
        # retry can fix. Without this it was retried for the whole budget, then reported
        # as "database unreachable".
        return False
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


# Back-off: 50 ms doubling to 1 s, plus up to 50 ms of jitter so sessions sharing the pool
# do not retry in lock-step. The wait has a floor: "full jitter" (uniform from 0) can burn
# every attempt within a few milliseconds, long before a restarting server is back.
_WAIT_INITIAL_S = 0.05
_WAIT_MAX_S = 1.0
_WAIT_JITTER_S = 0.05
# A safety net only: the time budget is what bounds the retries.
_MAX_ATTEMPTS = 100


class PoolBusy(TimeoutError):
    """No pooled connection became free in time: nothing was sent to the server."""


async def with_retry(
    operation: Callable[[], Awaitable[T]],
    *,
    budget_s: float,
    max_attempts: int = _MAX_ATTEMPTS,
    retry_on: Callable[[BaseException], bool] = is_transient,
) -> T:
    """Run `operation`, retrying transient failures with tenacity (jittered exponential
    back-off) for up to `budget_s` seconds: the retries stop before a wait would overrun
    the budget, so a server that is back within the budget is always reached (the attempt
    count does not run out first), and a caller never waits much longer than the budget.

    Only idempotent reads and writes that carry an idempotency key may be wrapped (with the
    default `retry_on`); `retry_on` narrows what is retried for anything else.

    The first attempt runs bare: building a tenacity retrier costs ~25 us, a tenth of a
    pooled SELECT 1 round trip, and almost every query succeeds first time. Only a failure
    pays for the retrier."""
    started = time.monotonic()
    try:
        return await operation()
    except Exception as exc:
        if not retry_on(exc):
            raise
        first_failure = exc
    remaining = budget_s - (time.monotonic() - started)
    first_wait = _WAIT_INITIAL_S + random.uniform(0, _WAIT_JITTER_S)
    if max_attempts <= 1 or first_wait >= remaining:
        raise DatabaseUnavailable("the bank database is unreachable") from first_failure
    await asyncio.sleep(first_wait)
    retrying = AsyncRetrying(
        retry=retry_if_exception(retry_on),
        # Tenacity counts from the second real attempt, so its waits start one step up.
        wait=wait_exponential_jitter(
            multiplier=_WAIT_INITIAL_S * 2, max=_WAIT_MAX_S, jitter=_WAIT_JITTER_S
        ),
        stop=stop_after_attempt(max_attempts - 1)
        | stop_before_delay(max(remaining - first_wait, 0.0)),
    )
    try:
        return await retrying(operation)
    except RetryError as exc:
        last = exc.last_attempt.exception() or first_failure
        raise DatabaseUnavailable("the bank database is unreachable") from last
