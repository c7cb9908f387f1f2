"""In-memory sliding-window rate limiter for login attempts.

Why hand-written: the PIN space is tiny (4-8 digits), so the persisted 3-strikes lockout in
the database protects each customer, but it does not stop one client from walking through
many customer numbers, nor one customer's lockout from being re-triggered forever. A small
per-IP and per-customer-number window in front of the database covers that. It is per
process (one token-service replica); run one instance or put a shared limiter in front
when scaling out. A dependency for ~40 lines was not worth it."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """At most `limit` events per key in any `window_seconds`-long window (a log of
    timestamps per key, not fixed buckets, so bursts at a bucket edge cannot double up)."""

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sweep_above: int = 10_000,
    ) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError("limit must be >= 1 and window_seconds > 0")
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._sweep_above = sweep_above
        self._events: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may act again; 0 when it may act now. Records nothing."""
        now = self._clock()
        events = self._events.get(key)
        if events is None:
            return 0.0
        self._expire(events, now)
        if not events:
            del self._events[key]
            return 0.0
        if len(events) < self.limit:
            return 0.0
        return max(events[0] + self.window - now, 0.0)

    def record(self, key: str) -> None:
        now = self._clock()
        if key not in self._events and len(self._events) >= self._sweep_above:
            self._sweep(now)  # bounds memory: stale keys go once the table grows
        self._events.setdefault(key, deque()).append(now)

    def __len__(self) -> int:
        return len(self._events)

    def _expire(self, events: deque[float], now: float) -> None:
        while events and events[0] <= now - self.window:
            events.popleft()

    def _sweep(self, now: float) -> None:
        for key in list(self._events):
            events = self._events[key]
            self._expire(events, now)
            if not events:
                del self._events[key]


def whole_seconds(seconds: float) -> int:
    """Retry-After value: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(seconds))
