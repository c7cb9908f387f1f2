"""A desk's first words: not before the room can carry them, and, for a call picked up
again after a lost worker, a fixed line instead of an opening."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from livekit.agents import AgentSession

ROOM_READY_TIMEOUT_S = 20.0


RESUMED_LINE = (
    "Sorry about that, we were cut off for a moment. I'm back, and you're still with "
    "{desk}. Where were we?"
)


async def room_ready(session: AgentSession[Any]) -> None:
    """Wait until the room's I/O is linked before the first words. livekit-agents 1.8.9
    links the agent's transcription output in a background task after `session.start`
    and silently drops any text written before it: on a busy machine the greeting was
    lost and the caller faced a silent agent. Immediate once linked; no room: no wait."""
    try:
        room_io = session.room_io
    except RuntimeError:
        return  # console or tests: no room
    if not room_io.room.isconnected():
        return  # a room never connected (a simulated job): nobody to wait for
    # Bounded: a caller who never shows up must not hold the desk's words forever.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(room_io.wait_for_ready(), ROOM_READY_TIMEOUT_S)
