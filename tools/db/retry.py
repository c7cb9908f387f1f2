"""Which database errors are worth retrying, and the bounded, jittered back-off used."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

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
_WAIT_MULTIPLIER_S = 0.05
_WAIT_MAX_S = 1.0
_WAIT_JITTER_S = 0.05
# A safety net only: the time budget is what bounds the retries.
_MAX_ATTEMPTS = 100


def _backoff(attempt_number: int) -> float:
    """The wait after failed attempt `attempt_number` (1-based): tenacity's
    wait_exponential_jitter(multiplier=0.05, max=1.0, jitter=0.05)."""
    jitter = random.uniform(0, _WAIT_JITTER_S)
    try:
        wait: float = _WAIT_MULTIPLIER_S * 2.0 ** (attempt_number - 1) + jitter
    except OverflowError:
        return _WAIT_MAX_S
    return max(0.0, min(wait, _WAIT_MAX_S))


class PoolBusy(TimeoutError):
    """No pooled connection became free in time: nothing was sent to the server."""


async def with_retry(
    operation: Callable[[], Awaitable[T]],
    *,
    budget_s: float,
    max_attempts: int = _MAX_ATTEMPTS,
    retry_on: Callable[[BaseException], bool] = is_transient,
) -> T:
    """Run `operation`, retrying transient failures with jittered exponential back-off for
    up to `budget_s` seconds: the retries stop before a wait would overrun the budget, so a
    server that is back within the budget is always reached (the attempt count does not run
    out first), and a caller never waits much longer than the budget.

    Only idempotent reads and writes that carry an idempotency key may be wrapped (with the
    default `retry_on`); `retry_on` narrows what is retried for anything else.

    Hand-rolled rather than tenacity's AsyncRetrying (same policy: stop_before_delay(budget)
    | stop_after_attempt, the back-off above): building a retrier per call cost ~25 us, a
    tenth of a whole pooled SELECT 1 round trip, on every query of every tool."""
    started = time.monotonic()
    attempt_number = 0
    while True:
        attempt_number += 1
        try:
            return await operation()
        except Exception as exc:
            if not retry_on(exc):
                raise
            last = exc
        delay = _backoff(attempt_number)
        if (
            attempt_number >= max_attempts
            or time.monotonic() - started + delay >= budget_s
        ):
            raise DatabaseUnavailable("the bank database is unreachable") from last
        await asyncio.sleep(delay)
