"""A desk's first words: not before the room can carry them, and, for a call picked up
again after a lost worker, a fixed line instead of an opening."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from livekit import rtc
from livekit.agents import AgentSession
from livekit.agents.types import ATTRIBUTE_AGENT_STATE

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


STATE_CHECK_S = 2.0


async def keep_agent_state_published(session: AgentSession[Any], room: rtc.Room) -> None:
    """Keep the room's `lk.agent.state` attribute true to the session, for the app's status.

    livekit-agents 1.8.9 publishes it once per state change, only while the room is
    connected, and cancels an update still in flight when the next change comes: one lost
    update (a slow server on a loaded box) left the app on "Waiting for the assistant…"
    while the agent listened. So compare now and then, and publish the state again when the
    attribute disagrees; livekit's own update, when it lands, wins as before."""
    while True:
        await asyncio.sleep(STATE_CHECK_S)
        state = session.agent_state
        if not room.isconnected() or state == "initializing":
            continue
        if room.local_participant.attributes.get(ATTRIBUTE_AGENT_STATE) != state:
            with contextlib.suppress(Exception):  # the next check tries again
                await room.local_participant.set_attributes({ATTRIBUTE_AGENT_STATE: state})
