"""Collect a PIN keyed on the phone pad (SIP DTMF), without ever logging the digits.

Rules: digits accumulate; `#` ends entry; `*` clears what was keyed so far; entry also
ends when `max_digits` are in, or `inter_digit_timeout` passes after the last key with at
least `min_digits` keyed. Anything shorter, or nothing before the overall timeout, is None."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

logger = logging.getLogger("bank.telephony.dtmf")

DTMF_EVENT = "sip_dtmf_received"
# RFC 4733 event codes, used when a payload carries a code but no digit.
_CODE_TO_KEY = {**{i: str(i) for i in range(10)}, 10: "*", 11: "#"}


class EventSource(Protocol):
    """`rtc.Room` or any fake with the same `.on` / `.off` (event-emitter) shape."""

    def on(self, event: Any, callback: Callable[..., Any]) -> Any: ...

    def off(self, event: Any, callback: Callable[..., Any]) -> Any: ...


class DtmfPinCollector:
    def __init__(
        self,
        room: EventSource,
        *,
        max_digits: int = 8,
        min_digits: int = 4,
        inter_digit_timeout: float = 4.0,
        participant_identity: str | None = None,
    ) -> None:
        if not 1 <= min_digits <= max_digits:
            raise ValueError("need 1 <= min_digits <= max_digits")
        self._room = room
        self.max_digits = max_digits
        self.min_digits = min_digits
        self.inter_digit_timeout = inter_digit_timeout
        # When set, keys from any other participant are ignored.
        self.participant_identity = participant_identity

    # `timeout` is the documented API: digit waits need their own inner deadline anyway.
    async def collect(self, timeout: float) -> str | None:  # noqa: ASYNC109
        """Wait up to `timeout` seconds for a PIN; returns its digits or None.

        Only keys pressed while this call is running count."""
        keys: asyncio.Queue[str] = asyncio.Queue()

        def on_dtmf(event: Any) -> None:
            key = _key_of(event)
            if key is None or not self._from_caller(event):
                return
            keys.put_nowait(key)

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        digits: list[str] = []
        self._room.on(DTMF_EVENT, on_dtmf)
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                wait = min(remaining, self.inter_digit_timeout) if digits else remaining
                try:
                    key = await asyncio.wait_for(keys.get(), wait)
                except TimeoutError:
                    break  # inter-digit pause after some digits, or the overall timeout
                if key == "#":
                    break
                if key == "*":
                    digits.clear()
                    continue
                if key.isdigit():
                    digits.append(key)
                    if len(digits) >= self.max_digits:
                        break
        finally:
            self._room.off(DTMF_EVENT, on_dtmf)
        if len(digits) < self.min_digits:
            logger.info("dtmf entry incomplete", extra={"digit_count": len(digits)})
            return None
        logger.info("dtmf entry complete", extra={"digit_count": len(digits)})
        return "".join(digits)

    def _from_caller(self, event: Any) -> bool:
        if self.participant_identity is None:
            return True
        participant = getattr(event, "participant", None)
        return getattr(participant, "identity", None) == self.participant_identity


def _key_of(event: Any) -> str | None:
    digit = getattr(event, "digit", None)
    if isinstance(digit, str) and len(digit) == 1 and digit in "0123456789*#":
        return digit
    code = getattr(event, "code", None)
    return _CODE_TO_KEY.get(code) if isinstance(code, int) else None


def key_of(event: Any, participant_identity: str | None = None) -> str | None:
    """The key of one DTMF event, if it came from `participant_identity` (when given)."""
    if participant_identity is not None:
        participant = getattr(event, "participant", None)
        if getattr(participant, "identity", None) != participant_identity:
            return None
    return _key_of(event)
